package compat

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// max_jobs recycling: one worker, max_jobs 3, ten requests in a row: a new pid every 3 requests.
func TestMaxJobsRecycling(t *testing.T) {
	res, ok := forBoth(t, func(t *testing.T, kind string) []int {
		s := startRR(t, kind, rrOptions{workers: 1, maxJobs: 3})
		// the readiness probe (/ping) was the first job of the first worker
		var runs []int
		last := ""
		for i := 0; i < 11; i++ {
			o := s.get(t, "/pid")
			if o.Status != 200 {
				t.Fatalf("request %d: %s", i, o)
			}
			if pid := string(o.Body); pid == last {
				runs[len(runs)-1]++
			} else {
				runs = append(runs, 1)
				last = pid
			}
		}
		t.Logf("%s: requests per worker pid (after /ping): %v", kind, runs)
		if fmt.Sprint(runs) != "[2 3 3 3]" {
			t.Errorf("%s: max_jobs 3 must give runs [2 3 3 3] (the first worker also served /ping), got %v", kind, runs)
		}
		return runs
	})
	if ok && fmt.Sprint(res[kindPivot]) != fmt.Sprint(res[kindStock]) {
		t.Errorf("max_jobs: pivot %v, stock %v", res[kindPivot], res[kindStock])
	}
}

type resetResult struct {
	ok, failed int64
	pidsBefore map[string]bool
	pidsAfter  map[string]bool
	examples   []string
}

// `rr reset` under load (3 resets while 8 clients send requests): pivot must fail no request and
// serve from new workers afterwards. Stock's result is recorded beside it.
func TestResetUnderLoad(t *testing.T) {
	res, ok := forBoth(t, func(t *testing.T, kind string) resetResult {
		s := startRR(t, kind, rrOptions{workers: 2})
		r := resetResult{pidsBefore: pidsOf(t, s), pidsAfter: map[string]bool{}}
		var okN, failed atomic.Int64
		var mu sync.Mutex
		stop := make(chan struct{})
		var wg sync.WaitGroup
		c := &http.Client{Timeout: 30 * time.Second}
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; n < 20_000; n++ {
					select {
					case <-stop:
						return
					default:
					}
					resp, err := c.Get(s.url("/sleep?ms=3"))
					if err != nil {
						failed.Add(1)
						mu.Lock()
						if len(r.examples) < 5 {
							r.examples = append(r.examples, err.Error())
						}
						mu.Unlock()
						continue
					}
					b, _ := io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != 200 {
						failed.Add(1)
						mu.Lock()
						if len(r.examples) < 5 {
							r.examples = append(r.examples, fmt.Sprintf("status %d %.100q", resp.StatusCode, b))
						}
						mu.Unlock()
						continue
					}
					okN.Add(1)
				}
			}()
		}
		for i := 0; i < 3; i++ {
			time.Sleep(700 * time.Millisecond)
			start := time.Now()
			out, err := s.CLI(60*time.Second, "reset", s.pluginName())
			if err != nil {
				t.Errorf("%s: rr reset %s: %v\n%s", kind, s.pluginName(), err, out)
			}
			t.Logf("%s: rr reset %d took %s", kind, i+1, time.Since(start).Round(time.Millisecond))
		}
		time.Sleep(700 * time.Millisecond)
		close(stop)
		wg.Wait()
		r.ok, r.failed = okN.Load(), failed.Load()
		r.pidsAfter = pidsOf(t, s)
		t.Logf("%s: 3× rr reset under load: %d ok, %d failed %v; pids before %v, after %v",
			kind, r.ok, r.failed, r.examples, keys(r.pidsBefore), keys(r.pidsAfter))
		if kind == kindPivot && r.failed != 0 {
			t.Errorf("pivot: rr reset under load must fail no request: %d failed %v", r.failed, r.examples)
		}
		if r.ok < 100 {
			t.Errorf("%s: too few answers to prove anything (%d)", kind, r.ok)
		}
		for pid := range r.pidsAfter {
			if r.pidsBefore[pid] {
				t.Errorf("%s: worker %s survived three resets", kind, pid)
			}
		}
		return r
	})
	if ok {
		t.Logf("failed requests during the resets: pivot %d, stock %d", res[kindPivot].failed, res[kindStock].failed)
	}
}

// pidsOf collects the pids that answer /pid (sequentially, 8 requests).
func pidsOf(t *testing.T, s *rrServer) map[string]bool {
	t.Helper()
	pids := map[string]bool{}
	for i := 0; i < 8; i++ {
		o := s.get(t, "/pid")
		if o.Status == 200 {
			pids[string(o.Body)] = true
		}
	}

	return pids
}

func keys(m map[string]bool) string {
	var k []string
	for s := range m {
		k = append(k, s)
	}

	return strings.Join(k, ",")
}
