package realtime

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/tlscert/certtest"
)

// sslSection is a pivot.ssl section on a free address with a certificate of a new CA, and
// the client TLS configuration that trusts it.
func sslSection(t *testing.T) (yaml, addr string, client *tls.Config) {
	t.Helper()
	dir := t.TempDir()
	ca := certtest.NewCA(t, "broadcast test CA")
	cert, key := ca.Server(t, "127.0.0.1").Write(t, dir, "server")
	addr = testsupport.FreeAddr(t)
	yaml = fmt.Sprintf("  ssl:\n    address: %s\n    cert: %s\n    key: %s\n", addr, cert, key)
	return yaml, addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}
}

// Through pivot.ssl: a WebSocket (wss://, HTTP/1.1 as browsers open them) and event streams
// over HTTP/1.1 and HTTP/2 are served like pivot.address's — PHP authorizes them, PHP's
// publications reach them, their slots are released when they go.
func TestBroadcastOverTLS(t *testing.T) {
	ssl, sslAddr, tlsCfg := sslSection(t)
	s := startServer(t, ssl, 1)

	var box inbox
	ws, status, err := dialWSWith(websocket.Dialer{TLSClientConfig: tlsCfg, HandshakeTimeout: 10 * time.Second},
		"wss://"+sslAddr+"/connection", map[string]string{"user": "ann"}, box.add)
	if err != nil {
		t.Fatalf("wss through pivot.ssl: status %d: %v", status, err)
	}
	t.Cleanup(ws.Close)
	if _, err := ws.subscribe("chat"); err != nil {
		t.Fatal(err)
	}
	// a denied subscription over TLS too (the test worker allows no "secret" channel)
	if _, err := ws.subscribe("secret"); err == nil {
		t.Fatal("subscribing to secret over wss was allowed")
	}

	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}} // no ForceAttemptHTTP2: HTTP/1.1
	sse, status := dialSSEWith(t, h1, "https://"+sslAddr+"/events?channel=chat", "user=sam")
	if status != 200 {
		t.Fatalf("SSE over HTTPS/1.1: %d", status)
	}
	if sse.resp.ProtoMajor != 1 {
		t.Fatalf("SSE came over %s, want HTTP/1.1", sse.resp.Proto)
	}
	time.Sleep(100 * time.Millisecond) // the SSE client's server-side subscription

	s.publish(t, []string{"chat"}, []string{"one", "two"}, false)
	if got := box.waitFor(t, 2, 10*time.Second); strings.Join(got, "|") != "chat:one|chat:two" {
		t.Fatalf("wss got %q", got)
	}
	if got := sse.box.waitFor(t, 2, 10*time.Second); strings.Join(got, "|") != "chat:one|chat:two" {
		t.Fatalf("SSE over TLS got %q", got)
	}
	if n := s.metric(t, "rr_pivot_broadcast_clients"); n != 2 {
		t.Fatalf("rr_pivot_broadcast_clients = %v, want 2", n)
	}

	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg.Clone(), ForceAttemptHTTP2: true}}
	sse2, status := dialSSEWith(t, h2, "https://"+sslAddr+"/events?channel=chat", "user=kim")
	if status != 200 || sse2.resp.ProtoMajor != 2 {
		t.Fatalf("SSE over HTTPS/2: %d %s", status, sse2.resp.Proto)
	}
	if _, status := dialSSEWith(t, h2, "https://"+sslAddr+"/events?channel=secret.x", "user=kim"); status != http.StatusForbidden {
		t.Fatalf("a denied channel over HTTP/2: %d, want 403", status)
	}
	time.Sleep(100 * time.Millisecond)
	s.publish(t, []string{"chat"}, []string{"three"}, false)
	if got := sse2.box.waitFor(t, 1, 10*time.Second); strings.Join(got, "|") != "chat:three" {
		t.Fatalf("SSE over HTTP/2 got %q", got)
	}
	if got := sse.box.waitFor(t, 3, 10*time.Second); strings.Join(got, "|") != "chat:one|chat:two|chat:three" {
		t.Fatalf("SSE over HTTP/1.1 got %q", got)
	}
	// a WebSocket cannot start over HTTP/2 (no Upgrade there): refused, not a broken stream
	resp, err := h2.Get("https://" + sslAddr + "/connection")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("GET /connection over %s: %d, want 426", resp.Proto, resp.StatusCode)
	}
	// pivot.ssl's ordinary requests still work over both
	for _, c := range []*http.Client{h1, h2} {
		resp, err := c.Get("https://" + sslAddr + "/")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET / over %s: %d", resp.Proto, resp.StatusCode)
		}
	}
	if n := s.metric(t, "rr_pivot_broadcast_clients"); n != 3 {
		t.Fatalf("rr_pivot_broadcast_clients = %v, want 3", n)
	}
	ws.Close()
	_ = sse.resp.Body.Close()
	_ = sse2.resp.Body.Close()
	testsupport.WaitFor(t, 10*time.Second, "the TLS clients' slots released", func() bool {
		return s.metric(t, "rr_pivot_broadcast_clients") == 0
	})
}

// Stopping rr drains the TLS clients as pivot.address's: wss gets close 3001, an event stream
// over HTTP/2 its disconnect event, and rr exits cleanly (no handler left waiting).
func TestDrainOverTLS(t *testing.T) {
	ssl, sslAddr, tlsCfg := sslSection(t)
	s := startServer(t, ssl, 1)

	ws, status, err := dialWSWith(websocket.Dialer{TLSClientConfig: tlsCfg, HandshakeTimeout: 10 * time.Second}, "wss://"+sslAddr+"/connection", nil, nil)
	if err != nil {
		t.Fatalf("wss: %d %v", status, err)
	}
	t.Cleanup(ws.Close)
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true}}
	sse, status := dialSSEWith(t, h2, "https://"+sslAddr+"/events?channel=x", "")
	if status != 200 || sse.resp.ProtoMajor != 2 {
		t.Fatalf("SSE over HTTP/2: %d", status)
	}
	time.Sleep(100 * time.Millisecond)
	stopAndExpectDrain(t, s, ws, sse)
}
