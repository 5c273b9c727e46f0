package observe

import (
	"context"
	"fmt"
	"math"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
)

// otlpExporter is otlptrace.Exporter with its span encoding replaced. The SDK's exporter turns
// every batch into the OTLP structs (a dozen allocations a span, two maps keyed by resource and
// scope) and proto.Marshal then sizes and writes them by reflection: at 100 % sampling that was
// a quarter of pivot's CPU spent on tracing (bench/README, issue 20). This one writes each
// ResourceSpans' fields straight into a reused buffer with protowire and hands the bytes to the
// same otlptracehttp/otlptracegrpc client as the unknown fields of an empty
// tracepb.ResourceSpans: proto.Marshal copies unknown fields verbatim, so the collector receives
// the bytes the SDK's exporter would send (same fields, same values — TestOTLPEncodeMatchesSDK),
// while the client keeps its endpoint, TLS, headers, compression, retries and OTEL_* settings.
type otlpExporter struct {
	client otlptrace.Client

	mu  sync.Mutex // ExportSpans may be called concurrently (SimpleSpanProcessor)
	buf []byte
	grp []spanGroup
	out []*tracepb.ResourceSpans

	stopOnce sync.Once
}

var _ sdktrace.SpanExporter = (*otlpExporter)(nil)

func newOTLPExporter(ctx context.Context, client otlptrace.Client) (*otlpExporter, error) {
	if err := client.Start(ctx); err != nil {
		return nil, err
	}
	return &otlpExporter{client: client}, nil
}

// spanGroup is the spans of one resource and scope, in the batch's order.
type spanGroup struct {
	res   *resource.Resource
	scope instrumentation.Scope
	spans []sdktrace.ReadOnlySpan
}

func (e *otlpExporter) ExportSpans(ctx context.Context, ss []sdktrace.ReadOnlySpan) error {
	if len(ss) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf, e.grp = e.buf[:0], group(e.grp[:0], ss)
	if len(e.grp) == 0 {
		return nil
	}
	// one ResourceSpans per resource, its scopes in their groups' order
	var ends []int
	for i := 0; i < len(e.grp); {
		res := e.grp[i].res
		j := i
		for j < len(e.grp) && sameResource(e.grp[j].res, res) {
			j++
		}
		e.buf = appendResourceSpans(e.buf, e.grp[i:j])
		ends = append(ends, len(e.buf))
		i = j
	}
	e.out = e.out[:0]
	start := 0
	for _, end := range ends {
		rs := &tracepb.ResourceSpans{}
		rs.ProtoReflect().SetUnknown(e.buf[start:end:end])
		e.out = append(e.out, rs)
		start = end
	}
	err := e.client.UploadTraces(ctx, e.out)
	for i := range e.grp {
		e.grp[i] = spanGroup{} // the spans are the SDK's again
	}
	if err != nil {
		return fmt.Errorf("traces export: %w", err)
	}
	return nil
}

func (e *otlpExporter) Shutdown(ctx context.Context) error {
	var err error
	e.stopOnce.Do(func() { err = e.client.Stop(ctx) })
	return err
}

func sameResource(a, b *resource.Resource) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	return a.Equivalent() == b.Equivalent()
}

// group sorts the batch into (resource, scope) groups, resources kept together; pivot's
// provider has one of each, so this is one group and no map.
func group(gs []spanGroup, ss []sdktrace.ReadOnlySpan) []spanGroup {
	for _, sd := range ss {
		if sd == nil {
			continue
		}
		res, scope := sd.Resource(), sd.InstrumentationScope()
		k := -1
		for i := range gs {
			if gs[i].scope == scope && sameResource(gs[i].res, res) {
				k = i
				break
			}
		}
		if k < 0 {
			// after the last group of the same resource
			k = len(gs)
			for i := len(gs) - 1; i >= 0; i-- {
				if sameResource(gs[i].res, res) {
					k = i + 1
					break
				}
			}
			gs = append(gs, spanGroup{})
			copy(gs[k+1:], gs[k:])
			gs[k] = spanGroup{res: res, scope: scope, spans: gs[k].spans[:0]}
		}
		gs[k].spans = append(gs[k].spans, sd)
	}
	return gs
}

// OTLP field numbers (opentelemetry-proto v1.1.0, trace/v1 and common/v1).
const (
	rsResource, rsScopeSpans, rsSchemaURL                                 = 1, 2, 3
	resAttributes                                                         = 1
	ssScope, ssSpans, ssSchemaURL                                         = 1, 2, 3
	scName, scVersion                                                     = 1, 2
	spTraceID, spSpanID, spTraceState, spParentSpanID, spName, spKind     = 1, 2, 3, 4, 5, 6
	spStart, spEnd, spAttributes, spDroppedAttrs, spEvents, spDroppedEvts = 7, 8, 9, 10, 11, 12
	spLinks, spDroppedLinks, spStatus                                     = 13, 14, 15
	evTime, evName, evAttributes, evDroppedAttrs                          = 1, 2, 3, 4
	lkTraceID, lkSpanID, lkAttributes, lkDroppedAttrs                     = 1, 2, 4, 5
	stMessage, stCode                                                     = 2, 3
	kvKey, kvValue                                                        = 1, 2
	avString, avBool, avInt, avDouble, avArray                            = 1, 2, 3, 4, 5
	arrValues                                                             = 1
)

// beginMsg starts an embedded message field: its length is written by endMsg.
func beginMsg(b []byte, num protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = append(b, 0)
	return b, len(b)
}

// endMsg writes the length of the message begun at start, moving its body when the length
// takes more than one byte.
func endMsg(b []byte, start int) []byte {
	n := len(b) - start
	sz := protowire.SizeVarint(uint64(n))
	if sz == 1 {
		b[start-1] = byte(n)
		return b
	}
	for i := 1; i < sz; i++ {
		b = append(b, 0)
	}
	copy(b[start-1+sz:], b[start:start+n])
	protowire.AppendVarint(b[:start-1], uint64(n))
	return b
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendUint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendFixed64(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

func appendResourceSpans(b []byte, gs []spanGroup) []byte {
	res := gs[0].res
	if res != nil {
		var s int
		b, s = beginMsg(b, rsResource)
		for it := res.Iter(); it.Next(); {
			b = appendKeyValue(b, resAttributes, it.Attribute())
		}
		b = endMsg(b, s)
	}
	for _, g := range gs {
		var s int
		b, s = beginMsg(b, rsScopeSpans)
		if g.scope != (instrumentation.Scope{}) {
			var sc int
			b, sc = beginMsg(b, ssScope)
			b = appendString(b, scName, g.scope.Name)
			b = appendString(b, scVersion, g.scope.Version)
			b = endMsg(b, sc)
		}
		for _, sd := range g.spans {
			b = appendSpan(b, sd)
		}
		b = appendString(b, ssSchemaURL, g.scope.SchemaURL)
		b = endMsg(b, s)
	}
	if res != nil {
		b = appendString(b, rsSchemaURL, res.SchemaURL())
	}
	return b
}

func appendSpan(b []byte, sd sdktrace.ReadOnlySpan) []byte {
	var s int
	b, s = beginMsg(b, ssSpans)
	sc := sd.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	b = protowire.AppendTag(b, spTraceID, protowire.BytesType)
	b = protowire.AppendBytes(b, tid[:])
	b = protowire.AppendTag(b, spSpanID, protowire.BytesType)
	b = protowire.AppendBytes(b, sid[:])
	b = appendString(b, spTraceState, sc.TraceState().String())
	if psid := sd.Parent().SpanID(); psid.IsValid() {
		b = protowire.AppendTag(b, spParentSpanID, protowire.BytesType)
		b = protowire.AppendBytes(b, psid[:])
	}
	b = appendString(b, spName, sd.Name())
	b = appendUint(b, spKind, uint64(spanKind(sd.SpanKind())))
	b = appendFixed64(b, spStart, uint64(sd.StartTime().UnixNano()))
	b = appendFixed64(b, spEnd, uint64(sd.EndTime().UnixNano()))
	for _, kv := range sd.Attributes() {
		b = appendKeyValue(b, spAttributes, kv)
	}
	b = appendUint(b, spDroppedAttrs, uint64(uint32(sd.DroppedAttributes())))
	for _, ev := range sd.Events() {
		var e int
		b, e = beginMsg(b, spEvents)
		b = appendFixed64(b, evTime, uint64(ev.Time.UnixNano()))
		b = appendString(b, evName, ev.Name)
		for _, kv := range ev.Attributes {
			b = appendKeyValue(b, evAttributes, kv)
		}
		b = appendUint(b, evDroppedAttrs, uint64(uint32(ev.DroppedAttributeCount)))
		b = endMsg(b, e)
	}
	b = appendUint(b, spDroppedEvts, uint64(uint32(sd.DroppedEvents())))
	for _, l := range sd.Links() {
		var e int
		b, e = beginMsg(b, spLinks)
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		b = protowire.AppendTag(b, lkTraceID, protowire.BytesType)
		b = protowire.AppendBytes(b, ltid[:])
		b = protowire.AppendTag(b, lkSpanID, protowire.BytesType)
		b = protowire.AppendBytes(b, lsid[:])
		for _, kv := range l.Attributes {
			b = appendKeyValue(b, lkAttributes, kv)
		}
		b = appendUint(b, lkDroppedAttrs, uint64(uint32(l.DroppedAttributeCount)))
		b = endMsg(b, e)
	}
	b = appendUint(b, spDroppedLinks, uint64(uint32(sd.DroppedLinks())))
	// the SDK's exporter always sends a status, an empty one for Unset
	var st int
	b, st = beginMsg(b, spStatus)
	status := sd.Status()
	b = appendString(b, stMessage, status.Description)
	b = appendUint(b, stCode, uint64(statusCode(status.Code)))
	b = endMsg(b, st)
	return endMsg(b, s)
}

func statusCode(c codes.Code) tracepb.Status_StatusCode {
	switch c {
	case codes.Ok:
		return tracepb.Status_STATUS_CODE_OK
	case codes.Error:
		return tracepb.Status_STATUS_CODE_ERROR
	}
	return tracepb.Status_STATUS_CODE_UNSET
}

func spanKind(k trace.SpanKind) tracepb.Span_SpanKind {
	switch k {
	case trace.SpanKindInternal:
		return tracepb.Span_SPAN_KIND_INTERNAL
	case trace.SpanKindClient:
		return tracepb.Span_SPAN_KIND_CLIENT
	case trace.SpanKindServer:
		return tracepb.Span_SPAN_KIND_SERVER
	case trace.SpanKindProducer:
		return tracepb.Span_SPAN_KIND_PRODUCER
	case trace.SpanKindConsumer:
		return tracepb.Span_SPAN_KIND_CONSUMER
	}
	return tracepb.Span_SPAN_KIND_UNSPECIFIED
}

func appendKeyValue(b []byte, num protowire.Number, kv attribute.KeyValue) []byte {
	var s int
	b, s = beginMsg(b, num)
	b = appendString(b, kvKey, string(kv.Key))
	var v int
	b, v = beginMsg(b, kvValue)
	switch kv.Value.Type() {
	case attribute.BOOL:
		b = protowire.AppendTag(b, avBool, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(kv.Value.AsBool()))
	case attribute.INT64:
		b = protowire.AppendTag(b, avInt, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(kv.Value.AsInt64()))
	case attribute.FLOAT64:
		b = protowire.AppendTag(b, avDouble, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(kv.Value.AsFloat64()))
	case attribute.STRING:
		b = protowire.AppendTag(b, avString, protowire.BytesType)
		b = protowire.AppendString(b, kv.Value.AsString())
	case attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE:
		var a int
		b, a = beginMsg(b, avArray)
		b = appendArray(b, kv.Value)
		b = endMsg(b, a)
	default:
		b = protowire.AppendTag(b, avString, protowire.BytesType)
		b = protowire.AppendString(b, "INVALID")
	}
	b = endMsg(b, v)
	return endMsg(b, s)
}

// appendArray writes an ArrayValue's values, each an AnyValue (set even when zero: a oneof).
func appendArray(b []byte, v attribute.Value) []byte {
	var s int
	switch v.Type() {
	case attribute.BOOLSLICE:
		for _, x := range v.AsBoolSlice() {
			b, s = beginMsg(b, arrValues)
			b = protowire.AppendTag(b, avBool, protowire.VarintType)
			b = protowire.AppendVarint(b, protowire.EncodeBool(x))
			b = endMsg(b, s)
		}
	case attribute.INT64SLICE:
		for _, x := range v.AsInt64Slice() {
			b, s = beginMsg(b, arrValues)
			b = protowire.AppendTag(b, avInt, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(x))
			b = endMsg(b, s)
		}
	case attribute.FLOAT64SLICE:
		for _, x := range v.AsFloat64Slice() {
			b, s = beginMsg(b, arrValues)
			b = protowire.AppendTag(b, avDouble, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, math.Float64bits(x))
			b = endMsg(b, s)
		}
	case attribute.STRINGSLICE:
		for _, x := range v.AsStringSlice() {
			b, s = beginMsg(b, arrValues)
			b = protowire.AppendTag(b, avString, protowire.BytesType)
			b = protowire.AppendString(b, x)
			b = endMsg(b, s)
		}
	}
	return b
}
