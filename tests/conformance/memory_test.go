package conformance

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// A memProbe opens many connections that each do a little, and bounds how much rr's RSS grows
// while they are open and after they are closed: memory must follow the bytes received, not
// the sizes a client announces.
type memProbe struct {
	name  string
	conns int
	// start is written on each connection once it is open
	start string
	// readResponse: read one response after start (the idle keep-alive probe)
	readResponse bool
	// trickle: one byte every second on every connection while held
	trickle bool
	hold    time.Duration
	// the bound: slack + perConn × conns, both while open and after the close
	perConn int64
	slack   int64
	why     string
}

const (
	kB = int64(1) << 10
	mB = int64(1) << 20
)

func memProbes() []memProbe {
	return []memProbe{
		{name: "announced-100MB-x4",
			conns: 4, start: post("Content-Length: 100000000") + "xx", hold: 2 * time.Second,
			perConn: 5 * mB, slack: 16 * mB,
			why: "4 requests announce 100 MB (under max_request_size) and send 2 bytes: a few MB each at most"},
		{name: "announced-1MB-x200",
			conns: 200, start: post("Content-Length: 1000000") + "xx", hold: 2 * time.Second,
			perConn: 128 * kB, slack: 16 * mB,
			why: "200 requests announce 1 MB and send 2 bytes: memory follows the 2 bytes received, not the 1 MB announced"},
		{name: "announced-chunk-100MB-x4",
			conns: 4, start: post("Transfer-Encoding: chunked") + "5f5e100\r\nxx", hold: 2 * time.Second,
			perConn: 5 * mB, slack: 16 * mB,
			why: "a chunk-size line announcing 100 MB with 2 bytes behind it is the same attack without Content-Length"},
		{name: "trickle-1MB-x50",
			conns: 50, start: post("Content-Length: 1000000") + "x", trickle: true, hold: 4 * time.Second,
			perConn: 128 * kB, slack: 16 * mB,
			why: "50 bodies announced as 1 MB arriving at 1 byte/s"},
		{name: "idle-keepalive-x2000",
			conns: 2000, start: get("/idle/{ID}"), readResponse: true, hold: 1500 * time.Millisecond,
			perConn: 32 * kB, slack: 16 * mB,
			why: "2,000 idle keep-alive connections after one request each (today ~14 KB each)"},
	}
}

type memResult struct {
	base, peak, after int64
	opened, failed    int
	served            int
	err               error
	elapsed           time.Duration
}

func (r *memResult) String() string {
	if r.err != nil {
		return "error: " + r.err.Error()
	}
	return fmt.Sprintf("+%s while %d open (peak), +%s after close (base %s)",
		mbString(r.peak-r.base), r.opened, mbString(r.after-r.base), mbString(r.base))
}

func mbString(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/float64(mB)) }

// TestMemory runs every memory probe against pivot and stock, each in an rr of its own
// (the same config) so that one run's heap does not hide another's growth; the pivot and
// stock runs of a probe go side by side.
func TestMemory(t *testing.T) {
	for i, mp := range memProbes() {
		mp := mp
		t.Run("memory/"+mp.name, func(t *testing.T) {
			results := map[string]*memResult{}
			insts := map[string]*rrInstance{}
			for _, s := range servers {
				insts[s] = startInstance(t, fmt.Sprintf("mem%d-%s", i, s), rrOptions{workers: 2})
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			for _, s := range servers {
				wg.Add(1)
				go func(s string) {
					defer wg.Done()
					r := mp.run(insts[s], s, fmt.Sprintf("m%03d%c", i, s[0]))
					mu.Lock()
					results[s] = r
					mu.Unlock()
				}(s)
			}
			wg.Wait()
			bound := mp.slack + mp.perConn*int64(mp.conns)
			t.Logf("expect: growth ≤ %s (%s + %s × %d), while open and after close   [%s]",
				mbString(bound), mbString(mp.slack), kbString(mp.perConn), mp.conns, mp.why)
			p, st := results[serverPivot], results[serverStock]
			t.Logf("pivot: %s", p)
			t.Logf("stock: %s", st)
			var fails []string
			switch {
			case p.err != nil:
				fails = append(fails, p.err.Error())
			default:
				if p.peak-p.base > bound {
					fails = append(fails, fmt.Sprintf("RSS grew %s while the connections were open (%s per connection), bound %s",
						mbString(p.peak-p.base), kbString((p.peak-p.base)/int64(max(p.opened, 1))), mbString(bound)))
				}
				if p.after-p.base > bound {
					fails = append(fails, fmt.Sprintf("RSS still %s above the base after the connections closed, bound %s",
						mbString(p.after-p.base), mbString(bound)))
				}
				if p.opened < mp.conns*9/10 {
					fails = append(fails, fmt.Sprintf("only %d of %d connections were opened (%d failed)", p.opened, mp.conns, p.failed))
				}
				if mp.readResponse && p.served < p.opened {
					fails = append(fails, fmt.Sprintf("only %d of %d requests were answered", p.served, p.opened))
				}
			}
			if err := servesNormally(insts[serverPivot].addr[serverPivot]); err != nil {
				fails = append(fails, "afterwards: "+err.Error())
			}
			if after, err := insts[serverPivot].workerStarts(); err != nil || len(after[serverPivot]) != 2 {
				fails = append(fails, fmt.Sprintf("PHP workers were replaced: started %v (%v)", after[serverPivot], err))
			}
			verdict := "PASS"
			if len(fails) > 0 {
				verdict = "FAIL"
				t.Errorf("pivot: %s", strings.Join(fails, "; "))
			}
			stNote := "✓"
			if st.err != nil || st.peak-st.base > bound || st.after-st.base > bound {
				stNote = "✗"
			}
			addSummary(summaryRow{class: "memory", name: mp.name, pivot: p.String(), stock: st.String() + " " + stNote, verdict: verdict})
		})
	}
}

func kbString(b int64) string { return fmt.Sprintf("%d KB", b/kB) }

func servesNormally(addr string) error {
	st, err := simpleGet(addr, "/after", 3*time.Second)
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("a normal request got %d %v", st, err)
	}
	return nil
}

// run opens the connections against one server and measures rr's RSS.
func (mp *memProbe) run(inst *rrInstance, server, id string) *memResult {
	res := &memResult{}
	start := time.Now()
	defer func() { res.elapsed = time.Since(start) }()
	addr := inst.addr[server]
	// warm up: the pools, the first buffers
	for i := 0; i < 20; i++ {
		if _, err := simpleGet(addr, "/warm", 3*time.Second); err != nil {
			res.err = fmt.Errorf("warm-up: %v", err)
			return res
		}
	}
	time.Sleep(500 * time.Millisecond)
	base, err := minRSS(inst, 3)
	if err != nil {
		res.err = err
		return res
	}
	res.base = base

	conns := make([]net.Conn, mp.conns)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	deadline := time.Now().Add(mp.hold + 30*time.Second)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				mu.Lock()
				res.failed++
				mu.Unlock()
				return
			}
			_ = c.SetDeadline(deadline)
			if _, err := io.WriteString(c, expand(mp.start, fmt.Sprintf("%s-%d", id, i), addr)); err != nil {
				_ = c.Close()
				mu.Lock()
				res.failed++
				mu.Unlock()
				return
			}
			served := false
			if mp.readResponse {
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					served = resp.StatusCode == http.StatusOK
				}
			}
			mu.Lock()
			conns[i] = c
			res.opened++
			if served {
				res.served++
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()

	// hold: sample the RSS, trickle a byte a second where asked
	peak := base
	holdEnd := time.Now().Add(mp.hold)
	nextTrickle := time.Now().Add(time.Second)
	for time.Now().Before(holdEnd) {
		if v, err := inst.rss(); err == nil && v > peak {
			peak = v
		}
		if mp.trickle && time.Now().After(nextTrickle) {
			for _, c := range conns {
				if c != nil {
					_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
					_, _ = c.Write([]byte("x"))
				}
			}
			nextTrickle = nextTrickle.Add(time.Second)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v, err := inst.rss(); err == nil && v > peak {
		peak = v
	}
	res.peak = peak
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
	time.Sleep(1500 * time.Millisecond)
	if res.after, err = inst.rss(); err != nil {
		res.err = err
	}
	return res
}

func minRSS(inst *rrInstance, n int) (int64, error) {
	var lo int64
	for i := 0; i < n; i++ {
		v, err := inst.rss()
		if err != nil {
			return 0, err
		}
		if i == 0 || v < lo {
			lo = v
		}
		time.Sleep(100 * time.Millisecond)
	}
	return lo, nil
}
