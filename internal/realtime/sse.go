package realtime

import (
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/centrifugal/centrifuge"
	"github.com/valyala/fasthttp"
)

// serveSSE serves the EventSource endpoint: GET sse_path?channel=a&channel=b. PHP allows the
// connection, then each requested channel (one denied: 403, nothing is streamed); the
// channels PHP's connect answer names are added. Each message is one event whose data is
// centrifuge's push JSON ({"channel":"a","pub":{"data":"..."}}); a disconnect is an
// `event: disconnect` with {"code":...,"reason":...,"reconnect":bool}.
func (h *Hub) serveSSE(ctx *fasthttp.RequestCtx) {
	g := h.admit(ctx, "sse")
	if g == nil {
		return
	}
	seen := make(map[string]struct{}, len(g.Channels))
	for _, ch := range g.Channels {
		seen[ch] = struct{}{}
	}
	for _, raw := range ctx.QueryArgs().PeekMulti("channel") {
		ch := string(raw)
		if _, ok := seen[ch]; ok || ch == "" {
			continue
		}
		a, err := h.ask(g.req, "subscribe", ch, g.User)
		if err != nil || !a.Allow {
			h.clients.Add(-1)
			h.deny(ctx, err, a.Reason, "subscribe to "+ch)
			return
		}
		seen[ch] = struct{}{}
		g.Channels = append(g.Channels, ch)
	}
	r := netRequest(ctx, g)
	if !canTakeOver(ctx) { // HTTP/2, HTTP/3: net/http's response, streamed (admit checked it)
		defer h.clients.Add(-1)
		w, req := ctx.Conn().(streamer).Stream()
		out := &netEvents{w: w, rc: http.NewResponseController(w), ended: make(chan struct{})}
		if closeFn := h.startSSE(r, out); closeFn != nil {
			select {
			case <-req.Context().Done(): // the client went away
				_ = closeFn()
				out.close()
			case <-out.ended: // the server disconnected it
			}
		}
		return
	}
	h.takeOver(ctx, func(c *ownedConn) {
		closeFn := h.startSSE(r, rawEvents{c})
		if closeFn == nil {
			return
		}
		go func() {
			// an EventSource sends nothing: a read ends when the client goes away
			var b [64]byte
			for {
				if _, err := c.Read(b[:]); err != nil {
					_ = closeFn()
					_ = c.Close()
					return
				}
			}
		}()
	})
}

// startSSE starts the event stream on out and connects its centrifuge client; nil when the
// stream could not start (out is closed).
func (h *Hub) startSSE(r *http.Request, out eventOut) func() error {
	if err := out.start(h.cfg.WriteTimeout); err != nil {
		out.close()
		return nil
	}
	t := &sseTransport{out: out, ping: h.cfg.PingInterval, timeout: h.cfg.WriteTimeout}
	client, closeFn, err := centrifuge.NewClient(r.Context(), h.node, t)
	if err != nil {
		out.close()
		return nil
	}
	client.Connect(centrifuge.ConnectRequest{})
	return closeFn
}

// eventOut is where an event stream is written: a taken-over HTTP/1.1 connection (rawEvents)
// or net/http's response over HTTP/2 and HTTP/3 (netEvents).
type eventOut interface {
	start(timeout time.Duration) error // the response's head and the retry hint
	write(b []byte, timeout time.Duration) error
	close()
}

const sseRetry = "retry: 2000\n\n"

// rawEvents writes the stream's HTTP/1.1 response on the connection itself.
type rawEvents struct{ c *ownedConn }

func (o rawEvents) start(timeout time.Duration) error {
	return o.write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"+
		"Cache-Control: no-cache, no-store\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\n"+sseRetry), timeout)
}

func (o rawEvents) write(b []byte, timeout time.Duration) error {
	_ = o.c.SetWriteDeadline(time.Now().Add(timeout))
	_, err := o.c.Write(b)
	return err
}

func (o rawEvents) close() { _ = o.c.Close() }

// netEvents writes the stream through net/http's ResponseWriter, flushing each write; close
// ends the handler's wait, which ends the response: no write starts after it (the writer is
// net/http's only while the handler runs).
type netEvents struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	mu     sync.Mutex
	closed bool
	ended  chan struct{}
}

func (o *netEvents) start(timeout time.Duration) error {
	h := o.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("X-Accel-Buffering", "no")
	o.w.WriteHeader(http.StatusOK)
	return o.write([]byte(sseRetry), timeout)
}

func (o *netEvents) write(b []byte, timeout time.Duration) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return net.ErrClosed
	}
	_ = o.rc.SetWriteDeadline(time.Now().Add(timeout)) // not every protocol has one
	if _, err := o.w.Write(b); err != nil {
		return err
	}
	return o.rc.Flush()
}

func (o *netEvents) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closed {
		o.closed = true
		close(o.ended)
	}
}

// sseTransport is centrifuge's unidirectional Transport over an event stream.
type sseTransport struct {
	mu      sync.Mutex
	out     eventOut
	ping    time.Duration
	timeout time.Duration
	closed  bool
}

var _ centrifuge.Transport = (*sseTransport)(nil)

func (t *sseTransport) Name() string                      { return "sse" }
func (t *sseTransport) Protocol() centrifuge.ProtocolType { return centrifuge.ProtocolTypeJSON }
func (t *sseTransport) ProtocolVersion() centrifuge.ProtocolVersion {
	return centrifuge.ProtocolVersion2
}
func (t *sseTransport) Unidirectional() bool      { return true }
func (t *sseTransport) Emulation() bool           { return false }
func (t *sseTransport) DisabledPushFlags() uint64 { return 0 }
func (t *sseTransport) PingPongConfig() centrifuge.PingPongConfig {
	return centrifuge.PingPongConfig{PingInterval: t.ping, PongTimeout: -1}
}

func (t *sseTransport) Write(data []byte) error { return t.WriteMany(data) }

func (t *sseTransport) WriteMany(data ...[]byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	buf := make([]byte, 0, 64)
	for _, d := range data {
		buf = append(buf, "data: "...)
		buf = append(buf, d...)
		buf = append(buf, "\n\n"...)
	}
	return t.out.write(buf, t.timeout)
}

func (t *sseTransport) Close(d centrifuge.Disconnect) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	msg, _ := json.Marshal(struct {
		Code      uint32 `json:"code"`
		Reason    string `json:"reason"`
		Reconnect bool   `json:"reconnect"`
	}{d.Code, d.Reason, d.Code < 3500})
	_ = t.out.write(append(append([]byte("event: disconnect\ndata: "), msg...), "\n\n"...), t.timeout)
	t.out.close()
	return nil
}
