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

// goBench is one line of `go test -bench BenchmarkHandler` output.
type goBench struct {
	Name        string  `json:"name"`
	N           int64   `json:"n"`
	NsPerOp     float64 `json:"ns_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	AllocsPerOp float64 `json:"allocs_per_op"`
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
			switch f[i+1] {
			case "B/op":
				b.BytesPerOp = v
			case "allocs/op":
				b.AllocsPerOp = v
			}
		}
		res = append(res, b)
	}
	return res
}

// runGoBench runs the handler benchmark in the repo root (real PHP workers, the real plugin
// graph): allocs/op is the Go-side allocation count per request, ns/op includes the PHP round
// trip over the pipes.
func runGoBench(ctx context.Context, goBin, repo, benchtime string) ([]goBench, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "test", "-run", "^$", "-bench", "BenchmarkHandler", "-benchtime", benchtime, ".")
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench BenchmarkHandler: %w\n%s", err, indent(lastLines(string(out), 20), "    "))
	}
	res := parseGoBench(string(out))
	if len(res) == 0 {
		return nil, fmt.Errorf("go test -bench BenchmarkHandler printed no benchmark line:\n%s", indent(lastLines(string(out), 20), "    "))
	}
	return res, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
