package observe

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pivot.access_log: one line per request with its id, method, path, status, bytes, timings
// and worker pid — a streamed response and a 500 too.
func TestAccessLog(t *testing.T) {
	p := startRR(t, 1, "  access_log: true\n", "")
	resp, e := p.get(t, "/hello?ms=30", http.Header{"X-Request-Id": {"access-1"}})
	stream, body := testsupport.Do(t, http.MethodGet, p.base+"/stream", nil, nil)
	fail, _ := testsupport.Do(t, http.MethodPost, p.base+"/fail", strings.NewReader("x"), nil)
	if resp.StatusCode != 200 || stream.StatusCode != 200 || fail.StatusCode != 500 {
		t.Fatalf("statuses %d %d %d", resp.StatusCode, stream.StatusCode, fail.StatusCode)
	}

	byID := map[string]accessLine{}
	testsupport.WaitFor(t, 10*time.Second, "the 3 requests' access-log lines", func() bool {
		for _, l := range accessLines(t, p.Out.String()) {
			byID[l.RequestID] = l
		}
		_, a := byID["access-1"]
		_, b := byID[stream.Header.Get("X-Request-Id")]
		_, c := byID[fail.Header.Get("X-Request-Id")]
		return a && b && c
	})
	l, ok := byID["access-1"]
	if !ok {
		t.Fatalf("no line for access-1 in %+v", byID)
	}
	if l.Msg != "request" || l.Method != "GET" || l.Path != "/hello" || l.Status != 200 || l.WorkerPid != e.Pid ||
		l.Bytes != resp.ContentLength || l.QueueWait == nil || l.PHP == nil || l.Total == nil {
		t.Fatalf("line %+v: want GET /hello 200 %d bytes from worker %d", l, resp.ContentLength, e.Pid)
	}
	if php, total := durationOf(t, l.PHP), durationOf(t, l.Total); php < 30*time.Millisecond || total < php {
		t.Errorf("php %s, total %s: PHP slept 30ms and total includes it", php, total)
	}
	s, ok := byID[stream.Header.Get("X-Request-Id")]
	if !ok || s.Path != "/stream" || s.Bytes != int64(len(body)) || s.WorkerPid != e.Pid {
		t.Errorf("stream line %+v: want /stream with %d bytes", s, len(body))
	}
	f, ok := byID[fail.Header.Get("X-Request-Id")]
	if !ok || f.Method != "POST" || f.Status != 500 {
		t.Errorf("fail line %+v: want POST /fail 500", f)
	}
}

// durationOf reads a zap duration as rr's logger encodes it (a string like "30.5ms", or
// seconds as a number).
func durationOf(t *testing.T, v any) time.Duration {
	t.Helper()
	switch d := v.(type) {
	case string:
		dur, err := time.ParseDuration(d)
		if err != nil {
			t.Fatalf("duration %q: %v", d, err)
		}
		return dur
	case float64:
		return time.Duration(d * float64(time.Second))
	}
	t.Fatalf("duration %v (%T)", v, v)
	return 0
}

// 2 workers, 200 concurrent requests, tracing at 100 % and the access log on: no log line or
// span carries another request's id. Every request says who it is three ways (its path, its
// X-Request-Id or none, its traceparent's trace id), and every record about it must agree.
func TestNoLineOrSpanCarriesAnotherRequestsID(t *testing.T) {
	rcv := startReceiver(t, "grpc")
	p := startRR(t, 2, "  access_log: true\n", `otel:
  exporter: otlp
  client: grpc
  endpoint: `+rcv.Addr+`
  insecure: true`)

	const n, clients = 200, 8
	type sent struct {
		path, traceID, id string // id: the response's X-Request-Id
		pid               int64
		spanID            string // PHP's parent: pivot's span
	}
	results := make([]sent, n)
	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan error, n)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := sent{path: fmt.Sprintf("/req/%d", i), traceID: hexID(7, i, 32)}
				h := http.Header{"Traceparent": {traceparent(r.traceID, hexID(9, i, 16))}}
				if i%2 == 0 {
					h.Set("X-Request-Id", fmt.Sprintf("client-%d", i))
				}
				ms := i % 3 // some requests wait for a worker
				resp, body := testsupport.Do(t, http.MethodGet, fmt.Sprintf("%s%s?ms=%d", p.base, r.path, ms), nil, h)
				var e echo
				if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != 200 {
					errs <- fmt.Errorf("%s: %d %q", r.path, resp.StatusCode, body)
					continue
				}
				r.id, r.pid = resp.Header.Get("X-Request-Id"), e.Pid
				if i%2 == 0 && r.id != fmt.Sprintf("client-%d", i) {
					errs <- fmt.Errorf("%s: the response's id %q is not the client's", r.path, r.id)
				}
				if e.RequestID != r.id || e.Path != r.path {
					errs <- fmt.Errorf("%s (id %s): PHP saw request %s with id %s", r.path, r.id, e.Path, e.RequestID)
				}
				tr, parent, _ := parseTraceparent(t, e.TraceParent)
				if tr != r.traceID {
					errs <- fmt.Errorf("%s: PHP saw trace %s, the client sent %s", r.path, tr, r.traceID)
				}
				r.spanID = parent
				results[i] = r
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	byID, pids := map[string]sent{}, map[int64]bool{}
	for _, r := range results {
		if _, dup := byID[r.id]; dup {
			t.Fatalf("id %s given to two requests", r.id)
		}
		byID[r.id] = r
		pids[r.pid] = true
	}
	if len(pids) != 2 {
		t.Errorf("requests ran on %d workers, want 2", len(pids))
	}

	var lines []accessLine
	testsupport.WaitFor(t, 15*time.Second, "an access-log line per request", func() bool {
		lines = accessLines(t, p.Out.String())
		return len(lines) >= n
	})
	seen := 0
	for _, l := range lines {
		r, ok := byID[l.RequestID]
		if !ok {
			if l.Path == "/" {
				continue // the readiness probe
			}
			t.Errorf("access-log line with an id no request had: %+v", l)
			continue
		}
		seen++
		if l.Path != r.path || l.WorkerPid != r.pid || l.Status != 200 {
			t.Errorf("access-log line %+v is about %s on worker %d", l, r.path, r.pid)
		}
	}
	if seen != n {
		t.Errorf("%d access-log lines for %d requests", seen, n)
	}

	spans := rcv.waitSpans(t, n)
	seen = 0
	for _, s := range spans {
		id, _ := s.Attrs["pivot.request_id"].(string)
		r, ok := byID[id]
		if !ok {
			if s.Attrs["url.path"] == "/" {
				continue
			}
			t.Errorf("span with an id no request had: %+v", s)
			continue
		}
		seen++
		if s.TraceID != r.traceID || s.SpanID != r.spanID || s.Attrs["url.path"] != r.path || s.Attrs["pivot.worker.pid"] != r.pid {
			t.Errorf("span %+v is about %s (trace %s, span %s, worker %d)", s, r.path, r.traceID, r.spanID, r.pid)
		}
	}
	if seen != n {
		t.Errorf("%d spans for %d requests", seen, n)
	}
}

// The access log's buffer is written at stop: a request's line is there even when rr stops
// right after it.
func TestAccessLogWrittenAtStop(t *testing.T) {
	p := startRR(t, 1, "  access_log: true\n", "")
	p.get(t, "/last", http.Header{"X-Request-Id": {"last-one"}})
	p.Terminate(t, 20*time.Second)
	for _, l := range accessLines(t, p.Out.String()) {
		if l.RequestID == "last-one" && l.Path == "/last" {
			return
		}
	}
	t.Fatalf("no access-log line for the last request:\n%s", p.Out.String())
}
