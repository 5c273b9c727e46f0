// Command bench measures pivot against stock RoadRunner http and nginx + php-fpm on loopback:
// throughput and latency with wrk, PHP worker RSS, worker start time and the Go handler's
// allocations per request, with the targets marked met or not met.
//
//	go run ./bench -rr ./rr            # full run, about 9 minutes (11 with PivotPHP)
//	go run ./bench -rr ./rr -quick     # sanity run, about 1 minute
//
// See bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is the harness's settings, from flags.
type config struct {
	rr, php, fpm, nginx, wrk, goBin string
	repo, jsonPath                  string
	kinds                           []string
	workers, conns                  []int
	threads, rounds                 int
	duration, warmup                time.Duration
	rssRequests, spawnSamples       int
	benchtime, poolBenchtime        string
	noGoBench, quick, keep, fresh   bool
	pivotphpWorker, pivotphpPath    string
	pivotphpFront                   string
	jobs, jobsOnly                  bool
	jobsCount                       int
	edge, edgeOnly                  bool
	h2load                          string

	// otlp is pivot-observe's trace receiver (otlp.go), nil without that row
	otlp *otlpReceiver
}

func main() {
	if os.Getenv(watchdogEnv) == "1" {
		runWatchdog(os.Stdin)
		return
	}
	if kind := os.Getenv(ceilingEnv); kind != "" {
		if err := runCeiling(kind, os.Getenv(ceilingAddrEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "bench ceiling:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	res, err := run(ctx, cfg)
	stop()
	if res != nil {
		report := os.Stdout
		if cfg.jsonPath == "-" {
			report = os.Stderr // stdout carries the JSON
		}
		printReport(report, res)
		if werr := writeJSON(cfg.jsonPath, res); werr != nil {
			fmt.Fprintln(os.Stderr, "bench:", werr)
		} else if cfg.jsonPath != "-" {
			fmt.Printf("JSON: %s\n", cfg.jsonPath)
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "bench: interrupted; every process it started has been stopped")
		os.Exit(130)
	case err != nil:
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	cfg := &config{}
	var kinds, workers, conns string
	fs.StringVar(&cfg.rr, "rr", "./rr", "the rr binary (make build)")
	fs.StringVar(&cfg.php, "php", "php", "PHP CLI for the rr workers")
	fs.StringVar(&cfg.fpm, "php-fpm", "", "php-fpm binary (default: php-fpm8.2 or php-fpm)")
	fs.StringVar(&cfg.nginx, "nginx", "nginx", "nginx binary")
	fs.StringVar(&cfg.wrk, "wrk", "wrk", "wrk binary")
	fs.StringVar(&cfg.goBin, "go", "go", "go binary for the handler benchmark")
	fs.StringVar(&cfg.repo, "repo", "", "repository root (default: the directory with go.mod above the working directory)")
	fs.StringVar(&cfg.jsonPath, "json", "", "where to write the JSON results (default REPO/bench/results.json; - for stdout)")
	fs.StringVar(&kinds, "servers", "pivot,pivot-pipeline,pivot-observe,stock,fpm,pivotphp,pivotphp-fpm,ceilings", "servers to measure (pivot-pipeline: pivot with pivot.pipeline on; pivot-observe: pivot with the access log and 100 % tracing over OTLP; pivotphp and pivotphp-fpm run only when PIVOTPHP_AUTOLOAD is set; ceilings: plain Go hello servers, see ceiling.go)")
	fs.StringVar(&workers, "workers", "2,4", "PHP worker counts")
	fs.StringVar(&conns, "conns", "8,50", "wrk connection counts")
	fs.IntVar(&cfg.threads, "threads", 2, "wrk threads")
	fs.DurationVar(&cfg.duration, "duration", 4*time.Second, "each wrk run (whole seconds)")
	fs.IntVar(&cfg.rounds, "rounds", 3, "rounds (A B C, A B C, ...); figures are the median")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "wrk warm-up per server after the RSS load (0 to skip)")
	fs.IntVar(&cfg.rssRequests, "rss-requests", 10000, "requests per worker before reading worker RSS (also warms up)")
	fs.IntVar(&cfg.spawnSamples, "spawn-samples", 7, "informer.AddWorker timings per rr server (median reported)")
	fs.StringVar(&cfg.benchtime, "benchtime", "20000x", "-benchtime of the Go handler benchmark")
	fs.StringVar(&cfg.poolBenchtime, "pool-benchtime", "100000x", "-benchtime of the Go pool round-trip benchmark (a ceiling)")
	fs.BoolVar(&cfg.noGoBench, "no-gobench", false, "skip the Go benchmarks (handler allocations, pool round trip)")
	fs.BoolVar(&cfg.quick, "quick", false, "sanity run of about a minute: -duration 1s -rounds 2 -warmup 1s -rss-requests 2000 -spawn-samples 3 -benchtime 2000x -pool-benchtime 10000x -jobs-count 1000 (explicit flags win)")
	fs.BoolVar(&cfg.fresh, "fresh", true, "a fresh instance of every server in each round after the first (two instances of one build can differ by ±10 % for their whole life)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temp dir with configs and logs")
	fs.StringVar(&cfg.pivotphpWorker, "pivotphp-worker", "examples/pivotphp/worker.php", "PivotPHP worker script (relative to the repo root)")
	fs.StringVar(&cfg.pivotphpPath, "pivotphp-path", "/", "the PivotPHP app's JSON route that wrk drives")
	fs.StringVar(&cfg.pivotphpFront, "pivotphp-front", "examples/pivotphp/public/index.php", "the same PivotPHP app's php-fpm front controller (relative to the repo root)")
	fs.BoolVar(&cfg.jobs, "jobs", true, "the jobs section: jobs pushed and consumed per second by PHP on the memory and amqp drivers (starts its own RabbitMQ; jobs.go)")
	fs.BoolVar(&cfg.jobsOnly, "jobs-only", false, "run the jobs section alone (about 30 s)")
	fs.IntVar(&cfg.jobsCount, "jobs-count", 5000, "jobs per push/consume phase of the jobs section")
	fs.BoolVar(&cfg.edge, "edge", true, "the edge section: pivot with TLS + limit + breaker + gzip over HTTPS (h2load HTTP/2, wrk HTTP/1.1) against stock http/v4 with TLS + gzip (edge.go)")
	fs.BoolVar(&cfg.edgeOnly, "edge-only", false, "run the edge section alone (about 1 minute with -quick)")
	fs.StringVar(&cfg.h2load, "h2load", "h2load", "h2load binary (nghttp2-client) for the edge section's HTTP/2 rows")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if cfg.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := map[string]string{"duration": "1s", "rounds": "2", "warmup": "1s", "rss-requests": "2000", "spawn-samples": "3", "benchtime": "2000x", "pool-benchtime": "10000x", "jobs-count": "1000"}
		for name, v := range quick {
			if !set[name] {
				_ = fs.Set(name, v)
			}
		}
	}
	var err error
	if cfg.workers, err = intList(workers); err != nil {
		return nil, fmt.Errorf("-workers: %w", err)
	}
	if cfg.conns, err = intList(conns); err != nil {
		return nil, fmt.Errorf("-conns: %w", err)
	}
	for _, k := range strings.Split(kinds, ",") {
		switch k = strings.TrimSpace(k); k {
		case kindPivot, kindPivotPipeline, kindPivotObserve, kindStock, kindFPM, kindPivotPHP, kindPivotPHPFPM, kindCeilings:
			cfg.kinds = append(cfg.kinds, k)
		case "":
		default:
			return nil, fmt.Errorf("-servers: unknown server %q (pivot, pivot-pipeline, pivot-observe, stock, fpm, pivotphp, pivotphp-fpm, ceilings)", k)
		}
	}
	if cfg.jobsCount < 10 {
		return nil, fmt.Errorf("-jobs-count must be at least 10")
	}
	if cfg.rounds < 1 || cfg.threads < 1 || cfg.duration < time.Second {
		return nil, fmt.Errorf("-rounds and -threads must be ≥ 1 and -duration ≥ 1s")
	}
	for _, c := range cfg.conns {
		if c < cfg.threads {
			return nil, fmt.Errorf("-conns %d is below -threads %d (wrk needs a connection per thread)", c, cfg.threads)
		}
	}
	if cfg.repo == "" {
		if cfg.repo, err = findRepo(); err != nil {
			return nil, err
		}
	}
	if cfg.repo, err = filepath.Abs(cfg.repo); err != nil {
		return nil, err
	}
	if cfg.jsonPath == "" {
		cfg.jsonPath = filepath.Join(cfg.repo, "bench", "results.json")
	}
	if cfg.rr, err = filepath.Abs(cfg.rr); err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.rr); err != nil {
		return nil, fmt.Errorf("-rr: %w (build it with make build)", err)
	}
	if cfg.jobsOnly && cfg.edgeOnly {
		return nil, fmt.Errorf("-jobs-only and -edge-only: pick one")
	}
	bins := []*string{&cfg.php, &cfg.wrk}
	if cfg.jobsOnly {
		bins = bins[:1] // no wrk needed
	}
	if cfg.edge || cfg.edgeOnly {
		if cfg.h2load, err = exec.LookPath(cfg.h2load); err != nil {
			cfg.h2load = "" // the section notes it and runs wrk's rows
		}
	}
	for _, bin := range bins {
		if *bin, err = exec.LookPath(*bin); err != nil {
			return nil, fmt.Errorf("%w (scripts/install-deps.sh bench installs php, wrk, nginx, php-fpm)", err)
		}
	}
	return cfg, nil
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// findRepo walks up from the working directory to the directory holding go.mod.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory; pass -repo")
		}
		dir = parent
	}
}

func commandOutput(bin string, args ...string) string {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return err.Error()
	}
	return string(out)
}
