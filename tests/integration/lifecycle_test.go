package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Lifecycle tests: zero-downtime reset, crash-loop recovery, health and readiness, the
// supervisor knobs, and chaos under load. Every load is bounded in count and time, on 127.0.0.1.

// lifecycleScript is a worker script in a temp dir that the tests can break and repair.
type lifecycleScript struct {
	t       *testing.T
	path    string
	dieFlag string
}

func newLifecycleScript(t *testing.T) *lifecycleScript {
	dir := t.TempDir()
	ls := &lifecycleScript{t: t, path: filepath.Join(dir, "worker.php"), dieFlag: filepath.Join(dir, "die")}
	ls.repair()
	return ls
}

func (ls *lifecycleScript) repair() {
	testsupport.WriteFile(ls.t, ls.path, fmt.Sprintf("<?php require %q;\n", testsupport.RepoPath(ls.t, "tests/integration/testdata/lifecycle-worker.php")))
}

// breakSyntax makes every new worker fail at boot, as a bad deploy would.
func (ls *lifecycleScript) breakSyntax() {
	testsupport.WriteFile(ls.t, ls.path, "<?php this is not php;\n")
}

// dieAfterBoot makes every new worker answer the handshake and exit at once.
func (ls *lifecycleScript) dieAfterBoot(on bool) {
	if on {
		testsupport.WriteFile(ls.t, ls.dieFlag, "1")
		return
	}
	_ = os.Remove(ls.dieFlag)
}

func (ls *lifecycleScript) options(pivotYAML string) stackOptions {
	return stackOptions{worker: ls.path, pivot: pivotYAML, env: map[string]string{"PIVOT_TEST_DIE_FLAG": ls.dieFlag}}
}

func pidOf(t testing.TB, body []byte) int64 {
	t.Helper()
	var m struct{ Pid int64 }
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return m.Pid
}

// pipelineVariants runs a lifecycle test as configured by default and with pivot.pipeline on
// (a 10 s window and no pause, so that the 2 ms requests queue behind each other as much as
// they can, a replacement's slow first request included); the pipelined run must have queued
// requests.
func pipelineVariants(t *testing.T, pool string, test func(t *testing.T, s *stack)) {
	for _, v := range []struct{ name, yaml string }{
		{"default", ""},
		{"pipeline", "  pipeline: true\n  pipeline_window: 10s\n  pipeline_pause_after: 1h\n"},
	} {
		t.Run(v.name, func(t *testing.T) {
			ls := newLifecycleScript(t)
			s := startStack(t, ls.options(v.yaml+pool))
			test(t, s)
			if v.yaml != "" {
				if n := pipelinedCount(t, s); n == 0 {
					t.Fatal("no request waited in a worker's pipe: the pipelined variant tested nothing more")
				} else {
					t.Logf("%d requests waited in a worker's pipe", n)
				}
			}
		})
	}
}

func TestResetUnderLoadFailsNoRequest(t *testing.T) {
	pipelineVariants(t, "  pool:\n    num_workers: 4\n    allocate_timeout: 10s\n", testResetUnderLoad)
}

func testResetUnderLoad(t *testing.T, s *stack) {
	c := s.rpcClient()

	finish := startLoad(t, loadOptions{url: s.base + "/sleep?ms=2", concurrency: 8, maxRequests: 2_000_000, maxDuration: soak(30 * time.Second)})

	resets := int(soak(5))
	start := time.Now()
	for i := 0; i < resets; i++ {
		time.Sleep(300 * time.Millisecond)
		before := s.pids()
		var ok bool
		if err := c.Call("resetter.Reset", "pivot", &ok); err != nil || !ok {
			t.Errorf("reset %d: %v", i, err)
		}
		checkReplaced(t, i, before, s.pids())
	}
	time.Sleep(300 * time.Millisecond)
	res := finish()
	t.Logf("%d resets in %s under load: %s", resets, time.Since(start).Round(time.Millisecond), res)
	if res.failed.Load() != 0 || res.refused.Load() != 0 || res.ok.Load() < 100 {
		t.Fatalf("a reset under load must fail no request: %s", res)
	}
}

func TestConcurrentResetIsRefused(t *testing.T) {
	ls := newLifecycleScript(t)
	o := ls.options("  pool:\n    num_workers: 2\n")
	o.env["PIVOT_TEST_BOOT_DELAY_MS"] = "800" // a reset takes ~0.8 s
	s := startStack(t, o)
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() { errs <- s.pivot.Reset() }()
		time.Sleep(100 * time.Millisecond)
	}
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) {
		t.Fatalf("exactly one of two overlapping resets must be refused: %v / %v", e1, e2)
	}
	refused := e1
	if refused == nil {
		refused = e2
	}
	if !strings.Contains(refused.Error(), "a reset is already in progress") {
		t.Fatalf("the refusal must say why: %v", refused)
	}
}

func TestResetWithBrokenScriptKeepsServing(t *testing.T) {
	ls := newLifecycleScript(t)
	s := startStack(t, ls.options("  pool:\n    num_workers: 2\n    allocate_timeout: 5s\n"))
	before := s.pids()
	ls.breakSyntax()
	err := s.pivot.Reset()
	if err == nil || !strings.Contains(err.Error(), "the current workers keep serving") {
		t.Fatalf("a reset to a broken script must fail and say the old workers keep serving: %v", err)
	}
	if resp, body := testsupport.Do(t, "GET", s.base+"/", nil, nil); resp.StatusCode != 200 || fmt.Sprint(s.pids()) != fmt.Sprint(before) {
		t.Fatalf("after the failed reset: %d %s, pids %v -> %v", resp.StatusCode, body, before, s.pids())
	}
	ls.repair()
	if err := s.pivot.Reset(); err != nil {
		t.Fatalf("reset after the repair: %v", err)
	}
	if resp, _ := testsupport.Do(t, "GET", s.base+"/", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("after the repaired reset: %d", resp.StatusCode)
	}
}

func TestBootFailureGivesFast503ThenRecovers(t *testing.T) {
	ls := newLifecycleScript(t)
	ls.breakSyntax()
	o := ls.options("  restart:\n    initial_backoff: 100ms\n    max_backoff: 400ms\n  pool:\n    num_workers: 2\n    allocate_timeout: 10s\n")
	o.noWait = true
	s := startStack(t, o)

	for i := 0; i < 5; i++ {
		start := time.Now()
		resp, body := testsupport.Do(t, "GET", s.base+"/", nil, nil)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("while workers cannot boot: %d %v %s", resp.StatusCode, resp.Header, body)
		}
		if d := time.Since(start); d > 300*time.Millisecond {
			t.Fatalf("the 503 took %s; it must not wait for allocate_timeout", d)
		}
	}
	var readyBody string
	testsupport.WaitFor(t, 10*time.Second, "/ready to report why", func() bool {
		resp, body := testsupport.Do(t, "GET", s.health+"/ready?plugin=pivot", nil, nil)
		readyBody = string(body)
		return resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(readyBody, "workers cannot start")
	})
	t.Logf("/ready said: %s", strings.TrimSpace(readyBody))

	ls.repair()
	testsupport.WaitFor(t, 10*time.Second, "recovery after the repair", func() bool {
		resp, _ := testsupport.Do(t, "GET", s.base+"/", nil, nil)
		return resp.StatusCode == 200
	})
	if resp, body := testsupport.Do(t, "GET", s.health+"/ready?plugin=pivot", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("/ready after recovery: %d %s", resp.StatusCode, body)
	}
	_, metrics := testsupport.Do(t, "GET", s.metrics+"/metrics", nil, nil)
	if !strings.Contains(string(metrics), "rr_pivot_restart_failures_total") {
		t.Fatalf("restart failures are not exported")
	}
}

func TestCrashLoopAtRunTimeIsDetectedAndRecovers(t *testing.T) {
	cases := []struct {
		name    string
		breakIt func(ls *lifecycleScript)
		fix     func(ls *lifecycleScript)
	}{
		{"workers cannot boot any more", (*lifecycleScript).breakSyntax, (*lifecycleScript).repair},
		{"workers die right after booting", func(ls *lifecycleScript) { ls.dieAfterBoot(true) }, func(ls *lifecycleScript) { ls.dieAfterBoot(false) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ls := newLifecycleScript(t)
			s := startStack(t, ls.options("  restart:\n    initial_backoff: 100ms\n    max_backoff: 500ms\n    crash_window: 5s\n  pool:\n    num_workers: 2\n    allocate_timeout: 30s\n"))
			tc.breakIt(ls)
			for _, pid := range s.pids() {
				_ = syscall.Kill(int(pid), syscall.SIGKILL)
			}
			start := time.Now()
			// requests may get a 503 before the supervisor calls it a crash loop (a request that
			// no dying worker ever read goes to the next one, until the hand-overs run out):
			// wait for /health to say so, then check that the front answers a fast 503
			var health string
			testsupport.WaitFor(t, 15*time.Second, "the crash loop to be detected (/health 503)", func() bool {
				resp, body := testsupport.Do(t, "GET", s.health+"/health?plugin=pivot", nil, nil)
				health = string(body)
				return resp.StatusCode == http.StatusServiceUnavailable
			})
			t.Logf("crash loop detected after %s; /health said: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(health))
			reqStart := time.Now()
			resp, body := testsupport.Do(t, "GET", s.base+"/", nil, nil)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("a request during the crash loop: %d (Retry-After %q) %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
			if d := time.Since(reqStart); d > 2*time.Second {
				t.Fatalf("the 503 during the crash loop took %s", d)
			}

			tc.fix(ls)
			start = time.Now()
			testsupport.WaitFor(t, 15*time.Second, "recovery after the fix", func() bool {
				resp, _ := testsupport.Do(t, "GET", s.base+"/", nil, nil)
				return resp.StatusCode == 200
			})
			t.Logf("recovered %s after the fix", time.Since(start).Round(time.Millisecond))
		})
	}
}

func TestKilledWorkersUnderLoadFailOnlyTheirRequests(t *testing.T) {
	pipelineVariants(t, "  pool:\n    num_workers: 4\n    allocate_timeout: 10s\n", testKilledWorkersUnderLoad)
}

// A request queued behind a killed worker's runs on another worker: with pivot.pipeline too, a
// kill fails at most the one request the worker was running.
func testKilledWorkersUnderLoad(t *testing.T, s *stack) {
	// 8 clients on 4 workers keep every worker busy: a kill hits at most one request
	finish := startLoad(t, loadOptions{url: s.base + "/sleep?ms=20", concurrency: 8, maxRequests: 1_000_000, maxDuration: soak(30 * time.Second)})
	kills := int64(soak(4))
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for i := int64(0); i < kills; i++ {
		time.Sleep(500 * time.Millisecond)
		pids := s.pids()
		if len(pids) == 0 {
			t.Fatal("no workers")
		}
		victim := pids[rng.Intn(len(pids))]
		if err := syscall.Kill(int(victim), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(700 * time.Millisecond)
	res := finish()
	t.Logf("%d SIGKILLs under load: %s", kills, res)
	if res.failed.Load() > kills || res.ok.Load() < 100 {
		t.Fatalf("at most the %d requests running on killed workers may fail: %s", kills, res)
	}
	for status := range res.statuses {
		if status != 200 && status != http.StatusBadGateway {
			t.Fatalf("a killed worker's request must get 502, saw %d: %s", status, res)
		}
	}
	testsupport.WaitFor(t, 10*time.Second, "4 workers again", func() bool { return len(s.pids()) == 4 })
}

func TestSupervisorKnobs(t *testing.T) {
	t.Run("max_jobs replaces a worker after N requests", func(t *testing.T) {
		ls := newLifecycleScript(t)
		s := startStack(t, ls.options("  pool:\n    num_workers: 1\n    max_jobs: 3\n"))
		var pids []int64
		for i := 0; i < 7; i++ {
			_, body := testsupport.Do(t, "GET", s.base+"/", nil, nil)
			pids = append(pids, pidOf(t, body))
		}
		if pids[0] != pids[2] || pids[2] == pids[3] || pids[3] != pids[5] || pids[5] == pids[6] {
			t.Fatalf("pids per request with max_jobs 3: %v", pids)
		}
	})
	t.Run("ttl replaces an old worker", func(t *testing.T) {
		ls := newLifecycleScript(t)
		s := startStack(t, ls.options("  pool:\n    num_workers: 1\n    supervisor:\n      watch_tick: 200ms\n      ttl: 1s\n"))
		_, body := testsupport.Do(t, "GET", s.base+"/", nil, nil)
		first := pidOf(t, body)
		testsupport.WaitFor(t, 10*time.Second, "the ttl replacement", func() bool {
			_, body := testsupport.Do(t, "GET", s.base+"/", nil, nil)
			return pidOf(t, body) != first
		})
	})
	t.Run("idle_ttl replaces an idle worker", func(t *testing.T) {
		ls := newLifecycleScript(t)
		s := startStack(t, ls.options("  pool:\n    num_workers: 1\n    supervisor:\n      watch_tick: 200ms\n      idle_ttl: 1s\n"))
		_, body := testsupport.Do(t, "GET", s.base+"/", nil, nil)
		first := pidOf(t, body)
		testsupport.WaitFor(t, 10*time.Second, "the idle worker to be replaced", func() bool {
			p := s.pids()
			return len(p) == 1 && p[0] != first
		})
	})
	t.Run("max_worker_memory replaces a leaking worker", func(t *testing.T) {
		ls := newLifecycleScript(t)
		s := startStack(t, ls.options("  pool:\n    num_workers: 1\n    supervisor:\n      watch_tick: 200ms\n      max_worker_memory: 40\n"))
		resp, body := testsupport.Do(t, "GET", s.base+"/leak?mb=64", nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("the leaking request itself must succeed: %d %s", resp.StatusCode, body)
		}
		leaker := pidOf(t, body)
		testsupport.WaitFor(t, 10*time.Second, "the leaking worker to be replaced", func() bool {
			p := s.pids()
			return len(p) == 1 && p[0] != leaker
		})
		if resp, _ := testsupport.Do(t, "GET", s.base+"/", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("after the replacement: %d", resp.StatusCode)
		}
	})
	t.Run("exec_ttl kills a slow request with 504 and replaces the worker", func(t *testing.T) {
		ls := newLifecycleScript(t)
		s := startStack(t, ls.options("  pool:\n    num_workers: 1\n    allocate_timeout: 10s\n    supervisor:\n      watch_tick: 200ms\n      exec_ttl: 500ms\n"))
		before := s.pids()
		start := time.Now()
		resp, body := testsupport.Do(t, "GET", s.base+"/sleep?ms=5000", nil, nil)
		if resp.StatusCode != http.StatusGatewayTimeout {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("the 504 took %s", d)
		}
		testsupport.WaitFor(t, 10*time.Second, "the killed worker to be replaced", func() bool {
			p := s.pids()
			return len(p) == 1 && p[0] != before[0]
		})
		if resp, _ := testsupport.Do(t, "GET", s.base+"/sleep?ms=10", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("after exec_ttl: %d", resp.StatusCode)
		}
	})
}

func TestScaleWorkersAtRunTime(t *testing.T) {
	ls := newLifecycleScript(t)
	s := startStack(t, ls.options("  pool:\n    num_workers: 2\n"))
	c := s.rpcClient()
	var ok bool
	for i := 0; i < 2; i++ {
		if err := c.Call("informer.AddWorker", "pivot", &ok); err != nil {
			t.Fatal(err)
		}
	}
	testsupport.WaitFor(t, 10*time.Second, "4 workers", func() bool { return len(s.pids()) == 4 })
	if err := c.Call("informer.RemoveWorker", "pivot", &ok); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, 10*time.Second, "3 workers", func() bool { return len(s.pids()) == 3 })
	// the size chosen at run time survives a reset
	if err := s.pivot.Reset(); err != nil {
		t.Fatal(err)
	}
	if n := len(s.pids()); n != 3 {
		t.Fatalf("after a reset: %d workers, want 3", n)
	}
	states := s.pivot.Workers()
	for _, st := range states {
		if st.StatusStr == "" || st.Pid == 0 || st.Created == 0 {
			t.Fatalf("worker state %+v", st)
		}
	}
}

// A pool that replaces its workers all the time while serving (max_jobs: 1, or the PHP
// WorkerManager's max_requests) is healthy: the crash-loop detector must not fire.
func TestFastRecyclingIsNotACrashLoop(t *testing.T) {
	ls := newLifecycleScript(t)
	s := startStack(t, ls.options("  restart:\n    crash_window: 5s\n  pool:\n    num_workers: 2\n    max_jobs: 1\n    allocate_timeout: 20s\n"))
	res := runLoad(t, loadOptions{url: s.base + "/", concurrency: 4, maxRequests: 400, maxDuration: soak(4 * time.Second)})
	t.Logf("max_jobs 1 under load: %s", res)
	if res.failed.Load() != 0 || res.ok.Load() == 0 {
		t.Fatalf("a recycling pool was treated as failing: %s", res)
	}
	testsupport.WaitFor(t, 10*time.Second, "2 workers after the load", func() bool { return len(s.pids()) == 2 })
	if resp, _ := testsupport.Do(t, "GET", s.base+"/", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("after the load: %d", resp.StatusCode)
	}
}

func TestNotReadyWhileDrainingAndInFlightRequestsFinish(t *testing.T) {
	ls := newLifecycleScript(t)
	s := startStack(t, ls.options("  shutdown_timeout: 10s\n  pool:\n    num_workers: 2\n"))
	type result struct {
		status int
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := testsupport.Client.Get(s.base + "/sleep?ms=1500") //nolint:noctx
		if err != nil {
			slow <- result{err: err}
			return
		}
		_ = resp.Body.Close()
		slow <- result{status: resp.StatusCode}
	}()
	time.Sleep(300 * time.Millisecond)
	stopped := make(chan struct{})
	go func() {
		s.stop()
		close(stopped)
	}()
	testsupport.WaitFor(t, 5*time.Second, "/ready to say draining", func() bool {
		_, err := s.pivot.Ready()
		return err != nil && strings.Contains(err.Error(), "draining")
	})
	r := <-slow
	if r.err != nil || r.status != 200 {
		t.Fatalf("the request in flight at stop: %d %v", r.status, r.err)
	}
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("the container did not stop")
	}
}

// A connection that never sent a byte (a browser's preconnect, an extra dial Go's client parked)
// must not hold the drain until read_header_timeout: it is closed once silent for 5 s, as
// net/http does. A connection that has started its request head is still waited for and served.
func TestDrainClosesSilentConnectionsAndServesStartedOnes(t *testing.T) {
	s := startStack(t, stackOptions{pivot: "  shutdown_timeout: 9s\n  read_header_timeout: 30s\n  pool:\n    num_workers: 1\n"})
	addr := strings.TrimPrefix(s.base, "http://")
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = silent.Close() }()
	started, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = started.Close() }()
	if _, err := io.WriteString(started, "GET / HTTP/1.1\r\nHost: pivot\r\n"); err != nil {
		t.Fatal(err)
	}

	stopped := make(chan struct{})
	go func() {
		s.stop() // fails the test if pivot.shutdown_timeout is reached
		close(stopped)
	}()

	_ = silent.SetReadDeadline(time.Now().Add(8 * time.Second))
	n, err := silent.Read(make([]byte, 64))
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("silent connection during the drain: read %d bytes, %v; want it closed without an answer", n, err)
	}

	if _, err := io.WriteString(started, "\r\n"); err != nil {
		t.Fatalf("the started connection was closed by the drain: %v", err)
	}
	_ = started.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(started), nil)
	if err != nil {
		t.Fatalf("the started connection got no answer: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Fatalf("the started request during the drain: %d, Connection: close %v; want 200 and close", resp.StatusCode, resp.Close)
	}
	select {
	case <-stopped:
	case <-time.After(9 * time.Second):
		t.Fatal("the container did not stop")
	}
}

// Each reset retires a generation; nothing of it may stay behind (the sdk's static pool leaked
// its supervisor goroutine on every destroy).
func TestResetsLeakNoGoroutines(t *testing.T) {
	ls := newLifecycleScript(t)
	s := startStack(t, ls.options("  pool:\n    num_workers: 2\n    supervisor:\n      watch_tick: 100ms\n      max_worker_memory: 512\n"))
	if err := s.pivot.Reset(); err != nil { // warm up: first-use goroutines
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	before := runtime.NumGoroutine()
	for i := 0; i < 10; i++ {
		if err := s.pivot.Reset(); err != nil {
			t.Fatal(err)
		}
	}
	var after int
	testsupport.WaitFor(t, 10*time.Second, "goroutines to settle", func() bool {
		after = runtime.NumGoroutine()
		return after <= before+3
	})
	t.Logf("goroutines: %d before 10 resets, %d after", before, after)
}

// A client that leaves in the middle of a stream: the worker gets the STOP bit, ends its
// stream and serves the next request.
func TestStreamCancelledByTheClientFreesTheWorker(t *testing.T) {
	s := startStack(t, stackOptions{pivot: "  pool:\n    num_workers: 1\n    allocate_timeout: 10s\n"})
	pid := s.pids()[0]
	resp, err := testsupport.Client.Get(s.base + "/stream?chunks=50&delay_ms=50") //nolint:noctx
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if _, err = io.ReadFull(resp.Body, buf); err != nil || string(buf) != "chunk 0\n" {
		t.Fatalf("first chunk %q: %v", buf, err)
	}
	_ = resp.Body.Close() // the client goes away after the first chunk
	start := time.Now()
	resp2, body := testsupport.Do(t, "GET", s.base+"/pid", nil, nil)
	if resp2.StatusCode != 200 || pidOf(t, body) != pid {
		t.Fatalf("after the cancelled stream: %d %s (want pid %d)", resp2.StatusCode, body, pid)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("the worker was freed only after %s: the stream was not stopped", d)
	}
}

func TestMaxConsecutiveFailuresStopsRoadRunner(t *testing.T) {
	ls := newLifecycleScript(t)
	ls.breakSyntax()
	o := ls.options("  restart:\n    initial_backoff: 50ms\n    max_backoff: 100ms\n    max_consecutive_failures: 3\n  pool:\n    num_workers: 1\n    allocate_timeout: 5s\n")
	o.noWait = true
	s := startStack(t, o)
	select {
	case r := <-s.errs:
		if r.Error == nil || !strings.Contains(r.Error.Error(), "pivot.restart.max_consecutive_failures") || !strings.Contains(r.Error.Error(), "3 times") {
			t.Fatalf("the error must name the limit: %v", r.Error)
		}
		t.Logf("RoadRunner stops with: %v", r.Error)
	case <-time.After(20 * time.Second):
		t.Fatal("max_consecutive_failures did not stop RoadRunner")
	}
}

// A worker script that recycles itself by leaving its loop after a response may be handed the
// next request as it exits. That request was never read: it runs on the replacement instead
// of failing (the write finds the pipe closed, or the pipe still holds the request unread).
func TestWorkerThatExitsBetweenRequestsFailsNoRequest(t *testing.T) {
	ls := newLifecycleScript(t)
	s := startStack(t, ls.options("  pool:\n    num_workers: 1\n    allocate_timeout: 20s\n"))
	pids := map[int64]bool{}
	for i := 0; i < 10; i++ {
		resp, body := testsupport.Do(t, "GET", s.base+"/sleep?then=respond-exit", nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("round %d, the exiting worker's own request: %d %s", i, resp.StatusCode, body)
		}
		pids[pidOf(t, body)] = true
		resp, body = testsupport.Do(t, "GET", s.base+"/pid", nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("round %d, the request right after: %d %s", i, resp.StatusCode, body)
		}
		pids[pidOf(t, body)] = true
	}
	if len(pids) < 10 {
		t.Fatalf("each exit must bring a new worker: %d pids over 10 exits", len(pids))
	}
}
