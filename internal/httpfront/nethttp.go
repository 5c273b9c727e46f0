package httpfront

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// The net/http side of the front: HTTPS (HTTP/1.1 and HTTP/2) and h2c are served by net/http
// (fasthttp has no HTTP/2), and each request is adapted onto the very pipeline the fasthttp
// server runs (Front.serve: the middleware, HandleRequest, the workers), so both paths answer
// alike. A request becomes a fasthttp.RequestCtx whose head is parsed from the HTTP/1.1 head
// the request would have had (the http/v4 context reads the raw head), whose body streams from
// the net/http body (bounded by max_request_size), and whose Conn is a netConn: the peer's
// address, the TLS state, and 1xx answers through the ResponseWriter. The response is written
// back from ctx.Response: a buffered body at once, a streamed one (PHP's streams, gzip's,
// static files) read by read, each flushed to the client as it comes when its length is not
// known. The strict HTTP/1.1 framing check (internal/http1) does not apply: net/http has parsed
// the request, and an HTTP/2 request has no HTTP/1.1 framing.

// netConn is a net/http request as fasthttp.RequestCtx.Conn sees it: the addresses (the limiter
// and the http/v4 context read the peer's), and 1xx answers (interimWriter). It reads and
// writes nothing: the pipeline never touches a connection but through these.
type netConn struct {
	w      http.ResponseWriter
	r      *http.Request
	remote net.Addr
	local  net.Addr
	// detached: Detach took the connection over, or Stream the response; the adapter does
	// not write the response
	detached bool
}

// CanDetach says whether Detach can take this request's connection over: an HTTP/1.x one
// (net/http's Hijack); an HTTP/2 or HTTP/3 stream cannot be.
func (c *netConn) CanDetach() bool {
	_, ok := c.w.(http.Hijacker)
	return ok && c.r.ProtoMajor == 1
}

// Detach takes the connection over after an HTTP/1.1 upgrade (pivot.broadcast over pivot.ssl,
// internal/realtime's Detacher): net/http's Hijack, the bytes it had read first. Unlike
// fasthttp's, the request's handler serves the connection before it returns (the goroutine
// net/http gave the request is free to). nil when it cannot (CanDetach).
func (c *netConn) Detach() net.Conn {
	if !c.CanDetach() {
		return nil
	}
	conn, rw, err := c.w.(http.Hijacker).Hijack()
	if err != nil {
		return nil
	}
	c.detached = true
	if rw.Reader.Buffered() > 0 {
		return &readBufferedConn{Conn: conn, r: rw.Reader}
	}
	return conn
}

// Stream hands the request's response over to a handler that streams it itself
// (pivot.broadcast's event stream over HTTP/2 and HTTP/3, internal/realtime): the adapter then
// writes no response of its own. Call it from the request's handler, which must not return
// before the stream ends.
func (c *netConn) Stream() (http.ResponseWriter, *http.Request) {
	c.detached = true
	return c.w, c.r
}

// readBufferedConn is a hijacked connection whose first bytes net/http had read already.
type readBufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *readBufferedConn) Read(b []byte) (int, error) {
	if c.r.Buffered() > 0 {
		return c.r.Read(b)
	}
	return c.Conn.Read(b)
}

func (c *netConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (c *netConn) Write(b []byte) (int, error)      { return 0, net.ErrClosed }
func (c *netConn) Close() error                     { return nil }
func (c *netConn) LocalAddr() net.Addr              { return c.local }
func (c *netConn) RemoteAddr() net.Addr             { return c.remote }
func (c *netConn) SetDeadline(time.Time) error      { return nil }
func (c *netConn) SetReadDeadline(time.Time) error  { return nil }
func (c *netConn) SetWriteDeadline(time.Time) error { return nil }

// netTLSConn is a netConn of a TLS connection: fasthttp's IsTLS and TLSConnectionState see it
// (the http/v4 context's uri is https://).
type netTLSConn struct{ *netConn }

func (c netTLSConn) Handshake() error { return nil }
func (c netTLSConn) ConnectionState() tls.ConnectionState {
	if c.r.TLS == nil {
		return tls.ConnectionState{}
	}
	return *c.r.TLS
}

// interimWriter sends a 1xx answer on a connection that is not fasthttp's (interim.go).
type interimWriter interface {
	writeInterim(c *fasthttp.RequestCtx, status int) error
}

var _ interimWriter = (*netConn)(nil)

// writeInterim sends the 1xx with the headers the worker gave it (net/http's 1xx WriteHeader,
// HTTP/1.1 and HTTP/2 alike), then clears them: they are not the final response's.
func (c *netConn) writeInterim(fc *fasthttp.RequestCtx, status int) error {
	if !c.r.ProtoAtLeast(1, 1) {
		return nil // never to an HTTP/1.0 client (RFC 9110 §15.2)
	}
	h := c.w.Header()
	fc.Response.Header.VisitAll(func(k, v []byte) {
		switch string(k) {
		case fasthttp.HeaderContentLength, fasthttp.HeaderContentType, fasthttp.HeaderConnection,
			fasthttp.HeaderTransferEncoding, fasthttp.HeaderTrailer:
			return
		}
		h.Add(string(k), string(v))
	})
	c.w.WriteHeader(status)
	clear(h)
	return nil
}

// netRequest is one adapted request's state, reused through Front.netStates.
type netRequest struct {
	ctx  fasthttp.RequestCtx
	conn netConn
	head []byte
	hr   bytes.Reader
	br   *bufio.Reader
	body limitedBody
	buf  []byte // a streamed body's read buffer
}

// limitedBody is a net/http request body as the pipeline reads it: past max bytes it fails
// with fasthttp.ErrBodyTooLarge (a 413, as on the fasthttp path).
type limitedBody struct {
	r        io.Reader
	n, max   int64
	tooLarge bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.tooLarge {
		return 0, fasthttp.ErrBodyTooLarge
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.max {
		b.tooLarge = true
		return 0, fasthttp.ErrBodyTooLarge
	}
	return n, err
}

// streamBufferSize is a streamed response's read buffer: a frame of PHP's stream is read whole
// when it fits, and flushed as one.
const streamBufferSize = 32 << 10

// NetHandler is the front as a net/http handler: the pipeline the fasthttp server runs, behind
// the adapter above. The TLS and h2c servers run it; the front's own net/http server (ServeTLS)
// is built around it.
func (f *Front) NetHandler() http.Handler { return netHandler{f: f, serve: f.serve} }

type netHandler struct {
	f     *Front
	serve fasthttp.RequestHandler
}

func (h netHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.f.serveNet(w, r, h.serve) }

func (f *Front) serveNet(w http.ResponseWriter, r *http.Request, serve fasthttp.RequestHandler) {
	nr := f.netStates.Get().(*netRequest)
	c := &nr.ctx
	nr.conn = netConn{w: w, r: r, remote: peerAddr(r.RemoteAddr), local: localAddr(r)}
	var conn net.Conn = &nr.conn
	if r.TLS != nil {
		conn = netTLSConn{&nr.conn}
	}
	c.Init2(conn, fasthttpLogger{f.log}, false)
	defer f.releaseNet(nr)

	if status := nr.readHead(r, f.opts.MaxHeaderBytes); status != 0 {
		if status == http.StatusRequestHeaderFieldsTooLarge {
			f.writeError(c, status, "request head exceeds pivot.max_header_bytes")
		} else {
			f.writeError(c, status, "malformed request")
		}
	} else if r.ContentLength > f.opts.MaxBody {
		f.writeError(c, http.StatusRequestEntityTooLarge, "request body exceeds pivot.max_request_size")
	} else {
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			nr.body = limitedBody{r: r.Body, max: f.opts.MaxBody}
			cl := int(r.ContentLength)
			if r.ContentLength < 0 {
				cl = -1
			}
			c.Request.SetBodyStream(&nr.body, cl)
		}
		if c.IsHead() {
			c.Response.SkipBody = true
		}
		serve(c)
		if nr.conn.detached {
			return // the connection is its new owner's, and has been served
		}
	}
	f.writeNetResponse(w, r, nr)
}

// readHead parses the HTTP/1.1 head of r into the context's request: what the http/v4 context,
// the middleware and HandleRequest read. It returns 0, or the status of a refusal: 431 for a
// head over limit bytes, 400 for one fasthttp cannot read (net/http has checked it already).
func (nr *netRequest) readHead(r *http.Request, limit int) int {
	h := nr.head[:0]
	h = append(h, r.Method...)
	h = append(h, ' ')
	if r.RequestURI != "" {
		h = append(h, r.RequestURI...)
	} else {
		h = append(h, r.URL.RequestURI()...)
	}
	if r.ProtoMajor >= 2 {
		h = append(h, ' ') // HTTP/2.0, HTTP/3.0: as RoadRunner's context says
		h = append(h, r.Proto...)
		h = append(h, "\r\nHost: "...)
	} else if r.ProtoMinor == 0 {
		h = append(h, " HTTP/1.0\r\nHost: "...)
	} else {
		h = append(h, " HTTP/1.1\r\nHost: "...)
	}
	h = append(h, r.Host...)
	h = append(h, "\r\n"...)
	for k, vs := range r.Header {
		for _, v := range vs {
			h = append(h, k...)
			h = append(h, ": "...)
			h = append(h, v...)
			h = append(h, "\r\n"...)
		}
	}
	h = append(h, "\r\n"...)
	nr.head = h
	if len(h) > limit+len(r.Host)+8 { // the Host line is :authority's in HTTP/2
		return http.StatusRequestHeaderFieldsTooLarge
	}
	nr.hr.Reset(h)
	if nr.br == nil || nr.br.Size() < len(h) {
		nr.br = bufio.NewReaderSize(&nr.hr, max(len(h), 4096))
	} else {
		nr.br.Reset(&nr.hr)
	}
	if nr.ctx.Request.Header.Read(nr.br) != nil {
		return http.StatusBadRequest
	}
	return 0
}

// hopByHop are the response headers of a connection, never of an HTTP/2 stream; net/http frames
// the response itself.
func hopByHop(k []byte) bool {
	switch string(k) {
	case fasthttp.HeaderContentLength, fasthttp.HeaderConnection, fasthttp.HeaderTransferEncoding,
		"Keep-Alive", "Proxy-Connection", fasthttp.HeaderUpgrade, fasthttp.HeaderTrailer:
		return true
	}
	return false
}

// writeNetResponse writes ctx.Response to w: status, headers, then the body, at once or
// streamed; a stream the worker broke ends the response abruptly (RST_STREAM on HTTP/2, a
// closed connection on HTTP/1.1), as the fasthttp path cuts its chunked body.
func (f *Front) writeNetResponse(w http.ResponseWriter, r *http.Request, nr *netRequest) {
	resp := &nr.ctx.Response
	status := resp.StatusCode()
	h := w.Header()
	var trailers []string
	resp.Header.VisitAllTrailer(func(k []byte) { trailers = append(trailers, string(k)) })
	resp.Header.VisitAll(func(k, v []byte) {
		if hopByHop(k) || isTrailer(trailers, k) {
			return
		}
		key := string(k)
		h[key] = append(h[key], string(v))
	})
	if len(trailers) > 0 {
		h[fasthttp.HeaderTrailer] = trailers
	}
	head := r.Method == http.MethodHead
	if !resp.IsBodyStream() {
		body := resp.Body()
		if bodyAllowed(status) {
			n := len(body)
			if head && n == 0 {
				n = resp.Header.ContentLength()
			}
			if n >= 0 {
				h[fasthttp.HeaderContentLength] = []string{strconv.Itoa(n)}
			}
		}
		w.WriteHeader(status)
		if !head && len(body) > 0 && bodyAllowed(status) {
			_, _ = w.Write(body)
		}
		return
	}

	size := resp.Header.ContentLength()
	if size >= 0 && bodyAllowed(status) {
		h[fasthttp.HeaderContentLength] = []string{strconv.Itoa(size)}
	}
	w.WriteHeader(status)
	var err error
	if !head {
		err = nr.copyStream(w, resp.BodyStream(), size < 0)
	}
	_ = resp.CloseBodyStream() // a PHP stream releases its worker (or cancels it) here
	if err != nil {
		panic(http.ErrAbortHandler) // net/http resets the stream or closes the connection
	}
	for _, k := range trailers {
		if v := resp.Header.Peek(k); len(v) > 0 {
			h.Set(k, string(v))
		}
	}
}

// copyStream copies a streamed body; flush sends each read on at once (a stream of unknown
// length: PHP's frames, server-sent events). An error of the body (the worker's) is returned;
// a client that went away ends the copy without one.
func (nr *netRequest) copyStream(w http.ResponseWriter, body io.Reader, flush bool) error {
	if cap(nr.buf) == 0 {
		nr.buf = make([]byte, streamBufferSize)
	}
	buf := nr.buf[:cap(nr.buf)]
	fl, _ := w.(http.Flusher)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil // the client went away: nothing more to send, nothing to abort
			}
			if flush && fl != nil {
				fl.Flush()
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func isTrailer(trailers []string, k []byte) bool {
	for _, t := range trailers {
		if t == string(k) {
			return true
		}
	}
	return false
}

// bodyAllowed: 1xx, 204 and 304 responses have no body nor Content-Length.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

func (f *Front) releaseNet(nr *netRequest) {
	c := &nr.ctx
	_ = c.Response.CloseBodyStream() // when the handler panicked before the copy
	c.Request.Reset()
	c.Response.Reset()
	c.ResetUserValues()
	nr.conn = netConn{}
	nr.body = limitedBody{}
	if cap(nr.head) > maxPooledBuffer {
		nr.head = nil
	}
	f.netStates.Put(nr)
}

func newNetRequest() any { return &netRequest{} }

// peerAddr is r.RemoteAddr as a *net.TCPAddr (fasthttp's RemoteIP and the limiter read it).
func peerAddr(s string) net.Addr {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return &net.TCPAddr{IP: net.IPv4zero}
	}
	return net.TCPAddrFromAddrPort(ap)
}

func localAddr(r *http.Request) net.Addr {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a
	}
	return &net.TCPAddr{IP: net.IPv4zero}
}

// netStatesInit is called by New.
func (f *Front) netStatesInit() { f.netStates = sync.Pool{New: newNetRequest} }
