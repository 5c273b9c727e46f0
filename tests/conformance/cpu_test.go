package conformance

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// pivot's max_header_bytes for the CPU probes: its maximum, 1 MB (net/http's default limit is
// 1 MB as well).
const cpuMaxHeaderBytes = 1 << 20

type cpuProbe struct {
	name string
	head func() string
	why  string
}

func cpuProbes() []cpuProbe {
	return []cpuProbe{
		{name: "60000-header-fields",
			head: func() string {
				var b strings.Builder
				b.WriteString("GET /p/{ID} HTTP/1.1\r\nHost: {HOST}\r\n")
				for i := 0; i < 60000; i++ {
					fmt.Fprintf(&b, "x%d: v\r\n", i)
				}
				b.WriteString("\r\n")
				return b.String()
			},
			why: "parsing and passing on n fields must be linear in n"},
		{name: "100000-folded-lines",
			head: func() string {
				var b strings.Builder
				b.WriteString("GET /p/{ID} HTTP/1.1\r\nHost: {HOST}\r\nX-Fold: a\r\n")
				for i := 0; i < 100000; i++ {
					b.WriteString(" b\r\n")
				}
				b.WriteString("\r\n")
				return b.String()
			},
			why: "unfolding (or refusing) n continuation lines must be linear in n"},
	}
}

// timeRequest sends head on a fresh connection and returns the time from its last byte to
// the first byte of the response, and the response's status.
func timeRequest(addr, head string, limit time.Duration) (time.Duration, int, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(limit + 10*time.Second))
	// written in a goroutine: a server may answer (431, 400) before it has read everything
	sent := make(chan time.Time, 1)
	go func() {
		_, _ = io.WriteString(c, head)
		sent <- time.Now()
	}()
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(limit + 10*time.Second))
	if _, err := br.Peek(1); err != nil {
		return 0, 0, fmt.Errorf("no response: %v", err)
	}
	got := time.Now()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	var from time.Time
	select {
	case from = <-sent:
	default:
		from = got // answered before the whole head was written
	}
	d := got.Sub(from)
	if d < 0 {
		d = 0
	}
	return d, resp.StatusCode, nil
}

// TestCPU sends heads with tens of thousands of fields (pivot's max_header_bytes raised to
// 1 MB) and bounds pivot's time by stock's on the same request: ≤ 3 × stock + 200 ms.
func TestCPU(t *testing.T) {
	inst := startInstance(t, "cpu", rrOptions{maxHeaderBytes: cpuMaxHeaderBytes, workers: 2})
	before, err := inst.workerStarts()
	if err != nil {
		t.Fatal(err)
	}
	for i, cp := range cpuProbes() {
		cp := cp
		t.Run("cpu/"+cp.name, func(t *testing.T) {
			type result struct {
				d      time.Duration
				status int
				err    error
			}
			measure := func(s string, runs int, stopAbove time.Duration) result {
				best := result{d: -1}
				for r := 0; r < runs; r++ {
					head := expand(cp.head(), fmt.Sprintf("u%03d%c%d", i, s[0], r), inst.addr[s])
					d, st, err := timeRequest(inst.addr[s], head, 20*time.Second)
					if err != nil {
						return result{err: err}
					}
					if best.d < 0 || d < best.d {
						best = result{d: d, status: st}
					}
					if d > stopAbove {
						break // far over the bound: a second run would not change the verdict
					}
				}
				return best
			}
			st := measure(serverStock, 3, time.Hour)
			if st.err != nil {
				t.Fatalf("stock: %v", st.err)
			}
			bound := 3*st.d + 200*time.Millisecond
			pv := measure(serverPivot, 2, 3*bound)
			t.Logf("expect: pivot ≤ 3 × stock + 200 ms = %s   [%s]", bound.Round(time.Millisecond), cp.why)
			t.Logf("pivot: %d after %s", pv.status, pv.d.Round(time.Millisecond))
			t.Logf("stock: %d after %s", st.status, st.d.Round(time.Millisecond))
			verdict := "PASS"
			switch {
			case pv.err != nil:
				verdict = "FAIL"
				t.Errorf("pivot: %v", pv.err)
			case pv.d > bound:
				verdict = "FAIL"
				t.Errorf("pivot took %s, bound %s (3 × stock's %s + 200 ms)", pv.d.Round(time.Millisecond), bound.Round(time.Millisecond), st.d.Round(time.Millisecond))
			}
			pivotCell := fmt.Sprintf("%d after %s", pv.status, pv.d.Round(time.Millisecond))
			if pv.err != nil {
				pivotCell = "error: " + pv.err.Error()
			}
			addSummary(summaryRow{class: "cpu", name: cp.name, pivot: pivotCell,
				stock: fmt.Sprintf("%d after %s", st.status, st.d.Round(time.Millisecond)), verdict: verdict})
		})
	}
	t.Run("integrity/cpu-workers-undisturbed", func(t *testing.T) {
		checkWorkers(t, inst, before)
	})
}
