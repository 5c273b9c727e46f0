package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The Go benchmarks of the repo root (bench_test.go, pool_bench_test.go).
const (
	benchHandler       = "BenchmarkHandler"
	benchPoolRoundTrip = "BenchmarkPoolRoundTrip"
	poolPrefix         = "PoolRoundTrip/" // + "wW_cC"
	callsPerSec        = "calls/s"
)

// goBench is one line of `go test -bench` output.
type goBench struct {
	Name        string  `json:"name"`
	N           int64   `json:"n"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	AllocsPerOp float64 `json:"allocs_per_op"`
	// Metrics are the benchmark's own b.ReportMetric units, e.g. "calls/s".
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// "BenchmarkHandler/GET_hello-2   20000   77768 ns/op   1799 B/op   28 allocs/op"
var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+(\d+)\s+([\d.]+) ns/op(.*)$`)

// parseGoBench reads the benchmark lines of `go test -bench` output.
func parseGoBench(out string) []goBench {
	var res []goBench
	for _, line := range strings.Split(out, "\n") {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		b := goBench{Name: m[1]}
		b.N, _ = strconv.ParseInt(m[2], 10, 64)
		b.NsPerOp, _ = strconv.ParseFloat(m[3], 64)
		f := strings.Fields(m[4])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch unit := f[i+1]; unit {
			case "B/op":
				b.BytesPerOp = v
			case "allocs/op":
				b.AllocsPerOp = v
			default:
				if b.Metrics == nil {
					b.Metrics = map[string]float64{}
				}
				b.Metrics[unit] = v
			}
		}
		res = append(res, b)
	}
	return res
}

// runGoBench runs one benchmark of tests/integration (real PHP workers): BenchmarkHandler (the
// real plugin graph; allocs/op is the Go-side allocation count per request, ns/op includes the
// PHP round trip over the pipes) or BenchmarkPoolRoundTrip (calls/s of the pool alone).
func runGoBench(ctx context.Context, goBin, repo, name, benchtime string) ([]goBench, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "test", "-run", "^$", "-bench", "^"+name+"$", "-benchtime", benchtime, "./tests/integration")
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench %s: %w\n%s", name, err, indent(lastLines(string(out), 20), "    "))
	}
	res := parseGoBench(string(out))
	if len(res) == 0 {
		return nil, fmt.Errorf("go test -bench %s printed no benchmark line:\n%s", name, indent(lastLines(string(out), 20), "    "))
	}
	return res, nil
}

// poolRoundTrips are BenchmarkPoolRoundTrip's calls/s per "wW_cC".
func (r *results) poolRoundTrips() map[string]float64 {
	m := map[string]float64{}
	for _, b := range r.GoBench {
		if key, ok := strings.CutPrefix(b.Name, poolPrefix); ok && b.Metrics[callsPerSec] > 0 {
			m[key] = b.Metrics[callsPerSec]
		}
	}
	return m
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
