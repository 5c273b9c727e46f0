package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/amqp/amqptest"
	jobsv1 "github.com/roadrunner-server/api/v4/build/jobs/v1"
)

// The jobs section: how many jobs PHP pushes and consumes per second through rr's jobs plugin,
// on the memory driver (the baseline: no broker) and on our amqp driver (a RabbitMQ the
// section starts itself, plugins/amqp/amqptest), one rr per driver, PHP on both ends
// (bench/jobs/worker.php). Per driver:
//
//  1. rpc: one PHP worker makes N jobs.List calls, serially: the RPC round trip from PHP, the
//     ceiling of serial pushes;
//  2. push, 1 PHP worker: N × jobs.Push from one HTTP request (one job per call, as
//     Jobs::push does), the pipeline not consuming;
//  3. consume, 1 jobs worker: a "mark" job pushed last at a lower priority, jobs.Resume, then
//     until the mark's handler wrote its file (then rr_jobs_jobs_ok must count them all); the
//     CPU time of the PHP jobs worker, rr and the broker during it; jobs.Pause;
//  4. consume 1ms: 1,000 jobs whose handler sleeps 1 ms, consumed the same way;
//  5. informer.AddWorker jobs, then push, 2 PHP workers (two concurrent requests of N/2),
//     consume and consume 1ms with 2 jobs workers.
//
// Rates are jobs per second of wall time; "vs memory" is amqp's rate over memory's in the same
// run. The PHP workers are the bound when a push costs about an RPC round trip (memory) or an
// RPC round trip plus the broker's confirm (amqp), when a second PHP worker nearly doubles the
// rate, and when the PHP jobs workers are busy all the time while consuming.

const (
	jobsPipeline = "bench"
	// phaseSleep consumes sleepJobs jobs whose handler sleeps 1 ms: the rate then follows the
	// number of PHP jobs workers (≈ workers × 1,000/s at best)
	phaseSleep = "consume 1ms"
	sleepJobs  = 1000
)

type jobsBench struct {
	Count  int        `json:"jobs_per_phase"`
	Broker string     `json:"broker,omitempty"`
	Rows   []*jobsRow `json:"rows"`
	// Ratios: amqp's rate over memory's, per phase ("push w1", "consume w2", …).
	Ratios map[string]float64 `json:"amqp/memory"`
	Notes  []string           `json:"notes"`
}

type jobsRow struct {
	Driver  string  `json:"driver"`
	Phase   string  `json:"phase"` // rpc, push, consume
	Workers int     `json:"php_workers"`
	Jobs    int     `json:"jobs"`
	Seconds float64 `json:"seconds"`
	Rate    float64 `json:"per_second"`
	// consume only: CPU µs per job of the PHP jobs workers, rr, the broker; PHPBusy the share
	// of the wall time the PHP jobs workers were on a CPU (100 % = each busy all the time).
	CPUPHP    float64 `json:"cpu_us_per_job_php,omitempty"`
	CPURR     float64 `json:"cpu_us_per_job_rr,omitempty"`
	CPUBroker float64 `json:"cpu_us_per_job_broker,omitempty"`
	PHPBusy   float64 `json:"php_busy_pct,omitempty"`
	Failed    string  `json:"failed,omitempty"`
}

func (r *jobsRow) key() string { return fmt.Sprintf("%s w%d", r.Phase, r.Workers) }

// runJobsBench measures both drivers; failures are recorded in the rows, never fatal.
func runJobsBench(ctx context.Context, cfg *config, ps *procs, dir string, res *results) *jobsBench {
	jb := &jobsBench{Count: cfg.jobsCount, Ratios: map[string]float64{}}
	start := time.Now()

	var broker *amqptest.Broker
	progress("jobs: starting RabbitMQ (plugins/amqp/amqptest)")
	b, err := amqptest.Start(amqptest.Options{NoTLS: true})
	if err != nil {
		res.Skipped = append(res.Skipped, "jobs on amqp: "+amqptest.UnavailableMessage(err))
		progress("jobs: amqp skipped: %v", err)
	} else {
		broker = b
		defer broker.Shutdown()
		jb.Broker = strings.TrimSpace(brokerVersion(broker))
		progress("jobs: RabbitMQ up on %s (%s)", broker.Addr, time.Since(start).Round(time.Millisecond))
	}

	for _, driver := range []string{"memory", "amqp"} {
		if ctx.Err() != nil {
			break
		}
		if driver == "amqp" && broker == nil {
			continue
		}
		rows, err := jobsDriver(ctx, cfg, ps, dir, driver, broker)
		if err != nil && len(rows) == 0 {
			rows = []*jobsRow{{Driver: driver, Phase: "start", Workers: 1, Failed: err.Error()}}
		}
		jb.Rows = append(jb.Rows, rows...)
		if err != nil && ctx.Err() == nil {
			res.errorf("jobs %s: %v", driver, err)
		}
	}

	jb.summarize()
	progress("jobs: done in %s", time.Since(start).Round(time.Millisecond))
	return jb
}

// jobsDriver runs the phases on one rr with the pipeline on driver.
func jobsDriver(ctx context.Context, cfg *config, ps *procs, dir, driver string, broker *amqptest.Broker) ([]*jobsRow, error) {
	n := cfg.jobsCount
	ports := make([]int, 3)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	rpcAddr, httpPort, metricsPort := fmt.Sprintf("127.0.0.1:%d", ports[0]), ports[1], ports[2]

	pipe := fmt.Sprintf("      driver: memory\n      config:\n        prefetch: %d\n", 4*n+1000) // the whole backlog fits in rr
	amqpSection := ""
	if driver == "amqp" {
		pipe = fmt.Sprintf("      driver: amqp\n      config:\n        queue: bench-%d\n        prefetch: 100\n", time.Now().UnixNano())
		amqpSection = fmt.Sprintf("amqp:\n  addr: %s\n", broker.Addr)
	}
	conf := fmt.Sprintf(`version: "3"
rpc:
  listen: tcp://%s
server:
  command: %s
logs:
  level: error
  mode: production
pivot:
  address: 127.0.0.1:%d
  pool:
    num_workers: 2
metrics:
  address: 127.0.0.1:%d
%sjobs:
  pool:
    num_workers: 1
  consume: []
  pipelines:
    %s:
%s`, rpcAddr, strconv.Quote(cfg.php+" "+filepath.Join(cfg.repo, "bench", "jobs", "worker.php")),
		httpPort, metricsPort, amqpSection, jobsPipeline, pipe)
	name := "jobs-" + driver
	path := filepath.Join(dir, name+".rr.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	p, err := ps.start(name, filepath.Join(dir, name+".log"), nil, cfg.rr, "serve", "-c", path, "-w", dir)
	if err != nil {
		return nil, err
	}
	defer p.stop(stopGrace)

	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	client := &http.Client{Timeout: 2 * time.Minute}
	deadline := time.Now().Add(readyTimeout)
	for {
		if resp, err := client.Get(base + "/ping"); err == nil { //nolint:noctx
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if p.exited() {
			return nil, p.exitError()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("rr (%s) not answering on %s within %s:\n%s", driver, base, readyTimeout, p.logTail(15))
		}
		time.Sleep(50 * time.Millisecond)
	}
	progress("jobs %s: rr up", driver)

	var rows []*jobsRow
	fail := func(phase string, workers int, err error) ([]*jobsRow, error) {
		rows = append(rows, &jobsRow{Driver: driver, Phase: phase, Workers: workers, Failed: err.Error()})
		return rows, err
	}

	// warm-up: opcache, connections, the broker's queue (not measured; consumed with phase 1's jobs)
	if _, err := phpCall(client, base, "/rpc", 100, ""); err != nil {
		return fail("rpc", 1, err)
	}
	if _, err := phpCall(client, base, "/push", 100, jobsPipeline); err != nil {
		return fail("push", 1, err)
	}
	pushed := 100

	secs, err := phpCall(client, base, "/rpc", n, "")
	if err != nil {
		return fail("rpc", 1, err)
	}
	rows = append(rows, &jobsRow{Driver: driver, Phase: "rpc", Workers: 1, Jobs: n, Seconds: round3(secs), Rate: round3(float64(n) / secs)})

	// consume runs the backlog: a "mark" job pushed last at a lower priority runs after every
	// other and writes a file (polling rr's metrics during the run would cost rr CPU); then
	// rr_jobs_jobs_ok must count them all, and the pipeline is paused again.
	consume := func(phase string, workers int) error {
		mark := filepath.Join(dir, fmt.Sprintf("%s-%s-w%d.done", name, strings.ReplaceAll(phase, " ", "-"), workers))
		if _, err := phpCall(client, base, "/mark", 1, jobsPipeline+"&file="+mark); err != nil {
			_, err = fail(phase, workers, err)
			return err
		}
		pushed++
		done, err := jobsOK(client, metricsURL)
		if err != nil {
			_, err = fail(phase, workers, err)
			return err
		}
		want := pushed
		backlog := want - int(done)
		rr0, php0, br0 := selfCPU(p.pid()), phpTreeCPU(p.pid()), brokerCPU(broker, driver)
		t0 := time.Now()
		if err := rpcCall(rpcAddr, "jobs.Resume", &jobsv1.Pipelines{Pipelines: []string{jobsPipeline}}, &jobsv1.Empty{}); err != nil {
			_, err = fail(phase, workers, fmt.Errorf("jobs.Resume: %w", err))
			return err
		}
		for {
			if _, err := os.Stat(mark); err == nil {
				break
			}
			if time.Since(t0) > time.Minute || ctx.Err() != nil || p.exited() {
				got, _ := jobsOK(client, metricsURL)
				_, err := fail(phase, workers, fmt.Errorf("%d of %d jobs consumed after %s", int(got)-int(done), backlog, time.Since(t0).Round(time.Millisecond)))
				return err
			}
			time.Sleep(time.Millisecond)
		}
		wall := time.Since(t0).Seconds()
		rr1, php1, br1 := selfCPU(p.pid()), phpTreeCPU(p.pid()), brokerCPU(broker, driver)
		per := func(d time.Duration) float64 { return round3(float64(d.Microseconds()) / float64(backlog)) }
		row := &jobsRow{Driver: driver, Phase: phase, Workers: workers, Jobs: backlog, Seconds: round3(wall),
			Rate: round3(float64(backlog) / wall), CPUPHP: per(php1 - php0), CPURR: per(rr1 - rr0),
			PHPBusy: round3(100 * (php1 - php0).Seconds() / (wall * float64(workers)))}
		if driver == "amqp" {
			row.CPUBroker = per(br1 - br0)
		}
		rows = append(rows, row)
		progress("jobs %s: %s w%d %.0f/s", driver, phase, workers, row.Rate)
		// the mark ran last but for the jobs still running beside it: all of them are acked soon
		for i := 0; ; i++ {
			got, err := jobsOK(client, metricsURL)
			if err == nil && int(got) >= want {
				break
			}
			if i == 100 {
				_, err := fail(phase, workers, fmt.Errorf("the mark ran, but rr_jobs_jobs_ok is %v of %d", got, want))
				return err
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := rpcCall(rpcAddr, "jobs.Pause", &jobsv1.Pipelines{Pipelines: []string{jobsPipeline}}, &jobsv1.Empty{}); err != nil {
			_, err = fail(phase, workers, fmt.Errorf("jobs.Pause: %w", err))
			return err
		}
		return nil
	}

	for _, workers := range []int{1, 2} {
		if ctx.Err() != nil {
			return rows, ctx.Err()
		}
		if workers == 2 {
			var ok bool
			if err := rpcCall(rpcAddr, "informer.AddWorker", "jobs", &ok); err != nil {
				return fail("consume", workers, fmt.Errorf("informer.AddWorker jobs: %w", err))
			}
		}
		// push: `workers` PHP workers at once, n jobs in all
		t0 := time.Now()
		errs := make(chan error, workers)
		var wg sync.WaitGroup
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := phpCall(client, base, "/push", n/workers, jobsPipeline)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return fail("push", workers, err)
			}
		}
		wall := time.Since(t0).Seconds()
		pushed += n / workers * workers
		rows = append(rows, &jobsRow{Driver: driver, Phase: "push", Workers: workers, Jobs: n / workers * workers,
			Seconds: round3(wall), Rate: round3(float64(n/workers*workers) / wall)})
		progress("jobs %s: push w%d %.0f/s", driver, workers, float64(n/workers*workers)/wall)

		// consume everything pushed so far (phase 1: the warm-up's 100 too)
		if err := consume("consume", workers); err != nil {
			return rows, err
		}
		// the same with a handler that sleeps 1 ms: the PHP workers are then the bound
		if _, err := phpCall(client, base, "/push", sleepJobs, jobsPipeline+"&name=sleep&payload=1000"); err != nil {
			return fail(phaseSleep, workers, err)
		}
		pushed += sleepJobs
		if err := consume(phaseSleep, workers); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// phpCall runs one of worker.php's loops and returns the seconds PHP measured.
func phpCall(client *http.Client, base, path string, n int, pipeline string) (float64, error) {
	url := fmt.Sprintf("%s%s?n=%d", base, path, n)
	if pipeline != "" {
		url += "&pipeline=" + pipeline
	}
	resp, err := client.Get(url) //nolint:noctx
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, truncate(string(body), 300))
	}
	var out struct {
		N       int     `json:"n"`
		Seconds float64 `json:"seconds"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.N != n || out.Seconds <= 0 {
		return 0, fmt.Errorf("GET %s: unexpected answer %q", path, truncate(string(body), 300))
	}
	return out.Seconds, nil
}

// jobsOK is rr_jobs_jobs_ok on rr's metrics page.
func jobsOK(client *http.Client, url string) (float64, error) {
	resp, err := client.Get(url) //nolint:noctx
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "rr_jobs_jobs_ok "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no rr_jobs_jobs_ok on %s", url)
}

func selfCPU(pid int) time.Duration {
	self, _ := cpuTime(pid)
	return self
}

// phpTreeCPU is the CPU time of rr's PHP children (the HTTP workers idle during consumption).
func phpTreeCPU(pid int) time.Duration {
	_, reaped := cpuTime(pid)
	return reaped + childrenCPU(pid)
}

func brokerCPU(b *amqptest.Broker, driver string) time.Duration {
	if b == nil || driver != "amqp" {
		return 0
	}
	return treeCPU(b.Pid())
}

func brokerVersion(b *amqptest.Broker) string {
	conn, err := b.Dial()
	if err != nil {
		return "RabbitMQ"
	}
	defer func() { _ = conn.Close() }()
	return fmt.Sprintf("RabbitMQ %v", conn.Properties["version"])
}

// summarize sets the amqp/memory ratios and the notes from the rows.
func (jb *jobsBench) summarize() {
	mem := map[string]*jobsRow{}
	for _, r := range jb.Rows {
		if r.Driver == "memory" && r.Failed == "" {
			mem[r.key()] = r
		}
	}
	for _, r := range jb.Rows {
		if base := mem[r.key()]; r.Driver == "amqp" && r.Failed == "" && base != nil && base.Rate > 0 {
			jb.Ratios[r.key()] = round3(r.Rate / base.Rate)
		}
	}
	jb.Notes = jobsNotes(jb)
}

// jobsNotes says what bounds the figures, from the figures.
func jobsNotes(jb *jobsBench) []string {
	get := func(driver, key string) *jobsRow {
		for _, r := range jb.Rows {
			if r.Driver == driver && r.key() == key && r.Failed == "" {
				return r
			}
		}
		return nil
	}
	var notes []string
	for _, d := range []string{"memory", "amqp"} {
		rpc, p1, p2, c1, c2 := get(d, "rpc w1"), get(d, "push w1"), get(d, "push w2"), get(d, "consume w1"), get(d, "consume w2")
		if rpc != nil && p1 != nil {
			notes = append(notes, fmt.Sprintf("%s push: one PHP worker pushes %.0f/s = %.0f µs per push, against %.0f µs for an RPC round trip "+
				"(jobs.List, %.0f/s): the driver's push adds %.0f µs to the round trip",
				d, p1.Rate, 1e6/p1.Rate, 1e6/rpc.Rate, rpc.Rate, 1e6/p1.Rate-1e6/rpc.Rate))
		}
		if p1 != nil && p2 != nil {
			notes = append(notes, fmt.Sprintf("%s push: 2 PHP workers push %.2f× what one does", d, p2.Rate/p1.Rate))
		}
		if c1 != nil && c2 != nil {
			broker := ""
			if d == "amqp" {
				broker = fmt.Sprintf(" and %.0f µs of the broker's", c1.CPUBroker)
			}
			notes = append(notes, fmt.Sprintf("%s consume, no-op handler: 1 jobs worker %.0f/s, 2 workers %.2f× that; per job %.0f µs of PHP CPU "+
				"against %.0f µs of rr's%s: the PHP workers are busy %.0f%% / %.0f%% of the time",
				d, c1.Rate, c2.Rate/c1.Rate, c1.CPUPHP, c1.CPURR, broker, c1.PHPBusy, c2.PHPBusy))
		}
		if s1, s2 := get(d, phaseSleep+" w1"), get(d, phaseSleep+" w2"); s1 != nil && s2 != nil {
			notes = append(notes, fmt.Sprintf("%s consume, 1 ms handler: 1 jobs worker %.0f/s (%.0f%% of the 1,000/s one worker can do), 2 workers %.2f× that",
				d, s1.Rate, s1.Rate/10, s2.Rate/s1.Rate))
		}
	}
	return notes
}

// printJobs is the report's jobs section.
func printJobs(out io.Writer, jb *jobsBench) {
	if jb == nil {
		return
	}
	fmt.Fprintf(out, "\nJobs: pushed and consumed per second, PHP on both ends (bench/jobs/worker.php), %d jobs per phase", jb.Count)
	if jb.Broker != "" {
		fmt.Fprintf(out, "; amqp on %s (its own node, loopback)", jb.Broker)
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "driver\tphase\tPHP workers\tjobs\tseconds\tper second\tamqp/memory\tCPU µs/job: PHP\trr\tbroker\tPHP busy\t")
	for _, r := range jb.Rows {
		if r.Failed != "" {
			fmt.Fprintf(tw, "%s\t%s\t%d\tfailed: %s\t\t\t\t\t\t\t\t\n", r.Driver, r.Phase, r.Workers, truncate(r.Failed, 80))
			continue
		}
		ratio := ""
		if v, ok := jb.Ratios[r.key()]; ok && r.Driver == "amqp" {
			ratio = fmt.Sprintf("%.2f", v)
		}
		cpu := "\t\t\t\t"
		if r.Phase == "consume" {
			broker := "-"
			if r.Driver == "amqp" {
				broker = fmt.Sprintf("%.1f", r.CPUBroker)
			}
			cpu = fmt.Sprintf("%.1f\t%.1f\t%s\t%.0f%%\t", r.CPUPHP, r.CPURR, broker, r.PHPBusy)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.3f\t%.0f\t%s\t%s\n", r.Driver, r.Phase, r.Workers, r.Jobs, r.Seconds, r.Rate, ratio, cpu)
	}
	_ = tw.Flush()
	fmt.Fprintln(out, "(rpc = jobs.List from PHP, serially: the round trip every push pays; push = Jobs::push, one job per RPC")
	fmt.Fprintln(out, " call, the pipeline not consuming, N/2 per worker with 2; consume = jobs.Resume until a job pushed last at a")
	fmt.Fprintln(out, " lower priority ran, a no-op handler; PHP busy = the jobs workers' CPU time over wall time × workers)")
	for _, n := range jb.Notes {
		fmt.Fprintf(out, "- %s\n", n)
	}
}
