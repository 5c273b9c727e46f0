package observe

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// A request with a sampled traceparent: pivot's server span is its child, PHP gets a
// traceparent whose parent is pivot's span, and the span reaches a real OTLP receiver over
// gRPC and over HTTP, with the worker's pid and the request's status and id.
func TestTraceParentChildThroughPHP(t *testing.T) {
	for _, client := range []string{"grpc", "http"} {
		t.Run(client, func(t *testing.T) {
			rcv := startReceiver(t, client)
			p := startRR(t, 1, "", `otel:
  exporter: otlp
  client: `+client+`
  endpoint: `+rcv.Addr+`
  insecure: true
  resource:
    service_name: observe-test`)

			const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
			resp, e := p.get(t, "/traced", http.Header{
				"Traceparent": {traceparent(traceID, parentID)},
				"Tracestate":  {"vendor=abc"},
			})
			gotTrace, phpParent, flags := parseTraceparent(t, e.TraceParent)
			if gotTrace != traceID || flags != "01" {
				t.Fatalf("PHP got traceparent %q: want trace %s, sampled", e.TraceParent, traceID)
			}
			if phpParent == parentID {
				t.Fatalf("PHP's parent is the client's span %s: it must be pivot's server span", parentID)
			}
			if e.TraceState != "vendor=abc" {
				t.Errorf("PHP got tracestate %q, want the client's", e.TraceState)
			}

			// a request without traceparent starts a trace of its own
			_, e2 := p.get(t, "/fresh", nil)
			freshTrace, freshParent, _ := parseTraceparent(t, e2.TraceParent)

			spans := rcv.waitSpans(t, 2)
			byID := map[string]span{}
			for _, s := range spans {
				byID[s.SpanID] = s
			}
			s, ok := byID[phpParent]
			if !ok {
				t.Fatalf("no span %s (PHP's parent) among %+v", phpParent, spans)
			}
			if s.TraceID != traceID || s.ParentID != parentID {
				t.Errorf("span %s: trace %s parent %s, want trace %s parent %s (the client's)", s.SpanID, s.TraceID, s.ParentID, traceID, parentID)
			}
			if s.Name != "GET" || s.Service != "observe-test" {
				t.Errorf("span name %q service %q, want GET, observe-test", s.Name, s.Service)
			}
			want := map[string]any{
				"http.request.method":       "GET",
				"http.response.status_code": int64(200),
				"pivot.worker.pid":          e.Pid,
				"pivot.request_id":          resp.Header.Get("X-Request-Id"),
				"url.path":                  "/traced",
			}
			for k, v := range want {
				if s.Attrs[k] != v {
					t.Errorf("span attribute %s = %v (%T), want %v (%T)", k, s.Attrs[k], s.Attrs[k], v, v)
				}
			}
			for _, k := range []string{"pivot.queue_wait_ms", "pivot.php_ms", "http.response.body.size"} {
				if _, ok := s.Attrs[k]; !ok {
					t.Errorf("span has no %s: %v", k, s.Attrs)
				}
			}
			if s.Attrs["http.response.body.size"] != int64(len(mustJSON(t, e))) && s.Attrs["http.response.body.size"].(int64) <= 0 {
				t.Errorf("http.response.body.size %v", s.Attrs["http.response.body.size"])
			}
			if s.Kind.String() != "SPAN_KIND_SERVER" {
				t.Errorf("span kind %v, want server", s.Kind)
			}

			f, ok := byID[freshParent]
			if !ok || f.TraceID != freshTrace || f.ParentID != "" {
				t.Fatalf("the fresh request's span %s: %+v (ok %v); want a root span in trace %s", freshParent, f, ok, freshTrace)
			}
		})
	}
}

// pivot.trace.sample: 0 records no new trace, yet PHP still gets a traceparent (not sampled)
// to join, and a client's sampled trace is still followed (parent-based).
func TestSampleZeroFollowsSampledParents(t *testing.T) {
	rcv := startReceiver(t, "grpc")
	p := startRR(t, 1, "  trace:\n    sample: 0\n", `otel:
  exporter: otlp
  client: grpc
  endpoint: `+rcv.Addr+`
  insecure: true`)

	_, e := p.get(t, "/unsampled", nil)
	if _, _, flags := parseTraceparent(t, e.TraceParent); flags != "00" {
		t.Fatalf("PHP got %q: want a traceparent that is not sampled", e.TraceParent)
	}
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	_, e = p.get(t, "/sampled", http.Header{"Traceparent": {traceparent(traceID, "b7ad6b7169203331")}})
	spans := rcv.waitSpans(t, 1)
	_, parent, _ := parseTraceparent(t, e.TraceParent)
	if len(spans) != 1 || spans[0].TraceID != traceID || spans[0].SpanID != parent {
		t.Fatalf("spans %+v: want only the sampled request's, %s", spans, parent)
	}
}

// pivot.trace.exporter without an otel section: stdout prints each span as JSON on rr's
// stdout; none exports nothing but still hands PHP a traceparent of pivot's span.
func TestStdoutAndNoneExporters(t *testing.T) {
	const traceID = "5b8efff798038103d269b633813fc60c"
	for _, exporter := range []string{"stdout", "none"} {
		t.Run(exporter, func(t *testing.T) {
			p := startRR(t, 1, "  trace:\n    exporter: "+exporter+"\n", "")
			_, e := p.get(t, "/x", http.Header{"Traceparent": {traceparent(traceID, "eee19b7ec3c1b174")}})
			got, parent, _ := parseTraceparent(t, e.TraceParent)
			if got != traceID || parent == "eee19b7ec3c1b174" {
				t.Fatalf("PHP got %q: want trace %s under pivot's span", e.TraceParent, traceID)
			}
			if exporter == "none" {
				time.Sleep(500 * time.Millisecond)
				if strings.Contains(p.Out.String(), traceID) {
					t.Fatalf("exporter none printed the span:\n%s", p.Out.String())
				}
				return
			}
			testsupport.WaitFor(t, 15*time.Second, "the span on rr's stdout", func() bool {
				out := p.Out.String()
				return strings.Contains(out, `"TraceID":"`+traceID+`"`) && strings.Contains(out, `"SpanID":"`+parent+`"`)
			})
		})
	}
}

// The zipkin exporter (the SDK's, handed pivot's spans as ReadOnlySpans) posts to a real HTTP
// receiver: the span is the server span PHP's traceparent names, child of the client's.
func TestZipkinExporter(t *testing.T) {
	type zspan struct {
		TraceID  string            `json:"traceId"`
		ID       string            `json:"id"`
		ParentID string            `json:"parentId"`
		Name     string            `json:"name"`
		Kind     string            `json:"kind"`
		Tags     map[string]string `json:"tags"`
	}
	var mu sync.Mutex
	var got []zspan
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var batch []zspan
		if r.URL.Path != "/api/v2/spans" || json.NewDecoder(r.Body).Decode(&batch) != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, batch...)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)

	const traceID, parentID = "6b8efff798038103d269b633813fc60c", "fee19b7ec3c1b174"
	p := startRR(t, 1, "  trace:\n    exporter: zipkin\n", "otel:\n  endpoint: "+srv.URL+"/api/v2/spans\n")
	_, e := p.get(t, "/zip", http.Header{"Traceparent": {traceparent(traceID, parentID)}})
	_, spanID, _ := parseTraceparent(t, e.TraceParent)
	var s zspan
	testsupport.WaitFor(t, 15*time.Second, "the span at the zipkin receiver", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, z := range got { // the harness's readiness requests have spans too
			if z.TraceID == traceID {
				s = z
				return true
			}
		}
		return false
	})
	mu.Lock()
	defer mu.Unlock()
	// zipkin's exporter lower-cases span names
	if s.ID != spanID || s.ParentID != parentID || s.Name != "get" || s.Kind != "SERVER" ||
		s.Tags["url.path"] != "/zip" || s.Tags["http.response.status_code"] != "200" || s.Tags["pivot.worker.pid"] != strconv.FormatInt(e.Pid, 10) {
		t.Fatalf("zipkin got %+v: want one server span %s of trace %s under %s", got, spanID, traceID, parentID)
	}
}
