package realtime

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

func TestMain(m *testing.M) { testsupport.Main(m) }

// server is one real `rr serve` with pivot.broadcast.
type server struct {
	*testsupport.RR
	addr, rpc, metrics string
}

func (s *server) ws() string   { return "ws://" + s.addr + "/connection" }
func (s *server) base() string { return "http://" + s.addr }

// startServer runs rr with tests/realtime/testdata/worker.php and the given pivot.broadcast
// body (indented by 4).
func startServer(t *testing.T, broadcast string, workers int) *server {
	t.Helper()
	return startServerWith(t, broadcast, workers, "")
}

// startServerWith also adds top-level sections (e.g. jobs:) to the config.
func startServerWith(t *testing.T, broadcast string, workers int, extra string) *server {
	t.Helper()
	return startWorker(t, filepath.Join(testsupport.RepoRoot(t), "tests/realtime/testdata/worker.php"), broadcast, workers, extra)
}

// startWorker runs rr with worker (a PHP script) under pivot.broadcast: broadcast adds lines
// to the pivot section, extra top-level sections.
func startWorker(t *testing.T, worker, broadcast string, workers int, extra string) *server {
	t.Helper()
	s := &server{addr: testsupport.FreeAddr(t), rpc: testsupport.FreeAddr(t), metrics: testsupport.FreeAddr(t)}
	yaml := fmt.Sprintf(`version: "3"
rpc:
  listen: tcp://%s
server:
  command: "php %s"
logs:
  level: warn
  mode: production
metrics:
  address: %s
%s
pivot:
  address: %s
  pool:
    num_workers: %d
  broadcast:
    path: /connection
    sse_path: /events
%s`, s.rpc, worker, s.metrics, extra, s.addr, workers, broadcast)
	s.RR = testsupport.StartRR(t, yaml, testsupport.RROptions{StopTimeout: 10 * time.Second})
	s.WaitReady(t, 30*time.Second, testsupport.HTTPAnswers(s.base()+"/", 200))
	return s
}

// publish asks PHP (an HTTP worker) to publish messages, in order, to channels.
func (s *server) publish(t testing.TB, channels []string, messages []string, stamp bool) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"channels": channels, "messages": messages, "stamp": stamp})
	resp, out := testsupport.Do(t, http.MethodPost, s.base()+"/publish", strings.NewReader(string(body)),
		http.Header{"Content-Type": {"application/json"}})
	if resp.StatusCode != 200 {
		t.Fatalf("POST /publish: %d %s", resp.StatusCode, out)
	}
}

// metric reads one rr_pivot_broadcast_* value from the metrics endpoint.
func (s *server) metric(t *testing.T, name string) float64 {
	t.Helper()
	_, out := testsupport.Do(t, http.MethodGet, "http://"+s.metrics+"/metrics", nil, nil)
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, name+" ") {
			var v float64
			_, _ = fmt.Sscanf(strings.TrimPrefix(line, name+" "), "%g", &v)
			return v
		}
	}
	t.Fatalf("no %s in /metrics:\n%s", name, testsupport.Tail(string(out), 4000))
	return 0
}

// sseClient reads an EventSource stream: each `data:` line's push, and disconnect events.
type sseClient struct {
	resp   *http.Response
	box    *inbox
	events chan string // "disconnect:<json>"
}

func dialSSE(t *testing.T, url string, cookie string) (*sseClient, int) {
	t.Helper()
	return dialSSEWith(t, http.DefaultClient, url, cookie)
}

// dialSSEWith is dialSSE through client (HTTPS with its TLS configuration).
func dialSSEWith(t *testing.T, client *http.Client, url string, cookie string) (*sseClient, int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return nil, resp.StatusCode
	}
	c := &sseClient{resp: resp, box: &inbox{}, events: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(resp.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data := strings.TrimPrefix(line, "data: ")
				if event != "" {
					c.events <- event + ":" + data
					event = ""
					continue
				}
				var p pushMsg
				if json.Unmarshal([]byte(data), &p) == nil && p.Pub != nil {
					var s string
					if json.Unmarshal(p.Pub.Data, &s) == nil {
						c.box.add(p.Channel, s)
					}
				}
			}
		}
		close(c.events)
	}()
	t.Cleanup(func() { _ = resp.Body.Close() })
	return c, 200
}

func mustWS(t *testing.T, s *server, cookies map[string]string, box *inbox) *wsClient {
	t.Helper()
	var on func(string, string)
	if box != nil {
		on = box.add
	}
	c, status, err := dialWS(s.ws(), cookies, on)
	if err != nil {
		t.Fatalf("websocket to %s: status %d: %v", s.ws(), status, err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestPublishFromPHPReachesWebSocketAndSSEClientsInOrder(t *testing.T) {
	s := startServer(t, "", 2)
	var a, b inbox
	ca := mustWS(t, s, map[string]string{"user": "ann"}, &a)
	cb := mustWS(t, s, nil, &b)
	for _, c := range []*wsClient{ca, cb} {
		if _, err := c.subscribe("chat"); err != nil {
			t.Fatal(err)
		}
	}
	sse, status := dialSSE(t, s.base()+"/events?channel=chat", "user=sam")
	if status != 200 {
		t.Fatalf("SSE: %d", status)
	}
	time.Sleep(100 * time.Millisecond) // the SSE client's server-side subscription

	msgs := []string{"one", "two", `three "quoted" é`, "four"}
	s.publish(t, []string{"chat"}, msgs, false)
	s.publish(t, []string{"user.ann"}, []string{"just ann"}, false)
	s.publish(t, []string{"user.sam", "chat"}, []string{"five"}, false)

	want := []string{"chat:one", "chat:two", `chat:three "quoted" é`, "chat:four"}
	if got := a.waitFor(t, 6, 10*time.Second); strings.Join(got, "|") != strings.Join(append(want, "user.ann:just ann", "chat:five"), "|") {
		t.Fatalf("ann got %q", got)
	}
	if got := b.waitFor(t, 5, 10*time.Second); strings.Join(got, "|") != strings.Join(append(want, "chat:five"), "|") {
		t.Fatalf("anonymous got %q", got)
	}
	if got := sse.box.waitFor(t, 6, 10*time.Second); strings.Join(got, "|") != strings.Join(append(want, "user.sam:five", "chat:five"), "|") {
		t.Fatalf("SSE got %q", got)
	}
	if n := s.metric(t, "rr_pivot_broadcast_clients"); n != 3 {
		t.Fatalf("rr_pivot_broadcast_clients = %v, want 3", n)
	}
	if n := s.metric(t, "rr_pivot_broadcast_messages_in_total"); n != 7 {
		t.Fatalf("messages_in_total = %v, want 7", n)
	}
	if n := s.metric(t, "rr_pivot_broadcast_messages_out_total"); n != 17 {
		t.Fatalf("messages_out_total = %v, want 17 (4×3 + 1 + 2 + 2)", n)
	}
}

func TestDeniedClientsAndSubscriptionsNeverReceive(t *testing.T) {
	s := startServer(t, "", 2)

	// a denied connection: 403 before any upgrade, on both transports
	if _, status, err := dialWS(s.ws(), map[string]string{"deny": "1"}, nil); err == nil || status != 403 {
		t.Fatalf("denied WebSocket: status %d, err %v; want 403", status, err)
	}
	if _, status := dialSSE(t, s.base()+"/events?channel=chat", "deny=1"); status != 403 {
		t.Fatalf("denied SSE: %d, want 403", status)
	}
	// a denied channel on SSE: 403, nothing streamed
	if _, status := dialSSE(t, s.base()+"/events?channel=chat&channel=secret.plans", "user=eve"); status != 403 {
		t.Fatalf("SSE with a denied channel: %d, want 403", status)
	}

	var eve, admin inbox
	ce := mustWS(t, s, map[string]string{"user": "eve"}, &eve)
	ca := mustWS(t, s, map[string]string{"user": "admin"}, &admin)
	r, err := ce.subscribe("secret.plans")
	if err == nil || r.Error == nil || r.Error.Code != 103 {
		t.Fatalf("eve's subscription to secret.plans: %+v %v; want error 103 (permission denied)", r.Error, err)
	}
	if _, err = ca.subscribe("secret.plans"); err != nil {
		t.Fatalf("admin's subscription: %v", err)
	}
	if _, err = ce.subscribe("chat"); err != nil {
		t.Fatal(err)
	}
	s.publish(t, []string{"secret.plans"}, []string{"s1", "s2"}, false)
	s.publish(t, []string{"chat"}, []string{"public"}, false)
	admin.waitFor(t, 2, 10*time.Second)
	// eve's last message is on chat, published after the secret ones: once it is in, every
	// secret one would have been too
	got := eve.waitFor(t, 1, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	if got = eve.all(); len(got) != 1 || got[0] != "chat:public" {
		t.Fatalf("eve got %q, want only chat:public", got)
	}
}
