package httpfront

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/http1"
	"github.com/valyala/fasthttp"
)

// validRunes is what a string becomes through the context's JSON and PHP's json_decode: each
// byte of invalid UTF-8 turns into U+FFFD.
func validRunes(s string) string { return string([]rune(s)) }

// wantCookies is what the context's "cookies" must hold for a request net/http read as r:
// net/http's cookies with RoadRunner's rules on top (protocol's FuzzHeaderFields says why):
// URL-unescaped when the value holds '%' or '+' (dropped when it does not unescape), the last
// of a name wins, spaces before a name's '=' are trimmed.
func wantCookies(r *http.Request) map[string]string {
	h := http.Header{}
	for _, line := range r.Header["Cookie"] {
		parts := strings.Split(line, ";")
		for i, p := range parts {
			if name, value, ok := strings.Cut(p, "="); ok {
				parts[i] = strings.TrimRight(name, " \t") + "=" + value
			}
		}
		h.Add("Cookie", strings.Join(parts, ";"))
	}
	out := map[string]string{}
	for _, c := range (&http.Request{Header: h}).Cookies() {
		v := c.Value
		if strings.ContainsAny(v, "%+") {
			var err error
			if v, err = url.QueryUnescape(v); err != nil {
				continue
			}
		}
		out[c.Name] = validRunes(v)
	}
	return out
}

// FuzzRequestContext: a raw HTTP/1.1 request, parsed by fasthttp as the front's server does,
// then written by appendRequestContext. For anything fasthttp reads: no panic, json.Valid, and
// method, protocol, URI and raw query exactly what fasthttp parsed (invalid UTF-8 as U+FFFD).
// For a request the framing check (internal/http1) passes whole, which is all that reaches the
// handler: method, protocol and target are net/http's too, the headers are net/http's
// Request.Header (without Host and Transfer-Encoding, as RoadRunner's http plugin gets them
// from net/http), value for value, and the cookies are net/http's Request.Cookies() with
// RoadRunner's rules (wantCookies).
func FuzzRequestContext(f *testing.F) {
	seeds := []string{
		"GET /path/x?foo=bar&arr[]=1&n[a][b]=c HTTP/1.1\r\nHost: example.com\r\nX-Multi: one\r\nx-multi: two\r\n" +
			"Cookie: sess=abc%20def; other=1; quoted=\"q\"; badv=%zz\r\nCookie: plus=a+b\r\n\r\n",
		"POST /f HTTP/1.0\r\nHost: pivot.test:8443\r\nContent-Length: 5\r\n\r\nhello",
		"GET http://other.test/a?b HTTP/1.1\r\nHost: other.test\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		// CRLF injection attempts: in the target, in a value, a bare CR, a bare LF, NUL
		"GET /a%0d%0aSet-Cookie:%20x HTTP/1.1\r\nHost: x\r\nX: a\rInjected: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: a\nInjected: 1\r\nY: \x00\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
		// invalid UTF-8, obs-text, JSON-special bytes everywhere
		"GET /\xff\xfe?q=\xc3\x28 HTTP/1.1\r\nHost: h\xffst\r\nX-\xff: 1\r\nY: \xff\"\\\r\nZ: a\xc2\xa0\r\n\r\n",
		"GET /\"\\u0000\\ud800 HTTP/1.1\r\nHost: x\r\nCookie: a=\\ud800; b=%ff; c=\"\"\r\n\r\n",
		// empty and odd names, duplicate Host, odd methods and versions
		"GET / HTTP/1.1\r\nHost: x\r\n: v\r\nX:\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"M-SEARCH / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"\r\n0 / HTTP/1.0\r\n\r\n", // an empty line first (a CI fuzz finding)
		"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nCookie: " + strings.Repeat("k=v; ", 40) + "\r\n" + strings.Repeat("X-A: 1\r\nx-b: 2\r\n", 20) + "\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	remote := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1234}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var req fasthttp.Request
		if err := req.Read(bufio.NewReader(bytes.NewReader(raw))); err != nil {
			return
		}
		c := &fasthttp.RequestCtx{}
		c.Init(&req, remote, nil)
		out, _ := appendRequestContext(nil, c, nil, false, nil)
		if !json.Valid(out) {
			t.Fatalf("%q: invalid JSON %s", raw, out)
		}
		var got decodedContext
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q: %s: %v", raw, out, err)
		}
		h := &req.Header
		target := string(h.RequestURI())
		wantURI := target
		if target == "" || target[0] == '/' || target[0] == '*' {
			scheme := "http://"
			if c.IsTLS() {
				scheme = "https://"
			}
			wantURI = scheme + string(h.Host()) + target
		}
		_, query, _ := strings.Cut(target, "?")
		if got.RemoteAddr != "192.0.2.1" || got.Method != validRunes(string(h.Method())) ||
			got.Protocol != validRunes(string(h.Protocol())) || got.URI != validRunes(wantURI) ||
			got.RawQuery != validRunes(query) || got.Parsed || got.Uploads != nil || len(got.Attributes) != 0 {
			t.Fatalf("%q: context %s\nfasthttp: method %q protocol %q host %q target %q", raw, out, h.Method(), h.Protocol(), h.Host(), target)
		}

		// what reaches the handler: a request the framing check passed whole
		v := http1.New(http1.Limits{MaxHead: 1 << 16, MaxBody: 1 << 20})
		if n, err := v.Feed(raw); err != nil || n != len(raw) {
			return
		}
		// net/http skips no empty line before the request line; the framing check and fasthttp
		// ignore a few (RFC 9112 §2.2)
		head := raw
		for bytes.HasPrefix(head, []byte("\r\n")) {
			head = head[2:]
		}
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			t.Fatalf("%q: the framing check and fasthttp passed it, net/http refuses it: %v", raw, err)
		}
		if got.Method != r.Method || got.Protocol != r.Proto || target != r.RequestURI {
			t.Fatalf("%q: method %q protocol %q target %q; net/http: %q %q %q", raw, got.Method, got.Protocol, target, r.Method, r.Proto, r.RequestURI)
		}
		wantHeaders := map[string][]string{}
		for k, vs := range r.Header {
			if k == "Host" || k == "Transfer-Encoding" {
				continue
			}
			for _, v := range vs {
				wantHeaders[k] = append(wantHeaders[k], validRunes(v))
			}
		}
		if !reflect.DeepEqual(got.Headers, wantHeaders) {
			t.Fatalf("%q: headers\n got %q\nwant %q (net/http)", raw, got.Headers, wantHeaders)
		}
		if want := wantCookies(r); !reflect.DeepEqual(got.Cookies, want) {
			t.Fatalf("%q: cookies\n got %q\nwant %q (net/http)", raw, got.Cookies, want)
		}
	})
}
