package realtime

import (
	"encoding/json"
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
	h.takeOver(ctx, func(c *ownedConn) {
		_ = c.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
		if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n" +
			"Cache-Control: no-cache, no-store\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\nretry: 2000\n\n")); err != nil {
			_ = c.Close()
			return
		}
		t := &sseTransport{conn: c, ping: h.cfg.PingInterval, timeout: h.cfg.WriteTimeout}
		client, closeFn, err := centrifuge.NewClient(r.Context(), h.node, t)
		if err != nil {
			_ = c.Close()
			return
		}
		client.Connect(centrifuge.ConnectRequest{})
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

// sseTransport is centrifuge's unidirectional Transport over the hijacked connection.
type sseTransport struct {
	mu      sync.Mutex
	conn    *ownedConn
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
	_ = t.conn.SetWriteDeadline(time.Now().Add(t.timeout))
	_, err := t.conn.Write(buf)
	return err
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
	_ = t.conn.SetWriteDeadline(time.Now().Add(t.timeout))
	_, _ = t.conn.Write(append(append([]byte("event: disconnect\ndata: "), msg...), "\n\n"...))
	return t.conn.Close()
}
