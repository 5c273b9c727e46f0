package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// startServers starts each kind at each worker count and waits until it answers; a server that
// fails is reported and left out.
func startServers(ctx context.Context, ps *procs, cfg *config, dir string, res *results) []*server {
	specs := map[string]*rrSpec{
		kindPivot: {kind: kindPivot, section: "pivot", plugin: "pivot", path: "/hello",
			script: filepath.Join(cfg.repo, "examples", "hello", "worker.php")},
		kindPivotPipeline: {kind: kindPivotPipeline, section: "pivot", plugin: "pivot", path: "/hello",
			script: filepath.Join(cfg.repo, "examples", "hello", "worker.php"), options: "  pipeline: true\n"},
		kindPivotObserve: {kind: kindPivotObserve, section: "pivot", plugin: "pivot", path: "/hello",
			script: filepath.Join(cfg.repo, "examples", "hello", "worker.php"), logLevel: "info",
			options: "  access_log: true\n  trace:\n    sample: 1\n"},
		kindStock: {kind: kindStock, section: "http", plugin: "http", path: "/hello",
			script: filepath.Join(cfg.repo, "examples", "hello", "worker.php")},
	}
	var servers []*server
	// launch starts one server and waits until it answers; one that fails is reported, its
	// cells marked, and left out. false: the run was interrupted.
	launch := func(kind string, workers int, start func() (*server, error)) bool {
		if ctx.Err() != nil {
			return false
		}
		s, err := startReady(ctx, start)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			label := serverLabel(kind, workers)
			res.errorf("%s failed to start: %v", label, err)
			progress("%s failed to start: %v", label, err)
			for _, c := range cfg.conns {
				res.Throughput = append(res.Throughput, &cell{Server: kind, Workers: workers, Conns: c, Failed: "failed to start"})
			}
			return true
		}
		s.start = start
		if s.isCeiling() {
			progress("started %s at %s (ceiling: no PHP)", s.label(), s.url)
		} else {
			progress("started %s at %s (%d PHP workers: %v)", s.label(), s.url, workers, s.workerPids())
		}
		servers = append(servers, s)
		return true
	}
	fpmApps := map[string]fpmApp{kindFPM: fpmHello}
	for _, kind := range cfg.kinds {
		switch kind {
		case kindCeilings:
			for _, k := range ceilingKinds {
				if !launch(k, 0, func() (*server, error) { return startCeiling(ps, dir, k) }) {
					return servers
				}
			}
			continue
		case kindPivotPHP:
			spec, why := pivotPHPSpec(cfg)
			if spec == nil {
				res.Skipped = append(res.Skipped, "pivotphp (JSON route through the adapter): "+why)
				progress("skipped pivotphp: %s", why)
				continue
			}
			res.Settings.PivotPHPURL = spec.path
			res.Settings.PivotPHPEnv = "PIVOTPHP_AUTOLOAD=" + os.Getenv("PIVOTPHP_AUTOLOAD") + " PIVOT_MAX_REQUESTS=" + envOr(spec.env, "PIVOT_MAX_REQUESTS")
			specs[kindPivotPHP] = spec
		case kindPivotObserve:
			rcv, err := startOTLPReceiver()
			if err != nil {
				res.errorf("%s: the OTLP receiver: %v", kind, err)
				continue
			}
			cfg.otlp = rcv
			specs[kind].top = rcv.observeTop()
		case kindPivotPHPFPM:
			app, why := pivotPHPFPMApp(cfg)
			if why != "" {
				res.Skipped = append(res.Skipped, "pivotphp-fpm (the PivotPHP app on nginx + php-fpm): "+why)
				progress("skipped pivotphp-fpm: %s", why)
				continue
			}
			fpmApps[kindPivotPHPFPM] = app
		}
		if _, ok := fpmApps[kind]; ok {
			var err error
			if cfg.fpm, err = findFPM(cfg.fpm); err != nil {
				res.errorf("%s: %v", kind, err)
				continue
			}
			res.Machine.PHPFPM = firstLine(commandOutput(cfg.fpm, "-v"))
			res.Machine.Nginx = firstLine(commandOutput(cfg.nginx, "-v"))
		}
		for _, w := range cfg.workers {
			ok := launch(kind, w, func() (*server, error) {
				if app, ok := fpmApps[kind]; ok {
					return startFPM(ps, cfg, dir, app, w)
				}
				return startRR(ps, cfg, dir, *specs[kind], w)
			})
			if !ok {
				return servers
			}
		}
	}
	return servers
}

// pivotPHPAutoload is PIVOTPHP_AUTOLOAD when it names an existing file; otherwise "" and why.
func pivotPHPAutoload() (string, string) {
	autoload := os.Getenv("PIVOTPHP_AUTOLOAD")
	if autoload == "" {
		return "", "PIVOTPHP_AUTOLOAD is not set (point it at an installed pivotphp/core's vendor/autoload.php)"
	}
	if _, err := os.Stat(autoload); err != nil {
		return "", fmt.Sprintf("PIVOTPHP_AUTOLOAD=%s: %v", autoload, err)
	}
	return autoload, ""
}

// repoFile is path under the repo root unless absolute, and whether it exists.
func repoFile(cfg *config, path, flagName string) (string, string) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(cfg.repo, path)
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Sprintf("%s: %v (-%s)", path, err, flagName)
	}
	return path, ""
}

// pivotPHPFPMApp is the PivotPHP app's php-fpm front controller with the core's autoloader, or
// why it cannot run.
func pivotPHPFPMApp(cfg *config) (fpmApp, string) {
	autoload, why := pivotPHPAutoload()
	if why != "" {
		return fpmApp{}, why
	}
	front, why := repoFile(cfg, cfg.pivotphpFront, "pivotphp-front")
	if why != "" {
		return fpmApp{}, why
	}
	return fpmApp{kind: kindPivotPHPFPM, script: front, path: cfg.pivotphpPath, check: checkJSON,
		env: []fpmEnv{{Name: "PIVOTPHP_AUTOLOAD", Value: autoload}}}, ""
}

// pivotPHPSpec is the PivotPHP server when PIVOTPHP_AUTOLOAD names an installed core and the
// worker script exists; otherwise nil and why.
func pivotPHPSpec(cfg *config) (*rrSpec, string) {
	if _, why := pivotPHPAutoload(); why != "" {
		return nil, why
	}
	script, why := repoFile(cfg, cfg.pivotphpWorker, "pivotphp-worker")
	if why != "" {
		return nil, "worker script " + why
	}
	// Steady state: no recycling after N requests (the runtime's WorkerManager default would
	// replace workers during the runs); the worker start figure shows what a replacement costs.
	// An explicit PIVOT_MAX_REQUESTS in the environment wins.
	var env []string
	if _, set := os.LookupEnv("PIVOT_MAX_REQUESTS"); !set {
		env = append(env, "PIVOT_MAX_REQUESTS=0")
	}
	return &rrSpec{kind: kindPivotPHP, section: "pivot", plugin: "pivot", script: script, path: cfg.pivotphpPath, env: env, check: checkJSON}, ""
}

// envOr is the value of key in env, else in the process environment.
func envOr(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return os.Getenv(key)
}
