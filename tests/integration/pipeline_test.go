package integration

import (
	"bytes"
	"fmt"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/roadrunner-server/sdk/v4/fsm"
)

// pivotCounter reads one of the plugin's counters from the metrics plugin.
func pivotCounter(t *testing.T, s *stack, name string) int {
	t.Helper()
	_, body := testsupport.Do(t, "GET", s.metrics+"/metrics", nil, nil)
	m := regexp.MustCompile(`(?m)^` + name + ` (\d+)`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics lacks %s", name)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// pipelinedCount reads rr_pivot_pipelined_requests_total.
func pipelinedCount(t *testing.T, s *stack) int {
	t.Helper()
	return pivotCounter(t, s, "rr_pivot_pipelined_requests_total")
}

// answer is one request's outcome, collected off the test goroutine.
type answer struct {
	status int
	body   []byte
	err    error
	at     time.Time
}

func goGet(target string) <-chan answer { return goDo("GET", target, nil) }

func goPost(target string, body []byte) <-chan answer { return goDo("POST", target, body) }

// goDo sends the request from its own goroutine (adapterDo: no t.Fatal off the test goroutine).
func goDo(method, target string, body []byte) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		resp, b, err := adapterDo(method, target, body, nil)
		a := answer{body: b, err: err, at: time.Now()}
		if resp != nil {
			a.status = resp.StatusCode
		}
		ch <- a
	}()
	return ch
}

func wait(t *testing.T, ch <-chan answer, what string) answer {
	t.Helper()
	select {
	case a := <-ch:
		if a.err != nil {
			t.Fatalf("%s: %v", what, a.err)
		}
		return a
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no answer in 30 s", what)
	}
	return answer{}
}

// runningOnTheOnlyWorker sends the request in front and returns once the single worker runs
// it (and has had time to open its slot).
func runningOnTheOnlyWorker(t *testing.T, s *stack, url string) (front <-chan answer, pid int64) {
	t.Helper()
	front = goGet(url)
	testsupport.WaitFor(t, 10*time.Second, "the worker to run the request in front", func() bool {
		ws := s.pivot.Workers()
		if len(ws) == 1 && ws[0].Status == fsm.StateWorking {
			pid = ws[0].Pid
			return true
		}
		return false
	})
	time.Sleep(50 * time.Millisecond)
	return front, pid
}

func TestPipelineQueuesARequestBehindABusyWorker(t *testing.T) {
	cases := []struct {
		name      string
		lifecycle bool // run testdata/lifecycle-worker.php instead of examples/hello
		pipeline  bool
		// window is pivot.pipeline_window; default 10s, so that the request in front, which the
		// test lets run for a while before it sends the second one, is young enough
		window string
		pool   string // extra pool options, indented by 4
		front  string // the request the only worker runs
		kill   bool   // SIGKILL the worker while the second request waits
		// secondBody > 0 makes the second request a POST with a body of that many bytes
		secondBody int
		// what the two requests get
		frontStatus int
		queued      bool // the second request waited in the worker's pipe (the metric)
		samePid     bool // the second request was answered by the worker that ran the first
		frontRerun  bool // the request in front is run again on the replacement, so it ends last
	}{
		{name: "behind a slow request", pipeline: true, front: "/sleep?ms=400",
			frontStatus: 200, queued: true, samePid: true},
		{name: "off by default", front: "/sleep?ms=400",
			frontStatus: 200, queued: false, samePid: true},
		{name: "never behind a request older than pipeline_window", pipeline: true, window: "1ms", front: "/sleep?ms=400",
			frontStatus: 200, queued: false, samePid: true},
		{name: "the worker is killed: the queued request runs on its replacement", pipeline: true, front: "/sleep?ms=5000", kill: true,
			frontStatus: http.StatusBadGateway, queued: false, samePid: false},
		{name: "exec_ttl kills the request in front: the queued one runs on the replacement", pipeline: true,
			pool: "    supervisor:\n      exec_ttl: 500ms\n", front: "/sleep?ms=5000",
			frontStatus: http.StatusGatewayTimeout, queued: false, samePid: false},
		{name: "never behind the last job (max_jobs)", pipeline: true, pool: "    max_jobs: 1\n", front: "/sleep?ms=400",
			frontStatus: 200, queued: false, samePid: false},
		{name: "behind a job that is not the last (max_jobs)", pipeline: true, pool: "    max_jobs: 2\n", front: "/sleep?ms=400",
			frontStatus: 200, queued: true, samePid: true},
		{name: "never a large request (its write could block)", lifecycle: true, pipeline: true, front: "/sleep?ms=400",
			secondBody: 32 << 10, frontStatus: 200, queued: false, samePid: true},
		{name: "never behind a stream once it has started", pipeline: true, front: "/stream?chunks=5&delay_ms=100",
			frontStatus: 200, queued: false, samePid: true},
		{name: "behind a request the application fails (500): the worker stays", lifecycle: true, pipeline: true,
			front: "/sleep?ms=400&then=error", frontStatus: http.StatusInternalServerError, queued: true, samePid: true},
		{name: "the worker exits during the request in front: the queued one runs on the replacement", lifecycle: true, pipeline: true,
			front: "/sleep?ms=400&then=exit", frontStatus: http.StatusBadGateway, queued: false, samePid: false},
		{name: "behind a worker that answers and exits on its own: the queued request, unread, runs on the replacement", lifecycle: true, pipeline: true,
			front: "/sleep?ms=400&then=respond-exit", frontStatus: 200, queued: true, samePid: false},
		{name: "behind a request the worker declines (stop): it serves the queued one, then is replaced", lifecycle: true, pipeline: true,
			front: "/sleep?ms=400&then=stop&once=", frontStatus: 200, queued: true, samePid: true, frontRerun: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pivotYAML := "  pool:\n    num_workers: 1\n    allocate_timeout: 20s\n" + tc.pool
			if tc.pipeline {
				window := tc.window
				if window == "" {
					window = "10s"
				}
				// no pause: a slow request in front ends with the test's requests already queued
				pivotYAML = "  pipeline: true\n  pipeline_window: " + window + "\n  pipeline_pause_after: 1h\n" + pivotYAML
			}
			o := stackOptions{pivot: pivotYAML}
			if tc.lifecycle {
				o = newLifecycleScript(t).options(pivotYAML)
			}
			s := startStack(t, o)
			frontURL := s.base + tc.front
			if strings.HasSuffix(frontURL, "once=") {
				frontURL += url.QueryEscape(filepath.Join(t.TempDir(), "declined"))
			}
			front, pid := runningOnTheOnlyWorker(t, s, frontURL)
			var second <-chan answer
			if tc.secondBody > 0 {
				second = goPost(s.base+"/pid", bytes.Repeat([]byte("x"), tc.secondBody))
			} else {
				second = goGet(s.base + "/pid")
			}
			if tc.kill {
				time.Sleep(100 * time.Millisecond) // the second request is in the pipe by now
				if err := syscall.Kill(int(pid), syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			a := wait(t, front, "the request in front")
			b := wait(t, second, "the second request")
			if a.status != tc.frontStatus {
				t.Fatalf("the request in front got %d, want %d: %s", a.status, tc.frontStatus, a.body)
			}
			if b.status != 200 {
				t.Fatalf("the second request got %d: %s", b.status, b.body)
			}
			// a single worker: the second answer cannot come before the first (the two are
			// written to their clients by separate goroutines, microseconds apart)
			early, late, order := a.at, b.at, "the second request was answered before the one in front"
			if tc.frontRerun {
				early, late, order = b.at, a.at, "the declined request was answered before the queued one"
			}
			if late.Before(early.Add(-20 * time.Millisecond)) {
				t.Fatalf("%s (%s, %s) on a single worker", order, early.Format("05.000"), late.Format("05.000"))
			}
			if got := pidOf(t, b.body) == pid; got != tc.samePid {
				t.Fatalf("second request answered by pid %d, the first ran on %d: same worker %v, want %v", pidOf(t, b.body), pid, got, tc.samePid)
			}
			want := 0
			if tc.queued {
				want = 1
			}
			if n := pipelinedCount(t, s); n != want {
				t.Fatalf("rr_pivot_pipelined_requests_total = %d, want %d", n, want)
			}
			// the worker (or its replacement) serves on, with its slot free again
			if resp, body := testsupport.Do(t, "GET", s.base+"/pid", nil, nil); resp.StatusCode != 200 {
				t.Fatalf("afterwards: %d %s", resp.StatusCode, body)
			}
		})
	}
}

// Every answer must belong to its own request: clients on 2 workers send distinct queries and
// check the echo, with requests queued behind each other all the time.
func TestPipelinedAnswersReachTheirOwnRequests(t *testing.T) {
	// no pause: a request the race detector delays past pipeline_pause_after would stop queueing
	s := startStack(t, stackOptions{pivot: "  pipeline: true\n  pipeline_pause_after: 1h\n  pool:\n    num_workers: 2\n    allocate_timeout: 20s\n"})
	const clients, perClient = 12, 150
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				id := fmt.Sprintf("c%d-%d", c, i)
				resp, body, err := adapterDo("GET", s.base+"/query?id="+id, nil, nil)
				if err != nil {
					errs <- err
					return
				}
				if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"rawQuery":"id=`+id+`"`)) {
					errs <- fmt.Errorf("request %s got %d %s", id, resp.StatusCode, body)
					return
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := pipelinedCount(t, s)
	t.Logf("%d of %d requests waited in a busy worker's pipe", n, clients*perClient)
	if n == 0 {
		t.Fatal("12 clients on 2 workers queued no request behind a busy worker")
	}
}

// Under overload requests wait for a free worker and an owner offers its slot to the oldest of
// them. A request too large for a slot must not starve behind small ones that keep taking the
// slots: when it is the oldest, the slot stays free and the worker is released to it.
func TestPipelineUnderOverloadStarvesNoLargeRequest(t *testing.T) {
	ls := newLifecycleScript(t)
	s := startStack(t, ls.options("  pipeline: true\n  pipeline_window: 10s\n  pipeline_pause_after: 1h\n  pool:\n    num_workers: 1\n    allocate_timeout: 20s\n"))
	finish := startLoad(t, loadOptions{url: s.base + "/sleep?ms=20", concurrency: 4, maxRequests: 1_000_000, maxDuration: 20 * time.Second})
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	large := wait(t, goPost(s.base+"/pid", bytes.Repeat([]byte("x"), 32<<10)), "the large request")
	took := time.Since(start)
	res := finish()
	t.Logf("the large request took %s among 4 clients on 1 worker; load: %s; %d requests waited in the pipe",
		took.Round(time.Millisecond), res, pipelinedCount(t, s))
	if large.status != 200 {
		t.Fatalf("the large request got %d: %s", large.status, large.body)
	}
	// its turn comes after the requests ahead of it: a handful of 20 ms requests
	if took > 2*time.Second {
		t.Fatalf("the large request waited %s behind small ones taking the slots", took)
	}
	if res.failed.Load() != 0 || pipelinedCount(t, s) == 0 {
		t.Fatalf("the small requests must all succeed, some of them queued: %s", res)
	}
}

// A request that runs longer than pipeline_pause_after stops requests queueing for
// pipeline_pause; then they queue again. One worker: a request sent while it runs another
// either queues in its pipe (the metric counts it) or waits for it in the pool.
func TestPipelinePausesAfterASlowRequest(t *testing.T) {
	const pause = 3 * time.Second
	s := startStack(t, stackOptions{pivot: "  pipeline: true\n  pipeline_window: 10s\n" +
		"  pipeline_pause_after: 1s\n  pipeline_pause: " + pause.String() + "\n" +
		"  pool:\n    num_workers: 1\n    allocate_timeout: 20s\n"})
	// behindFront runs a request on the only worker and sends /pid while it runs; it returns
	// when both are answered, and when the one in front was.
	behindFront := func(front string) time.Time {
		t.Helper()
		f, pid := runningOnTheOnlyWorker(t, s, s.base+front)
		second := goGet(s.base + "/pid")
		a, b := wait(t, f, front), wait(t, second, "/pid behind "+front)
		if a.status != 200 || b.status != 200 || pidOf(t, b.body) != pid {
			t.Fatalf("%s: %d, then /pid: %d from pid %d (the only worker is %d)", front, a.status, b.status, pidOf(t, b.body), pid)
		}
		return a.at
	}
	steps := []struct {
		what, front string
		queued      int // rr_pivot_pipelined_requests_total after the step
		pauses      int
	}{
		{"before any slow request, a request queues behind a fast one", "/sleep?ms=300", 1, 0},
		{"it queues behind the first slow one too; that one's end pauses pipelining", "/sleep?ms=1500", 2, 1},
		{"paused: a request waits in the pool instead", "/sleep?ms=300", 2, 1},
		{"the pause over: requests queue again", "/sleep?ms=300", 3, 1},
	}
	var slowEnded time.Time
	for i, st := range steps {
		if i == 3 {
			time.Sleep(time.Until(slowEnded.Add(pause + 200*time.Millisecond)))
		}
		ended := behindFront(st.front)
		if i == 1 {
			slowEnded = ended
		}
		if i == 2 && time.Since(slowEnded) >= pause {
			t.Fatalf("step %q ran %s after the slow request: past the pause, it tests nothing", st.what, time.Since(slowEnded))
		}
		if q, p := pipelinedCount(t, s), pivotCounter(t, s, "rr_pivot_pipeline_pauses_total"); q != st.queued || p != st.pauses {
			t.Fatalf("%s: pipelined %d (want %d), pauses %d (want %d)", st.what, q, st.queued, p, st.pauses)
		}
	}
}
