package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run printed (wrk 4.x with --latency).
type wrkResult struct {
	Requests      int64   `json:"requests"`
	Seconds       float64 `json:"seconds"`
	RPS           float64 `json:"rps"`
	P50           float64 `json:"p50_ms"`
	P75           float64 `json:"p75_ms"`
	P90           float64 `json:"p90_ms"`
	P99           float64 `json:"p99_ms"`
	Non2xx        int64   `json:"non_2xx_3xx"`
	ConnectErrors int64   `json:"connect_errors"`
	ReadErrors    int64   `json:"read_errors"`
	WriteErrors   int64   `json:"write_errors"`
	Timeouts      int64   `json:"timeouts"`
}

// Errors is every failed request wrk counted: non-2xx/3xx responses and socket errors.
func (r wrkResult) Errors() int64 {
	return r.Non2xx + r.ConnectErrors + r.ReadErrors + r.WriteErrors + r.Timeouts
}

// wrkArgs is the command line for one run; wrk takes whole seconds only.
func wrkArgs(url string, threads, conns int, d time.Duration) []string {
	secs := max(1, int(math.Round(d.Seconds())))
	return []string{"--latency", "-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns),
		"-d" + strconv.Itoa(secs) + "s", "--timeout", "5s", url}
}

// runWrk runs wrk against url and returns its figures and the CPU time wrk itself used (wrk
// runs on the same 2 cores as the server, so its cost is part of the picture).
func runWrk(ctx context.Context, bin, url string, threads, conns int, d time.Duration) (wrkResult, time.Duration, error) {
	r, cpu, err := runWrkArgs(ctx, bin, wrkArgs(url, threads, conns, d))
	if err != nil {
		return r, cpu, fmt.Errorf("wrk %s -c%d: %w", url, conns, err)
	}
	return r, cpu, nil
}

// runWrkArgs runs wrk with the arguments given (wrkArgs and more, e.g. -H).
func runWrkArgs(ctx context.Context, bin string, args []string) (wrkResult, time.Duration, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, 0, fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	var cpu time.Duration
	if st := cmd.ProcessState; st != nil {
		cpu = st.UserTime() + st.SystemTime()
	}
	r, err := parseWrk(string(out))
	if err != nil {
		return r, cpu, fmt.Errorf("%w\n%s", err, out)
	}
	return r, cpu, nil
}

// parseWrk reads wrk's report. The requests line, Requests/sec and the 50% and 99% latency
// lines (from --latency) are required; error lines are optional.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	var haveReq, haveRPS, haveP50, haveP99 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var err error
		switch {
		case len(f) == 2 && strings.HasSuffix(f[0], "%"):
			var ms float64
			if ms, err = parseWrkTime(f[1]); err == nil {
				switch f[0] {
				case "50%":
					r.P50, haveP50 = ms, true
				case "75%":
					r.P75 = ms
				case "90%":
					r.P90 = ms
				case "99%":
					r.P99, haveP99 = ms, true
				}
			}
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			// "66673 requests in 5.00s, 7.31MB read"
			if r.Requests, err = strconv.ParseInt(f[0], 10, 64); err == nil {
				var ms float64
				ms, err = parseWrkTime(strings.TrimSuffix(f[3], ","))
				r.Seconds = ms / 1000
				haveReq = err == nil
			}
		case f[0] == "Requests/sec:" && len(f) == 2:
			r.RPS, err = strconv.ParseFloat(f[1], 64)
			haveRPS = err == nil
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:"):
			r.Non2xx, err = strconv.ParseInt(f[len(f)-1], 10, 64)
		case strings.HasPrefix(line, "Socket errors:"):
			// "Socket errors: connect 0, read 0, write 0, timeout 4"
			for i := 2; i+1 < len(f); i += 2 {
				n, perr := strconv.ParseInt(strings.TrimSuffix(f[i+1], ","), 10, 64)
				if perr != nil {
					err = perr
					break
				}
				switch f[i] {
				case "connect":
					r.ConnectErrors = n
				case "read":
					r.ReadErrors = n
				case "write":
					r.WriteErrors = n
				case "timeout":
					r.Timeouts = n
				}
			}
		}
		if err != nil {
			return r, fmt.Errorf("wrk output line %q: %w", line, err)
		}
	}
	if !haveReq || !haveRPS || !haveP50 || !haveP99 {
		return r, fmt.Errorf("wrk output incomplete (requests line %v, Requests/sec %v, 50%% %v, 99%% %v; was --latency given?)",
			haveReq, haveRPS, haveP50, haveP99)
	}
	return r, nil
}

// parseWrkTime converts wrk's time format ("395.00us", "3.36ms", "1.10s", "2.00m", "1.00h") to
// milliseconds.
func parseWrkTime(s string) (float64, error) {
	units := []struct {
		suffix string
		ms     float64
	}{{"us", 0.001}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("time %q: %w", s, err)
			}
			return v * u.ms, nil
		}
	}
	return 0, fmt.Errorf("time %q: unknown unit", s)
}
