package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// printReport writes the human-readable tables.
func printReport(out io.Writer, r *results) {
	m := r.Machine
	fmt.Fprintf(out, "\npivot vs stock RoadRunner http vs nginx+php-fpm — %s\n", r.Date)
	fmt.Fprintf(out, "machine: %d CPUs (%s), Linux %s; wrk on the same box (it competes with the server for the CPUs)\n", m.CPUs, m.CPUModel, m.Kernel)
	fmt.Fprintf(out, "%s | %s | %s | %s | %s\n", m.RR, m.PHP, m.PHPFPM, m.Nginx, m.Wrk)
	fmt.Fprintf(out, "load average at start %s, at end %s; fpm opcache: %s\n", m.LoadStart, m.LoadEnd, m.FPMOpcache)
	s := r.Settings
	if len(r.Throughput) == 0 && (r.Jobs != nil || r.Edge != nil) { // -jobs-only, -edge-only
		printEdge(out, r.Edge)
		if r.Jobs != nil {
			printJobs(out, r.Jobs)
		}
		printProblems(out, r)
		return
	}
	fmt.Fprintf(out, "wrk --latency -t%d -d%s, %d rounds interleaved, medians shown%s\n",
		s.Threads, s.Duration, s.Rounds, map[bool]string{true: " (QUICK MODE: sanity run, not a measurement)"}[s.Quick])

	fmt.Fprintln(out, "\nThroughput and latency (GET hello world; pivotphp: a JSON route through the adapter)")
	if s.TraceBatches > 0 {
		fmt.Fprintf(out, "pivot-observe: the OTLP receiver got %d batches, %.1f MB\n", s.TraceBatches, float64(s.TraceBytes)/1e6)
	}
	if s.PivotPHPURL != "" {
		fmt.Fprintf(out, "pivotphp: GET %s, %s\n", s.PivotPHPURL, s.PivotPHPEnv)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tworkers\tconns\treq/s\tp50 ms\tp99 ms\terrors\tCPU µs/req: front\t(user)\tPHP\twrk\tother\tCPU busy\tdisturbed\t")
	for _, c := range sortedCells(r) {
		if !c.ok() {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t\t\t\t\t\t\t\t\t\t\t\n", c.Server, workersColumn(c), c.Conns, orDash(c.Failed))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%.2f\t%.2f\t%d\t%.1f\t%s\t%s\t%.1f\t%.1f\t%.0f%%\t%s\t\n",
			c.Server, workersColumn(c), c.Conns, c.RPS, c.P50, c.P99, c.Errors, c.CPUFront, userCPU(c), phpCPU(c), c.CPUWrk, c.CPUOther, c.Busy,
			disturbed(c))
	}
	_ = tw.Flush()
	if hasCeilings(r) {
		fmt.Fprintln(out, "(go fasthttp, go net/http: ceilings — a plain Go hello server, no PHP; front = its process)")
	}
	fmt.Fprintln(out, "(CPU time per request: front = rr's Go process, or nginx master+workers; (user) = rr's user-mode part:")
	fmt.Fprintln(out, " its Go code without the kernel's socket and pipe work; PHP = the PHP workers and")
	fmt.Fprintln(out, " php-fpm's master; wrk = the load generator; other = the rest of the machine's busy time: kernel")
	fmt.Fprintln(out, " softirq for loopback TCP and whatever else ran. CPU busy = the machine's busy share during the run;")
	fmt.Fprintf(out, " disturbed = rounds in which more than %d%% of the CPU went to other processes — rerun on a quiet box)\n", disturbedPct)

	fmt.Fprintln(out, "\nRatios (medians; \"per round\": the lowest and highest ratio within one round)")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	shownRatios := []string{"pivot/stock", "pivot/fpm", "p99 pivot/stock", pipelineOffRatio, pipelineFPMRatio,
		pipelineStockRatio, "p99 " + pipelineStockRatio, observeRatio, pivotPHPRatio}
	union := map[string]float64{}
	for _, name := range shownRatios {
		for k := range r.Ratios[name] {
			union[k] = 0
		}
	}
	keys := sortedKeys(union)
	if len(keys) == 0 {
		fmt.Fprintln(out, "  not measured (pivot and stock or fpm, or pivotphp and pivotphp-fpm, are needed)")
	}
	if len(keys) > 0 {
		fmt.Fprintf(tw, "\t%s\t\n", strings.Join(keys, "\t"))
	}
	for _, name := range shownRatios {
		if len(r.Ratios[name]) > 0 {
			printRatioRow(tw, r, name, keys)
		}
	}
	for _, name := range []string{"pivot/stock", "pivot/fpm", pipelineFPMRatio, observeRatio} {
		if len(keys) == 0 || len(r.RoundRatios[name]) == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s per round", name)
		for _, k := range keys {
			if v, ok := r.RoundRatios[name][k]; ok {
				fmt.Fprintf(tw, "\t%.2f–%.2f", v[0], v[1])
			} else {
				fmt.Fprint(tw, "\t-")
			}
		}
		fmt.Fprintln(tw, "\t")
	}
	_ = tw.Flush()

	printCeilings(out, r)

	fmt.Fprintf(out, "\nPHP worker memory (VmRSS, MB; RssAnon in brackets) after %d requests per worker, and at the end\n", s.RSSRequests)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, m := range r.WorkerRSS {
		if m.Failed != "" {
			fmt.Fprintf(tw, "%s w%d\t%s\t\n", m.Server, m.Workers, m.Failed)
			continue
		}
		fmt.Fprintf(tw, "%s w%d\t%s\tend: %s\t\n", m.Server, m.Workers, memList(m.After), memList(m.AtEnd))
	}
	_ = tw.Flush()

	shown := map[string]bool{}
	for _, m := range r.WorkerRSS { // in the rows' order: pivot, then its RSS-only variants
		b, ok := r.PHPBaselines[m.Server]
		if !ok || shown[m.Server] {
			continue
		}
		shown[m.Server] = true
		fmt.Fprintf(out, "baseline: an idle php -r (no worker code), %s: %.1f [%.1f] MB\n", b.Comment, mb(b.RSSKB), mb(b.AnonKB))
	}

	fmt.Fprintln(out, "\nWorker start (informer.AddWorker over RPC: spawn to handshake), ms")
	for _, st := range r.WorkerStart {
		fmt.Fprintf(out, "  %-14s median %.1f  samples %v %s\n", st.Server, st.MedianMS, st.Samples, st.Failed)
	}
	if len(r.WorkerStart) == 0 {
		fmt.Fprintln(out, "  not measured")
	}

	fmt.Fprintln(out, "\nGo benchmarks (go test -bench, servers stopped; Handler: one request at a time, ns/op includes the")
	fmt.Fprintln(out, "PHP round trip; PoolRoundTrip: parallel callers, ns/op = wall time / calls)")
	for _, b := range r.GoBench {
		calls := ""
		if v := b.Metrics[callsPerSec]; v > 0 {
			calls = fmt.Sprintf(" %8.0f calls/s", v)
		}
		fmt.Fprintf(out, "  %-26s %8.0f ns/op %7.0f B/op %4.0f allocs/op%s\n", b.Name, b.NsPerOp, b.BytesPerOp, b.AllocsPerOp, calls)
	}
	if len(r.GoBench) == 0 {
		fmt.Fprintln(out, "  not measured")
	}

	printEdge(out, r.Edge)
	printJobs(out, r.Jobs)

	fmt.Fprintln(out, "\nTargets (issue 6)")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, t := range r.Targets {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", verdict(t.Met), t.Name, t.Value)
	}
	_ = tw.Flush()
	printProblems(out, r)
}

// printProblems lists what was skipped and what failed.
func printProblems(out io.Writer, r *results) {
	for _, sk := range r.Skipped {
		fmt.Fprintf(out, "\nskipped: %s", sk)
	}
	if len(r.Errors) > 0 {
		fmt.Fprintln(out, "\n\nErrors:")
		for _, e := range r.Errors {
			fmt.Fprintf(out, "  - %s\n", e)
		}
	}
	fmt.Fprintln(out)
}

func disturbed(c *cell) string {
	if c.Disturbed == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", c.Disturbed, len(c.Rounds))
}

func verdict(met *bool) string {
	switch {
	case met == nil:
		return "n/a    "
	case *met:
		return "met    "
	default:
		return "NOT met"
	}
}

func memList(ms []memory) string {
	if len(ms) == 0 {
		return "-"
	}
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%.1f [%.1f]", mb(m.RSSKB), mb(m.AnonKB)))
	}
	return strings.Join(parts, " ")
}

// sortedCells orders the table by workers, connections, then kind (pivot, stock, fpm, pivotphp);
// the ceilings (workers 0) come last.
func sortedCells(r *results) []*cell {
	order := map[string]int{kindPivot: 0, kindPivotPipeline: 1, kindPivotObserve: 2, kindStock: 3, kindFPM: 4, kindPivotPHP: 5, kindPivotPHPFPM: 6, kindGoFastHTTP: 7, kindGoNetHTTP: 8}
	cells := append([]*cell(nil), r.Throughput...)
	sort.SliceStable(cells, func(i, j int) bool {
		a, b := cells[i], cells[j]
		if (a.Workers == 0) != (b.Workers == 0) {
			return b.Workers == 0
		}
		if a.Workers != b.Workers {
			return a.Workers < b.Workers
		}
		if a.Conns != b.Conns {
			return a.Conns < b.Conns
		}
		return order[a.Server] < order[b.Server]
	})
	return cells
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sortedKeys orders "wW_cC" keys by workers then connections.
func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		var wi, ci, wj, cj int
		_, _ = fmt.Sscanf(keys[i], "w%d_c%d", &wi, &ci)
		_, _ = fmt.Sscanf(keys[j], "w%d_c%d", &wj, &cj)
		if wi != wj {
			return wi < wj
		}
		return ci < cj
	})
	return keys
}

// writeJSON writes the results to path ("-" for stdout).
func writeJSON(path string, r *results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// printRatioRow is one row of the ratio table: the ratio at each "wW_cC" key.
func printRatioRow(tw io.Writer, r *results, name string, keys []string) {
	fmt.Fprintf(tw, "%s", name)
	for _, k := range keys {
		if v, ok := r.Ratios[name][k]; ok {
			fmt.Fprintf(tw, "\t%.2f", v)
		} else {
			fmt.Fprint(tw, "\t-")
		}
	}
	fmt.Fprintln(tw, "\t")
}

// printCeilings shows what bounds pivot: the plain Go hello servers' req/s at each connection
// count, the pool round trip's calls/s at each cell, and pivot's share of each.
func printCeilings(out io.Writer, r *results) {
	pool := r.poolRoundTrips()
	if !hasCeilings(r) && len(pool) == 0 {
		return
	}
	fmt.Fprintln(out, "\nCeilings (what bounds pivot): a plain Go hello server with no PHP (wrk, same rounds), and the")
	fmt.Fprintln(out, "pool round trip without HTTP (BenchmarkPoolRoundTrip: the hello request's context through the pool")
	fmt.Fprintln(out, "to the same PHP worker, as many callers as wrk's connections; run alone, no wrk)")
	type at struct{ workers, conns int }
	var cells []at
	var keys []string
	for _, w := range r.Settings.Workers {
		for _, c := range r.Settings.Conns {
			cells = append(cells, at{w, c})
			keys = append(keys, ratioKey(w, c))
		}
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t%s\t\n", strings.Join(keys, "\t"))
	row := func(name string, value func(at) (float64, bool)) {
		fmt.Fprintf(tw, "%s", name)
		for _, a := range cells {
			if v, ok := value(a); ok {
				fmt.Fprintf(tw, "\t%.0f", v)
			} else {
				fmt.Fprint(tw, "\t-")
			}
		}
		fmt.Fprintln(tw, "\t")
	}
	rps := func(kind string, workers, conns int) (float64, bool) {
		if cl := r.cell(kind, workers, conns); cl.ok() {
			return cl.RPS, true
		}
		return 0, false
	}
	row("pivot req/s", func(a at) (float64, bool) { return rps(kindPivot, a.workers, a.conns) })
	row("pool round trip calls/s", func(a at) (float64, bool) {
		v, ok := pool[ratioKey(a.workers, a.conns)]
		return v, ok
	})
	for _, kind := range ceilingKinds {
		row(kind+" req/s", func(a at) (float64, bool) { return rps(kind, 0, a.conns) }) // ceilings have no workers
	}
	for _, name := range append([]string{poolRatio}, ceilingRatio(kindGoFastHTTP), ceilingRatio(kindGoNetHTTP)) {
		if len(r.Ratios[name]) > 0 {
			printRatioRow(tw, r, name, keys)
		}
	}
	_ = tw.Flush()
}

func hasCeilings(r *results) bool {
	for _, c := range r.Throughput {
		if c.Workers == 0 {
			return true
		}
	}
	return false
}

func workersColumn(c *cell) string {
	if c.Workers == 0 {
		return "-"
	}
	return fmt.Sprint(c.Workers)
}

// phpCPU shows the PHP workers' CPU per request; the ceilings have none.
func phpCPU(c *cell) string {
	if c.Workers == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", c.CPUPHP)
}

// userCPU shows the Go front's user-mode CPU per request; nginx's is not split (server.frontUserCPU
// leaves it 0).
func userCPU(c *cell) string {
	if c.CPUFrontUser == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", c.CPUFrontUser)
}
