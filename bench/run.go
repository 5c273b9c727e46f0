package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

const (
	readyTimeout = 30 * time.Second
	stopGrace    = 10 * time.Second
	// disturbedPct: a round during which more than this share of the machine's CPU went to
	// neither the server, PHP nor wrk (other processes on the box, kernel threads) is flagged.
	disturbedPct = 10
)

// run starts every server, measures and stops them; the results are returned even when it
// stops early (Ctrl-C, an error), with what was measured so far.
func run(ctx context.Context, cfg *config) (res *results, err error) {
	res = newResults(cfg)
	defer func() {
		res.Machine.LoadEnd = loadAvg()
		res.summarize()
		res.Targets = evaluateTargets(res)
	}()
	dir, err := os.MkdirTemp("", "pivot-bench-")
	if err != nil {
		return res, err
	}
	if cfg.keep {
		fmt.Printf("configs and logs: %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	ps, err := newProcs()
	if err != nil {
		return res, err
	}
	defer ps.close(stopGrace)

	if cfg.jobsOnly {
		res.Jobs = runJobsBench(ctx, cfg, ps, dir, res)
		return res, ctx.Err()
	}
	if cfg.edgeOnly {
		res.Edge = runEdgeBench(ctx, cfg, ps, dir, res)
		return res, ctx.Err()
	}

	variants := phpVariants(ctx, cfg.php)
	res.PHPBaselines = map[string]memory{}
	for _, v := range append([]phpVariant{systemPHP}, variants...) {
		if m, err := phpBaseline(ctx, cfg.php, v); err == nil {
			res.PHPBaselines[v.kind] = m
		} else {
			res.errorf("php baseline RSS (%s): %v", v.kind, err)
		}
	}
	servers := startServers(ctx, ps, cfg, dir, res)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	for _, s := range servers {
		if s.kind == kindFPM && res.Machine.FPMOpcache == "" {
			res.Machine.FPMOpcache = fpmOpcache(s)
		}
	}

	// Warm-up: exactly rssRequests per worker (then the workers' RSS), then a short wrk run.
	for _, s := range servers {
		if !s.isCeiling() {
			progress("warm-up %s: %d requests, then RSS", s.label(), cfg.rssRequests*s.workers)
			measureRSS(ctx, s, cfg.rssRequests*s.workers, res)
		}
		if cfg.warmup > 0 && ctx.Err() == nil {
			if _, _, err := runWrk(ctx, cfg.wrk, s.url, cfg.threads, slices.Max(cfg.conns), cfg.warmup); err != nil && ctx.Err() == nil {
				res.errorf("warm-up %s: %v", s.label(), err)
			}
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}

	if slices.Contains(cfg.kinds, kindPivot) {
		for _, v := range variants {
			measureVariantRSS(ctx, ps, cfg, dir, v, res)
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
		}
	}

	if err := runRounds(ctx, cfg, servers, res); err != nil {
		return res, err
	}
	if cfg.otlp != nil {
		res.Settings.TraceBatches, res.Settings.TraceBytes = cfg.otlp.batches.Load(), cfg.otlp.bytes.Load()
	}
	for _, s := range servers {
		rssAtEnd(s, res)
	}
	measureWorkerStart(ctx, cfg, servers, res)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}

	// The edge and jobs sections and the Go benchmarks run alone: stop the servers first.
	ps.stopAll(stopGrace)
	if cfg.edge {
		res.Edge = runEdgeBench(ctx, cfg, ps, dir, res)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	} else {
		res.Skipped = append(res.Skipped, "edge section: -edge=false")
	}
	if cfg.jobs {
		res.Jobs = runJobsBench(ctx, cfg, ps, dir, res)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	} else {
		res.Skipped = append(res.Skipped, "jobs section: -jobs=false")
	}
	if cfg.noGoBench {
		res.Skipped = append(res.Skipped, "Go benchmarks (handler allocations, pool round trip): -no-gobench")
		return res, nil
	}
	for _, b := range []struct{ name, benchtime string }{
		{benchHandler, cfg.benchtime},
		{benchPoolRoundTrip, cfg.poolBenchtime},
	} {
		progress("go test -bench %s -benchtime %s (repo root)", b.name, b.benchtime)
		got, err := runGoBench(ctx, cfg.goBin, cfg.repo, b.name, b.benchtime)
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.errorf("%v", err)
		}
		res.GoBench = append(res.GoBench, got...)
	}
	return res, nil
}

func newResults(cfg *config) *results {
	res := &results{
		Date: time.Now().UTC().Format(time.RFC3339),
		Settings: settings{
			Quick: cfg.quick, Servers: cfg.kinds, Workers: cfg.workers, Conns: cfg.conns,
			Threads: cfg.threads, Duration: cfg.duration.String(), Rounds: cfg.rounds,
			Warmup: cfg.warmup.String(), RSSRequests: cfg.rssRequests,
			SpawnSamples: cfg.spawnSamples, Benchtime: cfg.benchtime,
		},
		Skipped: []string{},
		Errors:  []string{},
	}
	res.Machine = machine{
		CPUs:      runtime.NumCPU(),
		CPUModel:  cpuModel(),
		Kernel:    strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
		Go:        runtime.Version(),
		PHP:       firstLine(commandOutput(cfg.php, "-v")),
		Wrk:       firstLine(commandOutput(cfg.wrk, "-v")),
		RR:        rrVersion(cfg.rr),
		LoadStart: loadAvg(),
	}
	return res
}

// runRounds drives every server with wrk, round by round; within a round the kinds follow each
// other at the same worker and connection count (pivot, stock, fpm, ...), and the ceilings
// (workers 0) close each connection count.
func runRounds(ctx context.Context, cfg *config, servers []*server, res *results) error {
	// freshIn[i] is the round whose instance servers[i] is; down[i] the round its restart failed
	freshIn, down := make([]int, len(servers)), make([]int, len(servers))
	for i := range freshIn {
		freshIn[i] = 1
	}
	cells := map[string]*cell{}
	for _, s := range servers {
		for _, c := range cfg.conns {
			cl := &cell{Server: s.kind, Workers: s.workers, Conns: c}
			cells[fmt.Sprintf("%s/%d/%d", s.kind, s.workers, c)] = cl
			res.Throughput = append(res.Throughput, cl)
		}
	}
	for r := 1; r <= cfg.rounds; r++ {
		for _, c := range cfg.conns {
			for _, w := range append(slices.Clone(cfg.workers), 0) {
				for i, s := range servers {
					if s.workers != w || down[i] == r {
						continue
					}
					if ctx.Err() != nil {
						return ctx.Err()
					}
					if cfg.fresh && freshIn[i] != r {
						ns, err := freshInstance(ctx, cfg, s)
						if err != nil {
							if ctx.Err() != nil {
								return ctx.Err()
							}
							res.errorf("round %d %s: a fresh instance failed: %v", r, s.label(), err)
							down[i] = r
							continue
						}
						servers[i], s, freshIn[i] = ns, ns, r
					}
					cl := cells[fmt.Sprintf("%s/%d/%d", s.kind, s.workers, c)]
					rd, err := measure(ctx, cfg, s, c)
					if err != nil {
						if ctx.Err() != nil {
							return ctx.Err()
						}
						res.errorf("round %d %s c%d: %v", r, s.label(), c, err)
						continue
					}
					rd.N = r
					cl.Rounds = append(cl.Rounds, rd)
					note := ""
					if rd.Disturbed {
						note = fmt.Sprintf("  (disturbed: %.0f%% of the CPU went elsewhere)", rd.Others)
					}
					progress("round %d/%d %-12s c%-3d %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d%s",
						r, cfg.rounds, s.label(), c, rd.RPS, rd.P50, rd.P99, rd.Errors(), note)
				}
			}
		}
	}
	for _, cl := range res.Throughput {
		if cl.Failed == "" && len(cl.Rounds) == 0 {
			cl.Failed = "no successful round"
		}
	}
	return nil
}

// freshInstance stops s and starts another instance of the same server, ready and warmed up
// (freshWarmup of wrk at the highest connection count). Rounds on fresh instances keep an
// instance's own speed out of the medians.
func freshInstance(ctx context.Context, cfg *config, s *server) (*server, error) {
	s.stop()
	ns, err := startReady(ctx, s.start)
	if err != nil {
		// s stays the server of record: the next round tries again from it
		return nil, err
	}
	ns.start = s.start
	// a failed warm-up shows in the measurement that follows
	_, _, _ = runWrk(ctx, cfg.wrk, ns.url, cfg.threads, slices.Max(cfg.conns), freshWarmup)
	return ns, nil
}

// freshWarmup warms a fresh instance up before its round (opcache, the Go runtime's caches).
const freshWarmup = time.Second

// measure is one wrk run with the CPU time each side used during it.
func measure(ctx context.Context, cfg *config, s *server, conns int) (*round, error) {
	m0, f0, u0, p0 := readMachineCPU(), s.frontCPU(), s.frontUserCPU(), s.phpCPU()
	w, wrkCPU, err := runWrk(ctx, cfg.wrk, s.url, cfg.threads, conns, cfg.duration)
	if err != nil {
		return nil, err
	}
	for _, p := range s.procs() {
		if p.exited() {
			return nil, p.exitError()
		}
	}
	f1, u1, p1, m1 := s.frontCPU(), s.frontUserCPU(), s.phpCPU(), readMachineCPU()
	rd := &round{wrkResult: w}
	if w.Requests > 0 {
		per := func(d time.Duration) float64 { return round3(float64(d.Microseconds()) / float64(w.Requests)) }
		rd.CPUFront, rd.CPUPHP, rd.CPUWrk = per(f1-f0), per(p1-p0), per(wrkCPU)
		rd.CPUFrontUser = per(u1 - u0)
		// the rest of the machine's busy time: kernel work outside these processes (softirq)
		// and anything else running on the box
		rd.CPUOther = max(0, round3(per(m1.busy-m0.busy)-rd.CPUFront-rd.CPUPHP-rd.CPUWrk))
	}
	if total := m1.total - m0.total; total > 0 {
		busy := m1.busy - m0.busy
		rd.Busy = round3(100 * float64(busy) / float64(total))
		others := busy - (f1 - f0) - (p1 - p0) - wrkCPU
		rd.Others = max(0, round3(100*float64(others)/float64(total)))
		rd.Disturbed = rd.Others > disturbedPct
	}
	return rd, nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func cpuModel() string {
	for _, line := range strings.Split(readFile("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// measureVariantRSS starts pivot once more at the smallest worker count with its workers run as
// the variant says, drives the same exact-count load and reads their RSS, then stops it.
func measureVariantRSS(ctx context.Context, ps *procs, cfg *config, dir string, v phpVariant, res *results) {
	w := slices.Min(cfg.workers)
	spec := rrSpec{kind: v.kind, section: "pivot", plugin: "pivot", path: "/hello", phpArgs: strings.Join(v.args, " "),
		script: filepath.Join(cfg.repo, "examples", "hello", "worker.php")}
	s, err := startReady(ctx, func() (*server, error) { return startRR(ps, cfg, dir, spec, w) })
	if err != nil {
		if ctx.Err() == nil {
			res.errorf("%s w%d failed to start: %v", v.kind, w, err)
		}
		return
	}
	progress("RSS %s: %d requests", s.label(), cfg.rssRequests*w)
	measureRSS(ctx, s, cfg.rssRequests*w, res)
	s.stop()
}
