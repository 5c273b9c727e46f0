package edge

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func newHeaders(t testing.TB, c HeadersConfig) *Headers {
	t.Helper()
	c.InitDefaults()
	if err := c.Valid(); err != nil {
		t.Fatal(err)
	}
	return NewHeaders(&c, zap.NewNop())
}

// phpSaw is a front that records whether it ran and what request headers it saw.
type phpSaw struct {
	ran     bool
	headers http.Header
	answer  func(c *fasthttp.RequestCtx)
	// overlay are the names the front takes from the parsed view (Headers.RequestHeaderNames
	// in httpfront.Options.RequestHeaders)
	overlay []string
}

func (p *phpSaw) handle(c *fasthttp.RequestCtx) {
	p.ran = true
	// what the front reads for PHP's request context: the raw head, with the overlay's names
	// taken from the parsed view
	p.headers = http.Header{}
	for _, line := range strings.Split(string(c.Request.Header.RawHeaders()), "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			p.headers.Add(k, strings.TrimSpace(v))
		}
	}
	for _, name := range p.overlay {
		p.headers.Del(name)
		for _, v := range c.Request.Header.PeekAll(name) {
			p.headers.Add(name, string(v))
		}
	}
	php(c)
	if p.answer != nil {
		p.answer(c)
	}
}

func options(headers ...string) string {
	return "OPTIONS /api HTTP/1.1\r\nHost: x\r\n" + strings.Join(headers, "") + "\r\n"
}

func TestHeadersCORS(t *testing.T) {
	list := &CORSConfig{AllowedOrigin: "https://a.example, https://*.b.example", AllowedMethods: "GET,post, PUT",
		AllowedHeaders: "Content-Type, X-Api-Key", ExposedHeaders: "x-total-count,Retry-After", AllowCredentials: true, MaxAge: 600}
	star := &CORSConfig{AllowedOrigin: "*"}
	regex := &CORSConfig{AllowedOriginRegex: `^https://[a-z]+\.c\.example$`, AllowedHeaders: "*", OptionsSuccessStatus: 204}
	const (
		origA = "Origin: https://a.example\r\n"
		origX = "Origin: https://evil.example\r\n"
	)
	cases := []struct {
		name   string
		cors   *CORSConfig
		req    string
		status int
		php    bool
		want   map[string]string // "" means absent
	}{
		{"preflight allowed", list, options(origA, "Access-Control-Request-Method: PUT\r\n", "Access-Control-Request-Headers: content-type,x-api-key\r\n"),
			200, false, map[string]string{"Access-Control-Allow-Origin": "https://a.example", "Access-Control-Allow-Methods": "PUT",
				"Access-Control-Allow-Headers": "Content-Type, X-Api-Key", "Access-Control-Allow-Credentials": "true",
				"Access-Control-Max-Age": "600", "Vary": preflightVary, "Access-Control-Expose-Headers": "", "Content-Type": ""}},
		{"preflight origin case-insensitive, wildcard", list, options("Origin: HTTPS://App.B.Example\r\n", "Access-Control-Request-Method: POST\r\n"),
			200, false, map[string]string{"Access-Control-Allow-Origin": "HTTPS://App.B.Example", "Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": ""}},
		{"preflight wildcard needs a subdomain's dot", list, options("Origin: https://b.example\r\n", "Access-Control-Request-Method: POST\r\n"),
			200, false, map[string]string{"Access-Control-Allow-Origin": "", "Vary": preflightVary}},
		{"preflight origin refused", list, options(origX, "Access-Control-Request-Method: GET\r\n"),
			200, false, map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": "", "Vary": preflightVary}},
		{"preflight method refused", list, options(origA, "Access-Control-Request-Method: DELETE\r\n"),
			200, false, map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""}},
		{"preflight header refused", list, options(origA, "Access-Control-Request-Method: GET\r\n", "Access-Control-Request-Headers: x-api-key, authorization\r\n"),
			200, false, map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Headers": ""}},
		{"preflight headers over two fields", list, options(origA, "Access-Control-Request-Method: GET\r\n", "Access-Control-Request-Headers: x-api-key\r\n", "Access-Control-Request-Headers: content-type\r\n"),
			200, false, map[string]string{"Access-Control-Allow-Origin": "https://a.example", "Access-Control-Allow-Headers": "X-Api-Key, Content-Type"}},
		{"preflight without origin", list, options("Access-Control-Request-Method: GET\r\n"),
			200, false, map[string]string{"Access-Control-Allow-Origin": "", "Vary": preflightVary}},
		{"preflight star", star, options(origX, "Access-Control-Request-Method: POST\r\n", "Access-Control-Request-Headers: content-type\r\n"),
			200, false, map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Allow-Credentials": "", "Access-Control-Max-Age": ""}},
		{"preflight star: default headers only", star, options(origX, "Access-Control-Request-Method: POST\r\n", "Access-Control-Request-Headers: authorization\r\n"),
			200, false, map[string]string{"Access-Control-Allow-Origin": ""}},
		{"preflight star: default methods only", star, options(origX, "Access-Control-Request-Method: PUT\r\n"),
			200, false, map[string]string{"Access-Control-Allow-Origin": ""}},
		{"preflight regex, any header, 204", regex, options("Origin: https://app.c.example\r\n", "Access-Control-Request-Method: GET\r\n", "Access-Control-Request-Headers: x-anything\r\n"),
			204, false, map[string]string{"Access-Control-Allow-Origin": "https://app.c.example", "Access-Control-Allow-Headers": "X-Anything"}},
		{"preflight regex refuses", regex, options("Origin: https://app.c.example.evil\r\n", "Access-Control-Request-Method: GET\r\n"),
			204, false, map[string]string{"Access-Control-Allow-Origin": ""}},
		{"OPTIONS without Access-Control-Request-Method goes to PHP", list, options(origA),
			299, true, map[string]string{"Access-Control-Allow-Origin": "https://a.example", "Vary": "Origin"}},
		{"actual allowed", list, get("/api", origA),
			299, true, map[string]string{"Access-Control-Allow-Origin": "https://a.example", "Access-Control-Allow-Credentials": "true",
				"Access-Control-Expose-Headers": "X-Total-Count, Retry-After", "Vary": "Origin", "Access-Control-Allow-Methods": "", "Access-Control-Max-Age": ""}},
		{"actual origin refused", list, get("/api", origX),
			299, true, map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": "", "Vary": "Origin"}},
		{"actual without origin", list, get("/api"),
			299, true, map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"}},
		{"actual method refused", list, "DELETE /api HTTP/1.1\r\nHost: x\r\n" + origA + "\r\n",
			299, true, map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"}},
		{"actual star", star, get("/api", origX),
			299, true, map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cc := *tc.cors
			p := &phpSaw{}
			resp, body := exchange(t, newHeaders(t, HeadersConfig{CORS: &cc}).Middleware(p.handle), tc.req)
			if resp.StatusCode != tc.status || p.ran != tc.php {
				t.Fatalf("status %d (want %d), PHP ran %v (want %v)", resp.StatusCode, tc.status, p.ran, tc.php)
			}
			if !tc.php && len(body) != 0 {
				t.Errorf("a preflight has a body: %q", body)
			}
			for k, v := range tc.want {
				got := strings.Join(resp.Header.Values(k), ", ")
				if got != v {
					t.Errorf("%s: %q, want %q (all: %v)", k, got, v, resp.Header)
				}
			}
		})
	}
}

// request headers reach PHP beside the client's; response headers replace PHP's; the edge's
// Access-Control-Allow-Origin replaces PHP's and Vary: Origin joins PHP's Vary.
func TestHeadersAroundPHP(t *testing.T) {
	h := newHeaders(t, HeadersConfig{
		CORS:     &CORSConfig{AllowedOrigin: "https://a.example"},
		Request:  map[string]string{"x-edge": "pivot", "x-client": "edge"},
		Response: map[string]string{"x-frame-options": "DENY", "x-powered-by": "pivot"},
	})
	p := &phpSaw{answer: func(c *fasthttp.RequestCtx) {
		c.Response.Header.Set("X-Powered-By", "PHP/8.2")
		c.Response.Header.Set("Access-Control-Allow-Origin", "*")
		c.Response.Header.Add("Vary", "Accept-Language")
	}, overlay: h.RequestHeaderNames()}
	resp, _ := exchange(t, h.Middleware(p.handle), get("/", "Origin: https://a.example\r\n", "X-Client: browser\r\n"))
	if got := p.headers.Get("X-Edge"); got != "pivot" {
		t.Errorf("PHP saw X-Edge %q", got)
	}
	if got := p.headers.Values("X-Client"); strings.Join(got, ",") != "browser,edge" {
		t.Errorf("PHP saw X-Client %q, want the client's and the configured one", got)
	}
	for k, v := range map[string]string{"X-Frame-Options": "DENY", "X-Powered-By": "pivot",
		"Access-Control-Allow-Origin": "https://a.example", "Vary": "Accept-Language, Origin"} {
		if got := strings.Join(resp.Header.Values(k), ", "); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	// a preflight gets the response headers too (RoadRunner sets them before its CORS handler)
	resp, _ = exchange(t, h.Middleware(p.handle), options("Origin: https://a.example\r\n", "Access-Control-Request-Method: GET\r\n"))
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Access-Control-Allow-Origin") != "https://a.example" {
		t.Errorf("preflight headers %v", resp.Header)
	}
}

// A streamed response (the front sets a body stream) gets its headers like any other.
func TestHeadersOnAStream(t *testing.T) {
	h := newHeaders(t, HeadersConfig{CORS: &CORSConfig{AllowedOrigin: "https://a.example"}, Response: map[string]string{"x-a": "b"}})
	stream := func(c *fasthttp.RequestCtx) {
		c.SetStatusCode(200)
		c.Response.SetBodyStream(io.NopCloser(strings.NewReader("chunk1chunk2")), -1)
	}
	resp, body := exchange(t, h.Middleware(stream), get("/", "Origin: https://a.example\r\n"))
	if string(body) != "chunk1chunk2" || resp.Header.Get("Access-Control-Allow-Origin") != "https://a.example" ||
		resp.Header.Get("X-A") != "b" || len(resp.TransferEncoding) == 0 {
		t.Fatalf("stream: %q %v te=%v", body, resp.Header, resp.TransferEncoding)
	}
}

// In RoadRunner's order: with [static, headers] files get CORS headers; 429s and 503s from the
// middleware nearest PHP get them whenever "headers" is listed.
func TestHeadersInTheChain(t *testing.T) {
	h := newHeaders(t, HeadersConfig{CORS: &CORSConfig{AllowedOrigin: "*"}})
	limited := func(c *fasthttp.RequestCtx) { c.SetStatusCode(429); c.Response.Header.Set("Retry-After", "1") }
	resp, _ := exchange(t, Chain(limited, h.Middleware), get("/", "Origin: https://x.example\r\n"))
	if resp.StatusCode != 429 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("429 through headers: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestHeadersDebugLogs(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	c := HeadersConfig{CORS: &CORSConfig{AllowedOrigin: "https://a.example", Debug: true}}
	c.InitDefaults()
	if err := c.Valid(); err != nil {
		t.Fatal(err)
	}
	h := NewHeaders(&c, zap.New(core)).Middleware(php)
	exchange(t, h, options("Origin: https://evil.example\r\n", "Access-Control-Request-Method: GET\r\n"))
	exchange(t, h, get("/", "Origin: https://a.example\r\n"))
	e := logs.All()
	if len(e) != 2 || e[0].ContextMap()["refused"] != "origin not allowed" || e[1].ContextMap()["allowed"] != true {
		t.Fatalf("debug logs %+v", e)
	}
	// without debug, nothing is logged
	core, logs = observer.New(zapcore.DebugLevel)
	c.CORS.Debug = false
	exchange(t, NewHeaders(&c, zap.New(core)).Middleware(php), get("/", "Origin: https://a.example\r\n"))
	if logs.Len() != 0 {
		t.Fatalf("logged without debug: %v", logs.All())
	}
}

func TestAppendCanonical(t *testing.T) {
	for in, want := range map[string]string{"x-api-key": "X-Api-Key", "CONTENT-TYPE": "Content-Type", "a": "A",
		"x--y": "X--Y", "x y": "x y", "déjà": "déjà"} {
		if got := string(appendCanonical(nil, []byte(in))); got != want || got != http.CanonicalHeaderKey(in) {
			t.Errorf("%q → %q, want %q (net/http: %q)", in, got, want, http.CanonicalHeaderKey(in))
		}
	}
}

// The path of a real request costs no allocation with CORS and headers on (request headers:
// their head buffer comes from a sync.Pool, which the race detector empties at random).
func TestHeadersNoAllocation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		request map[string]string
	}{{"cors+response", nil}, {"cors+response+request", map[string]string{"x-edge": "1"}}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHeaders(t, HeadersConfig{CORS: &CORSConfig{AllowedOrigin: "https://a.example,https://*.b.example", ExposedHeaders: "X-A", AllowCredentials: true},
				Request: tc.request, Response: map[string]string{"x-b": "2"}}).Middleware(func(c *fasthttp.RequestCtx) { c.SetStatusCode(200) })
			head := get("/", "Origin: https://app.b.example\r\n")
			c := requestCtx(t, head)
			var sr strings.Reader
			br := bufio.NewReader(&sr)
			h(c)
			n := testing.AllocsPerRun(200, func() {
				sr.Reset(head) // a fresh request, as the server reads it
				br.Reset(&sr)
				if err := c.Request.Header.Read(br); err != nil {
					t.Fatal(err)
				}
				c.Response.Reset()
				h(c)
			})
			if got := string(c.Request.Header.Peek("X-Edge")); got != tc.request["x-edge"] || len(c.Response.Header.Peek("Access-Control-Allow-Origin")) == 0 {
				t.Fatalf("X-Edge %q, response %s", got, c.Response.Header.String())
			}
			if n != 0 && !(raceOn && tc.request != nil) {
				t.Fatalf("%v allocations per request", n)
			}
		})
	}
}

// BenchmarkHeaders: the middleware's cost per request (next does nothing): CORS on a real
// request; with `request` headers too (the head rebuilt and parsed again).
func BenchmarkHeaders(b *testing.B) {
	for _, bc := range []struct {
		name string
		c    HeadersConfig
	}{
		{"off", HeadersConfig{}},
		{"cors", HeadersConfig{CORS: &CORSConfig{AllowedOrigin: "https://a.example"}}},
		{"cors+request", HeadersConfig{CORS: &CORSConfig{AllowedOrigin: "https://a.example"}, Request: map[string]string{"x-edge": "1"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var h fasthttp.RequestHandler = func(c *fasthttp.RequestCtx) { c.SetStatusCode(200) }
			if bc.name != "off" { // off: the chain has no headers middleware, the baseline
				h = newHeaders(b, bc.c).Middleware(h)
			}
			head := get("/api/users?page=2", "Origin: https://a.example\r\n", "Accept: application/json\r\n",
				"User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n", "Cookie: session=abcdef0123456789\r\n")
			c := requestCtx(b, head)
			var sr strings.Reader
			br := bufio.NewReader(&sr)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sr.Reset(head)
				br.Reset(&sr)
				_ = c.Request.Header.Read(br)
				c.Response.Reset()
				h(c)
			}
		})
	}
}
