package realtime

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// Two rr instances on one real Redis: what PHP publishes on either reaches the subscribers
// of both, in order.
func TestRedisBrokerCarriesMessagesAcrossInstances(t *testing.T) {
	redis := testsupport.StartRedis(t)
	cfg := fmt.Sprintf("    broker: redis\n    redis:\n      addrs: [%s]\n      prefix: t%d\n", redis.Addr, time.Now().UnixNano())
	one, two := startServer(t, cfg, 1), startServer(t, cfg, 1)
	var a, b inbox
	ca := mustWS(t, one, map[string]string{"user": "a"}, &a)
	cb := mustWS(t, two, map[string]string{"user": "b"}, &b)
	for _, c := range []*wsClient{ca, cb} {
		if _, err := c.subscribe("room"); err != nil {
			t.Fatal(err)
		}
	}
	sse, status := dialSSE(t, two.base()+"/events?channel=room", "")
	if status != 200 {
		t.Fatalf("SSE: %d", status)
	}
	time.Sleep(200 * time.Millisecond)
	one.publish(t, []string{"room"}, []string{"1", "2", "3"}, false)
	two.publish(t, []string{"room"}, []string{"4"}, false)
	one.publish(t, []string{"user.b"}, []string{"to b, from one"}, false)
	want := "room:1|room:2|room:3|room:4"
	if got := a.waitFor(t, 4, 10*time.Second); strings.Join(got, "|") != want {
		t.Fatalf("client on one got %q", got)
	}
	if got := b.waitFor(t, 5, 10*time.Second); strings.Join(got, "|") != want+"|user.b:to b, from one" {
		t.Fatalf("client on two got %q", got)
	}
	if got := sse.box.waitFor(t, 4, 10*time.Second); strings.Join(got, "|") != want {
		t.Fatalf("SSE client on two got %q", got)
	}
	// presence spans the instances
	_, out := testsupport.Do(t, http.MethodGet, one.base()+"/presence?channel=room", nil, nil)
	for _, user := range []string{`"user":"a"`, `"user":"b"`} {
		if !strings.Contains(string(out), user) {
			t.Fatalf("presence of room on one: %s; want users a and b", out)
		}
	}
	// and so does Broadcast::disconnect: user b, connected to two, asked from one
	if resp, out := testsupport.Do(t, http.MethodPost, one.base()+"/disconnect?user=b", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("disconnect: %d %s", resp.StatusCode, out)
	}
	select {
	case <-cb.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("user b, on two, is still connected")
	}
	if cb.closeCode != 3503 {
		t.Fatalf("close %d, want 3503", cb.closeCode)
	}
}

// Broadcast::presence and Broadcast::disconnect from PHP; a disconnected user gets 3503 (do
// not reconnect).
func TestPresenceAndDisconnectFromPHP(t *testing.T) {
	s := startServer(t, "", 1)
	c := mustWS(t, s, map[string]string{"user": "zoe"}, nil)
	if _, err := c.subscribe("lobby"); err != nil {
		t.Fatal(err)
	}
	_, out := testsupport.Do(t, http.MethodGet, s.base()+"/presence?channel=lobby", nil, nil)
	if !strings.Contains(string(out), `"user":"zoe"`) {
		t.Fatalf("presence: %s", out)
	}
	resp, out := testsupport.Do(t, http.MethodPost, s.base()+"/disconnect?user=zoe", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("disconnect: %d %s", resp.StatusCode, out)
	}
	select {
	case <-c.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("zoe is still connected")
	}
	if c.closeCode != 3503 {
		t.Fatalf("close code %d %q, want 3503 (force disconnect, no reconnect)", c.closeCode, c.closeText)
	}
}

// max_connections refuses with 503 + Retry-After; max_message_size refuses a publish (PHP
// gets the error); a client that does not read is dropped while a reading one gets every
// message and the publisher never waits for either.
func TestLimitsAndSlowClients(t *testing.T) {
	s := startServer(t, "    max_connections: 3\n    max_message_size: 16384\n    client_queue_size: 2097152\n    write_timeout: 5s\n", 2)

	var fast inbox
	cf := mustWS(t, s, nil, &fast)
	if _, err := cf.subscribe("firehose"); err != nil {
		t.Fatal(err)
	}
	// the slow client: subscribed, then never reads again (no reader goroutine), with a 4 KiB
	// receive buffer so that its few socket buffers fill at once and the queue takes the rest
	nd := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	slowDialer := websocket.Dialer{NetDialContext: nd.DialContext}
	slow, _, err := slowDialer.Dial(s.ws(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	_ = slow.WriteMessage(websocket.TextMessage, []byte(`{"id":1,"connect":{}}`+"\n"+`{"id":2,"subscribe":{"channel":"firehose"}}`))
	time.Sleep(200 * time.Millisecond)
	if _, status, err := dialWS(s.ws(), nil, nil); err != nil {
		t.Fatal(err)
	} else if status != 101 {
		t.Fatalf("third client: %d", status)
	}
	if _, status, _ := dialWS(s.ws(), nil, nil); status != 503 {
		t.Fatalf("fourth client over max_connections 3: status %d, want 503", status)
	}

	// a message over max_message_size is refused to PHP
	body := fmt.Sprintf(`{"channels":["firehose"],"messages":["%s"]}`, strings.Repeat("x", 16385))
	resp, out := testsupport.Do(t, http.MethodPost, s.base()+"/publish", strings.NewReader(body), nil)
	if resp.StatusCode != 500 || !strings.Contains(string(out), "max_message_size") {
		t.Fatalf("oversized publish: %d %.300s", resp.StatusCode, out)
	}

	// 600 × 8 KB, 2 ms apart (4.8 MB in 1.2 s), overflow the slow client's 2 MiB queue; the
	// reading client has the same queue to absorb its own stalls (a loaded box, -race)
	const count = 600
	start := time.Now()
	resp, out = testsupport.Do(t, http.MethodPost, s.base()+"/publish",
		strings.NewReader(fmt.Sprintf(`{"channels":["firehose"],"count":%d,"size":8000,"interval_us":2000}`, count)), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("publish: %d %.300s", resp.StatusCode, out)
	}
	took := time.Since(start)
	testsupport.WaitFor(t, time.Minute, "the reading client's messages", func() bool {
		select {
		case <-cf.closed:
			t.Fatalf("the reading client was closed (%d %q) after %d messages", cf.closeCode, cf.closeText, len(fast.all()))
		default:
		}
		return len(fast.all()) >= count
	})
	got := fast.all()
	for i, m := range got {
		if !strings.HasPrefix(m, fmt.Sprintf("firehose:%04d", i)) {
			t.Fatalf("fast client's message %d is %.20q", i, m)
		}
	}
	testsupport.WaitFor(t, 10*time.Second, "the slow client dropped", func() bool {
		return s.metric(t, "rr_pivot_broadcast_drops_total") >= 1
	})
	t.Logf("%d publishes of 8 KB, 2 ms apart, took %s with a stalled subscriber", count, took)
	if n := s.metric(t, "rr_pivot_broadcast_refused_total"); n != 1 {
		t.Fatalf("refused_total %v, want 1", n)
	}
	if n := s.metric(t, "rr_pivot_broadcast_drops_total"); n != 1 {
		t.Fatalf("drops_total %v, want 1 (the slow client only)", n)
	}
	// the dropped client's slot is free again: the reading client and the third one remain
	testsupport.WaitFor(t, 10*time.Second, "the slow client's slot released", func() bool {
		return s.metric(t, "rr_pivot_broadcast_clients") == 2
	})
}

// On stop every client gets close code 3001 (shutdown: reconnect), SSE an
// `event: disconnect` with reconnect true, and rr exits cleanly.
func TestDrainOnStopTellsClientsToReconnect(t *testing.T) {
	s := startServer(t, "", 1)
	c := mustWS(t, s, nil, nil)
	sse, status := dialSSE(t, s.base()+"/events?channel=x", "")
	if status != 200 {
		t.Fatalf("SSE: %d", status)
	}
	time.Sleep(100 * time.Millisecond)
	stopAndExpectDrain(t, s, c, sse)
}

// stopAndExpectDrain stops rr (SIGTERM) and checks the drain: the WebSocket client gets close
// 3001, the event stream a disconnect event saying 3001 and reconnect, and rr exits cleanly.
func stopAndExpectDrain(t *testing.T, s *server, ws *wsClient, sse *sseClient) {
	t.Helper()
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-ws.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the WebSocket client was not closed on stop")
	}
	if ws.closeCode != 3001 {
		t.Fatalf("close code %d %q, want 3001 (shutdown)", ws.closeCode, ws.closeText)
	}
	select {
	case ev := <-sse.events:
		if !strings.HasPrefix(ev, "disconnect:") || !strings.Contains(ev, `"code":3001`) || !strings.Contains(ev, `"reconnect":true`) {
			t.Fatalf("SSE event %q", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no disconnect event on SSE")
	}
	select {
	case <-s.Exited():
		if s.Err() != nil {
			t.Fatalf("rr exited with %v", s.Err())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("rr did not exit")
	}
}

// A job consumer (the jobs plugin's pool, RR_MODE=jobs) publishes as HTTP workers do.
func TestJobConsumerPublishes(t *testing.T) {
	s := startServerWith(t, "", 1, `jobs:
  num_pollers: 1
  pool:
    num_workers: 1
  consume: ["announcements"]
  pipelines:
    announcements:
      driver: memory
      config:
        priority: 10`)
	var box inbox
	c := mustWS(t, s, nil, &box)
	if _, err := c.subscribe("news"); err != nil {
		t.Fatal(err)
	}
	resp, out := testsupport.Do(t, http.MethodPost, s.base()+"/dispatch", strings.NewReader(`{"channel":"news","message":"from a job"}`), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("dispatch: %d %s", resp.StatusCode, out)
	}
	if got := box.waitFor(t, 1, 15*time.Second); got[0] != "news:from a job" {
		t.Fatalf("got %q", got)
	}
}

// The server pings every client; one that answers stays, one that does not is closed with
// 3012 "no pong" and counted as a drop.
func TestPingPong(t *testing.T) {
	s := startServer(t, "    ping_interval: 300ms\n    pong_timeout: 300ms\n", 1)
	answering := mustWS(t, s, nil, nil) // its reader answers {} with {}
	silent, _, err := websocket.DefaultDialer.Dial(s.ws(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if err = silent.WriteMessage(websocket.TextMessage, []byte(`{"id":1,"connect":{}}`)); err != nil {
		t.Fatal(err)
	}
	_ = silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	var closeErr *websocket.CloseError
	for {
		if _, _, err = silent.ReadMessage(); err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				closeErr = ce
			}
			break
		}
	}
	if closeErr == nil || closeErr.Code != 3012 {
		t.Fatalf("the silent client: %v, want close 3012 (no pong)", err)
	}
	select {
	case <-answering.closed:
		t.Fatalf("the answering client was closed too: %d %q", answering.closeCode, answering.closeText)
	default:
	}
	if n := s.metric(t, "rr_pivot_broadcast_drops_total"); n != 1 {
		t.Fatalf("drops_total %v, want 1", n)
	}
}

// rr reset replaces the PHP workers, not the connections: a client connected before keeps
// receiving, and its next subscription is asked of the new workers.
func TestResetKeepsConnections(t *testing.T) {
	s := startServer(t, "", 1)
	var box inbox
	c := mustWS(t, s, map[string]string{"user": "rita"}, &box)
	if _, err := c.subscribe("before"); err != nil {
		t.Fatal(err)
	}
	if out, err := s.CLI(time.Minute, "reset"); err != nil {
		t.Fatalf("rr reset: %v\n%s", err, out)
	}
	if _, err := c.subscribe("after"); err != nil {
		t.Fatalf("a subscription after the reset: %v", err)
	}
	if r, err := c.subscribe("secret.after"); err == nil || r.Error == nil || r.Error.Code != 103 {
		t.Fatalf("the new workers' auth must still deny secret.after: %+v %v", r.Error, err)
	}
	s.publish(t, []string{"before", "after", "user.rita"}, []string{"m"}, false)
	if got := box.waitFor(t, 3, 10*time.Second); strings.Join(got, "|") != "before:m|after:m|user.rita:m" {
		t.Fatalf("got %q", got)
	}
}

// A client frame over max_message_size closes that client (1009, message too big); the
// server goes on.
func TestClientFrameOverMaxMessageSize(t *testing.T) {
	s := startServer(t, "    max_message_size: 1024\n    client_queue_size: 65536\n", 1)
	c := mustWS(t, s, nil, nil)
	c.write([]byte(fmt.Sprintf(`{"id":9,"subscribe":{"channel":%q}}`, strings.Repeat("x", 2000))))
	select {
	case <-c.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the client is still connected")
	}
	if c.closeCode != websocket.CloseMessageTooBig {
		t.Fatalf("close %d %q, want 1009", c.closeCode, c.closeText)
	}
	mustWS(t, s, nil, nil)
}
