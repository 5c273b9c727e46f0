package edge

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// pivot.limit and pivot.breaker on the real binary. The worker (tests/integration/testdata/
// edge-worker.php) appends every request it gets to a file, so a test sees what reached PHP.

// hitsWorker starts rr on edge-worker.php; hits counts PHP's requests, fail is the flag file
// that makes /flaky answer 500.
func hitsWorker(t *testing.T, pivot string) (r *edgeRR, hits func() int, fail string) {
	t.Helper()
	dir := t.TempDir()
	hitsFile, fail := filepath.Join(dir, "hits"), filepath.Join(dir, "fail")
	r = startEdgeRR(t, edgeOptions{worker: "tests/integration/testdata/edge-worker.php", pivot: pivot,
		env: map[string]string{"PIVOT_TEST_HITS": hitsFile, "PIVOT_TEST_FAIL_FLAG": fail}})
	return r, func() int {
		b, err := os.ReadFile(hitsFile)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return bytes.Count(b, []byte("\n"))
	}, fail
}

// Two rr processes on one real redis-server share one budget: 4 requests at once, a token back
// every 100 s (none comes back while the test runs), whichever instance a request reaches.
func TestRedisBudgetSharedByTwoBinaries(t *testing.T) {
	t.Parallel()
	redis := testsupport.StartRedis(t)
	limit := fmt.Sprintf(`  limit:
    rate: 0.01
    burst: 4
    by: header:X-Client
    store: redis
    redis: { addrs: [%q] }
`, redis.Addr)
	a, hitsA, _ := hitsWorker(t, limit)
	b, hitsB, _ := hitsWorker(t, limit)
	instances := []*edgeRR{a, b}
	base := hitsA() + hitsB()
	client := []string{"-H", "X-Client: client-1"}

	// alternating: the remaining budget counts down across both instances
	for i, wantRemaining := range []string{"3", "2", "1", "0"} {
		res := curl(t, instances[i%2].base+"/page", client...)
		if res.status != 200 || res.header["ratelimit-limit"] != "4" || res.header["ratelimit-remaining"] != wantRemaining {
			t.Fatalf("request %d (instance %d): %d RateLimit-Limit %q Remaining %q, want 200 4 %s",
				i, i%2, res.status, res.header["ratelimit-limit"], res.header["ratelimit-remaining"], wantRemaining)
		}
	}
	// spent on both: 429 with Retry-After, PHP not asked
	for i, r := range instances {
		res := curl(t, r.base+"/page", client...)
		ra, _ := strconv.Atoi(res.header["retry-after"])
		if res.status != 429 || ra < 1 || ra > 100 || res.header["ratelimit-remaining"] != "0" || res.header["ratelimit-reset"] == "" {
			t.Fatalf("instance %d over the shared budget: %d %v", i, res.status, res.header)
		}
		if v := r.metric(t, `rr_pivot_rate_limited_total{route="default"}`); v != 1 {
			t.Errorf("instance %d: rr_pivot_rate_limited_total = %v, want 1", i, v)
		}
	}
	if n := hitsA() + hitsB() - base; n != 4 {
		t.Fatalf("PHP got %d requests, 4 were allowed", n)
	}
	// another client has a budget of its own, on either instance
	if res := curl(t, b.base+"/page", "-H", "X-Client: client-2"); res.status != 200 || res.header["ratelimit-remaining"] != "3" {
		t.Fatalf("client-2: %d %v", res.status, res.header)
	}
	// Redis gone: fail-open, at once
	redis.Stop()
	for i, r := range instances {
		start := time.Now()
		// at once: a 100 ms Redis timeout, not the client's 20 s (5 s leaves room for a loaded box)
		if res := curl(t, r.base+"/page", client...); res.status != 200 || time.Since(start) > 5*time.Second {
			t.Fatalf("instance %d with Redis down: %d after %s, want 200 at once", i, res.status, time.Since(start))
		}
	}
}

// The breaker around PHP: opens on PHP's 5xx, answers 503 without asking PHP (and /ready says
// so), lets probes through half-open, opens again on a failed probe, closes on good ones.
func TestBreakerOnTheBinary(t *testing.T) {
	t.Parallel()
	r, hits, fail := hitsWorker(t, `  breaker:
    failure_ratio: 0.5
    min_requests: 4
    window: 10s
    open_for: 2s
    half_open_requests: 2
`)
	state := func() float64 { return r.metric(t, `rr_pivot_breaker_state{route="default"}`) }
	ready := r.health + "/ready?plugin=pivot"
	testsupport.WriteFile(t, fail, "1")
	base := hits()
	for i := 0; i < 4; i++ {
		if res := curl(t, r.base+"/flaky"); res.status != 500 {
			t.Fatalf("failing request %d: %d", i, res.status)
		}
	}
	// open: every path gets 503 at once, PHP is not asked
	for _, path := range []string{"/flaky", "/other"} {
		start := time.Now()
		res := curl(t, r.base+path)
		if ra := res.header["retry-after"]; res.status != 503 || (ra != "1" && ra != "2") || time.Since(start) > 3*time.Second {
			t.Fatalf("%s with the breaker open: %d Retry-After %q after %s", path, res.status, res.header["retry-after"], time.Since(start))
		}
	}
	if n := hits() - base; n != 4 {
		t.Fatalf("PHP got %d requests, want the 4 before the breaker opened", n)
	}
	if v := state(); v != 2 {
		t.Errorf("rr_pivot_breaker_state = %v, want 2 (open)", v)
	}
	if res := curl(t, ready); res.status != 503 || !strings.Contains(res.body, "circuit breaker open") {
		t.Fatalf("/ready with the breaker open: %d %q", res.status, res.body)
	}

	// half-open after open_for: ready again; a failing probe reaches PHP and opens it again
	testsupport.WaitFor(t, 10*time.Second, "half-open", func() bool { return state() == 1 })
	if res := curl(t, ready); res.status != 200 {
		t.Fatalf("/ready half-open: %d %q", res.status, res.body)
	}
	if res := curl(t, r.base+"/flaky"); res.status != 500 {
		t.Fatalf("probe: %d, want PHP's 500", res.status)
	}
	if res := curl(t, r.base+"/flaky"); res.status != 503 {
		t.Fatalf("after a failed probe: %d, want 503", res.status)
	}
	if n := hits() - base; n != 5 {
		t.Fatalf("PHP got %d requests, want 5 (4 + the probe)", n)
	}

	// PHP recovers: two good probes close it
	if err := os.Remove(fail); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, 10*time.Second, "half-open again", func() bool { return state() == 1 })
	for i := 0; i < 4; i++ {
		if res := curl(t, r.base+"/flaky"); res.status != 200 {
			t.Fatalf("recovered, request %d: %d", i, res.status)
		}
	}
	if v := state(); v != 0 {
		t.Errorf("rr_pivot_breaker_state after the probes = %v, want 0 (closed)", v)
	}
	if n := hits() - base; n != 9 {
		t.Fatalf("PHP got %d requests, want 9", n)
	}
	if v := r.metric(t, `rr_pivot_breaker_rejected_total{route="default"}`); v != 3 {
		t.Errorf("rr_pivot_breaker_rejected_total = %v, want 3", v)
	}
}

// pivot.breaker.slow: requests slower than it are failures too, though PHP answers 200.
func TestBreakerCountsSlowRequestsOnTheBinary(t *testing.T) {
	t.Parallel()
	r, hits, _ := hitsWorker(t, `  breaker:
    failure_ratio: 0.5
    min_requests: 2
    window: 10s
    open_for: 5s
    slow: 150ms
`)
	base := hits()
	for i := 0; i < 2; i++ {
		if res := curl(t, r.base+"/sleep?ms=300"); res.status != 200 || res.body != "slept" {
			t.Fatalf("slow request %d: %d %q", i, res.status, res.body)
		}
	}
	if res := curl(t, r.base+"/fast"); res.status != 503 || res.header["retry-after"] == "" {
		t.Fatalf("after 2 slow requests: %d %v, want 503 (open)", res.status, res.header)
	}
	if n := hits() - base; n != 2 {
		t.Fatalf("PHP got %d requests, want 2", n)
	}
}
