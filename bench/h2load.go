package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// h2load (Debian's nghttp2-client) drives HTTP/2 over TLS: clients connections with streams
// concurrent requests each. It prints no percentiles; --log-file has every request's time,
// from which p50 and p99 are taken.

// h2loadResult is one h2load run.
type h2loadResult struct {
	Requests  int64   `json:"requests"`
	Seconds   float64 `json:"seconds"`
	RPS       float64 `json:"rps"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	Succeeded int64   `json:"succeeded"`
	Failed    int64   `json:"failed"`  // h2load's failed: not a 2xx/3xx (errored and timed out ones too)
	Non2xx    int64   `json:"non_2xx"` // 3xx, 4xx and 5xx
	Protocol  string  `json:"protocol"`
}

// Errors is every request that did not succeed (h2load's failed already counts 4xx and 5xx).
func (r h2loadResult) Errors() int64 { return r.Failed }

// h2loadShape spreads conns concurrent requests over HTTP/2 connections of up to 10 streams:
// 8 → 1 connection × 8 streams, 50 → 5 × 10. A browser multiplexes a page over one
// connection; a load balancer keeps a few to each backend.
func h2loadShape(conns int) (clients, streams int) {
	clients = (conns + 9) / 10
	streams = (conns + clients - 1) / clients
	return clients, streams
}

func h2loadArgs(url, logFile string, conns int, d time.Duration, header []string) []string {
	clients, streams := h2loadShape(conns)
	secs := max(1, int(math.Round(d.Seconds())))
	args := []string{"-c" + strconv.Itoa(clients), "-m" + strconv.Itoa(streams), "-t" + strconv.Itoa(min(2, clients)),
		"-D" + strconv.Itoa(secs), "--log-file=" + logFile}
	for _, h := range header {
		args = append(args, "-H", h)
	}
	return append(args, url)
}

// runH2load runs h2load and returns its figures and its own CPU time (it shares the box).
func runH2load(ctx context.Context, bin, url, dir string, conns int, d time.Duration, header []string) (h2loadResult, time.Duration, error) {
	log, err := os.CreateTemp(dir, "h2load-*.log")
	if err != nil {
		return h2loadResult{}, 0, err
	}
	_ = log.Close()
	defer os.Remove(log.Name())
	cmd := exec.CommandContext(ctx, bin, h2loadArgs(url, log.Name(), conns, d, header)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return h2loadResult{}, 0, fmt.Errorf("h2load %s -c%d: %w: %s", url, conns, err, strings.TrimSpace(string(out)))
	}
	var cpu time.Duration
	if st := cmd.ProcessState; st != nil {
		cpu = st.UserTime() + st.SystemTime()
	}
	r, err := parseH2load(string(out))
	if err != nil {
		return r, cpu, fmt.Errorf("h2load %s -c%d: %w\n%s", url, conns, err, out)
	}
	lf, err := os.Open(log.Name())
	if err != nil {
		return r, cpu, err
	}
	defer lf.Close()
	r.P50, r.P99, err = h2loadPercentiles(lf)
	return r, cpu, err
}

// parseH2load reads h2load's summary: "finished in", "requests:", "status codes:" are required.
func parseH2load(out string) (h2loadResult, error) {
	var r h2loadResult
	var haveFinished, haveRequests, haveStatus bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var err error
		switch {
		case strings.HasPrefix(line, "Application protocol:"):
			r.Protocol = strings.TrimSpace(strings.TrimPrefix(line, "Application protocol:"))
		case strings.HasPrefix(line, "finished in "):
			// "finished in 4.00s, 12345.50 req/s, 1.23MB/s"
			f := strings.Split(strings.TrimPrefix(line, "finished in "), ",")
			if len(f) < 2 {
				return r, fmt.Errorf("h2load line %q", line)
			}
			var ms float64
			if ms, err = parseWrkTime(strings.TrimSpace(f[0])); err == nil {
				r.Seconds = ms / 1000
				r.RPS, err = strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(f[1]), " req/s"), 64)
				haveFinished = err == nil
			}
		case strings.HasPrefix(line, "requests:"):
			// "requests: 100 total, 100 started, 100 done, 98 succeeded, 2 failed, 2 errored, 0 timeout"
			for _, part := range strings.Split(strings.TrimPrefix(line, "requests:"), ",") {
				f := strings.Fields(part)
				if len(f) != 2 {
					continue
				}
				n, perr := strconv.ParseInt(f[0], 10, 64)
				if perr != nil {
					err = perr
					break
				}
				switch f[1] {
				case "total":
					r.Requests = n
				case "succeeded":
					r.Succeeded = n
				case "failed":
					r.Failed = n
				}
			}
			haveRequests = err == nil
		case strings.HasPrefix(line, "status codes:"):
			// "status codes: 100 2xx, 0 3xx, 0 4xx, 0 5xx"
			for _, part := range strings.Split(strings.TrimPrefix(line, "status codes:"), ",") {
				f := strings.Fields(part)
				if len(f) != 2 {
					continue
				}
				n, perr := strconv.ParseInt(f[0], 10, 64)
				if perr != nil {
					err = perr
					break
				}
				if f[1] != "2xx" {
					r.Non2xx += n
				}
			}
			haveStatus = err == nil
		}
		if err != nil {
			return r, fmt.Errorf("h2load output line %q: %w", line, err)
		}
	}
	if !haveFinished || !haveRequests || !haveStatus {
		return r, fmt.Errorf("h2load output incomplete (finished %v, requests %v, status codes %v)", haveFinished, haveRequests, haveStatus)
	}
	return r, nil
}

// h2loadPercentiles reads --log-file (start µs, status, duration µs per line) into p50 and
// p99 in milliseconds.
func h2loadPercentiles(f *os.File) (p50, p99 float64, err error) {
	var us []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue
		}
		v, perr := strconv.ParseFloat(fields[2], 64)
		if perr != nil {
			return 0, 0, fmt.Errorf("h2load log line %q: %w", sc.Text(), perr)
		}
		us = append(us, v)
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if len(us) == 0 {
		return 0, 0, fmt.Errorf("h2load's log has no request")
	}
	sort.Float64s(us)
	at := func(q float64) float64 { return us[min(len(us)-1, int(q*float64(len(us))))] / 1000 }
	return round3(at(0.50)), round3(at(0.99)), nil
}
