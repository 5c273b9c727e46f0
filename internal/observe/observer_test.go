package observe

import (
	"bufio"
	"context"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// request parses raw into c, as the front's server would.
func request(t testing.TB, c *fasthttp.RequestCtx, raw string) {
	t.Helper()
	c.Request.Reset()
	c.Response.Reset()
	if err := c.Request.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
}

func TestMiddlewareRequestID(t *testing.T) {
	o, err := New(Options{}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if o.Measures() {
		t.Fatal("no access log, no tracing: nothing to measure")
	}
	var seen []byte
	h := o.Middleware(func(c *fasthttp.RequestCtx) { seen = append(seen[:0], c.Request.Header.Peek(Header)...) })
	c := &fasthttp.RequestCtx{}
	for _, tc := range []struct{ in, want string }{
		{"GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-123\r\n\r\n", "abc-123"},
		{"GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: a b\r\n\r\n", ""},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", ""},
	} {
		request(t, c, tc.in)
		h(c)
		got := string(c.Response.Header.Peek(Header))
		if got != string(seen) {
			t.Errorf("%q: the handler saw %q, the response says %q", tc.in, seen, got)
		}
		if tc.want != "" && got != tc.want || tc.want == "" && len(got) != IDLen {
			t.Errorf("%q: id %q, want %q (or a new one)", tc.in, got, tc.want)
		}
	}

	// with the access log and tracing off, an id costs no allocation
	request(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	h(c)
	if n := testing.AllocsPerRun(200, func() {
		c.Request.Header.Del(Header)
		h(c)
	}); n != 0 {
		t.Errorf("a new request id allocates %v times per request", n)
	}
}

// The access log: one line per request, the front's report (Executed) in it; a streamed
// response's line comes at StreamEnded.
func TestAccessLogLine(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	o, err := New(Options{AccessLog: true}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	c := &fasthttp.RequestCtx{}
	h := o.Middleware(func(c *fasthttp.RequestCtx) {
		o.Executed(c, 4242, 1000, 3000, 8000, false)
		c.Response.SetStatusCode(201)
		c.Response.SetBodyString("hello")
	})
	request(t, c, "POST /p?q=1 HTTP/1.1\r\nHost: x\r\nX-Request-Id: id-1\r\nContent-Length: 0\r\n\r\n")
	h(c)
	all := logs.TakeAll()
	if len(all) != 1 {
		t.Fatalf("%d lines, want 1", len(all))
	}
	f := all[0].ContextMap()
	if all[0].LoggerName != "access" || f["request_id"] != "id-1" || f["method"] != "POST" || f["path"] != "/p" ||
		f["status"] != int64(201) || f["bytes"] != int64(5) || f["worker_pid"] != int64(4242) ||
		f["queue_wait"].(interface{ Nanoseconds() int64 }).Nanoseconds() != 2000 || f["php"].(interface{ Nanoseconds() int64 }).Nanoseconds() != 5000 {
		t.Fatalf("line %s %v", all[0].LoggerName, f)
	}

	// a stream: no line when the handler returns, one at StreamEnded
	h = o.Middleware(func(c *fasthttp.RequestCtx) { o.Executed(c, 7, 1, 2, 0, true) })
	request(t, c, "GET /s HTTP/1.1\r\nHost: x\r\n\r\n")
	h(c)
	if n := logs.Len(); n != 0 {
		t.Fatalf("%d lines before the stream ended", n)
	}
	o.StreamEnded(c, 12345)
	all = logs.TakeAll()
	if len(all) != 1 || all[0].ContextMap()["bytes"] != int64(12345) || all[0].ContextMap()["path"] != "/s" {
		t.Fatalf("stream lines %v", all)
	}
}

func TestTraceConfig(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		cfg  TraceConfig
		want string
	}{
		{TraceConfig{}, ""},
		{TraceConfig{Sample: f(0)}, ""},
		{TraceConfig{Sample: f(0.25), Exporter: "None"}, ""},
		{TraceConfig{Sample: f(1.5)}, "pivot.trace.sample"},
		{TraceConfig{Sample: f(-0.1)}, "pivot.trace.sample"},
		{TraceConfig{Exporter: "jaeger"}, "pivot.trace.exporter"},
	} {
		tc.cfg.InitDefaults()
		err := tc.cfg.Valid()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// Tracing with exporter none: the span is started under the incoming traceparent and its own
// context replaces it on the request; tracestate goes on only with a valid traceparent.
func TestTraceContextOnTheRequest(t *testing.T) {
	o, err := New(Options{Trace: &TraceConfig{Exporter: "none"}}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = o.Shutdown(context.Background()) }()
	var tp, ts string
	h := o.Middleware(func(c *fasthttp.RequestCtx) {
		tp, ts = string(c.Request.Header.Peek("traceparent")), string(c.Request.Header.Peek("tracestate"))
	})
	c := &fasthttp.RequestCtx{}
	request(t, c, "GET / HTTP/1.1\r\nHost: x\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\ntracestate: a=b\r\n\r\n")
	h(c)
	if !strings.HasPrefix(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-") || strings.Contains(tp, "00f067aa0ba902b7") || !strings.HasSuffix(tp, "-01") || ts != "a=b" {
		t.Fatalf("traceparent %q tracestate %q: want the same trace, pivot's span, sampled, the state kept", tp, ts)
	}
	request(t, c, "GET / HTTP/1.1\r\nHost: x\r\ntraceparent: garbage\r\ntracestate: a=b\r\n\r\n")
	h(c)
	if len(tp) != 55 || strings.Contains(tp, "garbage") || ts != "" {
		t.Fatalf("traceparent %q tracestate %q: want a new trace and no state", tp, ts)
	}
}

func TestRequestPath(t *testing.T) {
	c := &fasthttp.RequestCtx{}
	for _, tc := range []struct{ target, want string }{
		{"/a/b?x=1", "/a/b"},
		{"/a%20b/../c", "/a%20b/../c"}, // as sent: not decoded nor cleaned
		{"/", "/"},
		{"http://example.com/p/q?z", "/p/q"},
		{"http://example.com", "/"},
		{"*", "*"},
	} {
		request(t, c, "OPTIONS "+tc.target+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if got := string(requestPath(c)); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.target, got, tc.want)
		}
	}
}
