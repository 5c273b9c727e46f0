package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The samples in testdata are real wrk 4.1.0 (Debian) output captured on this machine against
// rr serve with examples/hello/worker.php.
func TestParseWrk(t *testing.T) {
	tests := []struct {
		file string
		want wrkResult
	}{
		{"wrk-c50.txt", wrkResult{Requests: 66673, Seconds: 5, RPS: 13330.29,
			P50: 3.36, P75: 4.22, P90: 5.69, P99: 14.11}},
		{"wrk-c8-us.txt", wrkResult{Requests: 38969, Seconds: 2.1, RPS: 18553.02,
			P50: 0.395, P75: 0.514, P90: 0.65, P99: 1.96}},
		{"wrk-non2xx.txt", wrkResult{Requests: 33411, Seconds: 2, RPS: 16698.04,
			P50: 2.82, P75: 3.24, P90: 3.81, P99: 6.35, Non2xx: 33411}},
		{"wrk-timeouts.txt", wrkResult{Requests: 4, Seconds: 3.01, RPS: 1.33, Timeouts: 4}},
		{"wrk-seconds.txt", wrkResult{Requests: 4, Seconds: 5.02, RPS: 0.8,
			P50: 1100, P75: 1100, P90: 1100, P99: 1100}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := parseWrk(readSample(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !sameResult(got, tc.want) {
				t.Errorf("parseWrk\n got %+v\nwant %+v", got, tc.want)
			}
			if got.Errors() != tc.want.Non2xx+tc.want.Timeouts {
				t.Errorf("Errors() = %d", got.Errors())
			}
		})
	}
}

func TestParseWrkRejects(t *testing.T) {
	full := readSample(t, "wrk-c8-us.txt")
	var noLatency []string // what wrk prints without --latency
	for _, line := range strings.Split(full, "\n") {
		if !strings.Contains(line, "%  ") && !strings.Contains(line, "Latency Distribution") {
			noLatency = append(noLatency, line)
		}
	}
	tests := []struct {
		name, out, wantErr string
	}{
		{"connection refused", readSample(t, "wrk-refused.txt"), "incomplete"},
		{"without --latency", strings.Join(noLatency, "\n"), "--latency"},
		{"empty", "", "incomplete"},
		{"bad time unit", strings.Replace(full, "395.00us", "395.00qq", 1), "unknown unit"},
		{"bad socket errors", "Socket errors: connect x, read 0, write 0, timeout 0\n", "Socket errors"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseWrk(tc.out)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("parseWrk error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseWrkTime(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{
		{"395.00us", 0.395}, {"3.36ms", 3.36}, {"1.10s", 1100}, {"2.00m", 120000}, {"1.00h", 3600000}, {"0.00us", 0},
	}
	for _, tc := range tests {
		got, err := parseWrkTime(tc.in)
		if err != nil || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("parseWrkTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestWrkArgs(t *testing.T) {
	got := strings.Join(wrkArgs("http://127.0.0.1:1/hello", 2, 50, 1500*time.Millisecond), " ")
	want := "--latency -t2 -c50 -d2s --timeout 5s http://127.0.0.1:1/hello"
	if got != want {
		t.Errorf("wrkArgs = %q, want %q", got, want)
	}
	if got := wrkArgs("u", 2, 8, 100*time.Millisecond)[3]; got != "-d1s" {
		t.Errorf("a sub-second duration gives %s, want -d1s (wrk takes whole seconds)", got)
	}
}

func readSample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sameResult(a, b wrkResult) bool {
	eq := func(x, y float64) bool { return math.Abs(x-y) < 1e-6 }
	return a.Requests == b.Requests && eq(a.Seconds, b.Seconds) && eq(a.RPS, b.RPS) &&
		eq(a.P50, b.P50) && eq(a.P75, b.P75) && eq(a.P90, b.P90) && eq(a.P99, b.P99) &&
		a.Non2xx == b.Non2xx && a.ConnectErrors == b.ConnectErrors && a.ReadErrors == b.ReadErrors &&
		a.WriteErrors == b.WriteErrors && a.Timeouts == b.Timeouts
}
