package edge

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// exchange runs raw (a request head) through h as pivot's server would, and returns the
// response as net/http reads it from the bytes fasthttp writes, with its raw body.
func exchange(t *testing.T, h fasthttp.RequestHandler, raw string) (*http.Response, []byte) {
	t.Helper()
	c := requestCtx(t, raw)
	h(c)
	return writeOut(t, c)
}

// requestCtx parses raw into a request context set up as pivot's server sets it.
func requestCtx(t testing.TB, raw string) *fasthttp.RequestCtx {
	t.Helper()
	var req fasthttp.Request
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatalf("request %q: %v", raw, err)
	}
	c := &fasthttp.RequestCtx{}
	c.Init(&req, nil, nil)
	c.Response.Header.SetNoDefaultContentType(true)
	c.Response.SkipBody = c.IsHead()
	return c
}

// writeOut writes c's response as fasthttp puts it on the wire (closing a body stream) and
// reads it back with net/http.
func writeOut(t *testing.T, c *fasthttp.RequestCtx) (*http.Response, []byte) {
	t.Helper()
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	if err := c.Response.Write(w); err != nil {
		t.Fatalf("response write: %v", err)
	}
	_ = w.Flush()
	c.Response.Reset()
	resp, err := http.ReadResponse(bufio.NewReader(&out), &http.Request{Method: string(c.Method())})
	if err != nil {
		t.Fatalf("net/http cannot read the response: %v\n%q", err, out.String())
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("response body: %v", err)
	}
	return resp, body
}

// php stands for the front: it answers 299 "php" so that a test sees the request went on.
func php(c *fasthttp.RequestCtx) {
	c.SetStatusCode(299)
	c.Response.Header.SetContentType("text/plain")
	c.SetBodyString("php")
}

func get(path string, headers ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(headers, "") + "\r\n"
}

func writeFile(name string, b []byte) error { return os.WriteFile(name, b, 0o644) }
