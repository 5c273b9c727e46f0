package httpfront

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/pool"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"golang.org/x/net/http2"
)

// echoGeneration stands for a worker: it answers with the request context it got (JSON) as the
// X-Context header's value and the body it got as the body, after a 103 when asked.
type echoGeneration struct {
	mu   sync.Mutex
	last string
}

func (g *echoGeneration) Acquire() Generation      { return g }
func (g *echoGeneration) Unavailable() (int, bool) { return 1, false }
func (g *echoGeneration) Served()                  {}
func (g *echoGeneration) Retired() bool            { return false }
func (g *echoGeneration) Release()                 {}
func (g *echoGeneration) Exec(ctx, body []byte, sink pool.FrameSink) error {
	g.mu.Lock()
	g.last = string(ctx)
	g.mu.Unlock()
	if bytes.Contains(ctx, []byte(`/hints"`)) {
		sink.OnFrame([]byte(`{"status":103,"headers":{"Link":["</a.css>; rel=preload"]}}`), nil, pool.FrameStreamPart)
	}
	sink.OnFrame([]byte(`{"status":200,"headers":{"Content-Type":["application/octet-stream"],"X-A":["1","2"],"Connection":["keep-alive"]}}`),
		body, pool.FrameWhole)
	return nil
}

func (g *echoGeneration) context(t *testing.T) map[string]any {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	var m map[string]any
	if err := json.Unmarshal([]byte(g.last), &m); err != nil {
		t.Fatalf("request context %q: %v", g.last, err)
	}
	return m
}

// streamWrap answers /stream itself with a body of three reads, 200 ms apart, of unknown length.
func streamWrap(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(c *fasthttp.RequestCtx) {
		if string(c.Path()) != "/stream" {
			next(c)
			return
		}
		c.Response.Header.SetContentType("text/plain")
		c.Response.SetBodyStream(&slowReader{parts: []string{"one\n", "two\n", "three\n"}}, -1)
	}
}

type slowReader struct {
	parts []string
	n     int
}

func (r *slowReader) Read(b []byte) (int, error) {
	if r.n == len(r.parts) {
		return 0, io.EOF
	}
	if r.n > 0 {
		time.Sleep(200 * time.Millisecond)
	}
	r.n++
	return copy(b, r.parts[r.n-1]), nil
}

func newTLSFront(t *testing.T, opts Options) (*echoGeneration, *httptest.Server, *http.Client) {
	t.Helper()
	g := &echoGeneration{}
	if opts.MaxHeaderBytes == 0 {
		opts.MaxHeaderBytes = 16 << 10
	}
	if opts.MaxBody == 0 {
		opts.MaxBody = 1 << 20
	}
	opts.Wrap = streamWrap
	f := New(opts, g, nopMetrics{}, zap.NewNop())
	srv := httptest.NewUnstartedServer(f.NetHandler())
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := srv.Client()
	c.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	return g, srv, c
}

func TestNetHandlerOverHTTP2(t *testing.T) {
	g, srv, c := newTLSFront(t, Options{})
	req, _ := http.NewRequest("POST", srv.URL+"/echo?q=1", strings.NewReader("body over h2"))
	req.Header.Set("Cookie", "a=1; b=2")
	req.Header.Set("X-Test", "x")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || string(body) != "body over h2" {
		t.Fatalf("%s %d %q", resp.Proto, resp.StatusCode, body)
	}
	if got := resp.Header.Values("X-A"); len(got) != 2 || resp.Header.Get("Connection") != "" || resp.Header.Get("Content-Length") != "12" {
		t.Errorf("headers: %v", resp.Header)
	}
	ctx := g.context(t)
	if ctx["protocol"] != "HTTP/2.0" || ctx["method"] != "POST" || ctx["rawQuery"] != "q=1" ||
		!strings.HasPrefix(ctx["uri"].(string), "https://127.0.0.1:") || ctx["remoteAddr"] != "127.0.0.1" {
		t.Errorf("context: %v", ctx)
	}
	if h := ctx["headers"].(map[string]any); h["X-Test"].([]any)[0] != "x" || h["Host"] != nil {
		t.Errorf("headers in the context: %v", h)
	}
	if ck := ctx["cookies"].(map[string]any); ck["a"] != "1" || ck["b"] != "2" {
		t.Errorf("cookies in the context: %v", ck)
	}
}

func TestNetHandlerStreamsEachRead(t *testing.T) {
	_, srv, c := newTLSFront(t, Options{})
	resp, err := c.Get(srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	buf := make([]byte, 64)
	n, err := resp.Body.Read(buf)
	if err != nil || string(buf[:n]) != "one\n" || time.Since(start) > 150*time.Millisecond {
		t.Fatalf("first read %q %v after %v", buf[:n], err, time.Since(start))
	}
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "two\nthree\n" || resp.ContentLength != -1 {
		t.Fatalf("rest %q, length %d", rest, resp.ContentLength)
	}
}

func TestNetHandlerBodyLimit(t *testing.T) {
	_, srv, c := newTLSFront(t, Options{MaxBody: 100})
	for _, body := range []io.Reader{strings.NewReader(strings.Repeat("x", 101)), io.MultiReader(strings.NewReader(strings.Repeat("x", 101)))} {
		resp, err := c.Post(srv.URL+"/echo", "text/plain", body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	resp, err := c.Post(srv.URL+"/echo", "text/plain", strings.NewReader(strings.Repeat("x", 100)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a body at the limit: %d", resp.StatusCode)
	}
}

func TestNetHandlerEarlyHintsOverHTTP2(t *testing.T) {
	_, srv, c := newTLSFront(t, Options{})
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, h.Get("Link"))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", srv.URL+"/hints", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(hints) != 1 || hints[0] != "</a.css>; rel=preload" || resp.Header.Get("Link") != "" {
		t.Fatalf("status %d, hints %v, final headers %v", resp.StatusCode, hints, resp.Header)
	}
}

func TestRedirectTLS(t *testing.T) {
	f := New(Options{RedirectTLS: 8443}, &echoGeneration{}, nopMetrics{}, zap.NewNop())
	for host, want := range map[string]string{
		"example.com:8080": "https://example.com:8443/a?b=c",
		"example.com":      "https://example.com:8443/a?b=c",
		"[::1]:8080":       "https://[::1]:8443/a?b=c",
	} {
		c := requestCtx(t, "GET /a?b=c HTTP/1.1\r\nHost: "+host+"\r\n\r\n", nil)
		f.redirectTLS(c)
		if c.Response.StatusCode() != 308 || string(c.Response.Header.Peek("Location")) != want {
			t.Errorf("%s: %d %s, want %s", host, c.Response.StatusCode(), c.Response.Header.Peek("Location"), want)
		}
	}
	f = New(Options{RedirectTLS: 443}, &echoGeneration{}, nopMetrics{}, zap.NewNop())
	c := requestCtx(t, "GET / HTTP/1.1\r\nHost: example.com:80\r\n\r\n", nil)
	f.redirectTLS(c)
	if string(c.Response.Header.Peek("Location")) != "https://example.com/" {
		t.Errorf("443: %s", c.Response.Header.Peek("Location"))
	}
}

// TestH2CBesideHTTP11 serves one listener with both: a connection that opens with the HTTP/2
// preface (however its bytes are split) goes to net/http, any other stays fasthttp's.
func TestH2CBesideHTTP11(t *testing.T) {
	g := &echoGeneration{}
	f := New(Options{H2C: true, MaxHeaderBytes: 16 << 10, MaxBody: 1 << 20, ReadHeaderTimeout: 5 * time.Second},
		g, nopMetrics{}, zap.NewNop())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = f.Serve(ln) }()
	defer func() { _ = f.Shutdown(context.Background()) }()
	addr := ln.Addr().String()

	h2c := &http.Client{Transport: &http2.Transport{AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, a string, _ *tls.Config) (net.Conn, error) {
			c, err := net.Dial(network, a)
			return &splitConn{Conn: c}, err // the preface in bytes of 1, 2, 3...
		}}}
	resp, err := h2c.Post("http://"+addr+"/x", "text/plain", strings.NewReader("h2c"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || string(b) != "h2c" || g.context(t)["protocol"] != "HTTP/2.0" {
		t.Fatalf("h2c: %s %q", resp.Proto, b)
	}
	resp, err = http.Post("http://"+addr+"/x", "text/plain", strings.NewReader("h1"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 1 || string(b) != "h1" || g.context(t)["protocol"] != "HTTP/1.1" {
		t.Fatalf("HTTP/1.1: %s %q", resp.Proto, b)
	}
	// a PRI that is not the preface is HTTP/1.1's to refuse, as without h2c
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("PRI / HTTP/1.1\r\nHost: x\r\n\r\n"))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	head := make([]byte, 12)
	if _, err := io.ReadFull(c, head); err != nil || !strings.HasPrefix(string(head), "HTTP/1.1 ") {
		t.Fatalf("PRI / HTTP/1.1: %q %v", head, err)
	}
}

// splitConn writes its first writes in pieces of growing size.
type splitConn struct {
	net.Conn
	step int
}

func (c *splitConn) Write(b []byte) (int, error) {
	if c.step > 6 {
		return c.Conn.Write(b)
	}
	n := 0
	for len(b) > 0 && c.step <= 6 {
		c.step++
		k := min(c.step, len(b))
		m, err := c.Conn.Write(b[:k])
		n += m
		if err != nil {
			return n, err
		}
		b = b[k:]
		time.Sleep(5 * time.Millisecond)
	}
	m, err := c.Conn.Write(b)
	return n + m, err
}

// benchWriter is a ResponseWriter that keeps nothing.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(int)             {}

// BenchmarkAdapter is the net/http path's cost over the fasthttp path's, per request: the same
// GET with a browser's headers through HandleRequest (a worker that answers at once), once on a
// fasthttp.RequestCtx as fasthttp's server hands it over, once through the adapter from an
// *http.Request as net/http's server (HTTP/1.1 or HTTP/2) hands it over. TLS and HTTP/2 framing
// are not in either.
func BenchmarkAdapter(b *testing.B) {
	headers := "Host: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0\r\n" +
		"Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\nCookie: session=abc123; theme=dark\r\n"
	f := New(Options{MaxHeaderBytes: 16 << 10, MaxBody: 1 << 20}, &echoGeneration{}, nopMetrics{}, zap.NewNop())

	b.Run("fasthttp", func(b *testing.B) {
		c := requestCtx(b, "GET /hello?x=1 HTTP/1.1\r\n"+headers+"\r\n", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555})
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			f.serve(c)
			c.Response.Reset()
		}
	})
	b.Run("net/http adapter", func(b *testing.B) {
		r, err := http.ReadRequest(bufioReader("GET /hello?x=1 HTTP/1.1\r\n" + headers + "\r\n"))
		if err != nil {
			b.Fatal(err)
		}
		r.RemoteAddr = "127.0.0.1:5555"
		r.Body = http.NoBody
		w := &benchWriter{h: http.Header{}}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			f.serveNet(w, r, f.serve)
			clear(w.h)
		}
	})
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
