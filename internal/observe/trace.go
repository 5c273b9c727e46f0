package observe

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/exporters/zipkin"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// tracing is pivot's server spans: the SDK's sampler and exporters, pivot's records
// (spans.go says why).
type tracing struct {
	sampler sdktrace.Sampler
	prop    propagation.TraceContext
	batch   *spanBatcher // nil: exporter none, nothing is recorded
}

// newTracing builds pivot's tracing from the otel section and pivot.trace: the exporter
// RoadRunner's otel plugin would build, batched, with a parent-based ratio sampler.
func newTracing(o Options, log *zap.Logger) (*tracing, error) {
	oc := o.Otel
	if oc == nil {
		oc = &OtelConfig{Exporter: "none"}
		oc.InitDefaults()
	}
	sample := 1.0
	if o.Trace != nil && o.Trace.Sample != nil {
		sample = *o.Trace.Sample
	}
	res := resource.NewWithAttributes("",
		attribute.String("service.name", oc.Resource.ServiceName),
		attribute.String("service.version", oc.Resource.ServiceVersion),
		attribute.String("webengine.name", "pivot"),
		attribute.String("webengine.version", o.Version),
	)
	if oc.Resource.ServiceNamespace != "" {
		res, _ = resource.Merge(res, resource.NewWithAttributes("", attribute.String("service.namespace", oc.Resource.ServiceNamespace)))
	}
	if oc.Resource.ServiceInstanceID != "" {
		res, _ = resource.Merge(res, resource.NewWithAttributes("", attribute.String("service.instance.id", oc.Resource.ServiceInstanceID)))
	}
	scope := instrumentation.Scope{Name: "github.com/pivotphp/pivotphp-runtime-roadrunner", Version: o.Version}
	sink, err := newSink(o.exporter(), oc, res, scope)
	if err != nil {
		return nil, err
	}
	t := &tracing{sampler: sdktrace.ParentBased(sdktrace.TraceIDRatioBased(sample))}
	if sink != nil {
		t.batch = newSpanBatcher(batchSettingsFromEnv(), sink, log)
	}
	return t, nil
}

// newSink is the named exporter's sink: nil for none.
func newSink(name string, oc *OtelConfig, res *resource.Resource, scope instrumentation.Scope) (spanSink, error) {
	if name == "otlp" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return newOTLPSink(ctx, otlpClient(oc), res, scope) // connects lazily: a collector down at start is retried
	}
	exp, err := newExporter(name, oc)
	if err != nil || exp == nil {
		return nil, err
	}
	return &sdkSink{exp: exp, res: res, scope: scope}, nil
}

// otlpClient is the SDK's OTLP client the otel section describes (grpc or http).
func otlpClient(oc *OtelConfig) otlptrace.Client {
	if oc.Client == "grpc" {
		opts := []otlptracegrpc.Option{}
		if oc.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if oc.Compress {
			opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
		}
		if oc.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpoint(oc.Endpoint))
		}
		if len(oc.Headers) > 0 {
			opts = append(opts, otlptracegrpc.WithHeaders(oc.Headers))
		}
		return otlptracegrpc.NewClient(opts...)
	}
	opts := []otlptracehttp.Option{}
	if oc.Insecure {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	if oc.Compress {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	}
	if oc.CustomURL != "" {
		opts = append(opts, otlptracehttp.WithURLPath(oc.CustomURL))
	}
	if oc.Endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpoint(oc.Endpoint))
	}
	if len(oc.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(oc.Headers))
	}
	return otlptracehttp.NewClient(opts...)
}

// newExporter is the SDK exporter for stdout, stderr and zipkin (nil for none).
func newExporter(name string, oc *OtelConfig) (sdktrace.SpanExporter, error) {
	switch name {
	case "none":
		return nil, nil
	case "stdout":
		return stdouttrace.New(stdouttrace.WithWriter(os.Stdout))
	case "stderr":
		return stdouttrace.New(stdouttrace.WithWriter(io.Writer(os.Stderr)))
	case "zipkin":
		return zipkin.New(oc.Endpoint)
	}
	return nil, fmt.Errorf("otel.exporter %q: pivot exports to otlp, stdout, stderr, zipkin or none (pivot.trace.exporter overrides it for pivot)", name)
}

// startSpan starts the request's server span under the incoming traceparent/tracestate (the
// W3C propagator reads them) and puts the span's own context on the request: PHP reads
// `traceparent` and joins the trace. The SDK's sampler decides; only a sampled span with an
// exporter is recorded (st.recording), the others cost their ids alone.
func (t *tracing) startSpan(c *fasthttp.RequestCtx, st *state) {
	h := &c.Request.Header
	ctx := context.Background()
	r := &st.span
	if len(h.Peek("traceparent")) > 0 {
		ctx = t.prop.Extract(ctx, headerCarrier{h})
		if psc := trace.SpanContextFromContext(ctx); psc.IsValid() {
			r.traceID, r.parent, r.parentFlag = psc.TraceID(), psc.SpanID(), psc.TraceFlags()
		}
	}
	// the client's tracestate goes on only with its valid traceparent (W3C): set back below
	h.Del("tracestate")
	if !r.parent.IsValid() {
		r.traceID = newTraceID()
	}
	r.spanID = newSpanID()
	r.name = spanName(c.Method())
	res := t.sampler.ShouldSample(sdktrace.SamplingParameters{
		ParentContext: ctx, TraceID: r.traceID, Name: r.name, Kind: trace.SpanKindServer,
	})
	var flags trace.TraceFlags
	if res.Decision == sdktrace.RecordAndSample {
		flags = trace.FlagsSampled
		if st.recording = t.batch != nil; st.recording && res.Tracestate.Len() > 0 {
			r.traceState = res.Tracestate.String()
		}
	}
	injectTraceContext(h, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: r.traceID, SpanID: r.spanID, TraceFlags: flags, TraceState: res.Tracestate,
	}), &st.traceparent)
}

// endSpan queues a recorded span with the request's figures (its bytes are still valid).
func (t *tracing) endSpan(st *state, a *accessFields) {
	r := &st.span
	r.start, r.end = st.t0.UnixNano(), a.at.UnixNano()
	r.status, r.bytes, r.pid, r.wait, r.php = a.status, a.bytes, a.pid, a.wait, a.php
	r.path, r.requestID = a.path, a.id
	t.batch.add(r)
}

// shutdown exports the spans still queued (within ctx).
func (t *tracing) shutdown(ctx context.Context) error {
	if t.batch == nil {
		return nil
	}
	return t.batch.shutdown(ctx)
}

// newTraceID and newSpanID are random, never zero (the SDK's ids come from a math/rand source
// behind a mutex; the runtime's generator needs no lock).
func newTraceID() (id trace.TraceID) {
	for !id.IsValid() {
		binary.BigEndian.PutUint64(id[:8], rand.Uint64())
		binary.BigEndian.PutUint64(id[8:], rand.Uint64())
	}
	return id
}

func newSpanID() (id trace.SpanID) {
	for !id.IsValid() {
		binary.BigEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}

// injectTraceContext is propagation.TraceContext.Inject writing the same headers without
// building strings: the traceparent is formatted in buf (a buffer on the stack would escape
// through fasthttp's setter, which copies it).
func injectTraceContext(h *fasthttp.RequestHeader, sc trace.SpanContext, buf *[traceparentLen]byte) {
	if !sc.IsValid() {
		return
	}
	if ts := sc.TraceState(); ts.Len() > 0 {
		h.Set("tracestate", ts.String())
	}
	tid, sid := sc.TraceID(), sc.SpanID()
	b := buf // 00-<32 hex>-<16 hex>-<2 hex>
	b[0], b[1], b[2], b[35], b[52] = '0', '0', '-', '-', '-'
	hex.Encode(b[3:35], tid[:])
	hex.Encode(b[36:52], sid[:])
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags() & trace.FlagsSampled)})
	h.SetBytesV("traceparent", b[:])
}

// traceparentLen is a version 00 traceparent's length.
const traceparentLen = 55

// spanName is the method (route-free names, OpenTelemetry's HTTP conventions), without an
// allocation for the usual ones.
func spanName(m []byte) string {
	switch string(m) {
	case fasthttp.MethodGet:
		return fasthttp.MethodGet
	case fasthttp.MethodPost:
		return fasthttp.MethodPost
	case fasthttp.MethodPut:
		return fasthttp.MethodPut
	case fasthttp.MethodDelete:
		return fasthttp.MethodDelete
	case fasthttp.MethodHead:
		return fasthttp.MethodHead
	case fasthttp.MethodPatch:
		return fasthttp.MethodPatch
	case fasthttp.MethodOptions:
		return fasthttp.MethodOptions
	}
	return "HTTP" // an unusual method is not a name: unbounded names break trace backends
}

// headerCarrier is a fasthttp request's headers as a propagation.TextMapCarrier.
type headerCarrier struct{ h *fasthttp.RequestHeader }

var _ propagation.TextMapCarrier = headerCarrier{}

func (hc headerCarrier) Get(key string) string { return string(hc.h.Peek(key)) }
func (hc headerCarrier) Set(key, value string) { hc.h.Set(key, value) }
func (hc headerCarrier) Keys() []string {
	var keys []string
	hc.h.VisitAll(func(k, _ []byte) { keys = append(keys, string(k)) })
	return keys
}
