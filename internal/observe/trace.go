package observe

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
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
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// newProvider builds pivot's tracer provider from the otel section and pivot.trace: the
// exporter RoadRunner's otel plugin would build, batched, with a parent-based ratio sampler.
func newProvider(o Options) (*sdktrace.TracerProvider, error) {
	oc := o.Otel
	if oc == nil {
		oc = &OtelConfig{Exporter: "none"}
		oc.InitDefaults()
	}
	sample := 1.0
	if o.Trace != nil && o.Trace.Sample != nil {
		sample = *o.Trace.Sample
	}
	exp, err := newExporter(o.exporter(), oc)
	if err != nil {
		return nil, err
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
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(sample))),
		sdktrace.WithResource(res),
	}
	if exp != nil {
		opts = append(opts, sdktrace.WithBatcher(exp)) // OTEL_BSP_* tune it
	}
	return sdktrace.NewTracerProvider(opts...), nil
}

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
	case "otlp":
		var client otlptrace.Client
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
			client = otlptracegrpc.NewClient(opts...)
		} else {
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
			client = otlptracehttp.NewClient(opts...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return newOTLPExporter(ctx, client) // connects lazily: a collector down at start is retried
	}
	return nil, fmt.Errorf("otel.exporter %q: pivot exports to otlp, stdout, stderr, zipkin or none (pivot.trace.exporter overrides it for pivot)", name)
}

// startSpan starts the request's server span under the incoming traceparent/tracestate and
// puts the span's own context on the request: PHP reads `traceparent` and joins the trace.
// Attributes are set only on a recorded span: an unsampled request pays for its ids alone.
func (o *Observer) startSpan(c *fasthttp.RequestCtx, st *state) {
	carrier := headerCarrier{&c.Request.Header}
	ctx := o.prop.Extract(context.Background(), carrier)
	// the client's tracestate goes on only with its valid traceparent (W3C): Inject sets it back
	c.Request.Header.Del("tracestate")
	method := spanName(c.Method())
	ctx, st.span = o.tracer.Start(ctx, method, o.startOpts...)
	if st.span.IsRecording() {
		st.method, st.path = method, string(c.Path()) // set on the span in finish
	}
	injectTraceContext(&c.Request.Header, trace.SpanContextFromContext(ctx))
}

// injectTraceContext is propagation.TraceContext.Inject writing the same headers without
// building strings (the traceparent into a stack buffer, which fasthttp copies).
func injectTraceContext(h *fasthttp.RequestHeader, sc trace.SpanContext) {
	if !sc.IsValid() {
		return
	}
	if ts := sc.TraceState(); ts.Len() > 0 {
		h.Set("tracestate", ts.String())
	}
	tid, sid := sc.TraceID(), sc.SpanID()
	var b [55]byte // 00-<32 hex>-<16 hex>-<2 hex>
	b[0], b[1], b[2], b[35], b[52] = '0', '0', '-', '-', '-'
	hex.Encode(b[3:35], tid[:])
	hex.Encode(b[36:52], sid[:])
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags() & trace.FlagsSampled)})
	h.SetBytesV("traceparent", b[:])
}

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
