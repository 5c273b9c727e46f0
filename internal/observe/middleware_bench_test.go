package observe

import (
	"context"
	"testing"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/zap"
)

// nopClient is an OTLP client that sends nothing.
type nopClient struct{}

func (nopClient) Start(context.Context) error                                  { return nil }
func (nopClient) Stop(context.Context) error                                   { return nil }
func (nopClient) UploadTraces(context.Context, []*tracepb.ResourceSpans) error { return nil }

// BenchmarkMiddleware is the observer's own cost per request (no PHP): an id alone; tracing
// unsampled and sampled, its spans encoded to OTLP by the batcher's goroutine and dropped by
// the client; with the access log (zap.NewNop: the line is built, not written).
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
			if o.trace != nil {
				sink, err := newOTLPSink(context.Background(), nopClient{}, nil, instrumentation.Scope{Name: "pivot"})
				if err != nil {
					b.Fatal(err)
				}
				o.trace.batch = newSpanBatcher(batchSettingsFromEnv(), sink, zap.NewNop())
				defer func() { _ = o.Shutdown(context.Background()) }()
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
