// Package amqpe2e runs the amqp jobs driver end to end: the real ./rr binary, real PHP
// workers (testdata/worker.php: an HTTP route dispatching jobs with php/src/Jobs/Jobs.php, a
// consumer recording every delivery and doing its effect once per job id through
// Jobs\Idempotency) and one real RabbitMQ (testsupport.StartRabbitMQ) shared by several rr
// instances. It checks what no unit test can: no job lost when an instance is SIGKILLed and
// the broker restarts mid-consumption, the repeats that at-least-once delivery brings (counted,
// bounded), effects exactly once, /ready and pushes while the broker is down, `rr jobs` and the
// jobs metrics on an amqp pipeline.
package amqpe2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

func TestMain(m *testing.M) { testsupport.Main(m) }

const (
	pipeline    = "work"
	prefetch    = 10
	jobsWorkers = 4
)

// instance is one rr serving pivot (HTTP), jobs (the amqp pipeline "work"), status and metrics.
type instance struct {
	name                  string
	rr                    *testsupport.RR
	http, status, metrics string // base URLs
	rpc                   string
}

// startInstance runs rr with the amqp pipeline on queue, consuming, its jobs workers taking
// sleepMS per job and recording into state.
func startInstance(t *testing.T, name string, rabbit *testsupport.RabbitMQ, queue, state string, sleepMS int) *instance {
	t.Helper()
	httpAddr, statusAddr, metricsAddr, rpcAddr := testsupport.FreeAddr(t), testsupport.FreeAddr(t), testsupport.FreeAddr(t), testsupport.FreeAddr(t)
	yaml := fmt.Sprintf(`version: "3"
rpc:
  listen: tcp://%s
server:
  command: "php worker.php"
pivot:
  address: %s
  pool:
    num_workers: 2
amqp:
  addr: %s
jobs:
  pool:
    num_workers: %d
  consume: [%s]
  pipelines:
    %s:
      driver: amqp
      config:
        queue: %s
        prefetch: %d
        durable: true
        redial_timeout: 1
status:
  address: %s
metrics:
  address: %s
logs:
  mode: production
  level: warn
`, rpcAddr, httpAddr, rabbit.Addr, jobsWorkers, pipeline, pipeline, queue, prefetch, statusAddr, metricsAddr)
	workDir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	rr := testsupport.StartRR(t, yaml, testsupport.RROptions{
		WorkDir: workDir,
		Env: []string{
			"PIVOT_PHP_AUTOLOAD=" + testsupport.RepoPath(t, "php/autoload.php"),
			"PIVOT_JOBS_DIR=" + filepath.Join(t.TempDir(), "jobs-"+name),
			"AMQP_E2E_STATE=" + state,
			"AMQP_E2E_INSTANCE=" + name,
			"AMQP_E2E_SLEEP_MS=" + strconv.Itoa(sleepMS),
		},
	})
	in := &instance{name: name, rr: rr, http: "http://" + httpAddr, status: "http://" + statusAddr,
		metrics: "http://" + metricsAddr + "/metrics", rpc: rpcAddr}
	rr.WaitReady(t, 60*time.Second, testsupport.HTTPAnswers(in.http+"/ping", 200))
	rr.WaitReady(t, 30*time.Second, testsupport.HTTPAnswers(in.status+"/ready?plugin=amqp", 200))
	return in
}

// newState is the directory the consumers of every instance record into.
func newState(t *testing.T) string {
	t.Helper()
	state := t.TempDir()
	for _, d := range []string{"handled", "effects", "idempotency"} {
		if err := os.MkdirAll(filepath.Join(state, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return state
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// lineCounts maps each file of dir to its number of lines.
func lineCounts(t *testing.T, dir string) map[string]int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]int, len(entries))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = strings.Count(string(b), "\n")
	}
	return out
}

type pushResult struct {
	Pushed  int     `json:"pushed"`
	Seconds float64 `json:"seconds"`
}

// push asks the instance's PHP to dispatch job-from … job-(from+count-1), one jobs.Push each.
func (in *instance) push(t *testing.T, from, count int) pushResult {
	t.Helper()
	r, err := in.tryPush(from, count)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tryPush is push for other goroutines than the test's.
func (in *instance) tryPush(from, count int) (pushResult, error) {
	var r pushResult
	resp, err := testsupport.Client.Post(fmt.Sprintf("%s/push?from=%d&count=%d", in.http, from, count), "", nil) //nolint:noctx
	if err != nil {
		return r, fmt.Errorf("push on %s: %w", in.name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return r, fmt.Errorf("push on %s: %w", in.name, err)
	}
	if resp.StatusCode != 200 {
		return r, fmt.Errorf("push on %s: %d %s", in.name, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Pushed != count {
		return r, fmt.Errorf("push on %s: %s (%v)", in.name, body, err)
	}
	return r, nil
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, body := testsupport.Do(t, "GET", url, nil, nil)
	return resp.StatusCode, string(body)
}

// Two rr instances consume one amqp queue; PHP pushes 1,000 jobs through both; halfway one
// instance is SIGKILLed (rr and its PHP workers), later the broker restarts. Every job is
// handled, each effect exactly once (Jobs\Idempotency), the repeats at-least-once delivery
// brings are counted and stay within the prefetch window of each instance. While the broker is
// down the surviving instance's /ready names the pipeline and the broker, a push fails at once
// with that error in PHP, and HTTP keeps serving.
func TestTwoInstancesSIGKILLAndBrokerRestart(t *testing.T) {
	const total, sleepMS = 1000, 25
	rabbit := testsupport.StartRabbitMQ(t)
	queue := fmt.Sprintf("e2e-kill-%d", time.Now().UnixNano())
	state := newState(t)
	effects := filepath.Join(state, "effects")

	a := startInstance(t, "a", rabbit, queue, state, sleepMS)
	b := startInstance(t, "b", rabbit, queue, state, sleepMS)
	start := time.Now()

	// 1,000 jobs from PHP, half through each instance, concurrently with the consumption
	var wg sync.WaitGroup
	results := make([]pushResult, 2)
	errs := make([]error, 2)
	for i, in := range []*instance{a, b} {
		wg.Add(1)
		go func(i int, in *instance) {
			defer wg.Done()
			results[i], errs[i] = in.tryPush(i*total/2, total/2)
		}(i, in)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	pushWall := time.Since(start)
	pushed := fmt.Sprintf("%d jobs pushed from PHP in %s wall (a: %.2f s, b: %.2f s for %d jobs each: %.0f and %.0f pushes/s per worker)",
		total, pushWall.Round(time.Millisecond), results[0].Seconds, results[1].Seconds, total/2,
		float64(total/2)/results[0].Seconds, float64(total/2)/results[1].Seconds)
	t.Log(pushed)

	// halfway through consumption: SIGKILL instance a
	testsupport.WaitFor(t, 60*time.Second, "half of the jobs handled", func() bool { return countFiles(t, effects) >= total/2 })
	atKill := countFiles(t, effects)
	a.rr.Kill()
	t.Logf("instance a SIGKILLed at %d effects, %s after the first push", atKill, time.Since(start).Round(time.Millisecond))

	// later: the broker restarts while b consumes
	testsupport.WaitFor(t, 60*time.Second, "b alone to handle more jobs", func() bool { return countFiles(t, effects) >= atKill+total/8 })
	atStop := countFiles(t, effects)
	if atStop >= total {
		t.Fatalf("all %d jobs handled before the broker restart: the test must restart it mid-consumption (slow the handler down)", total)
	}
	rabbit.StopApp(t)
	stopped := time.Now()
	t.Logf("RabbitMQ stopped at %d effects", atStop)

	t.Run("while the broker is down", func(t *testing.T) {
		var code int
		var body string
		testsupport.WaitFor(t, 10*time.Second, "/ready?plugin=amqp to answer 503", func() bool {
			code, body = get(t, b.status+"/ready?plugin=amqp")
			return code == http.StatusServiceUnavailable
		})
		for _, want := range []string{"pipelines down (" + pipeline + ")", `amqp pipeline "` + pipeline + `"`,
			fmt.Sprintf("amqp://guest:xxxxx@127.0.0.1:%d/", rabbit.Port), "unreachable"} {
			if !strings.Contains(body, want) {
				t.Errorf("/ready?plugin=amqp body lacks %q: %s", want, body)
			}
		}
		if strings.Contains(body, "guest:guest") {
			t.Errorf("/ready shows the broker's password: %s", body)
		}
		t.Logf("/ready?plugin=amqp: %d %s", code, strings.TrimSpace(body))
		if code, body := get(t, b.status+"/ready?plugin=amqp&plugin=pivot"); code != http.StatusServiceUnavailable {
			t.Errorf("/ready?plugin=amqp&plugin=pivot: %d %s", code, body)
		}
		// RoadRunner 2023.3's status plugin has written pivot's 200 before it learns amqp's
		// 503 (a "superfluous WriteHeader"): only a failing first plugin sets the status
		code, body = get(t, b.status+"/ready?plugin=pivot&plugin=amqp")
		t.Logf("/ready?plugin=pivot&plugin=amqp (the status plugin keeps the first plugin's status): %d", code)
		if code, body := get(t, b.status+"/ready?plugin=pivot"); code != 200 {
			t.Errorf("/ready?plugin=pivot (HTTP is fine): %d %s", code, body)
		}
		code, body = get(t, b.status+"/ready")
		t.Logf("plain /ready (RoadRunner 2023.3's status plugin wants plugin=…): %d %s", code, strings.TrimSpace(body))

		// HTTP keeps serving
		if code, body := get(t, b.http+"/ping"); code != 200 || body != "pong" {
			t.Errorf("GET /ping while the broker is down: %d %s", code, body)
		}
		// a push fails at once, and PHP gets the reason
		pushStart := time.Now()
		resp, pbody := testsupport.Do(t, "POST", b.http+"/push-one?id=during-outage", nil, nil)
		took := time.Since(pushStart)
		msg := string(pbody)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(msg, "JobsException") ||
			!strings.Contains(msg, `amqp pipeline "`+pipeline+`"`) || !strings.Contains(msg, "unreachable") || strings.Contains(msg, "guest:guest") {
			t.Errorf("push while the broker is down: %d %s", resp.StatusCode, msg)
		}
		if took > time.Second {
			t.Errorf("the failing push took %s", took)
		}
		t.Logf("push while the broker is down (%s round trip): %s", took.Round(time.Millisecond), msg)
	})

	rabbit.StartApp(t)
	t.Logf("RabbitMQ down for %s", time.Since(stopped).Round(time.Millisecond))
	b.rr.WaitReady(t, 30*time.Second, testsupport.HTTPAnswers(b.status+"/ready?plugin=amqp", 200))

	testsupport.WaitFor(t, max(10*time.Second, 100*time.Second-time.Since(start)), "every job handled", func() bool { return countFiles(t, effects) >= total })
	elapsed := time.Since(start)

	// every job's effect exactly once; every delivery counted
	effectLines := lineCounts(t, effects)
	handledLines := lineCounts(t, filepath.Join(state, "handled"))
	var missing, twice []string
	duplicates, repeated := 0, []string{}
	for i := 0; i < total; i++ {
		id := fmt.Sprintf("job-%04d", i)
		switch n := effectLines[id]; {
		case n == 0:
			missing = append(missing, id)
		case n > 1:
			twice = append(twice, fmt.Sprintf("%s×%d", id, n))
		}
		if n := handledLines[id]; n > 1 {
			duplicates += n - 1
			repeated = append(repeated, fmt.Sprintf("%s×%d", id, n))
		}
	}
	if len(effectLines) != total {
		t.Errorf("%d effect files, want %d (no job but job-0000…job-%04d may run)", len(effectLines), total, total-1)
	}
	if len(missing) > 0 {
		t.Errorf("%d jobs lost: %v", len(missing), missing)
	}
	if len(twice) > 0 {
		t.Errorf("effects not exactly once: %v", twice)
	}
	sort.Strings(repeated)
	t.Logf("all %d jobs handled in %s; %d deliveries in all, %d duplicates (%d jobs delivered more than once: %v), effects exactly once",
		total, elapsed.Round(time.Millisecond), total+duplicates, duplicates, len(repeated), repeated)
	if bound := prefetch * 2; duplicates > bound {
		t.Errorf("%d duplicates, more than the prefetch window × instances (%d)", duplicates, bound)
	}
	if elapsed > 2*time.Minute {
		t.Errorf("took %s (bound: 2 min)", elapsed)
	}
	if n := rabbit.QueueDepth(t, queue); n != 0 {
		t.Errorf("%d messages left in the queue", n)
	}

	// b's jobs metrics: its pushes, the failed one, the jobs it ran
	m := metrics(t, b.metrics)
	if m["rr_jobs_push_ok"] < float64(total/2) || m["rr_jobs_push_err"] < 1 || m["rr_jobs_jobs_ok"] < float64(total/4) {
		t.Errorf("b's metrics: push_ok %v push_err %v jobs_ok %v", m["rr_jobs_push_ok"], m["rr_jobs_push_err"], m["rr_jobs_jobs_ok"])
	}
}

// One instance: `rr jobs list|pause|resume` on the amqp pipeline (a paused pipeline leaves
// the jobs in RabbitMQ and /ready at 200; resumed, they run), the status plugin's /jobs
// line for it, and the jobs metrics (rr_jobs_*) counting its pushes and jobs.
func TestJobsCommandAndMetrics(t *testing.T) {
	rabbit := testsupport.StartRabbitMQ(t)
	queue := fmt.Sprintf("e2e-cli-%d", time.Now().UnixNano())
	state := newState(t)
	effects := filepath.Join(state, "effects")
	in := startInstance(t, "c", rabbit, queue, state, 0)

	cli := func(args ...string) string {
		t.Helper()
		out, err := in.rr.CLI(20*time.Second, args...)
		if err != nil {
			t.Fatalf("rr %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	jobsLine := func() string {
		_, body := get(t, in.status+"/jobs")
		for _, line := range strings.Split(body, "\n") {
			if strings.Contains(line, "pipeline: "+pipeline+" ") {
				return line
			}
		}
		t.Fatalf("/jobs has no line for %s: %s", pipeline, body)
		return ""
	}

	if out := cli("jobs", "list"); !strings.Contains(out, pipeline) {
		t.Fatalf("rr jobs list:\n%s", out)
	}
	if line := jobsLine(); !strings.Contains(line, "ready: true") || !strings.Contains(line, "driver: amqp") || !strings.Contains(line, "queue: "+queue) {
		t.Fatalf("/jobs before pause: %s", line)
	}

	if out := cli("jobs", "pause", pipeline); !strings.Contains(out, pipeline) {
		t.Fatalf("rr jobs pause:\n%s", out)
	}
	if line := jobsLine(); !strings.Contains(line, "ready: false") {
		t.Fatalf("/jobs after pause: %s", line)
	}
	if code, body := get(t, in.status+"/ready?plugin=amqp"); code != 200 {
		t.Fatalf("/ready?plugin=amqp with the pipeline paused (it is connected): %d %s", code, body)
	}
	in.push(t, 0, 5)
	testsupport.WaitFor(t, 5*time.Second, "5 jobs waiting in RabbitMQ", func() bool { return rabbit.QueueDepth(t, queue) == 5 })
	time.Sleep(500 * time.Millisecond)
	if n := countFiles(t, effects); n != 0 {
		t.Fatalf("%d jobs ran while the pipeline was paused", n)
	}
	if line := jobsLine(); !strings.Contains(line, "active: 5") {
		t.Errorf("/jobs while paused with 5 jobs: %s", line)
	}

	if out := cli("jobs", "resume", pipeline); !strings.Contains(out, pipeline) {
		t.Fatalf("rr jobs resume:\n%s", out)
	}
	testsupport.WaitFor(t, 10*time.Second, "the 5 jobs to run after resume", func() bool { return countFiles(t, effects) == 5 })
	testsupport.WaitFor(t, 5*time.Second, "an empty queue", func() bool { return rabbit.QueueDepth(t, queue) == 0 })
	if line := jobsLine(); !strings.Contains(line, "ready: true") {
		t.Fatalf("/jobs after resume: %s", line)
	}

	var m map[string]float64
	testsupport.WaitFor(t, 5*time.Second, "rr_jobs_jobs_ok 5", func() bool {
		m = metrics(t, in.metrics)
		return m["rr_jobs_jobs_ok"] == 5
	})
	if m["rr_jobs_push_ok"] != 5 || m["rr_jobs_push_err"] != 0 || m["rr_jobs_jobs_err"] != 0 {
		t.Errorf("metrics: %v", pick(m, "rr_jobs_"))
	}
	if got := m[`rr_jobs_requests_total{driver="amqp",job="work",source="single"}`]; got != 5 {
		t.Errorf(`rr_jobs_requests_total{driver="amqp",job="work",source="single"} = %v; rr_jobs_*: %v`, got, pick(m, "rr_jobs_"))
	}
	if m[`rr_jobs_push_latency_count{driver="amqp",job="work",source="single"}`] != 5 {
		t.Errorf("push latency histogram: %v", pick(m, "rr_jobs_push_latency_count"))
	}
	t.Logf("rr_jobs_* on an amqp pipeline: %v", pick(m, "rr_jobs_push", "rr_jobs_jobs", "rr_jobs_requests"))
}

var sample = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) ([-+0-9.eE]+|NaN|\+Inf|-Inf)$`)

// metrics reads a Prometheus text page into series → value.
func metrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := testsupport.Client.Get(url) //nolint:noctx
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := sample.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			out[m[1]] = v
		}
	}
	return out
}

func pick(m map[string]float64, prefixes ...string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				out[k] = v
			}
		}
	}
	return out
}
