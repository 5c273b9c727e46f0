package observe

import (
	"context"
	"errors"
	"testing"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
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

// TestOTLPEncodeMatchesSDK: the same spans through the SDK's OTLP exporter and through ours
// reach the client as the same export request.
func TestOTLPEncodeMatchesSDK(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	resA := resource.NewWithAttributes("https://schema/a", attribute.String("service.name", "svc"), attribute.Int("n", 3))
	resB := resource.NewWithAttributes("", attribute.Bool("b", true))
	tpA := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(resA))
	tpB := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(resB))
	ts, _ := trace.ParseTraceState("k1=v1,k2=v2")
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: [16]byte{1, 2, 3}, SpanID: [8]byte{4, 5}, TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: true,
	})
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), parent)
	long := string(make([]byte, 300)) // a length of two varint bytes

	_, s := tpA.Tracer("pivot", trace.WithInstrumentationVersion("1.2.3")).Start(ctx, "GET", trace.WithSpanKind(trace.SpanKindServer))
	s.SetAttributes(
		attribute.String("url.path", "/x"), attribute.String("long", long), attribute.Int64("neg", -7),
		attribute.Int64("zero", 0), attribute.Float64("f", 1.5), attribute.Float64("f0", 0), attribute.Bool("no", false),
		attribute.StringSlice("ss", []string{"a", ""}), attribute.Int64Slice("is", []int64{0, -1}),
		attribute.Float64Slice("fs", []float64{2.5}), attribute.BoolSlice("bs", []bool{true, false}),
	)
	s.AddEvent("ev", trace.WithAttributes(attribute.String("e", "1")))
	s.SetStatus(codes.Error, "boom")
	s.End()
	_, s = tpA.Tracer("other").Start(context.Background(), "internal",
		trace.WithLinks(trace.Link{SpanContext: parent, Attributes: []attribute.KeyValue{attribute.Int("l", 1)}}))
	s.SetStatus(codes.Ok, "")
	s.End()
	_, s = tpB.Tracer("pivot").Start(context.Background(), "POST", trace.WithSpanKind(trace.SpanKindClient))
	s.End()
	_, s = tpA.Tracer("pivot", trace.WithInstrumentationVersion("1.2.3")).Start(ctx, "PUT", trace.WithSpanKind(trace.SpanKindServer))
	s.End()
	spans := rec.Ended()
	if len(spans) != 4 {
		t.Fatalf("recorded %d spans, want 4", len(spans))
	}

	sdkC, ourC := &captureClient{}, &captureClient{}
	sdkExp, err := otlptrace.New(context.Background(), sdkC)
	if err != nil {
		t.Fatal(err)
	}
	ourExp, err := newOTLPExporter(context.Background(), ourC)
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ { // the second round reuses our buffers
		if err := sdkExp.ExportSpans(context.Background(), spans); err != nil {
			t.Fatal(err)
		}
		if err := ourExp.ExportSpans(context.Background(), spans); err != nil {
			t.Fatal(err)
		}
		want, got := decodeSorted(t, sdkC.got[round]), decodeSorted(t, ourC.got[round])
		if !proto.Equal(want, got) {
			t.Fatalf("round %d: ours differs from the SDK's\n sdk: %v\n ours: %v", round, want, got)
		}
		if n := len(got.ResourceSpans); n != 2 {
			t.Fatalf("%d resource spans, want 2", n)
		}
	}
	if err := ourExp.ExportSpans(context.Background(), nil); err != nil || len(ourC.got) != 2 {
		t.Fatalf("an empty batch: err %v, %d uploads (want none)", err, len(ourC.got)-2)
	}
	ourC.err = errors.New("down")
	if err := ourExp.ExportSpans(context.Background(), spans); err == nil {
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
		injectTraceContext(&got, sc)
		for _, k := range []string{"traceparent", "tracestate"} {
			if w, g := string(want.Peek(k)), string(got.Peek(k)); w != g {
				t.Errorf("%v: %s %q, the propagator's %q", cfg, k, g, w)
			}
		}
	}
}
