package httpfront

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/pool"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/protocol"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"golang.org/x/net/http/httpguts"
)

// collected keeps what the scanner hands the front, to compare with what reached the wire.
type collected []headerValue

type headerValue struct{ name, value string }

func (c *collected) AddHeader(name, value string) {
	*c = append(*c, headerValue{strings.Clone(name), strings.Clone(value)})
}

// handler.go's AddHeader turns CR, LF, NUL and the other control bytes (0x00-0x1f but HTAB,
// 0x7f) into spaces: RFC 9110 5.5 forbids a sender to pass them on.

// FuzzResponseHead: any response context a worker sends, through the handler's sink
// (OnFrame → writeHead → AddHeader) to the bytes fasthttp writes. Never a panic; the response
// is one net/http reads; its head has no CR or LF but at line ends and no NUL or other control
// byte but HTAB (response splitting, RFC 9110 5.5); the status is the worker's when the context
// scans and the status is 200-599, else 500 (malformed or out of range) or 502 (a 1xx as the
// final answer); a header the worker sent with a valid name and no special meaning to the
// server reaches the client with the same value, CR and LF as spaces (as net/http writes them),
// and NUL and the other control bytes but HTAB too.
func FuzzResponseHead(f *testing.F) {
	seeds := []string{
		`{"status":201,"headers":{"Content-Type":["text/plain"],"X-A":["1","2"]}}`,
		`{"status":302,"headers":{"Location":["/x\r\nSet-Cookie: evil=1"]}}`,
		`{"status":200,"headers":{"X-Nul":["a\u0000b"],"X-Ctl":["\u0001\u007f\u001b[31m"],"X-Tab":["a\tb"]}}`,
		"{\"status\":200,\"headers\":{\"X-Raw\":[\"a\r\nInjected: 1\"],\"X-Raw-Nul\":[\"a\x00b\"]}}",
		`{"status":200,"headers":{"X-Lone":["\ud800","\udc00x","\ud800\u0041"],"X-Utf8":["caf\u00e9"]}}`,
		"{\"status\":200,\"headers\":{\"X-Bad\":[\"\xff\xfe\"]}}",
		`{"status":200,"headers":{"":["empty name"],"Bad Name":["1"],"X:Colon":["1"],"X\r\nY":["1"]}}`,
		`{"status":200,"headers":{"Content-Length":["999"],"Transfer-Encoding":["chunked"],"Connection":["close"]}}`,
		`{"status":200,"headers":{"Trailer":["X-T, Content-Length"],"X-T":["v\r\n"]}}`,
		`{"status":99999999999999999999}`,
		`{"status":-200}`,
		`{"status":103,"headers":{"Link":["</a>; rel=preload"]}}`,
		`{"status":101}`,
		`{"status":600}`,
		`{"status":204,"headers":null}`,
		`{"status":200,"status":500}`,
		`{"headers":{"X-A":["1"]},"headers":{"X-A":["2"]}}`,
		`{"status":200,"headers":{"X-A":["1"`,
		``,
	}
	for _, s := range seeds {
		f.Add([]byte(s), []byte("body"))
	}
	front := New(Options{}, nil, nopMetrics{}, zap.NewNop())
	f.Fuzz(func(t *testing.T, ctx, body []byte) {
		var req fasthttp.Request
		req.Header.SetMethod("GET")
		req.SetRequestURI("/")
		req.Header.SetHost("x")
		c := &fasthttp.RequestCtx{}
		c.Init(&req, nil, nil)
		c.Response.Header.SetNoDefaultContentType(true) // as the server sets them
		st := newRequestState()
		st.f, st.c = front, c
		st.OnFrame(ctx, body, pool.FrameWhole)
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		if err := c.Response.Write(w); err != nil {
			t.Fatalf("%q: %v", ctx, err)
		}
		_ = w.Flush()
		raw := out.Bytes()

		head, _, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
		if !ok {
			t.Fatalf("%q: no end of head in %q", ctx, raw)
		}
		lines := strings.Split(string(head), "\r\n")
		for _, line := range lines[1:] {
			name, value, ok := strings.Cut(line, ":")
			if !ok || !httpguts.ValidHeaderFieldName(name) {
				t.Fatalf("%q: header line %q on the wire:\n%q", ctx, line, head)
			}
			if !httpguts.ValidHeaderFieldValue(value) {
				t.Fatalf("%q: header line %q on the wire:\n%q", ctx, line, head)
			}
		}
		if strings.ContainsAny(lines[0], "\r\n\x00") {
			t.Fatalf("%q: status line %q", ctx, lines[0])
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("%q: net/http cannot read the response: %v\n%q", ctx, err, raw)
		}

		if _, err := io.Copy(io.Discard, resp.Body); err != nil { // the trailers come after it
			t.Fatalf("%q: net/http cannot read the body: %v\n%q", ctx, err, raw)
		}

		var sent collected
		status, scanErr := protocol.ApplyResponseContext(ctx, &sent)
		if len(ctx) == 0 {
			status, scanErr = 200, nil // no context: 200, no headers
		} else if status == 0 && scanErr == nil {
			status = 200
		}
		want := status
		switch {
		case scanErr != nil, status < 100, status > 599:
			want = 500
		case status < 200:
			want = 502
		}
		if resp.StatusCode != want {
			t.Fatalf("%q: status %d, want %d", ctx, resp.StatusCode, want)
		}
		if want >= 500 && want != status {
			return // an error response replaced the worker's answer
		}
		got := map[string][]string{}
		for _, h := range sent {
			if !httpguts.ValidHeaderFieldName(h.name) || !strings.HasPrefix(strings.ToLower(h.name), "x-") {
				continue // Content-Length, Connection, Trailer...: the server's own rules
			}
			k := textproto.CanonicalMIMEHeaderKey(h.name)
			v := []byte(h.value)
			for i, b := range v {
				if b < ' ' && b != '\t' || b == 0x7f {
					v[i] = ' ' // CR and LF as net/http writes them; the other controls likewise
				}
			}
			got[k] = append(got[k], textproto.TrimString(string(v)))
		}
		for k, vs := range got {
			// a trailer with several values is sent as one line, the values joined by ", "
			// (fasthttp writes one line per trailer): RFC 9110 5.3's combined form
			if strings.Join(resp.Header[k], "\x00") != strings.Join(vs, "\x00") && strings.Join(resp.Trailer[k], ", ") != strings.Join(vs, ", ") {
				t.Fatalf("%q: %s on the wire %q (trailer %q), the worker sent %q", ctx, k, resp.Header[k], resp.Trailer[k], vs)
			}
		}
	})
}
