package observe

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// tracedObserver is an observer sampling at ratio whose spans go to an in-memory SDK exporter.
func tracedObserver(t *testing.T, ratio float64, access bool) (*Observer, *tracetest.InMemoryExporter) {
	t.Helper()
	o, err := New(Options{AccessLog: access, Trace: &TraceConfig{Sample: &ratio, Exporter: "none"}, Version: "9.9.9"}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if o.trace.batch != nil {
		t.Fatal("exporter none records spans")
	}
	mem := tracetest.NewInMemoryExporter()
	set := batchSettings{delay: time.Hour, timeout: time.Second, maxQueue: 10000, maxBatch: 10} // a queue no test fills
	scope := instrumentation.Scope{Name: "github.com/pivotphp/pivotphp-runtime-roadrunner", Version: "9.9.9"}
	o.trace.batch = newSpanBatcher(set, &sdkSink{exp: mem, scope: scope}, zap.NewNop())
	t.Cleanup(func() { _ = o.Shutdown(context.Background()) })
	return o, mem
}

// observedLogger is a logger whose lines a test reads.
type observedLogger struct {
	log  *zap.Logger
	logs *observer.ObservedLogs
}

func newObservedLogger() observedLogger {
	core, logs := observer.New(zapcore.DebugLevel)
	return observedLogger{log: zap.New(core), logs: logs}
}

func (l observedLogger) has(msg string) bool {
	return l.logs.FilterMessageSnippet(msg).Len() > 0
}

// TestServerSpans: a request's span as an exporter gets it — the ids PHP saw in traceparent,
// the remote parent, the attributes, Error for a 5xx — and the sampler's decisions: a sampled
// parent is always recorded, an unsampled one never, a new trace by the ratio.
func TestServerSpans(t *testing.T) {
	o, mem := tracedObserver(t, 0, false)
	var tp, ts string
	status := 200
	h := o.Middleware(func(c *fasthttp.RequestCtx) {
		tp, ts = string(c.Request.Header.Peek("traceparent")), string(c.Request.Header.Peek("tracestate"))
		o.Executed(c, 4242, 1_000_000, 3_000_000, 8_000_000, false)
		c.Response.SetStatusCode(status)
		c.Response.SetBodyString("hello")
	})
	c := &fasthttp.RequestCtx{}
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tc := range []struct {
		head     string
		status   int
		recorded bool
	}{
		{"traceparent: " + parent + "\r\ntracestate: a=b\r\nX-Request-Id: id-1\r\n", 503, true},
		{"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\r\n", 200, false}, // parent not sampled
		{"", 200, false}, // a new trace at ratio 0
	} {
		status = tc.status
		request(t, c, "GET /p/x?q=1 HTTP/1.1\r\nHost: x\r\n"+tc.head+"\r\n")
		h(c)
		if err := o.trace.batch.flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		spans := mem.GetSpans()
		mem.Reset()
		if !tc.recorded {
			if len(spans) != 0 || !strings.HasSuffix(tp, "-00") {
				t.Fatalf("%q: %d spans, traceparent %q: want none, unsampled", tc.head, len(spans), tp)
			}
			continue
		}
		if len(spans) != 1 {
			t.Fatalf("%q: %d spans, want 1", tc.head, len(spans))
		}
		s := spans[0]
		sc := s.SpanContext
		if want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"; tp != want || ts != "a=b" || sc.TraceState().String() != "a=b" {
			t.Fatalf("PHP got %q %q, the span is %s", tp, ts, want)
		}
		if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent.SpanID().String() != "00f067aa0ba902b7" || !s.Parent.IsRemote() {
			t.Fatalf("span %v under %v: want the incoming parent", sc, s.Parent)
		}
		if s.Name != "GET" || s.SpanKind != trace.SpanKindServer || s.Status.Code != codes.Error || !s.EndTime.After(s.StartTime) ||
			s.InstrumentationLibrary.Name != "github.com/pivotphp/pivotphp-runtime-roadrunner" {
			t.Fatalf("span %+v", s)
		}
		want := map[attribute.Key]attribute.Value{
			"http.request.method": attribute.StringValue("GET"), "url.path": attribute.StringValue("/p/x"),
			"http.response.status_code": attribute.IntValue(503), "http.response.body.size": attribute.Int64Value(5),
			"pivot.request_id": attribute.StringValue("id-1"), "pivot.worker.pid": attribute.Int64Value(4242),
			"pivot.queue_wait_ms": attribute.Float64Value(2), "pivot.php_ms": attribute.Float64Value(5),
		}
		if len(s.Attributes) != len(want) {
			t.Fatalf("attributes %v", s.Attributes)
		}
		for _, kv := range s.Attributes {
			if want[kv.Key] != kv.Value {
				t.Errorf("%s = %v, want %v", kv.Key, kv.Value.Emit(), want[kv.Key].Emit())
			}
		}
	}

	// ratio 1: a new trace is recorded, no parent; a streamed answer's span ends at StreamEnded
	o, mem = tracedObserver(t, 1, true)
	h = o.Middleware(func(c *fasthttp.RequestCtx) { o.Executed(c, 7, 1, 2, 0, true) })
	request(t, c, "POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	h(c)
	_ = o.trace.batch.flush(context.Background())
	if n := len(mem.GetSpans()); n != 0 {
		t.Fatalf("%d spans before the stream ended", n)
	}
	o.StreamEnded(c, 12345)
	_ = o.trace.batch.flush(context.Background())
	spans := mem.GetSpans()
	if len(spans) != 1 || spans[0].Parent.IsValid() || spans[0].Name != "POST" || spans[0].Status.Code != codes.Unset {
		t.Fatalf("spans %+v", spans)
	}
	for _, kv := range spans[0].Attributes {
		if kv.Key == "http.response.body.size" && kv.Value.AsInt64() != 12345 {
			t.Fatalf("streamed bytes %v", kv.Value.Emit())
		}
	}
}

// TestSamplerRatio: at 0.25 about a quarter of new traces is recorded, and PHP's traceparent
// says which (the SDK's ratio sampler on our ids).
func TestSamplerRatio(t *testing.T) {
	o, mem := tracedObserver(t, 0.25, false)
	sampled := 0
	h := o.Middleware(func(c *fasthttp.RequestCtx) {
		if strings.HasSuffix(string(c.Request.Header.Peek("traceparent")), "-01") {
			sampled++
		}
	})
	c := &fasthttp.RequestCtx{}
	const n = 4000
	for i := 0; i < n; i++ {
		request(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		h(c)
	}
	_ = o.trace.batch.flush(context.Background())
	if got := len(mem.GetSpans()); got != sampled || sampled < n/4-200 || sampled > n/4+200 {
		t.Fatalf("%d spans, %d sampled traceparents of %d: want about %d, the same", got, sampled, n, n/4)
	}
}

// blockingExporter holds every export until release is closed.
type blockingExporter struct {
	mu      sync.Mutex
	batches []int
	release chan struct{}
	err     error
}

func (e *blockingExporter) ExportSpans(_ context.Context, ss []sdktrace.ReadOnlySpan) error {
	<-e.release
	e.mu.Lock()
	e.batches = append(e.batches, len(ss))
	e.mu.Unlock()
	return e.err
}

func (e *blockingExporter) Shutdown(context.Context) error { return nil }

func (e *blockingExporter) sizes() []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]int(nil), e.batches...)
}

// TestSpanBatcher: a full batch is sent without waiting for the timer, in batches of at most
// maxBatch; a full queue drops new spans (never blocks the request) and the next export says
// so; the timer sends a partial batch; shutdown sends the rest.
func TestSpanBatcher(t *testing.T) {
	exp := &blockingExporter{release: make(chan struct{})}
	core := newObservedLogger()
	b := newSpanBatcher(batchSettings{delay: time.Hour, timeout: time.Second, maxQueue: 8, maxBatch: 4}, &sdkSink{exp: exp}, core.log)
	r := spanRecord{traceID: trace.TraceID{1}, spanID: trace.SpanID{1}, name: "GET", path: []byte("/"), requestID: []byte("x")}
	for i := 0; i < 4; i++ {
		b.add(&r) // the fourth fills a batch: the exporter starts (and blocks)
	}
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.queue) == 0 })
	start := time.Now()
	for i := 0; i < 10; i++ {
		b.add(&r) // 8 queued, 2 dropped, none waits
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("adding to a full queue took %v", d)
	}
	close(exp.release)
	waitFor(t, func() bool { return len(exp.sizes()) == 3 }) // the kick at 4 queued: 4, then the 8 as 4 + 4
	if err := b.shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := exp.sizes(); len(got) != 3 || got[0]+got[1]+got[2] != 12 || got[1] > 4 || got[2] > 4 {
		t.Fatalf("batches %v: want 12 spans in batches of at most 4", got)
	}
	if !core.has("spans dropped") {
		t.Fatal("the drops are not logged")
	}

	// the timer sends a partial batch; an export error is logged, the spans are not retried
	exp = &blockingExporter{release: make(chan struct{}), err: errors.New("collector down")}
	close(exp.release)
	core = newObservedLogger()
	b = newSpanBatcher(batchSettings{delay: 20 * time.Millisecond, timeout: time.Second, maxQueue: 8, maxBatch: 4}, &sdkSink{exp: exp}, core.log)
	b.add(&r)
	waitFor(t, func() bool { return len(exp.sizes()) == 1 })
	waitFor(t, func() bool { return core.has("spans not exported") })
	_ = b.shutdown(context.Background())
	if err := b.shutdown(context.Background()); err != nil { // twice: no panic
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkBatcherAdd: queueing a finished span (the request path's share of exporting).
func BenchmarkBatcherAdd(b *testing.B) {
	bt := newSpanBatcher(batchSettings{delay: time.Hour, timeout: time.Second, maxQueue: 2048, maxBatch: 512}, &sdkSink{exp: tracetest.NewNoopExporter()}, zap.NewNop())
	defer func() { _ = bt.shutdown(context.Background()) }()
	r := spanRecord{traceID: trace.TraceID{1}, spanID: trace.SpanID{1}, name: "GET", path: []byte("/hello"), requestID: []byte("0123456789abcdef0123456789abcdef")}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		bt.add(&r)
	}
}
