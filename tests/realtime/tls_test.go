package realtime

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/tlscert/certtest"
)

// Through pivot.ssl (net/http's adapter, whose requests cannot be taken over) the broadcast
// paths answer 501 with the reason, never a broken upgrade; pivot.address serves them.
func TestBroadcastOverTLSIsRefusedClearly(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "broadcast test CA")
	cert, key := ca.Server(t, "127.0.0.1").Write(t, dir, "server")
	sslAddr := testsupport.FreeAddr(t)
	s := startServer(t, fmt.Sprintf("  ssl:\n    address: %s\n    cert: %s\n    key: %s\n", sslAddr, cert, key), 1)

	tlsCfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}
	d := websocket.Dialer{TLSClientConfig: tlsCfg}
	if _, resp, err := d.Dial("wss://"+sslAddr+"/connection", nil); err == nil || resp == nil || resp.StatusCode != http.StatusNotImplemented {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("wss through pivot.ssl: status %d, %v; want 501", status, err)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	resp, err := c.Get("https://" + sslAddr + "/events?channel=x")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("SSE through pivot.ssl: %d, want 501", resp.StatusCode)
	}
	mustWS(t, s, nil, nil) // pivot.address still serves it
}
