package integration

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/roadrunner-server/boltdb/v4"
	"github.com/roadrunner-server/informer/v4"
	"github.com/roadrunner-server/jobs/v4"
	"github.com/roadrunner-server/kv/v4"
	"github.com/roadrunner-server/memcached/v4"
	"github.com/roadrunner-server/memory/v4"
	"github.com/roadrunner-server/redis/v4"
)

// End-to-end tests of the PHP jobs, KV and metrics clients (php/src/{Rpc,Jobs,KV,Metrics})
// through examples/jobs/worker.php in the real plugin graph: pivot serves the HTTP routes
// (RR_MODE=http), the jobs plugin runs the consumer (RR_MODE=jobs) on real memory and boltdb
// pipelines, and KV goes to real memory, boltdb, redis-server and memcached storages.

// jobsStack is the example app in a container, with the files its test jobs write.
type jobsStack struct {
	*stack
	state string // JOBS_STATE_DIR: deliveries.log, done.log, holding/<pid>, flaky.log
	dir   string
}

type jobsStackOptions struct {
	jobsWorkers int
	redis       *testsupport.Service
	memcached   *testsupport.Service
	env         map[string]string
}

func startJobsStack(t *testing.T, o jobsStackOptions) *jobsStack {
	t.Helper()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if o.jobsWorkers == 0 {
		o.jobsWorkers = 4
	}
	env := map[string]string{
		"JOBS_STATE_DIR":       state,
		"PIVOT_JOBS_DIR":       filepath.Join(dir, "consumer"),
		"JOBS_RESULTS_STORAGE": "memory",
		"JOBS_PIPELINE":        "mem",
	}
	for k, v := range o.env {
		env[k] = v
	}

	var extra strings.Builder
	fmt.Fprintf(&extra, `jobs:
  num_pollers: %d
  pool:
    num_workers: %d
    allocate_timeout: 20s
    destroy_timeout: 10s
  consume: ["mem", "bolt", "bolt2"]
  pipelines:
    mem:
      driver: memory
      config:
        priority: 10
        prefetch: 100000
    bolt:
      driver: boltdb
      config:
        file: %s
        priority: 10
        prefetch: 100000
    bolt2:
      driver: boltdb
      config:
        file: %s
        priority: 10
        prefetch: 100000
kv:
  memory:
    driver: memory
    config:
      interval: 1
  boltdb:
    driver: boltdb
    config:
      file: %s
      interval: 1
`, o.jobsWorkers+2, o.jobsWorkers, filepath.Join(dir, "jobs.db"), filepath.Join(dir, "jobs2.db"), filepath.Join(dir, "kv.db"))
	if o.redis != nil {
		fmt.Fprintf(&extra, "  redis:\n    driver: redis\n    config:\n      addrs: [%q]\n", o.redis.Addr)
	}
	if o.memcached != nil {
		fmt.Fprintf(&extra, "  memcached:\n    driver: memcached\n    config:\n      addr: [%q]\n", o.memcached.Addr)
	}

	s := startStack(t, stackOptions{
		worker: testsupport.RepoPath(t, "examples/jobs/worker.php"),
		pivot:  "  pool:\n    num_workers: 4\n    allocate_timeout: 10s\n    destroy_timeout: 10s\n",
		env:    env,
		extra:  extra.String(),
		plugins: []any{&jobs.Plugin{}, &memory.Plugin{}, &boltdb.Plugin{}, &kv.Plugin{},
			&redis.Plugin{}, &memcached.Plugin{}},
	})
	return &jobsStack{stack: s, state: state, dir: dir}
}

// dispatch POSTs a job to the example app and returns its id.
func (s *jobsStack) dispatch(t testing.TB, pipeline, name, id string, payload any) string {
	t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("%s/jobs/dispatch?pipeline=%s&name=%s", s.base, pipeline, name)
	if id != "" {
		url += "&id=" + id
	}
	resp, b := testsupport.Do(t, http.MethodPost, url, bytes.NewReader(body), http.Header{"Content-Type": {"application/json"}})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("dispatch %s to %s: %d %s", name, pipeline, resp.StatusCode, b)
	}
	var out struct{ ID string }
	if err := json.Unmarshal(b, &out); err != nil || out.ID == "" {
		t.Fatalf("dispatch answer %s: %v", b, err)
	}
	return out.ID
}

// lines reads a state file written by the test jobs ("" lines dropped; missing file = none).
func (s *jobsStack) lines(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(s.state, name))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, line)
		}
	}
	return out
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestJobsDigestExample is the example's own flow: an HTTP route dispatches a job, the
// consumer digests the text and stores the result in KV, another route reads it.
func TestJobsDigestExample(t *testing.T) {
	s := startJobsStack(t, jobsStackOptions{})
	for _, pipeline := range []string{"mem", "bolt"} {
		t.Run(pipeline, func(t *testing.T) {
			text := "hello jobs world, " + pipeline
			resp, b := testsupport.Do(t, http.MethodPost, s.base+"/jobs/digest?pipeline="+pipeline, strings.NewReader(text), nil)
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("digest: %d %s", resp.StatusCode, b)
			}
			var accepted struct{ ID, Result string }
			if err := json.Unmarshal(b, &accepted); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			var result struct {
				ID, Sha256      string
				Bytes, Words    int
				Worker, Attempt int
			}
			testsupport.WaitFor(t, 10*time.Second, "the digest result in KV", func() bool {
				resp, b := testsupport.Do(t, http.MethodGet, s.base+accepted.Result, nil, nil)
				if resp.StatusCode == http.StatusOK {
					return json.Unmarshal(b, &result) == nil
				}
				if resp.StatusCode != http.StatusNotFound {
					t.Fatalf("result: %d %s", resp.StatusCode, b)
				}
				return false
			})
			if result.ID != accepted.ID || result.Sha256 != sha256Hex([]byte(text)) || result.Bytes != len(text) ||
				result.Words != 4 || result.Attempt != 1 || result.Worker == 0 {
				t.Fatalf("unexpected result %+v for %q", result, text)
			}
			t.Logf("%s: dispatched over HTTP, consumed, result read back from KV in %s", pipeline, time.Since(start).Round(time.Millisecond))
		})
	}
}

// jobsWorkerPids lists the jobs plugin's workers through the informer RPC (what `rr workers`
// shows).
func (s *jobsStack) jobsWorkerPids(t testing.TB) []int64 {
	t.Helper()
	var wl informer.WorkerList
	if err := s.rpcClient().Call("informer.Workers", "jobs", &wl); err != nil {
		t.Fatalf("informer.Workers jobs: %v", err)
	}
	pids := make([]int64, 0, len(wl.Workers))
	for _, w := range wl.Workers {
		pids = append(pids, w.Pid)
	}
	sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })
	return pids
}

// killer SIGKILLs the worker that holds one of the chosen jobs (holding/<pid> names the job
// a worker is parked in), once per job, and records what it killed.
type killer struct {
	dir    string
	target map[string]bool
	mu     sync.Mutex
	killed map[string]int // job id -> pid
	stop   chan struct{}
	done   chan struct{}
}

func startKiller(t *testing.T, holdingDir string, jobIDs []string) *killer {
	k := &killer{dir: holdingDir, target: map[string]bool{}, killed: map[string]int{},
		stop: make(chan struct{}), done: make(chan struct{})}
	for _, id := range jobIDs {
		k.target[id] = true
	}
	go func() {
		defer close(k.done)
		for {
			select {
			case <-k.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			entries, _ := os.ReadDir(k.dir)
			for _, e := range entries {
				pid, err := strconv.Atoi(e.Name())
				if err != nil {
					continue
				}
				b, err := os.ReadFile(filepath.Join(k.dir, e.Name()))
				id := strings.TrimSpace(string(b))
				if err != nil || !k.target[id] {
					continue
				}
				k.mu.Lock()
				_, seen := k.killed[id]
				if !seen {
					k.killed[id] = pid
				}
				k.mu.Unlock()
				if !seen {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	}()
	t.Cleanup(k.close)
	return k
}

func (k *killer) close() {
	select {
	case <-k.stop:
	default:
		close(k.stop)
	}
	<-k.done
}

func (k *killer) victims() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(map[string]int, len(k.killed))
	for id, pid := range k.killed {
		out[id] = pid
	}
	return out
}

// TestJobsExactlyOnceUnderKills dispatches jobs over HTTP (one POST per job, 8 clients at a
// time) while consumer workers are SIGKILLed in the middle of a job, and checks that every
// job completed exactly once: no job lost, none completed twice, and only the killed jobs
// were delivered a second time.
//
// memory: RoadRunner 2023.3's memory driver drops the job of a dead worker (Nack = drop);
// the consumer's in-flight journal re-dispatches it from the replacement worker.
// boltdb: the driver puts a nacked job back itself. Its listener moves one job every 500 ms
// (2 jobs/s), hence the smaller run.
func TestJobsExactlyOnceUnderKills(t *testing.T) {
	cases := []struct {
		pipeline string
		jobs     int
		kills    int
		timeout  time.Duration
	}{
		{"mem", 1000, 5, 30 * time.Second},
		{"bolt", 16, 2, 30 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.pipeline, func(t *testing.T) {
			s := startJobsStack(t, jobsStackOptions{jobsWorkers: 4})
			ids := make([]string, tc.jobs)
			for i := range ids {
				ids[i] = fmt.Sprintf("%s-%04d", tc.pipeline, i)
			}
			var victims []string
			for i := 1; i <= tc.kills; i++ {
				victims = append(victims, ids[i*tc.jobs/(tc.kills+1)])
			}
			isVictim := map[string]bool{}
			for _, id := range victims {
				isVictim[id] = true
			}
			k := startKiller(t, filepath.Join(s.state, "holding"), victims)
			before := s.jobsWorkerPids(t)

			start := time.Now()
			work := make(chan string)
			var wg sync.WaitGroup
			for c := 0; c < 8; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for id := range work {
						payload := map[string]int{}
						if isVictim[id] {
							payload["hold_ms"] = 1500 // long enough to be found and killed
						}
						s.dispatch(t, tc.pipeline, "record", id, payload)
					}
				}()
			}
			for _, id := range ids {
				work <- id
			}
			close(work)
			wg.Wait()
			dispatched := time.Since(start)

			for deadline := time.Now().Add(tc.timeout); len(s.lines(t, "done.log")) < tc.jobs || len(k.victims()) < tc.kills; {
				if time.Now().After(deadline) {
					done := map[string]bool{}
					for _, id := range s.lines(t, "done.log") {
						done[id] = true
					}
					var missing []string
					for _, id := range ids {
						if !done[id] {
							missing = append(missing, id)
						}
					}
					t.Fatalf("after %s: %d of %d jobs completed, %d workers killed (%v); missing %d: %.20v",
						tc.timeout, len(done), tc.jobs, len(k.victims()), k.victims(), len(missing), missing)
				}
				time.Sleep(20 * time.Millisecond)
			}
			consumed := time.Since(start)
			time.Sleep(300 * time.Millisecond) // a late duplicate would show up now

			killed := k.victims()
			if len(killed) != tc.kills {
				t.Fatalf("killed %d workers, want %d: %v", len(killed), tc.kills, killed)
			}
			done := map[string]int{}
			for _, id := range s.lines(t, "done.log") {
				done[id]++
			}
			deliveries := map[string]int{}
			for _, line := range s.lines(t, "deliveries.log") {
				deliveries[strings.Fields(line)[0]]++
			}
			for _, id := range ids {
				want := 1
				if isVictim[id] {
					want = 2 // killed mid-job, then delivered again
				}
				if done[id] != 1 || deliveries[id] != want {
					t.Errorf("job %s: completed %d times (want 1), delivered %d times (want %d)", id, done[id], deliveries[id], want)
				}
			}
			if len(done) != tc.jobs {
				t.Errorf("%d distinct jobs completed, want %d", len(done), tc.jobs)
			}
			if dup := s.lines(t, "duplicates.log"); len(dup) != 0 {
				t.Errorf("jobs delivered again after completing: %v", dup)
			}
			after := s.jobsWorkerPids(t)
			if len(after) != len(before) {
				t.Errorf("jobs workers: %d before, %d after the kills", len(before), len(after))
			}
			for _, pid := range killed {
				for _, p := range after {
					if p == int64(pid) {
						t.Errorf("killed worker %d is still listed", pid)
					}
				}
			}
			t.Logf("%s: %d jobs dispatched over HTTP in %s (%.0f jobs/s), all consumed after %s (%.0f jobs/s); "+
				"%d workers SIGKILLed mid-job, their jobs redelivered once; every job completed exactly once",
				tc.pipeline, tc.jobs, dispatched.Round(time.Millisecond), float64(tc.jobs)/dispatched.Seconds(),
				consumed.Round(time.Millisecond), float64(tc.jobs)/consumed.Seconds(), len(killed))
		})
	}
}

// flakyAttempts returns the attempt numbers and start times the flaky job logged for id.
func flakyAttempts(t testing.TB, s *jobsStack, id string) ([]int, []time.Time) {
	var attempts []int
	var times []time.Time
	for _, line := range s.lines(t, "flaky.log") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != id {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		sec, _ := strconv.ParseFloat(f[2], 64)
		attempts = append(attempts, n)
		times = append(times, time.Unix(0, int64(sec*1e9)))
	}
	return attempts, times
}

// TestJobsRetries: a job that throws is requeued with the retry policy's delay (2 s for the
// flaky job) and numbered attempt 1, 2, 3…; after the last attempt (5) it is given up.
// boltdb loses job headers, so its attempts are counted by the consumer's attempt store, and
// a burst of boltdb retries is spread over distinct due seconds so none is overwritten.
func TestJobsRetries(t *testing.T) {
	const delay = 2 * time.Second
	s := startJobsStack(t, jobsStackOptions{env: map[string]string{"JOBS_FLAKY_DELAY": "2"}})
	cases := []struct {
		name, pipeline string
		failTimes      int
		attempts       int
		minGap, maxGap time.Duration
	}{
		// memory sleeps exactly the delay before re-pushing.
		{"mem retried after its delay", "mem", 2, 3, delay, delay + 500*time.Millisecond},
		// boltdb keys delayed jobs by the second (RFC 3339) and polls them every second.
		{"bolt retried after its delay", "bolt", 2, 3, delay - time.Second, delay + 1500*time.Millisecond},
		{"mem gives up after 5 attempts", "mem", 99, 5, delay, delay + 500*time.Millisecond},
		// A burst of failures on another boltdb pipeline: boltdb files delayed jobs by their
		// due second and two in the same second overwrite each other (one is lost). The
		// consumer spreads them over distinct seconds (DelaySlots): none is lost, each waits
		// at least its delay, a few seconds more in a burst.
		{"bolt burst 1 not lost", "bolt2", 1, 2, delay - time.Second, 4*delay + time.Second},
		{"bolt burst 2 not lost", "bolt2", 1, 2, delay - time.Second, 4*delay + time.Second},
		{"bolt burst 3 not lost", "bolt2", 1, 2, delay - time.Second, 4*delay + time.Second},
	}
	ids := make([]string, len(cases))
	for i, tc := range cases {
		ids[i] = s.dispatch(t, tc.pipeline, "flaky", "", map[string]int{"fail_times": tc.failTimes})
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var waiting []string
		for i, tc := range cases {
			if a, _ := flakyAttempts(t, s, ids[i]); len(a) < tc.attempts {
				waiting = append(waiting, fmt.Sprintf("%s: attempts %v of %d", tc.name, a, tc.attempts))
			}
		}
		if len(waiting) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s, jobs still short of their last attempt (lost?): %s", strings.Join(waiting, "; "))
		}
	}
	time.Sleep(delay + time.Second) // no attempt beyond the last one

	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			attempts, times := flakyAttempts(t, s, ids[i])
			want := make([]int, tc.attempts)
			for n := range want {
				want[n] = n + 1
			}
			if fmt.Sprint(attempts) != fmt.Sprint(want) {
				t.Fatalf("attempts %v, want %v", attempts, want)
			}
			var gaps []string
			for n := 1; n < len(times); n++ {
				gap := times[n].Sub(times[n-1])
				gaps = append(gaps, gap.Round(time.Millisecond).String())
				if gap < tc.minGap || gap > tc.maxGap {
					t.Errorf("retry %d came %s after the failure, want %s..%s", n, gap, tc.minGap, tc.maxGap)
				}
			}
			t.Logf("%s: attempts %v, measured retry delays %s (policy: %s)", tc.pipeline, attempts, strings.Join(gaps, ", "), delay)
		})
	}
}

// TestJobsUnknownJobKeepsWorker: a job no handler is registered for is failed with a clear
// message (RoadRunner logs it and drops the job); the worker that got it keeps serving.
func TestJobsUnknownJobKeepsWorker(t *testing.T) {
	s := startJobsStack(t, jobsStackOptions{jobsWorkers: 1})
	before := s.jobsWorkerPids(t)
	if len(before) != 1 {
		t.Fatalf("jobs workers %v, want 1", before)
	}
	for i := 0; i < 3; i++ {
		s.dispatch(t, "mem", "no-such-job", "", map[string]int{"n": i})
	}
	id := s.dispatch(t, "mem", "record", "after-unknown", map[string]int{})
	testsupport.WaitFor(t, 10*time.Second, "the job after the unknown ones", func() bool {
		return len(s.lines(t, "done.log")) == 1
	})
	if done := s.lines(t, "done.log"); done[0] != id {
		t.Fatalf("done.log %v, want %s", done, id)
	}
	deliveries := s.lines(t, "deliveries.log")
	if len(deliveries) != 1 || strings.Fields(deliveries[0])[1] != strconv.FormatInt(before[0], 10) {
		t.Fatalf("record job ran as %v, want on the same worker %d", deliveries, before[0])
	}
	if after := s.jobsWorkerPids(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("jobs workers %v after the unknown jobs, want the same %v", after, before)
	}
}

// TestJobsWorkerLimits: the consumer runs under Lifecycle's WorkerManager like the HTTP
// workers; with PIVOT_MAX_REQUESTS=5 each jobs worker is replaced after 5 tasks (the 6th is
// handed back with {"stop":true} and RoadRunner runs it on a fresh worker): no job is lost
// or run twice.
func TestJobsWorkerLimits(t *testing.T) {
	const jobs, limit = 20, 5
	s := startJobsStack(t, jobsStackOptions{jobsWorkers: 1, env: map[string]string{"PIVOT_MAX_REQUESTS": strconv.Itoa(limit)}})
	for i := 0; i < jobs; i++ {
		s.dispatch(t, "mem", "record", fmt.Sprintf("limit-%02d", i), map[string]int{})
	}
	testsupport.WaitFor(t, 20*time.Second, fmt.Sprintf("%d jobs completed", jobs), func() bool { return len(s.lines(t, "done.log")) >= jobs })
	time.Sleep(200 * time.Millisecond)

	perPid := map[string]int{}
	seen := map[string]int{}
	for _, line := range s.lines(t, "deliveries.log") {
		f := strings.Fields(line)
		seen[f[0]]++
		perPid[f[1]]++
	}
	if len(seen) != jobs || len(s.lines(t, "done.log")) != jobs {
		t.Fatalf("%d distinct jobs delivered, %d completed, want %d", len(seen), len(s.lines(t, "done.log")), jobs)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("job %s delivered %d times", id, n)
		}
	}
	if len(perPid) != jobs/limit {
		t.Errorf("tasks per worker %v: want %d workers of %d tasks", perPid, jobs/limit, limit)
	}
	for pid, n := range perPid {
		if n > limit {
			t.Errorf("worker %s ran %d tasks, limit %d", pid, n, limit)
		}
	}
	t.Logf("%d jobs on %d successive workers (%v tasks each), none lost or repeated", jobs, len(perPid), perPid)
}

// TestJobsPipelineManagement drives Jobs::declare/resume/pause/stat/list/destroy through the
// example's routes against the real jobs plugin.
func TestJobsPipelineManagement(t *testing.T) {
	s := startJobsStack(t, jobsStackOptions{})
	call := func(method, path string, want int) []byte {
		t.Helper()
		resp, b := testsupport.Do(t, method, s.base+path, nil, nil)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		return b
	}
	type pipelines struct {
		Pipelines []string
		Stats     map[string]struct {
			Driver   string
			Ready    bool
			Active   int
			Priority int
		}
	}
	state := func() pipelines {
		var p pipelines
		if err := json.Unmarshal(call(http.MethodGet, "/jobs/pipelines", 200), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	doneCount := func() int { return len(s.lines(t, "done.log")) }

	if p := state(); fmt.Sprint(p.Pipelines) != "[bolt bolt2 mem]" || !p.Stats["mem"].Ready || p.Stats["mem"].Driver != "memory" {
		t.Fatalf("initial pipelines %+v", p)
	}

	call(http.MethodPut, "/jobs/pipelines/dyn?driver=memory&priority=3", 201)
	call(http.MethodPost, "/jobs/pipelines/dyn/resume", 204)
	if p := state(); !p.Stats["dyn"].Ready || p.Stats["dyn"].Priority != 3 {
		t.Fatalf("declared pipeline %+v", p.Stats["dyn"])
	}
	s.dispatch(t, "dyn", "record", "dyn-1", map[string]int{})
	testsupport.WaitFor(t, 10*time.Second, "a job on the declared pipeline", func() bool { return doneCount() == 1 })

	call(http.MethodPost, "/jobs/pipelines/dyn/pause", 204)
	s.dispatch(t, "dyn", "record", "dyn-2", map[string]int{})
	time.Sleep(500 * time.Millisecond)
	if p := state(); doneCount() != 1 || p.Stats["dyn"].Ready {
		t.Fatalf("paused pipeline consumed a job (done %d) or is ready: %+v", doneCount(), p.Stats["dyn"])
	}
	call(http.MethodPost, "/jobs/pipelines/dyn/resume", 204)
	testsupport.WaitFor(t, 10*time.Second, "the job held while paused", func() bool { return doneCount() == 2 })

	if b := call(http.MethodDelete, "/jobs/pipelines/dyn", 200); !strings.Contains(string(b), `"destroyed":["dyn"]`) {
		t.Fatalf("destroy answered %s", b)
	}
	if p := state(); fmt.Sprint(p.Pipelines) != "[bolt bolt2 mem]" {
		t.Fatalf("pipelines after destroy %v", p.Pipelines)
	}
	// RoadRunner's own message reaches the client: 503 with it in the body.
	resp, b := testsupport.Do(t, http.MethodPost, s.base+"/jobs/dispatch?pipeline=dyn&name=record", strings.NewReader("x"), nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "no such pipeline") {
		t.Fatalf("dispatch to a destroyed pipeline: %d %s", resp.StatusCode, b)
	}
}

// kvValues are the values every KV driver must return byte for byte.
func kvValues() map[string][]byte {
	binary := make([]byte, 0, 256*4+4096)
	for r := 0; r < 4; r++ {
		for b := 0; b < 256; b++ {
			binary = append(binary, byte(b))
		}
	}
	rnd := rand.New(rand.NewSource(42))
	tail := make([]byte, 4096)
	rnd.Read(tail)
	big := make([]byte, 1<<20)
	rnd.Read(big)
	return map[string][]byte{
		"binary":  append(binary, tail...),
		"unicode": []byte("héllo wörld ✓ 日本語 🚀 \x00 nul, \xff\xfe not UTF-8"),
		"1MB":     big,
		"empty":   {},
		"json":    []byte(`{"looks":"like JSON","n":1}`),
	}
}

// TestKVDrivers: values round-trip byte for byte, TTLs expire and deletes delete on the
// memory, boltdb, redis and memcached storages, through the PHP KV client.
func TestKVDrivers(t *testing.T) {
	rds, mc := testsupport.StartRedis(t), testsupport.StartMemcached(t)
	s := startJobsStack(t, jobsStackOptions{redis: rds, memcached: mc})
	values := kvValues()

	for _, storage := range []string{"memory", "boltdb", "redis", "memcached"} {
		t.Run(storage, func(t *testing.T) {
			url := func(key string) string { return fmt.Sprintf("%s/kv/%s/%s", s.base, storage, key) }
			for name, value := range values {
				resp, b := testsupport.Do(t, http.MethodPut, url(name), bytes.NewReader(value), nil)
				if resp.StatusCode != http.StatusNoContent {
					t.Fatalf("PUT %s: %d %s", name, resp.StatusCode, b)
				}
				resp, b = testsupport.Do(t, http.MethodGet, url(name), nil, nil)
				if resp.StatusCode != http.StatusOK || !bytes.Equal(b, value) || resp.Header.Get("X-Value-Sha256") != sha256Hex(value) {
					t.Fatalf("GET %s: %d, %d bytes (sha256 %s), want %d bytes (sha256 %s)", name, resp.StatusCode, len(b),
						resp.Header.Get("X-Value-Sha256"), len(value), sha256Hex(value))
				}
			}

			// TTL: present at once, reported (except memcached, which cannot), gone after it.
			const ttl = 2
			start := time.Now()
			if resp, b := testsupport.Do(t, http.MethodPut, url("ttl")+"?ttl=2", strings.NewReader("short-lived"), nil); resp.StatusCode != 204 {
				t.Fatalf("PUT ttl: %d %s", resp.StatusCode, b)
			}
			resp, b := testsupport.Do(t, http.MethodGet, url("ttl")+"/ttl", nil, nil)
			if storage == "memcached" {
				if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), `KV storage \"memcached\": ttl failed`) {
					t.Fatalf("memcached TTL: %d %s, want 503 naming the storage", resp.StatusCode, b)
				}
			} else {
				var report struct {
					Exists bool
					TTL    *int
				}
				// Whole seconds left, rounded down: ttl or ttl+1 (expiry = now+ttl+0.5 s rounded up);
				// redis reports its own remaining time, rounded to the second.
				if err := json.Unmarshal(b, &report); err != nil || resp.StatusCode != 200 || !report.Exists ||
					report.TTL == nil || *report.TTL < ttl-1 || *report.TTL > ttl+1 {
					t.Fatalf("TTL report: %d %s, want exists and %d..%d s", resp.StatusCode, b, ttl-1, ttl+1)
				}
			}
			if resp, _ := testsupport.Do(t, http.MethodGet, url("ttl"), nil, nil); resp.StatusCode != 200 {
				t.Fatalf("the key with a %d s TTL is gone at once: %d", ttl, resp.StatusCode)
			}
			testsupport.WaitFor(t, 6*time.Second, "the key to expire", func() bool {
				resp, _ := testsupport.Do(t, http.MethodGet, url("ttl"), nil, nil)
				return resp.StatusCode == http.StatusNotFound
			})
			expired := time.Since(start)
			earliest := ttl * time.Second
			if storage == "memcached" {
				// memcached's clock ticks once a second, so a key with TTL n expires after n-1..n s
				earliest -= time.Second
			}
			if expired < earliest {
				t.Fatalf("a %d s TTL expired after %s (the earliest it may: %s)", ttl, expired, earliest)
			}

			if resp, _ := testsupport.Do(t, http.MethodDelete, url("binary"), nil, nil); resp.StatusCode != 204 {
				t.Fatalf("DELETE: %d", resp.StatusCode)
			}
			if resp, _ := testsupport.Do(t, http.MethodGet, url("binary"), nil, nil); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("GET after DELETE: %d", resp.StatusCode)
			}
			t.Logf("%s: %d values round-tripped byte for byte (1 MB included); a %d s TTL expired after %s",
				storage, len(values), ttl, expired.Round(10*time.Millisecond))
		})
	}
}

// TestKVRedisRestart: while Redis is down every KV call answers 503 with a message naming
// the storage and the cause; once Redis is back (same port, empty) the same workers recover.
func TestKVRedisRestart(t *testing.T) {
	rds := testsupport.StartRedis(t)
	s := startJobsStack(t, jobsStackOptions{redis: rds})
	url := s.base + "/kv/redis/greeting"
	put := func(v string) (*http.Response, []byte) {
		return testsupport.Do(t, http.MethodPut, url, strings.NewReader(v), nil)
	}

	if resp, b := put("before"); resp.StatusCode != 204 {
		t.Fatalf("PUT: %d %s", resp.StatusCode, b)
	}
	if _, b := testsupport.Do(t, http.MethodGet, url, nil, nil); string(b) != "before" {
		t.Fatalf("GET: %q", b)
	}
	pids := s.pids()

	rds.Stop()
	for _, call := range []func() (*http.Response, []byte){
		func() (*http.Response, []byte) { return testsupport.Do(t, http.MethodGet, url, nil, nil) },
		func() (*http.Response, []byte) { return put("during") },
	} {
		start := time.Now()
		resp, b := call()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), `KV storage \"redis\"`) ||
			!strings.Contains(string(b), "connection refused") {
			t.Fatalf("with Redis down: %d %s, want 503 naming the storage and the cause", resp.StatusCode, b)
		}
		t.Logf("Redis down: %d after %s: %s", resp.StatusCode, time.Since(start).Round(time.Millisecond), b)
	}

	rds.Start()
	start := time.Now()
	testsupport.WaitFor(t, 10*time.Second, "KV calls to succeed again", func() bool {
		resp, _ := put("after")
		return resp.StatusCode == http.StatusNoContent
	})
	if resp, b := testsupport.Do(t, http.MethodGet, url, nil, nil); resp.StatusCode != 200 || string(b) != "after" {
		t.Fatalf("GET after the restart: %d %q", resp.StatusCode, b)
	}
	if fmt.Sprint(s.pids()) != fmt.Sprint(pids) {
		t.Fatalf("HTTP workers changed across the Redis restart: %v -> %v", pids, s.pids())
	}
	t.Logf("Redis back: KV recovered %s after the restart, same HTTP workers", time.Since(start).Round(time.Millisecond))
}

// TestAppMetrics: the app's own collectors, declared from PHP over the metrics RPC, are on
// the metrics endpoint next to RoadRunner's.
func TestAppMetrics(t *testing.T) {
	s := startJobsStack(t, jobsStackOptions{})
	for i := 0; i < 3; i++ {
		s.dispatch(t, "mem", "record", "", map[string]int{})
	}
	if resp, b := testsupport.Do(t, http.MethodPut, s.base+"/kv/memory/sized", strings.NewReader("12345"), nil); resp.StatusCode != 204 {
		t.Fatalf("PUT: %d %s", resp.StatusCode, b)
	}
	want := []string{
		`app_jobs_dispatched_total{job="record",pipeline="mem"} 3`,
		`app_jobs_processed_total{job="record",outcome="ok"} 3`,
		`app_job_duration_seconds_count{job="record"} 3`,
		`app_job_duration_seconds_bucket{job="record",le="10"} 3`,
		`app_kv_value_bytes 5`,
		`# HELP app_jobs_dispatched_total Jobs dispatched by the app`,
	}
	var body string
	testsupport.WaitFor(t, 10*time.Second, "the app metrics", func() bool {
		_, b := testsupport.Do(t, http.MethodGet, s.metrics+"/metrics", nil, nil)
		body = string(b)
		for _, w := range want {
			if !strings.Contains(body, w) {
				return false
			}
		}
		return true
	})
	if !strings.Contains(body, "rr_jobs_") {
		t.Fatalf("RoadRunner's own jobs metrics are missing:\n%s", body)
	}
}

// TestRPCClientSurvivesRoadRunnerRestart: one long-lived PHP process talks to RoadRunner's
// rpc plugin over a unix socket; RoadRunner stops (clear connection errors) and a new one
// starts on the same socket: the same PHP client reconnects on its own.
func TestRPCClientSurvivesRoadRunnerRestart(t *testing.T) {
	testsupport.RequirePHP(t)
	// unix socket paths are limited to ~108 bytes: t.TempDir() can be longer.
	dir, err := os.MkdirTemp("", "rr-rpc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	backend := filepath.Join(dir, "rr.sock")
	front := filepath.Join(dir, "rpc.sock")
	listen := "unix://" + front

	rr := startRPCOnly(t, "unix://"+backend)
	proxy := newSocketFront(t, front, backend)
	probe := exec.Command("php", testsupport.RepoPath(t, "php/tests/fixtures/kv-probe.php"), listen, "local")
	stdin, err := probe.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := probe.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	probe.Stderr = os.Stderr
	if err := probe.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = probe.Wait() })
	answers := bufio.NewScanner(stdout)
	type answer struct {
		OK             bool
		Value          *string
		Class, Message string
	}
	ask := func(cmd string) answer {
		t.Helper()
		if _, err := fmt.Fprintln(stdin, cmd); err != nil {
			t.Fatal(err)
		}
		if !answers.Scan() {
			t.Fatalf("the PHP probe did not answer %q: %v", cmd, answers.Err())
		}
		var a answer
		if err := json.Unmarshal(answers.Bytes(), &a); err != nil {
			t.Fatalf("probe answer %s: %v", answers.Bytes(), err)
		}
		return a
	}

	if a := ask("set greeting hello"); !a.OK {
		t.Fatalf("set: %+v", a)
	}
	if a := ask("get greeting"); !a.OK || a.Value == nil || *a.Value != "hello" {
		t.Fatalf("get: %+v", a)
	}

	rr.stop()
	proxy.down()
	a := ask("get greeting")
	if a.OK || a.Class != `PivotPHP\Runtime\RoadRunner\KV\StorageException` ||
		!strings.Contains(a.Message, `KV storage "local": get failed: Cannot connect to the RoadRunner RPC server at `+listen) {
		t.Fatalf("with RoadRunner stopped: %+v", a)
	}
	t.Logf("RoadRunner stopped: %s", a.Message)

	startRPCOnly(t, "unix://"+backend)
	proxy.up()
	if a := ask("get greeting"); !a.OK || a.Value != nil {
		t.Fatalf("get from the new RoadRunner (empty memory storage): %+v", a)
	}
	if a := ask("set greeting again"); !a.OK {
		t.Fatalf("set after the restart: %+v", a)
	}
	if a := ask("get greeting"); !a.OK || a.Value == nil || *a.Value != "again" {
		t.Fatalf("get after the restart: %+v", a)
	}
}
