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
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
)

// otlpSink sends pivot's span records over OTLP. The SDK's exporter turns every batch into the
// OTLP structs (a dozen allocations a span, two maps keyed by resource and scope) and
// proto.Marshal then sizes and writes them by reflection: at 100 % sampling that was a quarter
// of pivot's CPU spent on tracing (bench/README, issue 20). This one writes each batch's
// ResourceSpans straight into a reused buffer with protowire and hands the bytes to the SDK's
// otlptracehttp/otlptracegrpc client as the unknown fields of an empty tracepb.ResourceSpans:
// proto.Marshal copies unknown fields verbatim, so the collector receives the bytes the SDK's
// exporter would send for the same spans (TestOTLPEncodeMatchesSDK), while the client keeps
// its endpoint, TLS, headers, compression, retries and OTEL_* settings.
type otlpSink struct {
	client otlptrace.Client
	// resource is the encoded Resource field, scope the encoded InstrumentationScope: the same
	// for every batch
	resource, scope           []byte
	schemaURL, scopeSchemaURL string

	buf []byte
	out []*tracepb.ResourceSpans

	stopOnce sync.Once
}

var _ spanSink = (*otlpSink)(nil)

func newOTLPSink(ctx context.Context, client otlptrace.Client, res *resource.Resource, scope instrumentation.Scope) (*otlpSink, error) {
	if err := client.Start(ctx); err != nil {
		return nil, err
	}
	s := &otlpSink{client: client, out: []*tracepb.ResourceSpans{{}}}
	if res != nil {
		var st int
		s.resource, st = beginMsg(nil, rsResource)
		for it := res.Iter(); it.Next(); {
			var ok bool
			if s.resource, ok = appendKeyValue(s.resource, resAttributes, it.Attribute()); !ok {
				return nil, fmt.Errorf("resource attribute %s: a %s is not encoded", it.Attribute().Key, it.Attribute().Value.Type())
			}
		}
		s.resource = endMsg(s.resource, st)
		s.schemaURL = res.SchemaURL()
	}
	if scope != (instrumentation.Scope{}) {
		var st int
		s.scope, st = beginMsg(nil, ssScope)
		s.scope = appendString(s.scope, scName, scope.Name)
		s.scope = appendString(s.scope, scVersion, scope.Version)
		s.scope = endMsg(s.scope, st)
	}
	s.scopeSchemaURL = scope.SchemaURL
	return s, nil
}

func (s *otlpSink) export(ctx context.Context, spans []spanRecord, arena []byte) error {
	if len(spans) == 0 {
		return nil
	}
	b := append(s.buf[:0], s.resource...)
	var ss int
	b, ss = beginMsg(b, rsScopeSpans)
	b = append(b, s.scope...)
	for i := range spans {
		b = appendRecord(b, &spans[i], arena)
	}
	b = appendString(b, ssSchemaURL, s.scopeSchemaURL)
	b = endMsg(b, ss)
	b = appendString(b, rsSchemaURL, s.schemaURL)
	s.buf = b
	rs := &tracepb.ResourceSpans{} // the client may keep it while it retries: a new one each batch
	rs.ProtoReflect().SetUnknown(b[:len(b):len(b)])
	s.out[0] = rs
	err := s.client.UploadTraces(ctx, s.out)
	s.out[0] = nil
	if err != nil {
		return fmt.Errorf("traces export: %w", err)
	}
	return nil
}

func (s *otlpSink) shutdown(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() { err = s.client.Stop(ctx) })
	return err
}

// appendRecord writes one record as an OTLP Span, its fields in the SDK exporter's order.
func appendRecord(b []byte, r *spanRecord, arena []byte) []byte {
	var s int
	b, s = beginMsg(b, ssSpans)
	b = protowire.AppendTag(b, spTraceID, protowire.BytesType)
	b = protowire.AppendBytes(b, r.traceID[:])
	b = protowire.AppendTag(b, spSpanID, protowire.BytesType)
	b = protowire.AppendBytes(b, r.spanID[:])
	b = appendString(b, spTraceState, r.traceState)
	if r.parent.IsValid() {
		b = protowire.AppendTag(b, spParentSpanID, protowire.BytesType)
		b = protowire.AppendBytes(b, r.parent[:])
	}
	b = appendString(b, spName, r.name)
	b = appendUint(b, spKind, uint64(tracepb.Span_SPAN_KIND_SERVER))
	b = appendFixed64(b, spStart, uint64(r.start))
	b = appendFixed64(b, spEnd, uint64(r.end))
	// the attributes of spanRecord.attributes, in its order, without building them
	b = appendStringKV(b, "http.request.method", r.name)
	b = appendStringKV(b, "url.path", arena[r.pathAt:r.pathAt+r.pathLen])
	b = appendIntKV(b, "http.response.status_code", int64(r.status))
	b = appendIntKV(b, "http.response.body.size", r.bytes)
	b = appendStringKV(b, "pivot.request_id", arena[r.idAt:r.idAt+r.idLen])
	b = appendIntKV(b, "pivot.worker.pid", r.pid)
	b = appendFloatKV(b, "pivot.queue_wait_ms", float64(r.wait)/1e6)
	b = appendFloatKV(b, "pivot.php_ms", float64(r.php)/1e6)
	// the SDK's exporter always sends a status, an empty one for Unset
	var st int
	b, st = beginMsg(b, spStatus)
	b = appendUint(b, stCode, uint64(statusCode(r.statusCode())))
	b = endMsg(b, st)
	return endMsg(b, s)
}

// beginAttr starts a span attribute (a KeyValue and its AnyValue, whose one field the caller
// writes); endAttr closes both.
func beginAttr(b []byte, key string) (out []byte, kv, val int) {
	b, kv = beginMsg(b, spAttributes)
	b = appendString(b, kvKey, key)
	b, val = beginMsg(b, kvValue)
	return b, kv, val
}

func endAttr(b []byte, kv, val int) []byte { return endMsg(endMsg(b, val), kv) }

func appendStringKV[T string | []byte](b []byte, key string, v T) []byte {
	b, kv, val := beginAttr(b, key)
	b = protowire.AppendTag(b, avString, protowire.BytesType)
	b = append(protowire.AppendVarint(b, uint64(len(v))), v...)
	return endAttr(b, kv, val)
}

func appendIntKV(b []byte, key string, v int64) []byte {
	b, kv, val := beginAttr(b, key)
	b = protowire.AppendVarint(protowire.AppendTag(b, avInt, protowire.VarintType), uint64(v))
	return endAttr(b, kv, val)
}

func appendFloatKV(b []byte, key string, v float64) []byte {
	b, kv, val := beginAttr(b, key)
	b = protowire.AppendFixed64(protowire.AppendTag(b, avDouble, protowire.Fixed64Type), math.Float64bits(v))
	return endAttr(b, kv, val)
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
	avString, avBool, avInt, avDouble                                     = 1, 2, 3, 4
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

func statusCode(c codes.Code) tracepb.Status_StatusCode {
	switch c {
	case codes.Ok:
		return tracepb.Status_STATUS_CODE_OK
	case codes.Error:
		return tracepb.Status_STATUS_CODE_ERROR
	}
	return tracepb.Status_STATUS_CODE_UNSET
}

// appendKeyValue writes a resource attribute; ok is false for a type it does not encode (the
// slices: pivot's resource has none).
func appendKeyValue(b []byte, num protowire.Number, kv attribute.KeyValue) (out []byte, ok bool) {
	var s, v int
	b, s = beginMsg(b, num)
	b = appendString(b, kvKey, string(kv.Key))
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
	default:
		return b, false
	}
	return endMsg(endMsg(b, v), s), true
}
