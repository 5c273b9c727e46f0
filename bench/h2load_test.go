package main

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// The samples in testdata are real h2load 1.52 (Debian's nghttp2-client) output captured on
// this machine against rr serve with pivot.ssl and examples/hello/worker.php.
func TestParseH2load(t *testing.T) {
	tests := []struct {
		file string
		want h2loadResult
	}{
		{"h2load-d1.txt", h2loadResult{Requests: 7355, Seconds: 1, RPS: 7355, Succeeded: 7355, Protocol: "h2"}},
		{"h2load-5xx.txt", h2loadResult{Requests: 20, Seconds: 0.00935, RPS: 2139.72, Failed: 20, Non2xx: 20, Protocol: "h2"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := parseH2load(readSample(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got.Seconds-tc.want.Seconds) > 1e-9 {
				t.Errorf("Seconds %v, want %v", got.Seconds, tc.want.Seconds)
			}
			got.Seconds = tc.want.Seconds
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseH2load\n got %+v\nwant %+v", got, tc.want)
			}
			if got.Errors() != tc.want.Failed {
				t.Errorf("Errors() = %d", got.Errors())
			}
		})
	}
	if _, err := parseH2load("starting benchmark...\n"); err == nil {
		t.Error("incomplete output parsed")
	}
}

func TestH2loadPercentiles(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "h2load-log.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p50, p99, err := h2loadPercentiles(f)
	if err != nil {
		t.Fatal(err)
	}
	// 50 requests: the 26th and the 50th smallest durations (469 µs, 2,904 µs)
	if p50 != 0.469 || p99 != 2.904 {
		t.Fatalf("p50 %v ms, p99 %v ms", p50, p99)
	}
}

func TestH2loadShape(t *testing.T) {
	for conns, want := range map[int][2]int{1: {1, 1}, 8: {1, 8}, 10: {1, 10}, 11: {2, 6}, 50: {5, 10}, 64: {7, 10}} {
		if c, s := h2loadShape(conns); c != want[0] || s != want[1] {
			t.Errorf("h2loadShape(%d) = %d×%d, want %d×%d", conns, c, s, want[0], want[1])
		}
	}
	args := h2loadArgs("https://x/", "/tmp/l", 50, 4*time.Second, []string{"Accept-Encoding: gzip"})
	want := []string{"-c5", "-m10", "-t2", "-D4", "--log-file=/tmp/l", "-H", "Accept-Encoding: gzip", "https://x/"}
	if !reflect.DeepEqual(args, want) {
		t.Errorf("h2loadArgs = %q", args)
	}
}
