// Package observe tests request ids, tracing and the access log (issue 20) against the real
// ./rr binary with real PHP workers, spans received by a real OTLP receiver in this process.
package observe

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// span is a received span, flattened.
type span struct {
	TraceID, SpanID, ParentID string
	Name                      string
	Kind                      tracepb.Span_SpanKind
	Service                   string
	Attrs                     map[string]any
}

// receiver is an OTLP trace receiver: the collector's TraceService over gRPC, or its HTTP
// endpoint (POST /v1/traces, protobuf), as a real collector serves them.
type receiver struct {
	collectortrace.UnimplementedTraceServiceServer
	Addr string

	mu    sync.Mutex
	spans []span
}

func (r *receiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	r.add(req)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func (r *receiver) add(req *collectortrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				attrs := map[string]any{}
				for _, kv := range s.GetAttributes() {
					v := kv.GetValue()
					switch v.GetValue().(type) {
					case *commonpb.AnyValue_StringValue:
						attrs[kv.GetKey()] = v.GetStringValue()
					case *commonpb.AnyValue_IntValue:
						attrs[kv.GetKey()] = v.GetIntValue()
					case *commonpb.AnyValue_DoubleValue:
						attrs[kv.GetKey()] = v.GetDoubleValue()
					}
				}
				r.spans = append(r.spans, span{TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
					ParentID: hex.EncodeToString(s.GetParentSpanId()), Name: s.GetName(), Kind: s.GetKind(), Service: service, Attrs: attrs})
			}
		}
	}
}

// Spans is what the receiver has got so far.
func (r *receiver) Spans() []span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]span(nil), r.spans...)
}

// waitSpans waits until n spans arrived.
func (r *receiver) waitSpans(t *testing.T, n int) []span {
	t.Helper()
	testsupport.WaitFor(t, 30*time.Second, fmt.Sprintf("%d spans at the OTLP receiver", n), func() bool { return len(r.Spans()) >= n })
	return r.Spans()
}

// startReceiver serves OTLP on a free 127.0.0.1 port: client "grpc" or "http".
func startReceiver(t *testing.T, client string) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{Addr: ln.Addr().String()}
	switch client {
	case "grpc":
		srv := grpc.NewServer()
		collectortrace.RegisterTraceServiceServer(srv, r)
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(srv.Stop)
	case "http":
		mux := http.NewServeMux()
		mux.HandleFunc("/v1/traces", func(w http.ResponseWriter, req *http.Request) {
			b, err := io.ReadAll(req.Body)
			var in collectortrace.ExportTraceServiceRequest
			if err == nil {
				err = proto.Unmarshal(b, &in)
			}
			if err != nil || req.Header.Get("Content-Type") != "application/x-protobuf" {
				http.Error(w, fmt.Sprintf("bad export: %v (%s)", err, req.Header.Get("Content-Type")), http.StatusBadRequest)
				return
			}
			r.add(&in)
			out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
			w.Header().Set("Content-Type", "application/x-protobuf")
			_, _ = w.Write(out)
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
	default:
		t.Fatalf("client %q", client)
	}
	return r
}

// echo is what testdata/echo-worker.php answers.
type echo struct {
	RequestID   string `json:"request_id"`
	HeaderID    string `json:"header_id"`
	TraceParent string `json:"traceparent"`
	TraceState  string `json:"tracestate"`
	Pid         int64  `json:"pid"`
	Path        string `json:"path"`
}

// rr is a running rr serving pivot with the echo worker.
type rr struct {
	*testsupport.RR
	base string
}

// startRR runs the real ./rr with the echo worker: pivotYAML is added under pivot:, top is
// added at the top level (the otel section). Logs are zap JSON at info (the access log).
func startRR(t *testing.T, workers int, pivotYAML, top string) *rr {
	t.Helper()
	addr := testsupport.FreeAddr(t)
	yaml := fmt.Sprintf(`version: "3"
server:
  command: "php %s"
logs:
  mode: production
  level: info
  encoding: json
pivot:
  address: %s
  pool:
    num_workers: %d
%s
%s
`, testsupport.RepoPath(t, "tests/observe/testdata/echo-worker.php"), addr, workers, pivotYAML, top)
	p := &rr{RR: testsupport.StartRR(t, yaml, testsupport.RROptions{
		StopTimeout: 10 * time.Second,
		Env:         []string{"OTEL_BSP_SCHEDULE_DELAY=100"}, // export spans every 100 ms
	}), base: "http://" + addr}
	p.WaitReady(t, 30*time.Second, testsupport.HTTPAnswers(p.base+"/", 200))
	return p
}

// get sends one GET with the given headers and decodes the echo.
func (p *rr) get(t *testing.T, path string, header http.Header) (*http.Response, echo) {
	t.Helper()
	resp, body := testsupport.Do(t, http.MethodGet, p.base+path, nil, header)
	var e echo
	if err := json.Unmarshal(firstLine(body), &e); err != nil {
		t.Fatalf("GET %s: %d %q: %v", path, resp.StatusCode, body, err)
	}
	return resp, e
}

func firstLine(b []byte) []byte {
	if i := strings.IndexByte(string(b), '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

// accessLine is one access-log line.
type accessLine struct {
	Logger    string `json:"logger"`
	Msg       string `json:"msg"`
	RequestID string `json:"request_id"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Status    int    `json:"status"`
	Bytes     int64  `json:"bytes"`
	QueueWait any    `json:"queue_wait"`
	PHP       any    `json:"php"`
	Total     any    `json:"total"`
	WorkerPid int64  `json:"worker_pid"`
}

// accessLines parses rr's output for access-log lines.
func accessLines(t *testing.T, out string) []accessLine {
	t.Helper()
	var lines []accessLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '{'); i >= 0 && strings.Contains(line, `"pivot.access"`) {
			var l accessLine
			if err := json.Unmarshal([]byte(line[i:]), &l); err != nil {
				t.Fatalf("access-log line %q: %v", line, err)
			}
			lines = append(lines, l)
		}
	}
	return lines
}

// traceparent builds a sampled W3C traceparent.
func traceparent(traceID, spanID string) string { return "00-" + traceID + "-" + spanID + "-01" }

// parseTraceparent splits a traceparent into its trace id, parent id and flags.
func parseTraceparent(t *testing.T, tp string) (traceID, parentID, flags string) {
	t.Helper()
	parts := strings.Split(tp, "-")
	if len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
		t.Fatalf("PHP got traceparent %q: not a W3C traceparent", tp)
	}
	return parts[1], parts[2], parts[3]
}

// ids makes n distinct hex ids of the given length, from seed.
func hexID(seed, i, length int) string {
	s := fmt.Sprintf("%0*x", length, uint64(seed)<<32|uint64(i)+1)
	return s[len(s)-length:]
}
