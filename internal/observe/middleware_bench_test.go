package observe

import (
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// BenchmarkMiddleware is the observer's own cost per request (no PHP): an id alone; tracing
// (exporter none) unsampled and sampled; with the access log (zap.NewNop: the line is built,
// not written).
func BenchmarkMiddleware(b *testing.B) {
	zero := 0.0
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"id", Options{}},
		{"trace 0%", Options{Trace: &TraceConfig{Sample: &zero, Exporter: "none"}}},
		{"trace 100%", Options{Trace: &TraceConfig{Exporter: "none"}}},
		{"trace 100% + access log", Options{AccessLog: true, Trace: &TraceConfig{Exporter: "none"}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			o, err := New(tc.o, zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			h := o.Middleware(func(c *fasthttp.RequestCtx) { o.Executed(c, 1, 1, 2, 3, false) })
			c := &fasthttp.RequestCtx{}
			request(b, c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				c.Request.Header.Del(Header)
				c.Request.Header.Del("traceparent")
				h(c)
			}
		})
	}
}
