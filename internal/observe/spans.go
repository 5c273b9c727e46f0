package observe

import (
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// Why pivot records its server spans itself. Through the SDK's tracer every request paid for
// a span object, a context, a snapshot at End with its dedupe map, the batch processor's
// channel (a goroutine wake-up per span) and the garbage of all of them: with the access log,
// access log + 100 % tracing ran at 0.74–0.8× pivot plain's req/s on two cores, the issue
// asks for 0.85×. pivot has one kind of span (the request's, no events, links or children in
// Go), so it keeps it as a fixed record in the request's pooled state and batches the records
// by value; nothing is allocated per request. The OpenTelemetry pieces stay the SDK's: the
// sampler decides (sdktrace.ParentBased(TraceIDRatioBased)), the W3C propagator reads the
// incoming traceparent, the SDK's OTLP clients send (otlpexport.go encodes the records to the
// bytes the SDK's exporter would send — TestOTLPEncodeMatchesSDK), and the stdout/stderr/
// zipkin exporters get SDK ReadOnlySpans (tracetest.SpanStub.Snapshot).

// spanRecord is one request's server span.
type spanRecord struct {
	traceID    trace.TraceID
	spanID     trace.SpanID
	parent     trace.SpanID     // zero: a new trace
	parentFlag trace.TraceFlags // the incoming traceparent's flags, for ReadOnlySpan.Parent
	traceState string           // the sampler's (the parent's), usually empty
	name       string           // the method (spanName)
	start, end int64            // unix ns
	status     int
	bytes, pid int64
	wait, php  time.Duration
	// path and requestID: the request's own bytes while it runs; once queued, offsets into
	// the batcher's arena (pathAt, idAt) with their lengths
	path, requestID []byte
	pathAt, idAt    int
	pathLen, idLen  int
}

// attributes are the span's attributes, in the order they are sent.
func (r *spanRecord) attributes(path, id string) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("http.request.method", r.name),
		attribute.String("url.path", path),
		attribute.Int("http.response.status_code", r.status),
		attribute.Int64("http.response.body.size", r.bytes),
		attribute.String("pivot.request_id", id),
		attribute.Int64("pivot.worker.pid", r.pid),
		attribute.Float64("pivot.queue_wait_ms", float64(r.wait)/1e6),
		attribute.Float64("pivot.php_ms", float64(r.php)/1e6),
	}
}

// statusCode is the span's status: Error for a 5xx answer (OpenTelemetry's HTTP server
// conventions), else Unset.
func (r *spanRecord) statusCode() codes.Code {
	if r.status >= 500 {
		return codes.Error
	}
	return codes.Unset
}

// spanSink sends a batch of records (their bytes in arena).
type spanSink interface {
	export(ctx context.Context, spans []spanRecord, arena []byte) error
	shutdown(ctx context.Context) error
}

// batchSettings are the SDK batch span processor's, read from the same OTEL_BSP_* variables
// with the same defaults.
type batchSettings struct {
	delay, timeout     time.Duration
	maxQueue, maxBatch int
}

func batchSettingsFromEnv() batchSettings {
	ms := func(key string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
			return v
		}
		return def
	}
	s := batchSettings{
		delay:    time.Duration(ms("OTEL_BSP_SCHEDULE_DELAY", 5000)) * time.Millisecond,
		timeout:  time.Duration(ms("OTEL_BSP_EXPORT_TIMEOUT", 30000)) * time.Millisecond,
		maxQueue: ms("OTEL_BSP_MAX_QUEUE_SIZE", 2048),
		maxBatch: ms("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512),
	}
	if s.maxBatch > s.maxQueue {
		s.maxBatch = s.maxQueue // as the SDK does
	}
	return s
}

// spanBatcher queues records and exports them from its own goroutine: when a batch is full,
// every delay, and at stop. A full queue drops the new span (the SDK's default: a slow
// collector never blocks a request) and says so at the next export.
type spanBatcher struct {
	set  batchSettings
	sink spanSink
	log  *zap.Logger

	mu    sync.Mutex
	queue []spanRecord
	arena []byte
	// the exporting side's slices, swapped with queue and arena under mu
	outQueue []spanRecord
	outArena []byte

	dropped atomic.Int64
	kick    chan struct{}
	flushes chan chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newSpanBatcher(set batchSettings, sink spanSink, log *zap.Logger) *spanBatcher {
	b := &spanBatcher{
		set: set, sink: sink, log: log,
		queue:   make([]spanRecord, 0, set.maxQueue),
		kick:    make(chan struct{}, 1),
		flushes: make(chan chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go b.run()
	return b
}

// add queues a copy of r, with its path and request id.
func (b *spanBatcher) add(r *spanRecord) {
	b.mu.Lock()
	if len(b.queue) >= b.set.maxQueue {
		b.mu.Unlock()
		b.dropped.Add(1)
		return
	}
	q := *r
	q.pathAt, q.pathLen = len(b.arena), len(r.path)
	b.arena = append(b.arena, r.path...)
	q.idAt, q.idLen = len(b.arena), len(r.requestID)
	b.arena = append(b.arena, r.requestID...)
	q.path, q.requestID = nil, nil
	b.queue = append(b.queue, q)
	full := len(b.queue) == b.set.maxBatch
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

func (b *spanBatcher) run() {
	defer close(b.done)
	t := time.NewTimer(b.set.delay)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			b.exportQueued()
			return
		case ch := <-b.flushes:
			b.exportQueued()
			close(ch)
			continue
		case <-b.kick:
		case <-t.C:
		}
		b.exportQueued()
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(b.set.delay)
	}
}

// exportQueued sends what is queued, in batches of at most maxBatch.
func (b *spanBatcher) exportQueued() {
	b.mu.Lock()
	b.queue, b.outQueue = b.outQueue[:0], b.queue
	b.arena, b.outArena = b.outArena[:0], b.arena
	if cap(b.queue) == 0 {
		b.queue = make([]spanRecord, 0, b.set.maxQueue)
	}
	b.mu.Unlock()
	spans := b.outQueue
	for len(spans) > 0 {
		n := min(len(spans), b.set.maxBatch)
		ctx, cancel := context.WithTimeout(context.Background(), b.set.timeout)
		err := b.sink.export(ctx, spans[:n], b.outArena)
		cancel()
		if err != nil {
			b.log.Warn("spans not exported", zap.Int("spans", n), zap.Error(err))
		}
		spans = spans[n:]
	}
	if d := b.dropped.Swap(0); d > 0 {
		b.log.Warn("spans dropped: the exporter is behind (OTEL_BSP_MAX_QUEUE_SIZE bounds the queue)", zap.Int64("spans", d))
	}
}

// flush exports what is queued now (tests, and the moment before stop).
func (b *spanBatcher) flush(ctx context.Context) error {
	ch := make(chan struct{})
	select {
	case b.flushes <- ch:
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shutdown exports what is queued and stops the sink (within ctx).
func (b *spanBatcher) shutdown(ctx context.Context) error {
	select {
	case <-b.done:
	default:
		close(b.stop)
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.sink.shutdown(ctx)
}

// sdkSink hands the records to an SDK exporter (stdout, stderr, zipkin) as ReadOnlySpans.
type sdkSink struct {
	exp   sdktrace.SpanExporter
	res   *resource.Resource
	scope instrumentation.Scope
}

func (s *sdkSink) export(ctx context.Context, spans []spanRecord, arena []byte) error {
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i := range spans {
		out[i] = s.readOnly(&spans[i], arena)
	}
	return s.exp.ExportSpans(ctx, out)
}

func (s *sdkSink) shutdown(ctx context.Context) error { return s.exp.Shutdown(ctx) }

// readOnly is the SDK's view of a queued record: the span the SDK's tracer would have ended.
func (s *sdkSink) readOnly(r *spanRecord, arena []byte) sdktrace.ReadOnlySpan {
	ts, _ := trace.ParseTraceState(r.traceState) // the sampler's own: valid
	flags := trace.FlagsSampled                  // only sampled spans are recorded
	stub := tracetest.SpanStub{
		Name: r.name,
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: r.traceID, SpanID: r.spanID, TraceFlags: flags, TraceState: ts,
		}),
		SpanKind:               trace.SpanKindServer,
		StartTime:              time.Unix(0, r.start),
		EndTime:                time.Unix(0, r.end),
		Attributes:             r.attributes(string(arena[r.pathAt:r.pathAt+r.pathLen]), string(arena[r.idAt:r.idAt+r.idLen])),
		Status:                 sdktrace.Status{Code: r.statusCode()},
		Resource:               s.res,
		InstrumentationLibrary: s.scope,
	}
	if r.parent.IsValid() {
		stub.Parent = trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: r.traceID, SpanID: r.parent, TraceFlags: r.parentFlag, TraceState: ts, Remote: true,
		})
	}
	return stub.Snapshot()
}
