package main

import (
	"fmt"
	"strings"
)

// The targets (issue 6); a missed target is reported, never an error.
const (
	targetVsStock    = 1.5
	targetVsFPM      = 2.0
	targetObserve    = 0.85 // issue 20: tracing at 100 % and the access log cost ≤ 15 % of req/s
	targetRSSKB      = 20 * 1024
	targetReadyMS    = 50.0
	targetAllocs     = 10.0
	targetGoUS       = 10.0
	targetRPS4       = 30000.0
	targetP50MS      = 2.0
	targetP99MS      = 8.0
	absoluteConns    = 50
	absoluteWorkers  = 4
	benchHelloPrefix = "Handler/GET"
)

func evaluateTargets(r *results) []target {
	var t []target
	add := func(name string, met *bool, format string, args ...any) {
		t = append(t, target{Name: name, Value: fmt.Sprintf(format, args...), Met: met})
	}
	yes := func(b bool) *bool { return &b }

	// throughput ratios: the worst cell must meet the target
	for _, rt := range []struct {
		key, name string
		want      float64
	}{
		{"pivot/stock", fmt.Sprintf("pivot ≥ %.1f× stock req/s (every workers × conns)", targetVsStock), targetVsStock},
		{"pivot/fpm", fmt.Sprintf("pivot ≥ %.1f× nginx+fpm req/s (every workers × conns)", targetVsFPM), targetVsFPM},
		// the same with the opt-in pivot.pipeline (README: head-of-line blocking)
		{pipelineFPMRatio, fmt.Sprintf("pivot.pipeline on: ≥ %.1f× nginx+fpm req/s (every workers × conns)", targetVsFPM), targetVsFPM},
	} {
		k, v, ok := worst(r.Ratios[rt.key], false)
		if !ok {
			add(rt.name, nil, "not measured")
			continue
		}
		add(rt.name, yes(v >= rt.want), "min %.2f× (%s); all: %s", v, k, ratioList(r.Ratios[rt.key]))
	}
	if k, v, ok := worst(r.Ratios[observeRatio], false); ok {
		add(fmt.Sprintf("access log + 100 %% tracing (OTLP) ≥ %.2f× pivot plain req/s (every workers × conns)", targetObserve), yes(v >= targetObserve),
			"min %.2f× (%s); all: %s", v, k, ratioList(r.Ratios[observeRatio]))
	}
	if k, v, ok := worst(r.Ratios["p99 pivot/stock"], true); ok {
		add("pivot p99 no worse than stock (every workers × conns)", yes(v <= 1), "worst pivot/stock p99 %.2f× (%s)", v, k)
	} else {
		add("pivot p99 no worse than stock (every workers × conns)", nil, "not measured")
	}
	if k, v, ok := worst(r.Ratios["p99 "+pipelineStockRatio], true); ok {
		add("pivot.pipeline on: p99 no worse than stock (every workers × conns)", yes(v <= 1), "worst pivot-pipeline/stock p99 %.2f× (%s)", v, k)
	}

	name := fmt.Sprintf("pivot worker RSS < 20 MB after %d requests per worker", r.Settings.RSSRequests)
	system, cli, noIni := maxRSSOf(r, kindPivot), maxRSSOf(r, kindPivotCLIExt), maxRSSOf(r, kindPivotNoIni)
	switch {
	case cli > 0:
		// Judged with the extension set a fresh `make bench` machine loads (php_variants.go): the
		// system php.ini's figure depends on what else is installed, and is shown beside it.
		add(name, yes(cli < targetRSSKB), "max VmRSS %s with php-cli's own extensions; with this machine's php.ini %s; php -n %s",
			rssWithBaseline(r, kindPivotCLIExt, cli), rssWithBaseline(r, kindPivot, system), rssWithBaseline(r, kindPivotNoIni, noIni))
	case system > 0:
		add(name, yes(system < targetRSSKB), "max VmRSS %.1f MB with this machine's php.ini", mb(system))
	default:
		add(name, nil, "not measured")
	}

	name = "pivot worker ready < 50 ms (spawn to handshake)"
	if st := findStart(r, kindPivot); st != nil && len(st.Samples) > 0 {
		add(name, yes(st.MedianMS < targetReadyMS), "median %.1f ms", st.MedianMS)
	} else {
		add(name, nil, "not measured")
	}

	name = "≤ 10 Go allocations per request (handler benchmark)"
	if b := findBench(r); b != nil {
		add(name, yes(b.AllocsPerOp <= targetAllocs), "%.0f allocs/op (%s)", b.AllocsPerOp, b.Name)
	} else {
		add(name, nil, "not measured")
	}

	// The Go side's own work is rr's user-mode CPU: fasthttp, handler, pool, relay and the Go
	// runtime. The kernel's work for the socket and pipe syscalls (rr's system time) is the
	// transport every server pays, shown in the table's front column.
	name = "Go-side overhead ≤ 10 µs per request (rr user-mode CPU, every workers × conns)"
	if key, v, ok := worstFrontUser(r); ok {
		add(name, yes(v <= targetGoUS), "max %.1f µs (%s); rr's CPU with its kernel time: see the table", v, key)
	} else {
		add(name, nil, "not measured")
	}

	c := r.cell(kindPivot, absoluteWorkers, absoluteConns)
	suffix := fmt.Sprintf(" (pivot, %d workers, c%d)", absoluteWorkers, absoluteConns)
	if c.ok() {
		add("30,000 req/s"+suffix, yes(c.RPS >= targetRPS4), "%.0f req/s", c.RPS)
		add("p50 < 2 ms"+suffix, yes(c.P50 < targetP50MS), "%.2f ms", c.P50)
		add("p99 < 8 ms"+suffix, yes(c.P99 < targetP99MS), "%.2f ms", c.P99)
	} else {
		add("30,000 req/s, p50 < 2 ms, p99 < 8 ms"+suffix, nil, "not measured")
	}
	// Not a target: the issue asks what bounds pivot beyond 30,000 req/s.
	if bounds := ceilingSummary(r, absoluteWorkers, absoluteConns); bounds != "" {
		add("what bounds it: the ceilings"+suffix, nil, "%s", bounds)
	}
	return t
}

// ceilingSummary names the ceilings measured at a cell and pivot's share of each.
func ceilingSummary(r *results, workers, conns int) string {
	key := ratioKey(workers, conns)
	var parts []string
	if calls, ok := r.poolRoundTrips()[key]; ok {
		parts = append(parts, fmt.Sprintf("pool round trip %.0f calls/s (pivot %.0f%% of it)", calls, 100*r.Ratios[poolRatio][key]))
	}
	for _, kind := range ceilingKinds {
		if c := r.cell(kind, 0, conns); c.ok() {
			parts = append(parts, fmt.Sprintf("%s hello %.0f req/s (pivot %.0f%%)", kind, c.RPS, 100*r.Ratios[ceilingRatio(kind)][key]))
		}
	}
	return strings.Join(parts, "; ")
}

// worst is the smallest value of m (the largest when high is true) and its key.
func worst(m map[string]float64, high bool) (string, float64, bool) {
	var key string
	var val float64
	found := false
	for _, k := range sortedKeys(m) {
		v := m[k]
		if !found || (high && v > val) || (!high && v < val) {
			key, val, found = k, v, true
		}
	}
	return key, val, found
}

func ratioList(m map[string]float64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func findStart(r *results, kind string) *startResult {
	for _, s := range r.WorkerStart {
		if s.Server == kind {
			return s
		}
	}
	return nil
}

func findBench(r *results) *goBench {
	for i := range r.GoBench {
		if strings.HasPrefix(r.GoBench[i].Name, benchHelloPrefix) {
			return &r.GoBench[i]
		}
	}
	return nil
}

// worstFrontUser is the largest user-mode CPU per request of rr over pivot's cells.
func worstFrontUser(r *results) (string, float64, bool) {
	m := map[string]float64{}
	for _, c := range r.Throughput {
		if c.Server == kindPivot && c.ok() && c.CPUFrontUser > 0 {
			m[ratioKey(c.Workers, c.Conns)] = c.CPUFrontUser
		}
	}
	return worst(m, true)
}

// maxRSSOf is the largest worker VmRSS (KB) measured for a server kind, 0 when none was.
func maxRSSOf(r *results, kind string) int64 {
	var kb int64
	for _, m := range r.WorkerRSS {
		if m.Server == kind && m.Failed == "" {
			kb = max(kb, m.MaxKB)
		}
	}
	return kb
}

// rssWithBaseline formats a worker RSS with the idle php -r of the same PHP set-up, when known.
func rssWithBaseline(r *results, kind string, kb int64) string {
	if kb == 0 {
		return "not measured"
	}
	if b, ok := r.PHPBaselines[kind]; ok {
		return fmt.Sprintf("%.1f MB (an idle php -r: %.1f MB)", mb(kb), mb(b.RSSKB))
	}
	return fmt.Sprintf("%.1f MB", mb(kb))
}
