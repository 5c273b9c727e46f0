package main

import (
	"fmt"
	"sort"
)

// results is everything one run measured; it is printed as a table and written as JSON.
type results struct {
	Date     string   `json:"date"`
	Machine  machine  `json:"machine"`
	Settings settings `json:"settings"`
	// Ratios of medians per "wW_cC" (workers, connections): "pivot/stock" and "pivot/fpm" of
	// req/s, "p99 pivot/stock" of p99 latency (below 1 is better for pivot); and pivot's share
	// of its ceilings: "pivot/go fasthttp" and "pivot/go net/http" (a plain Go hello server at
	// the same connections), "pivot/pool round trip" (BenchmarkPoolRoundTrip's calls/s); and
	// "pivotphp/pivotphp-fpm", the same PivotPHP app on pivot and on nginx + php-fpm; and with
	// pivot.pipeline on: "pivot-pipeline/fpm", "pivot-pipeline/stock" (and its p99), and
	// "pivot-pipeline/pivot" (on over off).
	Ratios map[string]map[string]float64 `json:"ratios"`
	// RoundRatios: the lowest and highest req/s ratio of one round's pivot run to the same
	// round's stock or fpm run (the servers run interleaved, so a round shares its machine
	// drift): how far a single round may stray from the median ratio.
	RoundRatios map[string]map[string][2]float64 `json:"round_ratio_range"`
	Targets     []target                         `json:"targets"`
	Throughput  []*cell                          `json:"throughput"`
	WorkerRSS   []*rssResult                     `json:"worker_rss"`
	// PHPBaselines: an idle `php -r` per server kind whose workers it stands for: "pivot" with
	// the system php.ini, and each RSS-only variant with its flags.
	PHPBaselines map[string]memory `json:"php_cli_baseline_rss"`
	WorkerStart  []*startResult    `json:"worker_start"`
	GoBench      []goBench         `json:"go_bench"`
	// Jobs: the jobs section (jobs.go), nil when it did not run.
	Jobs *jobsBench `json:"jobs,omitempty"`
	// Edge: the edge section over HTTPS (edge.go), nil when it did not run.
	Edge    *edgeBench `json:"edge,omitempty"`
	Skipped []string   `json:"skipped"`
	Errors  []string   `json:"errors"`
}

type machine struct {
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	PHP        string `json:"php"`
	Nginx      string `json:"nginx"`
	PHPFPM     string `json:"php_fpm"`
	FPMOpcache string `json:"fpm_opcache"`
	Wrk        string `json:"wrk"`
	RR         string `json:"rr"`
	LoadStart  string `json:"loadavg_start"`
	LoadEnd    string `json:"loadavg_end"`
}

type settings struct {
	Quick        bool     `json:"quick"`
	Servers      []string `json:"servers"`
	Workers      []int    `json:"workers"`
	Conns        []int    `json:"connections"`
	Threads      int      `json:"wrk_threads"`
	Duration     string   `json:"duration"`
	Rounds       int      `json:"rounds"`
	Warmup       string   `json:"warmup"`
	RSSRequests  int      `json:"rss_requests_per_worker"`
	SpawnSamples int      `json:"spawn_samples"`
	Benchtime    string   `json:"benchtime"`
	PivotPHPURL  string   `json:"pivotphp_path,omitempty"`
	PivotPHPEnv  string   `json:"pivotphp_env,omitempty"`
	// TraceBatches and TraceBytes are what pivot-observe's OTLP receiver got (otlp.go)
	TraceBatches int64 `json:"trace_batches,omitempty"`
	TraceBytes   int64 `json:"trace_bytes,omitempty"`
}

// cell is one server × worker count × connection count: the median of its rounds.
type cell struct {
	Server  string  `json:"server"`
	Workers int     `json:"workers"`
	Conns   int     `json:"connections"`
	RPS     float64 `json:"rps"`
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
	Errors  int64   `json:"errors"`
	// cpuPerRequest: the medians of the rounds' figures
	cpuPerRequest
	// Disturbed is how many rounds were flagged (see round.Disturbed).
	Disturbed int      `json:"disturbed_rounds"`
	Rounds    []*round `json:"rounds"`
	Failed    string   `json:"failed,omitempty"`
}

// cpuPerRequest is where the CPU went during a wrk run, in µs per request.
type cpuPerRequest struct {
	// CPUFront is the front process (rr / nginx master and workers); CPUFrontUser its
	// user-mode part for rr (its Go code, not the kernel's socket and pipe work), 0 for nginx.
	CPUFront     float64 `json:"cpu_us_per_req_front"`
	CPUFrontUser float64 `json:"cpu_us_per_req_front_user"`
	CPUPHP       float64 `json:"cpu_us_per_req_php"`
	CPUWrk       float64 `json:"cpu_us_per_req_wrk"`
	// CPUOther is the machine's busy time not in the three above; Busy the machine's busy share.
	CPUOther float64 `json:"cpu_us_per_req_other"`
	Busy     float64 `json:"machine_cpu_busy_pct"`
}

type round struct {
	N int `json:"round"` // 1-based; a failed run leaves its number out
	wrkResult
	cpuPerRequest
	// Others is the share of the machine's CPU that went to none of the above (other processes,
	// kernel threads); Disturbed when it is above disturbedPct.
	Others    float64 `json:"others_cpu_pct"`
	Disturbed bool    `json:"disturbed"`
}

type rssResult struct {
	Server   string   `json:"server"`
	Workers  int      `json:"workers"`
	Requests int      `json:"requests"` // sent before reading RSS
	After    []memory `json:"after_requests"`
	AtEnd    []memory `json:"at_end"` // after every wrk round
	MaxKB    int64    `json:"max_vm_rss_kb"`
	MaxAnon  int64    `json:"max_rss_anon_kb"`
	Failed   string   `json:"failed,omitempty"`
}

type startResult struct {
	Server   string    `json:"server"`
	Samples  []float64 `json:"samples_ms"`
	MedianMS float64   `json:"median_ms"`
	Failed   string    `json:"failed,omitempty"`
}

// target is one of the targets next to the measured figure; Met is nil when it could not
// be judged.
type target struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Met   *bool  `json:"met"`
}

func (r *results) errorf(format string, args ...any) {
	r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
}

func (r *results) cell(kind string, workers, conns int) *cell {
	for _, c := range r.Throughput {
		if c.Server == kind && c.Workers == workers && c.Conns == conns {
			return c
		}
	}
	return nil
}

// summarize sets each cell's medians and the ratios.
func (r *results) summarize() {
	for _, c := range r.Throughput {
		if len(c.Rounds) == 0 {
			continue
		}
		pick := func(f func(*round) float64) float64 {
			v := make([]float64, len(c.Rounds))
			for i, rd := range c.Rounds {
				v[i] = f(rd)
			}
			return median(v)
		}
		c.RPS = pick(func(rd *round) float64 { return rd.RPS })
		c.P50 = pick(func(rd *round) float64 { return rd.P50 })
		c.P99 = pick(func(rd *round) float64 { return rd.P99 })
		c.CPUFront = pick(func(rd *round) float64 { return rd.CPUFront })
		c.CPUFrontUser = pick(func(rd *round) float64 { return rd.CPUFrontUser })
		c.CPUPHP = pick(func(rd *round) float64 { return rd.CPUPHP })
		c.CPUWrk = pick(func(rd *round) float64 { return rd.CPUWrk })
		c.CPUOther = pick(func(rd *round) float64 { return rd.CPUOther })
		c.Busy = pick(func(rd *round) float64 { return rd.Busy })
		c.Errors, c.Disturbed = 0, 0
		for _, rd := range c.Rounds {
			c.Errors += rd.Errors()
			if rd.Disturbed {
				c.Disturbed++
			}
		}
	}
	r.Ratios = map[string]map[string]float64{"pivot/stock": {}, "pivot/fpm": {}, "p99 pivot/stock": {}}
	r.RoundRatios = map[string]map[string][2]float64{"pivot/stock": {}, "pivot/fpm": {}, pipelineFPMRatio: {}, observeRatio: {}}
	pool := r.poolRoundTrips()
	for _, w := range r.Settings.Workers {
		for _, c := range r.Settings.Conns {
			key := ratioKey(w, c)
			p := r.cell(kindPivot, w, c)
			if pl := r.cell(kindPivotPipeline, w, c); pl.ok() {
				if f := r.cell(kindFPM, w, c); f.ok() {
					r.ratio(pipelineFPMRatio, key, pl.RPS/f.RPS)
					r.setRoundRatios(pipelineFPMRatio, key, pl, f)
				}
				if s := r.cell(kindStock, w, c); s.ok() {
					r.ratio(pipelineStockRatio, key, pl.RPS/s.RPS)
					r.ratio("p99 "+pipelineStockRatio, key, pl.P99/s.P99)
				}
				if p.ok() {
					r.ratio(pipelineOffRatio, key, pl.RPS/p.RPS)
				}
			}
			if ob := r.cell(kindPivotObserve, w, c); ob.ok() && p.ok() {
				r.ratio(observeRatio, key, ob.RPS/p.RPS)
				r.setRoundRatios(observeRatio, key, ob, p)
			}
			if !p.ok() {
				continue
			}
			if s := r.cell(kindStock, w, c); s.ok() {
				r.Ratios["pivot/stock"][key] = round3(p.RPS / s.RPS)
				r.Ratios["p99 pivot/stock"][key] = round3(p.P99 / s.P99)
				r.setRoundRatios("pivot/stock", key, p, s)
			}
			if f := r.cell(kindFPM, w, c); f.ok() {
				r.Ratios["pivot/fpm"][key] = round3(p.RPS / f.RPS)
				r.setRoundRatios("pivot/fpm", key, p, f)
			}
			for _, k := range ceilingKinds {
				if g := r.cell(k, 0, c); g.ok() {
					r.ratio(ceilingRatio(k), key, p.RPS/g.RPS)
				}
			}
			if pp, pf := r.cell(kindPivotPHP, w, c), r.cell(kindPivotPHPFPM, w, c); pp.ok() && pf.ok() {
				r.ratio(pivotPHPRatio, key, pp.RPS/pf.RPS)
			}
			if calls := pool[key]; calls > 0 {
				r.ratio(poolRatio, key, p.RPS/calls)
			}
		}
	}
}

const (
	// pivot with pivot.pipeline on, against fpm, stock and pivot with it off
	pipelineFPMRatio   = "pivot-pipeline/fpm"
	pipelineStockRatio = "pivot-pipeline/stock"
	pipelineOffRatio   = "pivot-pipeline/pivot"
	poolRatio          = "pivot/pool round trip"
	// pivot with the access log and 100 % tracing over pivot plain (issue 20: ≥ 0.85)
	observeRatio  = "pivot-observe/pivot"
	pivotPHPRatio = "pivotphp/pivotphp-fpm" // the same PivotPHP app: pivot's workers vs php-fpm
)

func ceilingRatio(kind string) string { return "pivot/" + kind }

// ratio sets one ratio, creating its map on first use.
func (r *results) ratio(name, key string, v float64) {
	if r.Ratios[name] == nil {
		r.Ratios[name] = map[string]float64{}
	}
	r.Ratios[name][key] = round3(v)
}

// setRoundRatios records the range of a's req/s over b's in the same round (a round that
// failed on either side is left out).
func (r *results) setRoundRatios(name, key string, a, b *cell) {
	inB := make(map[int]float64, len(b.Rounds))
	for _, rd := range b.Rounds {
		inB[rd.N] = rd.RPS
	}
	lo, hi := 0.0, 0.0
	for _, rd := range a.Rounds {
		other := inB[rd.N]
		if rd.RPS <= 0 || other <= 0 {
			continue
		}
		v := rd.RPS / other
		if lo == 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	if lo > 0 {
		r.RoundRatios[name][key] = [2]float64{round3(lo), round3(hi)}
	}
}

func (c *cell) ok() bool { return c != nil && c.Failed == "" && len(c.Rounds) > 0 && c.RPS > 0 }

func ratioKey(workers, conns int) string { return fmt.Sprintf("w%d_c%d", workers, conns) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }
