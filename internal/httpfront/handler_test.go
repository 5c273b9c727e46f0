package httpfront

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/pool"
	"go.uber.org/zap"
)

// nopMetrics counts nothing.
type nopMetrics struct{}

func (nopMetrics) CountStatus(int) {}
func (nopMetrics) NoFreeWorker()   {}

// writeResponse runs a complete (non-streamed) response frame through the handler's sink
// and returns the bytes fasthttp puts on the wire.
func writeResponse(t *testing.T, method, ctx, body string) string {
	t.Helper()
	f := New(Options{}, nil, nopMetrics{}, zap.NewNop())
	c := requestCtx(t, method+" / HTTP/1.1\r\nHost: x\r\n\r\n", nil)
	c.Response.Header.SetNoDefaultContentType(true) // as the server sets them
	c.Response.SkipBody = c.IsHead()
	st := newRequestState()
	st.f, st.c = f, c
	st.OnFrame([]byte(ctx), []byte(body), pool.FrameWhole)
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	if err := c.Response.Write(w); err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	return out.String()
}

func TestResponseFrameOnTheWire(t *testing.T) {
	cases := []struct {
		name, method, ctx, body string
		want                    []string // substrings of the raw response
		absent                  []string
	}{
		{name: "status, type and length", method: "GET",
			ctx: `{"status":201,"headers":{"Content-Type":["text/plain"]}}`, body: "Hello, World!",
			want: []string{"HTTP/1.1 201 Created\r\n", "Content-Type: text/plain\r\n", "Content-Length: 13\r\n", "\r\n\r\nHello, World!"}},
		{name: "set-cookie kept byte for byte", method: "GET",
			ctx:  `{"status":200,"headers":{"Set-Cookie":["a=1; Path=/","b=2; path=/x; HttpOnly; SameSite=Lax"]}}`,
			want: []string{"Set-Cookie: a=1; Path=/\r\n", "Set-Cookie: b=2; path=/x; HttpOnly; SameSite=Lax\r\n"}},
		{name: "CR LF in a value cannot split the response", method: "GET",
			ctx:    `{"status":302,"headers":{"Location":["/x\r\nSet-Cookie: evil=1"]}}`,
			want:   []string{"Location: /x  Set-Cookie: evil=1\r\n"},
			absent: []string{"\r\nSet-Cookie: evil"}},
		{name: "invalid header names are dropped", method: "GET",
			ctx:    `{"status":200,"headers":{"Bad Name":["1"],"X-Ok":["2"],"X:Colon":["3"]}}`,
			want:   []string{"X-Ok: 2\r\n"},
			absent: []string{"Bad Name", "X:Colon"}},
		{name: "untyped body is sniffed as net/http does", method: "GET",
			ctx: `{"status":200,"headers":{}}`, body: "<html><body>x</body></html>",
			want: []string{"Content-Type: text/html; charset=utf-8\r\n"}},
		{name: "empty untyped body gets no type", method: "GET",
			ctx: `{"status":204,"headers":null}`, want: []string{"HTTP/1.1 204 No Content\r\n"}, absent: []string{"Content-Type"}},
		{name: "HEAD keeps the length without a body", method: "HEAD",
			ctx: `{"status":200,"headers":{"Content-Type":["text/plain"]}}`, body: "Hello",
			want: []string{"Content-Length: 5\r\n"}, absent: []string{"Hello"}},
		{name: "trailers follow a chunked body", method: "GET",
			ctx:    `{"status":200,"headers":{"Trailer":["X-Checksum"],"X-Checksum":["abc"],"Content-Type":["text/plain"]}}`,
			body:   "data",
			want:   []string{"Transfer-Encoding: chunked\r\n", "Trailer: X-Checksum\r\n", "4\r\ndata\r\n0\r\nX-Checksum: abc\r\n\r\n"},
			absent: []string{"Content-Length"}},
		{name: "a trailer list: names normalised, a forbidden one skipped", method: "GET",
			ctx:  `{"status":200,"headers":{"Trailer":["x-a, X-B ,Content-Length"],"X-A":["1"],"X-B":["2"]}}`,
			body: "data",
			want: []string{"Trailer: X-A, X-B\r\n", "0\r\nX-A: 1\r\nX-B: 2\r\n\r\n"}},
		{name: "invalid status becomes 500", method: "GET",
			ctx: `{"status":700,"headers":{"X-A":["1"]}}`, body: "x",
			want: []string{"HTTP/1.1 500 Internal Server Error\r\n", "unknown status code from worker: 700"}, absent: []string{"X-A"}},
		{name: "malformed context on HEAD: 500 without a body", method: "HEAD",
			ctx: `{"status":200,"headers":{"X-A":["1"`, body: "x",
			want:   []string{"HTTP/1.1 500 Internal Server Error\r\n", "Content-Type: text/plain; charset=utf-8\r\n"},
			absent: []string{"X-A", "malformed response from worker"}},
		{name: "malformed context becomes 500", method: "GET",
			ctx: `{"status":200,"headers":{"X-A":["1"`, body: "x",
			want: []string{"HTTP/1.1 500 Internal Server Error\r\n", "malformed response from worker"}, absent: []string{"X-A"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := writeResponse(t, tc.method, tc.ctx, tc.body)
			for _, w := range tc.want {
				if !strings.Contains(raw, w) {
					t.Errorf("missing %q in\n%s", w, raw)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(raw, a) {
					t.Errorf("unexpected %q in\n%s", a, raw)
				}
			}
			if _, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), &http.Request{Method: tc.method}); err != nil {
				t.Errorf("net/http cannot read the response: %v\n%s", err, raw)
			}
		})
	}
}
