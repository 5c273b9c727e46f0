package observe

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// startWorkerRR runs rr with pivot, two workers of testdata/worker.php, JSON logs at debug, and extra
// (indented two spaces, under pivot:).
func startWorkerRR(t *testing.T, extra string) (*testsupport.RR, string) {
	t.Helper()
	return startWorkerRRWith(t, "", extra)
}

// startWorkerRRWith is startWorkerRR with server (indented two spaces, under server:) too.
func startWorkerRRWith(t *testing.T, server, extra string) (*testsupport.RR, string) {
	t.Helper()
	worker, err := filepath.Abs("testdata/worker.php")
	if err != nil {
		t.Fatal(err)
	}
	addr := testsupport.FreeAddr(t)
	yaml := fmt.Sprintf(`version: "3"
server:
  command: "php %s"
%slogs:
  mode: production
  level: debug
  encoding: json
pivot:
  address: %s
  pool:
    num_workers: 2
    allocate_timeout: 10s
    destroy_timeout: 10s
%s`, worker, server, addr, extra)
	rr := testsupport.StartRR(t, yaml, testsupport.RROptions{})
	base := "http://" + addr
	rr.WaitReady(t, 30*time.Second, testsupport.HTTPAnswers(base+"/", http.StatusOK))
	return rr, base
}

// zapLine is one zap JSON line of rr's output.
type zapLine map[string]any

func (l zapLine) str(k string) string { s, _ := l[k].(string); return s }

// workerLines are rr's log lines from the workers' stderr (logger pivot.worker).
func workerLines(rr *testsupport.RR) []zapLine {
	var out []zapLine
	sc := bufio.NewScanner(strings.NewReader(rr.Out.String()))
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		var l zapLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.str("logger") == "pivot.worker" {
			out = append(out, l)
		}
	}
	return out
}

func getWithID(t *testing.T, url, requestID string) (int, string) {
	t.Helper()
	h := http.Header{}
	if requestID != "" {
		h.Set("X-Request-Id", requestID)
	}
	resp, body := testsupport.Do(t, http.MethodGet, url, nil, h)
	return resp.StatusCode, string(body)
}

// 200 requests on 2 workers, each writing three lines (two JSON, one plain) at random
// moments: every line is logged once, with its worker's pid and the id of the request that
// wrote it, never another's; JSON lines at their own level with their fields, plain lines at
// pivot.worker_logs.level.
func TestWorkerStderrLinesCarryTheirRequestID(t *testing.T) {
	rr, base := startWorkerRR(t, "  worker_logs:\n    level: error\n")

	const n = 200
	pids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			status, body := getWithID(t, base+"/log", "req-"+strconv.Itoa(i))
			if status != http.StatusOK {
				t.Errorf("request %d: %d %s", i, status, body)
			}
			pids[i] = body
		}(i)
	}
	wg.Wait()

	var lines []zapLine
	testsupport.WaitFor(t, 10*time.Second, "every stderr line logged", func() bool {
		lines = workerLines(rr)
		return len(lines) >= 3*n
	})
	seen := map[string]int{}
	for _, l := range lines {
		id := l.str("request_id")
		if !strings.HasPrefix(id, "req-") {
			t.Errorf("a line without its request id: %v", l)
			continue
		}
		i, _ := strconv.Atoi(strings.TrimPrefix(id, "req-"))
		if pid := fmt.Sprint(l["pid"]); pid != pids[i] {
			t.Errorf("%s: logged with pid %s, the request ran on %s", id, pid, pids[i])
		}
		switch msg := l.str("msg"); msg {
		case "json line 1":
			if l.str("level") != "warn" || l.str("php_level") != "warning" || l.str("mark") != id || l["n"] != float64(1) {
				t.Errorf("first JSON line: %v", l)
			}
		case "json line 2":
			if l.str("level") != "info" || l.str("mark") != id || fmt.Sprint(l["nested"]) != "map[ok:true]" {
				t.Errorf("second JSON line: %v", l)
			}
		case "plain line for " + id:
			if l.str("level") != "error" {
				t.Errorf("plain line at %q, want pivot.worker_logs.level error: %v", l.str("level"), l)
			}
		default:
			t.Errorf("%s: a line of another request, or unknown: %v", id, l)
		}
		seen[id+" "+l.str("msg")]++
	}
	if len(seen) != 3*n {
		t.Errorf("%d distinct lines logged, want %d", len(seen), 3*n)
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("%q logged %d times", k, c)
		}
	}
}

// A 100 kB line is cut at max_line; a worker writing 5 MB to stderr in one request is not
// slowed down by the log: lines the log cannot keep up with are dropped, and counted.
func TestWorkerStderrIsBounded(t *testing.T) {
	rr, base := startWorkerRR(t, "  worker_logs:\n    max_line: 1000\n    buffer: 64\n")

	if status, body := getWithID(t, base+"/big", "big-1"); status != http.StatusOK {
		t.Fatalf("/big: %d %s", status, body)
	}
	var big zapLine
	testsupport.WaitFor(t, 10*time.Second, "the long line logged", func() bool {
		for _, l := range workerLines(rr) {
			if l.str("request_id") == "big-1" {
				big = l
				return true
			}
		}
		return false
	})
	if len(big.str("msg")) != 1000 || big["truncated"] != true || big.str("level") != "info" {
		t.Errorf("the long line: %d bytes, truncated %v, level %s", len(big.str("msg")), big["truncated"], big.str("level"))
	}

	start := time.Now()
	if status, body := getWithID(t, base+"/flood", "flood-1"); status != http.StatusOK || body != "flooded" {
		t.Fatalf("/flood: %d %s", status, body)
	}
	took := time.Since(start)
	t.Logf("5 MB of stderr in one request: answered in %s", took)
	if took > 10*time.Second {
		t.Errorf("the flood took %s: stderr blocked the worker", took)
	}
	if status, _ := getWithID(t, base+"/", ""); status != http.StatusOK {
		t.Errorf("after the flood: %d", status)
	}
	testsupport.WaitFor(t, 10*time.Second, "the drop reported", func() bool {
		return strings.Contains(rr.Out.String(), "worker stderr lines dropped")
	})
	flood := 0
	for _, l := range workerLines(rr) {
		if l.str("request_id") == "flood-1" {
			flood++
		}
	}
	t.Logf("flood lines logged: %d of 50000", flood)
	if flood == 0 {
		t.Error("no line of the flood was logged")
	}
}

// A worker that dies of a fatal error mid-request: its last words carry the request's id.
func TestWorkerFatalErrorCarriesTheRequestID(t *testing.T) {
	rr, base := startWorkerRR(t, "")
	status, body := getWithID(t, base+"/fatal", "fatal-1")
	if status < 500 {
		t.Fatalf("/fatal: %d %s", status, body)
	}
	testsupport.WaitFor(t, 10*time.Second, "the fatal error logged with its request id", func() bool {
		before, fatal := false, false
		for _, l := range workerLines(rr) {
			if l.str("request_id") != "fatal-1" {
				continue
			}
			before = before || l.str("msg") == "about to fail"
			fatal = fatal || strings.Contains(l.str("msg"), "undefined_function_for_the_test")
		}
		return before && fatal
	})
	if status, _ := getWithID(t, base+"/", ""); status != http.StatusOK {
		t.Errorf("after the fatal error: %d", status)
	}
}

// Over a socket server.relay the workers' stderr is theirs all the same.
func TestWorkerStderrOverASocketRelay(t *testing.T) {
	relay := fmt.Sprintf("  relay: tcp://%s\n", testsupport.FreeAddr(t))
	rr, base := startWorkerRRWith(t, relay, "")
	for i := 0; i < 20; i++ {
		if status, body := getWithID(t, base+"/log", "sock-"+strconv.Itoa(i)); status != http.StatusOK {
			t.Fatalf("/log: %d %s", status, body)
		}
	}
	testsupport.WaitFor(t, 10*time.Second, "60 lines, each with its request id", func() bool {
		n := 0
		for _, l := range workerLines(rr) {
			id := l.str("request_id")
			if mark := l.str("mark"); mark != "" && mark != id {
				t.Fatalf("line of %s logged with id %q", mark, id)
			}
			if strings.HasPrefix(id, "sock-") {
				n++
			}
		}
		return n == 60
	})
}
