package realtime

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// Detacher is a server connection that can be handed over to another protocol after an
// HTTP/1.1 upgrade: pivot's own connections (internal/httpfront) check every byte as
// HTTP/1.1 and must stop doing so, and must leave closing the connection to its new owner.
type Detacher interface {
	Detach() net.Conn
}

// inlineDetacher is a Detacher of net/http's (pivot.ssl, h2c, HTTP/3): only an HTTP/1.x
// request's connection can be taken over (CanDetach), and the handler serves it before
// returning.
type inlineDetacher interface {
	Detacher
	CanDetach() bool
}

// streamer is a connection of net/http's whose response a handler can stream itself, over
// HTTP/2 and HTTP/3 too (the event stream's way there); the handler returns when it ends.
type streamer interface {
	Stream() (http.ResponseWriter, *http.Request)
}

// canTakeOver says whether ctx's connection can be taken over (an HTTP/1.1 one).
func canTakeOver(ctx *fasthttp.RequestCtx) bool {
	d, ok := ctx.Conn().(Detacher)
	if in, inline := d.(inlineDetacher); inline {
		return in.CanDetach()
	}
	return ok
}

// Middleware serves pivot.broadcast's paths and hands every other request to next. With
// the section absent it is not in the chain at all.
func (h *Hub) Middleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		path := ctx.Path()
		switch {
		case string(path) == h.cfg.Path:
			h.serveWebSocket(ctx)
		case h.cfg.SSEPath != "" && string(path) == h.cfg.SSEPath:
			h.serveSSE(ctx)
		default:
			next(ctx)
		}
	}
}

// admit reserves a connection slot and asks PHP whether the client may connect. It answers
// the client itself (403, 503, ...) and returns nil when it may not.
func (h *Hub) admit(ctx *fasthttp.RequestCtx, transport string) *grant {
	if _, ok := ctx.Conn().(streamer); !canTakeOver(ctx) && (transport != "sse" || !ok) {
		// an HTTP/2 or HTTP/3 stream cannot become a WebSocket here (RFC 8441's extended
		// CONNECT is not served; browsers then open WebSockets over HTTP/1.1)
		ctx.Error("pivot.broadcast's WebSocket is served over HTTP/1.1 (pivot.address, or pivot.ssl on an HTTP/1.1 connection): this request came over HTTP/2 or HTTP/3", fasthttp.StatusNotImplemented)
		return nil
	}
	if !ctx.IsGet() {
		ctx.Response.Header.Set("Allow", "GET")
		ctx.Error("pivot.broadcast: connect with GET", fasthttp.StatusMethodNotAllowed)
		return nil
	}
	if origin := ctx.Request.Header.Peek("Origin"); len(origin) > 0 && !h.originAllowed(origin, ctx.Host()) {
		ctx.Error("pivot.broadcast: this Origin may not connect (pivot.broadcast.allowed_origins)", fasthttp.StatusForbidden)
		return nil
	}
	if h.stopping.Load() {
		h.refused.Add(1)
		ctx.Response.Header.Set("Retry-After", "1")
		ctx.Error("pivot.broadcast: this server is stopping; reconnect", fasthttp.StatusServiceUnavailable)
		return nil
	}
	if n := h.clients.Add(1); n > int64(h.cfg.MaxConnections) {
		h.clients.Add(-1)
		h.refused.Add(1)
		ctx.Response.Header.Set("Retry-After", "5")
		ctx.Error("pivot.broadcast: too many connections (pivot.broadcast.max_connections)", fasthttp.StatusServiceUnavailable)
		return nil
	}
	req := newClientRequest(ctx, transport)
	a, err := h.ask(req, "connect", "", "")
	if err != nil || !a.Allow {
		h.clients.Add(-1)
		h.deny(ctx, err, a.Reason, "connect")
		return nil
	}
	return &grant{User: a.User, Channels: a.Channels, Info: a.Info, req: req}
}

func (h *Hub) deny(ctx *fasthttp.RequestCtx, err error, reason, what string) {
	if err != nil {
		h.log.Error("broadcast: the auth route failed; the client is refused", zap.String("action", what), zap.Error(err))
		ctx.Response.Header.Set("Retry-After", "1")
		ctx.Error("pivot.broadcast: authorization is unavailable", fasthttp.StatusServiceUnavailable)
		return
	}
	if reason == "" {
		reason = "denied"
	}
	ctx.Error("pivot.broadcast: "+what+" denied: "+reason, fasthttp.StatusForbidden)
}

func (h *Hub) originAllowed(origin, host []byte) bool {
	if h.anyOrig {
		return true
	}
	if _, ok := h.origins[string(origin)]; ok {
		return true
	}
	u, err := url.Parse(string(origin))
	return err == nil && u.Host == string(host)
}

func (h *Hub) serveWebSocket(ctx *fasthttp.RequestCtx) {
	if !bytes.EqualFold(ctx.Request.Header.Peek("Upgrade"), []byte("websocket")) {
		ctx.Error("pivot.broadcast: a WebSocket endpoint: connect with new WebSocket(url)", fasthttp.StatusUpgradeRequired)
		return
	}
	g := h.admit(ctx, "websocket")
	if g == nil {
		return
	}
	r := netRequest(ctx, g)
	h.takeOver(ctx, func(c *ownedConn) {
		w := &hijacker{conn: c}
		h.ws.ServeHTTP(w, r)
		if !w.hijacked {
			c.writeStatus(w.status)
			_ = c.Close()
		}
	})
}

// takeOver hijacks the connection from fasthttp for serve, releasing the client's slot when
// the connection closes. fasthttp's hijacked conn must not outlive its handler, so the
// handler waits for the connection's end.
func (h *Hub) takeOver(ctx *fasthttp.RequestCtx, serve func(*ownedConn)) {
	d := ctx.Conn().(Detacher) // admit checked it
	if _, inline := d.(inlineDetacher); inline {
		defer h.clients.Add(-1)
		raw := d.Detach()
		if raw == nil {
			ctx.Error("pivot.broadcast: the connection could not be taken over", fasthttp.StatusInternalServerError)
			return
		}
		oc := &ownedConn{Conn: raw, raw: raw, done: make(chan struct{})}
		_ = raw.SetDeadline(time.Time{}) // net/http's may be set (Hijack's documentation)
		serve(oc)
		<-oc.done
		return
	}
	raw := d.Detach()
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) {
		defer h.clients.Add(-1)
		oc := &ownedConn{Conn: c, raw: raw, done: make(chan struct{})}
		_ = oc.raw.SetDeadline(time.Time{}) // fasthttp's timeouts were for HTTP requests
		serve(oc)
		<-oc.done
	})
}

// netRequest is the client's request as net/http's, for centrifuge's WebSocket handler; its
// context carries what PHP granted.
func netRequest(ctx *fasthttp.RequestCtx, g *grant) *http.Request {
	u, _ := url.ParseRequestURI(string(ctx.RequestURI()))
	if u == nil {
		u = &url.URL{Path: string(ctx.Path())}
	}
	r := &http.Request{Method: http.MethodGet, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: make(http.Header), Host: string(ctx.Host()), RemoteAddr: ctx.RemoteAddr().String(), RequestURI: u.RequestURI()}
	ctx.Request.Header.VisitAll(func(k, v []byte) { r.Header.Add(string(k), string(v)) })
	return r.WithContext(context.WithValue(context.Background(), grantKey{}, g))
}

// ownedConn is a hijacked connection: reads and writes through fasthttp's (bytes it had
// buffered come first), closing through the raw one, whose end releases the handler.
type ownedConn struct {
	net.Conn
	raw  net.Conn
	once sync.Once
	done chan struct{}
}

// Writes go straight to the raw connection: fasthttp buffered nothing to write, and every
// message is a write (a profile at 2,000 clients had the wrappers' deadlines at 4 % of rr).
func (c *ownedConn) Write(b []byte) (int, error)        { return c.raw.Write(b) }
func (c *ownedConn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

func (c *ownedConn) Close() error {
	var err error
	c.once.Do(func() {
		err = c.raw.Close()
		close(c.done)
	})
	return err
}

func (c *ownedConn) writeStatus(status int) {
	if status == 0 {
		status = http.StatusBadRequest
	}
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write([]byte("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
}

// hijacker is the http.ResponseWriter centrifuge's upgrader writes its handshake through.
type hijacker struct {
	conn     *ownedConn
	header   http.Header
	status   int
	hijacked bool
}

func (w *hijacker) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}
func (w *hijacker) Write(b []byte) (int, error) { return len(b), nil } // an upgrade error's text
func (w *hijacker) WriteHeader(status int)      { w.status = status }
func (w *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return w.conn, bufio.NewReadWriter(bufio.NewReader(w.conn), bufio.NewWriter(w.conn)), nil
}
