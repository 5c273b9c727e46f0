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
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// captureClient is the OTLP client's seam: it marshals what it is given as the real clients do
// (proto.Marshal of the export request), and keeps the bytes.
type captureClient struct {
	got [][]byte
	err error
}

func (c *captureClient) Start(context.Context) error { return nil }
func (c *captureClient) Stop(context.Context) error  { return nil }
func (c *captureClient) UploadTraces(_ context.Context, rs []*tracepb.ResourceSpans) error {
	b, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: rs})
	if err != nil {
		return err
	}
	c.got = append(c.got, b)
	return c.err
}

var _ otlptrace.Client = (*captureClient)(nil)

// TestOTLPEncodeMatchesSDK: the same records reach the OTLP client as the same export request
// through our encoding and through the SDK's OTLP exporter (given the records as the SDK's
// ReadOnlySpans, as the stdout and zipkin exporters get them): a new trace, a child of a
// remote parent with a tracestate, a 5xx (status Error), long and empty strings, a zero pid.
func TestOTLPEncodeMatchesSDK(t *testing.T) {
	res := resource.NewWithAttributes("https://schema/a", attribute.String("service.name", "svc"), attribute.Int("n", -3),
		attribute.Bool("b", true), attribute.Bool("f", false), attribute.Float64("x", 0.5))
	scope := instrumentation.Scope{Name: "pivot", Version: "1.2.3"}
	long := strings.Repeat("p", 300) // a length of two varint bytes
	recs := []spanRecord{
		{traceID: trace.TraceID{1, 2, 3}, spanID: trace.SpanID{4}, name: "GET", start: 1e18, end: 1e18 + 5e6,
			status: 200, bytes: 13, pid: 4242, wait: 1500, php: 3 * time.Millisecond, path: []byte("/hello"), requestID: []byte("id-1")},
		{traceID: trace.TraceID{9}, spanID: trace.SpanID{8, 7}, parent: trace.SpanID{6}, parentFlag: trace.FlagsSampled,
			traceState: "k1=v1,k2=v2", name: "POST", start: 2e18, end: 2e18 + 1, status: 503, path: []byte(long), requestID: []byte("")},
		{traceID: trace.TraceID{0xff}, spanID: trace.SpanID{0xff}, name: "HTTP", start: 3, end: 4, status: 404, bytes: -1,
			path: []byte("/"), requestID: []byte(strings.Repeat("i", MaxIDLen))},
	}

	sdkC, ourC := &captureClient{}, &captureClient{}
	sdkExp, err := otlptrace.New(context.Background(), sdkC)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := newOTLPSink(context.Background(), ourC, res, scope)
	if err != nil {
		t.Fatal(err)
	}
	view := &sdkSink{exp: sdkExp, res: res, scope: scope}
	for round := 0; round < 2; round++ { // the second round reuses our buffer, through the batcher's arena
		b := newSpanBatcher(batchSettings{delay: time.Hour, timeout: time.Second, maxQueue: 10, maxBatch: 10}, ours, zap.NewNop())
		for i := range recs {
			b.add(&recs[i])
		}
		b.mu.Lock()
		queued, arena := append([]spanRecord(nil), b.queue...), append([]byte(nil), b.arena...)
		b.mu.Unlock()
		if err := view.export(context.Background(), queued, arena); err != nil {
			t.Fatal(err)
		}
		if err := b.shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		ours.stopOnce = sync.Once{}
		want, got := decodeSorted(t, sdkC.got[round]), decodeSorted(t, ourC.got[round])
		if !proto.Equal(want, got) {
			t.Fatalf("round %d: ours differs from the SDK's\n sdk: %v\n ours: %v", round, want, got)
		}
		if n := len(got.ResourceSpans[0].ScopeSpans[0].Spans); n != len(recs) {
			t.Fatalf("%d spans, want %d", n, len(recs))
		}
	}
	if _, err := newOTLPSink(context.Background(), ourC, resource.NewSchemaless(attribute.StringSlice("s", []string{"a"})), scope); err == nil {
		t.Fatal("a resource attribute not encoded is not refused")
	}
	if err := ours.export(context.Background(), nil, nil); err != nil || len(ourC.got) != 2 {
		t.Fatalf("an empty batch: err %v, %d uploads (want none)", err, len(ourC.got)-2)
	}
	ourC.err = errors.New("down")
	if err := ours.export(context.Background(), recs[:1], []byte("/")); err == nil {
		t.Fatal("the client's error is lost")
	}
}

// decodeSorted unmarshals an export request with its resources in a fixed order (the SDK's
// exporter emits them in map order).
func decodeSorted(t *testing.T, b []byte) *coltracepb.ExportTraceServiceRequest {
	t.Helper()
	var r coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	rs := r.ResourceSpans
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && len(rs[j].Resource.Attributes) > len(rs[j-1].Resource.Attributes); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	return &r
}

// TestInjectTraceContext: our traceparent/tracestate writer sets what the W3C propagator sets.
func TestInjectTraceContext(t *testing.T) {
	ts, _ := trace.ParseTraceState("a=1,b=2")
	for _, cfg := range []trace.SpanContextConfig{
		{TraceID: [16]byte{0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff}, SpanID: [8]byte{0xfe, 1, 2, 3, 4, 5, 6, 7}, TraceFlags: trace.FlagsSampled},
		{TraceID: [16]byte{1}, SpanID: [8]byte{2}},
		{TraceID: [16]byte{1}, SpanID: [8]byte{2}, TraceFlags: 0xff, TraceState: ts},
		{}, // invalid: nothing set
	} {
		sc := trace.NewSpanContext(cfg)
		var want, got fasthttp.RequestHeader
		propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), headerCarrier{&want})
		injectTraceContext(&got, sc, new([traceparentLen]byte))
		for _, k := range []string{"traceparent", "tracestate"} {
			if w, g := string(want.Peek(k)), string(got.Peek(k)); w != g {
				t.Errorf("%v: %s %q, the propagator's %q", cfg, k, g, w)
			}
		}
	}
}
