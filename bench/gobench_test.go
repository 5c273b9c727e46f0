package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseGoBench(t *testing.T) {
	out := readSample(t, "gotest-bench.txt") // real `go test -bench BenchmarkHandler` output
	got := parseGoBench(out)
	want := []goBench{
		{Name: "Handler/GET_hello", N: 200, NsPerOp: 65776, BytesPerOp: 12256, AllocsPerOp: 28},
		{Name: "Handler/POST_json_1KB", N: 200, NsPerOp: 71577, BytesPerOp: 11189, AllocsPerOp: 29},
	}
	if len(got) != len(want) {
		t.Fatalf("parseGoBench = %+v, want %+v", got, want)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("line %d: got %+v, want %+v", i, got[i], want[i])
		}
	}

	// without -benchmem-style columns, and with no GOMAXPROCS suffix
	got = parseGoBench("BenchmarkX 	 100	 12.5 ns/op\nPASS\n")
	if len(got) != 1 || got[0].Name != "X" || got[0].NsPerOp != 12.5 || got[0].AllocsPerOp != 0 {
		t.Errorf("minimal line: %+v", got)
	}
	if got := parseGoBench(strings.ReplaceAll(out, "Benchmark", "")); len(got) != 0 {
		t.Errorf("non-benchmark lines parsed: %+v", got)
	}

	// b.ReportMetric units land in Metrics; the pool's calls/s are read per cell
	r := &results{GoBench: parseGoBench(readSample(t, "gotest-bench-pool.txt"))}
	if len(r.GoBench) != 4 {
		t.Fatalf("pool benchmark lines: %+v", r.GoBench)
	}
	if b := r.GoBench[0]; b.Name != "PoolRoundTrip/w2_c8" || b.NsPerOp != 18261 || b.AllocsPerOp != 1 || b.Metrics[callsPerSec] != 54762 {
		t.Errorf("pool line: %+v", b)
	}
	wantPool := map[string]float64{"w2_c8": 54762, "w2_c50": 67814, "w4_c8": 86712, "w4_c50": 100068}
	if got := r.poolRoundTrips(); !reflect.DeepEqual(got, wantPool) {
		t.Errorf("poolRoundTrips = %v, want %v", got, wantPool)
	}
}

func TestMedianAndTargets(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median odd = %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median even = %v", m)
	}
	r := &results{Settings: settings{Workers: []int{2, 4}, Conns: []int{8, 50}, RSSRequests: 10000}}
	for _, c := range []struct {
		kind     string
		w, c     int
		rps, p99 float64
	}{
		{kindPivot, 4, 50, 31000, 5}, {kindStock, 4, 50, 20000, 6}, {kindFPM, 4, 50, 15000, 4},
		{kindGoFastHTTP, 0, 50, 62000, 1}, // a ceiling: no workers
		{kindPivotPHP, 4, 50, 10000, 7}, {kindPivotPHPFPM, 4, 50, 2500, 30},
		{kindPivotPipeline, 4, 50, 28500, 7}, // pipelining that helped nothing, and a worse p99 than stock
	} {
		r.Throughput = append(r.Throughput, &cell{Server: c.kind, Workers: c.w, Conns: c.c,
			Rounds: []*round{{wrkResult: wrkResult{RPS: c.rps, P50: 1, P99: c.p99}}}})
	}
	r.GoBench = []goBench{{Name: "PoolRoundTrip/w4_c50", Metrics: map[string]float64{callsPerSec: 100000}}}
	r.summarize()
	if got := r.Ratios["pivot/go fasthttp"]["w4_c50"]; got != 0.5 {
		t.Errorf("pivot/go fasthttp = %v", got)
	}
	if got := r.Ratios[poolRatio]["w4_c50"]; got != 0.31 {
		t.Errorf("pivot/pool round trip = %v", got)
	}
	if got := r.Ratios[pivotPHPRatio]["w4_c50"]; got != 4 {
		t.Errorf("pivotphp/pivotphp-fpm = %v", got)
	}
	if _, ok := r.Ratios["pivot/go net/http"]; ok {
		t.Errorf("a ceiling that was not measured has ratios: %v", r.Ratios["pivot/go net/http"])
	}
	if got := r.Ratios["pivot/stock"]["w4_c50"]; got != 1.55 {
		t.Errorf("pivot/stock = %v", got)
	}
	if got := r.Ratios["pivot/fpm"]["w4_c50"]; got != 2.067 {
		t.Errorf("pivot/fpm = %v", got)
	}
	for name, want := range map[string]float64{pipelineFPMRatio: 1.9, pipelineStockRatio: 1.425, "p99 " + pipelineStockRatio: 1.167, pipelineOffRatio: 0.919} {
		if got := r.Ratios[name]["w4_c50"]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	verdicts := map[string]*bool{}
	for _, tg := range evaluateTargets(r) {
		verdicts[tg.Name] = tg.Met
	}
	for name, want := range map[string]bool{
		"pivot ≥ 1.5× stock req/s (every workers × conns)":      true,
		"pivot ≥ 2.0× nginx+fpm req/s (every workers × conns)":  true,
		"pivot p99 no worse than stock (every workers × conns)": true,
		"30,000 req/s (pivot, 4 workers, c50)":                  true,
		// pivot-pipeline is judged on its own lines: its misses do not change pivot's verdicts
		"pivot.pipeline on: ≥ 2.0× nginx+fpm req/s (every workers × conns)":  false,
		"pivot.pipeline on: p99 no worse than stock (every workers × conns)": false,
		"p50 < 2 ms (pivot, 4 workers, c50)":                                 true,
	} {
		if v := verdicts[name]; v == nil || *v != want {
			t.Errorf("target %q: %v, want %v", name, v, want)
		}
	}
	if v, ok := verdicts["what bounds it: the ceilings (pivot, 4 workers, c50)"]; !ok || v != nil {
		t.Errorf("the ceilings are shown as n/a, not judged: present %v, %v", ok, v)
	}
	if v, ok := verdicts["pivot worker ready < 50 ms (spawn to handshake)"]; !ok || v != nil {
		t.Errorf("unmeasured worker start should be n/a, got %v", v)
	}
}

// The report prints each ratio and ceiling that was measured, and only those.
func TestReportShowsMeasuredRatiosAndCeilings(t *testing.T) {
	r := &results{Settings: settings{Workers: []int{2}, Conns: []int{8}, RSSRequests: 10}}
	for _, c := range []struct {
		kind string
		w    int
		rps  float64
	}{{kindPivotPHP, 2, 9000}, {kindPivotPHPFPM, 2, 3000}, {kindPivot, 2, 30000}, {kindPivotPipeline, 2, 33000}, {kindGoFastHTTP, 0, 100000}} {
		r.Throughput = append(r.Throughput, &cell{Server: c.kind, Workers: c.w, Conns: 8,
			Rounds: []*round{{N: 1, wrkResult: wrkResult{RPS: c.rps, P50: 1, P99: 2}}}})
	}
	r.GoBench = []goBench{{Name: "PoolRoundTrip/w2_c8", Metrics: map[string]float64{callsPerSec: 60000}}}
	r.summarize()
	var out strings.Builder
	printReport(&out, r)
	text := strings.Join(strings.Fields(out.String()), " ") // the table's column padding aside
	for _, want := range []string{
		"pivotphp/pivotphp-fpm 3.00", "pivot/pool round trip 0.50", "pivot/go fasthttp 0.30",
		"pool round trip calls/s 60000", "go fasthttp req/s 100000", "go fasthttp - 8 100000",
		"pivot-pipeline/pivot 1.10", "pivot-pipeline 2 8 33000",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	for _, unwanted := range []string{"pivot/stock ", "pivot/go net/http ", "pivot-pipeline/fpm "} {
		if strings.Contains(text, unwanted) {
			t.Errorf("report shows %q, which was not measured:\n%s", unwanted, out.String())
		}
	}
}
