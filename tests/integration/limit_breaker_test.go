package integration

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// pivot.limit and pivot.breaker on the real plugin graph with real PHP workers
// (testdata/edge-worker.php, which logs every request it gets), over real HTTP: a 429 or an
// open breaker's 503 never reaches PHP.

// edgeStack starts a stack on edge-worker.php with the pivot body given; hits counts the
// requests PHP got, fail is the flag file that makes /flaky answer 500.
func edgeStack(t *testing.T, pivotBody string) (s *stack, hits func() int, fail string) {
	t.Helper()
	dir := t.TempDir()
	hitsFile, fail := filepath.Join(dir, "hits"), filepath.Join(dir, "fail")
	s = startStack(t, stackOptions{worker: testsupport.RepoPath(t, "tests/integration/testdata/edge-worker.php"),
		env:   map[string]string{"PIVOT_TEST_HITS": hitsFile, "PIVOT_TEST_FAIL_FLAG": fail},
		pivot: pivotBody + "  pool:\n    num_workers: 2\n    allocate_timeout: 10s\n    destroy_timeout: 10s\n"})
	return s, func() int { return phpHits(t, hitsFile) }, fail
}

func phpHits(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// metricValue reads one series (name{labels}) from the metrics plugin; -1 when absent.
func metricValue(t *testing.T, s *stack, series string) float64 {
	t.Helper()
	_, body := testsupport.Do(t, "GET", s.metrics+"/metrics", nil, nil)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// rl is what a test checks of a response of pivot.limit.
type rl struct {
	status                  int
	limit, remaining, retry string
}

func limited(t *testing.T, url string, header http.Header) rl {
	t.Helper()
	resp, _ := testsupport.Do(t, "GET", url, nil, header)
	if resp.StatusCode == 429 || resp.StatusCode == 200 {
		if resp.Header.Get("RateLimit-Reset") == "" {
			t.Errorf("%s: %d without RateLimit-Reset", url, resp.StatusCode)
		}
	}
	return rl{resp.StatusCode, resp.Header.Get("RateLimit-Limit"), resp.Header.Get("RateLimit-Remaining"), resp.Header.Get("Retry-After")}
}

func TestRateLimitOverHTTP(t *testing.T) {
	// one request every 10 s: no token comes back while the test runs
	s, hits, _ := edgeStack(t, `  limit:
    rate: 0.1
    burst: 3
    trusted_proxies: [127.0.0.1/32]
    routes:
      - { prefix: /api/, rate: 0.1, burst: 1 }
`)
	// the peer (127.0.0.1) is a trusted proxy: each X-Forwarded-For client has its own budget
	// (the start-up check's request, from 127.0.0.1 itself, used one of the proxy's own)
	xff := func(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }
	base := hits()
	for i, want := range []rl{{200, "3", "2", ""}, {200, "3", "1", ""}, {200, "3", "0", ""}} {
		if got := limited(t, s.base+"/page", xff("192.0.2.10")); got != want {
			t.Fatalf("request %d: %+v, want %+v", i, got, want)
		}
	}
	if hits() != base+3 {
		t.Fatalf("PHP got %d requests, want 3", hits()-base)
	}
	resp, body := testsupport.Do(t, "GET", s.base+"/page", nil, xff("192.0.2.10"))
	if resp.StatusCode != 429 || resp.Header.Get("RateLimit-Remaining") != "0" || resp.Header.Get("RateLimit-Limit") != "3" {
		t.Fatalf("4th request: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra < 8 || ra > 10 {
		t.Fatalf("Retry-After %q, want about 10 s", resp.Header.Get("Retry-After"))
	}
	if hits() != base+3 {
		t.Fatalf("the 429 reached PHP (%d requests)", hits()-base)
	}

	// /api/ has its own budget of 1
	if got := limited(t, s.base+"/api/users", xff("192.0.2.10")); got.status != 200 || got.limit != "1" {
		t.Fatalf("/api/users: %+v", got)
	}
	if got := limited(t, s.base+"/api/users", xff("192.0.2.10")); got.status != 429 {
		t.Fatalf("/api/users twice: %+v", got)
	}

	// another client; what a client adds to the left of the header is not believed
	if got := limited(t, s.base+"/page", xff("198.51.100.1")); got.status != 200 || got.remaining != "2" {
		t.Fatalf("client 198.51.100.1: %+v", got)
	}
	if got := limited(t, s.base+"/page", xff("203.0.113.5, 198.51.100.1")); got.status != 200 || got.remaining != "1" {
		t.Fatalf("client 198.51.100.1 with a forged entry: %+v (want its own budget, one used)", got)
	}
	if hits() != base+6 {
		t.Fatalf("PHP got %d requests, want 6", hits()-base)
	}
	if v := metricValue(t, s, `rr_pivot_rate_limited_total{route="default"}`); v != 1 {
		t.Errorf("rate_limited_total{default} = %v, want 1", v)
	}
	if v := metricValue(t, s, `rr_pivot_rate_limited_total{route="/api/"}`); v != 1 {
		t.Errorf("rate_limited_total{/api/} = %v, want 1", v)
	}
}

func TestBreakerOverHTTP(t *testing.T) {
	// /flaky has a breaker of its own (the start-up check's request to / is not counted in it)
	s, hits, fail := edgeStack(t, `  breaker:
    min_requests: 1000
    routes:
      - prefix: /flaky
        failure_ratio: 0.5
        min_requests: 4
        window: 10s
        open_for: 1s
        half_open_requests: 2
`)
	testsupport.WriteFile(t, fail, "1")
	base := hits()
	for i := 0; i < 4; i++ {
		if resp, _ := testsupport.Do(t, "GET", s.base+"/flaky", nil, nil); resp.StatusCode != 500 {
			t.Fatalf("failing request %d: %d", i, resp.StatusCode)
		}
	}
	if hits() != base+4 {
		t.Fatalf("PHP got %d requests, want 4", hits()-base)
	}
	// open: 503 at once, PHP not asked, on every path of the route
	for _, path := range []string{"/flaky", "/flaky/other"} {
		start := time.Now()
		resp, body := testsupport.Do(t, "GET", s.base+path, nil, nil)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || time.Since(start) > time.Second {
			t.Fatalf("%s with the breaker open: %d Retry-After %q in %s: %q", path, resp.StatusCode, resp.Header.Get("Retry-After"), time.Since(start), body)
		}
	}
	if hits() != base+4 {
		t.Fatalf("an open breaker let %d requests reach PHP", hits()-base-4)
	}
	// another route's breaker is closed
	if resp, _ := testsupport.Do(t, "GET", s.base+"/elsewhere", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("/elsewhere: %d", resp.StatusCode)
	}
	if v := metricValue(t, s, `rr_pivot_breaker_state{route="/flaky"}`); v != 2 {
		t.Errorf("breaker_state = %v, want 2 (open)", v)
	}
	if v := metricValue(t, s, `rr_pivot_breaker_rejected_total{route="/flaky"}`); v != 2 {
		t.Errorf("breaker_rejected_total = %v, want 2", v)
	}
	// a route's breaker open: the instance stays ready (the rest of the app serves)
	if resp, body := testsupport.Do(t, "GET", s.health+"/ready?plugin=pivot", nil, nil); resp.StatusCode != 200 {
		t.Errorf("/ready with a route's breaker open: %d %q", resp.StatusCode, body)
	}

	// half-open after open_for: a failing probe opens it again
	time.Sleep(1100 * time.Millisecond)
	if v := metricValue(t, s, `rr_pivot_breaker_state{route="/flaky"}`); v != 1 {
		t.Errorf("breaker_state after open_for = %v, want 1 (half-open)", v)
	}
	if resp, _ := testsupport.Do(t, "GET", s.base+"/flaky", nil, nil); resp.StatusCode != 500 {
		t.Fatalf("probe: %d, want PHP's 500", resp.StatusCode)
	}
	if resp, _ := testsupport.Do(t, "GET", s.base+"/flaky", nil, nil); resp.StatusCode != 503 {
		t.Fatalf("after a failed probe: %d, want 503 (open again)", resp.StatusCode)
	}

	// PHP is fixed: two good probes close it
	if err := os.Remove(fail); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	before := hits()
	for i := 0; i < 4; i++ {
		if resp, _ := testsupport.Do(t, "GET", s.base+"/flaky", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("recovered, request %d: %d", i, resp.StatusCode)
		}
	}
	if hits() != before+4 {
		t.Fatalf("PHP got %d of 4 requests after recovery", hits()-before)
	}
	if v := metricValue(t, s, `rr_pivot_breaker_state{route="/flaky"}`); v != 0 {
		t.Errorf("breaker_state after recovery = %v, want 0 (closed)", v)
	}
}

// Two pivot instances (two real plugin graphs) on one real Redis share one budget: rate 10/s,
// burst 10 across both; the 11th request within the burst gets 429 on whichever instance.
// Redis stopped: both let requests through (fail-open) and count it.
func TestRedisBudgetSharedByTwoInstances(t *testing.T) {
	r := testsupport.StartRedis(t)
	// keyed by a header: the start-up checks' requests (no header, by ip) use another budget
	body := fmt.Sprintf("  limit:\n    rate: 10\n    burst: 10\n    by: header:X-Client\n    store: redis\n    redis: { addrs: [%q] }\n", r.Addr)
	client := http.Header{"X-Client": {"client-1"}}
	a, hitsA, _ := edgeStack(t, body)
	b, hitsB, _ := edgeStack(t, body)
	instances := []*stack{a, b}
	base := hitsA() + hitsB()

	// the burst: 10 requests, alternating; the budget refills 1 token per 100 ms, so what is
	// allowed is at most 10 plus the time taken
	start := time.Now()
	ok := 0
	var first429 int
	for i := 0; i < 20 && first429 == 0; i++ {
		resp, _ := testsupport.Do(t, "GET", instances[i%2].base+"/", nil, client)
		switch resp.StatusCode {
		case 200:
			ok++
		case 429:
			first429 = i + 1
		default:
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	elapsed := time.Since(start)
	refilled := int(elapsed / (100 * time.Millisecond))
	if first429 == 0 || ok < 10 || ok > 10+refilled {
		t.Fatalf("%d requests allowed before a 429 (request %d) in %s: want 10 (+%d refilled)", ok, first429, elapsed, refilled)
	}
	if n := hitsA() + hitsB() - base; n != ok {
		t.Fatalf("PHP got %d requests, %d were allowed", n, ok)
	}
	if elapsed < 90*time.Millisecond { // no token back yet: both instances refuse
		for i, s := range instances {
			if resp, _ := testsupport.Do(t, "GET", s.base+"/", nil, client); resp.StatusCode != 429 && time.Since(start) < 95*time.Millisecond {
				t.Errorf("instance %d: %d, want 429 (shared budget spent)", i, resp.StatusCode)
			}
		}
	}
	if v := metricValue(t, instances[first429%2^1], `rr_pivot_rate_limited_total{route="default"}`); v < 1 {
		t.Errorf("the refusing instance counted %v 429s", v)
	}

	r.Stop()
	for i, s := range instances {
		start := time.Now()
		resp, _ := testsupport.Do(t, "GET", s.base+"/", nil, client)
		if resp.StatusCode != 200 || time.Since(start) > 2*time.Second {
			t.Fatalf("instance %d with Redis down: %d in %s, want 200 at once (fail-open)", i, resp.StatusCode, time.Since(start))
		}
		if v := metricValue(t, s, "rr_pivot_rate_limit_store_errors_total"); v < 1 {
			t.Errorf("instance %d: rate_limit_store_errors_total = %v", i, v)
		}
	}
}

// pivot.breaker's own breaker (every path) open: /ready answers 503 with the reason for
// open_for, then half-open is ready again so that the load balancer sends the probes.
func TestOpenBreakerMakesTheInstanceUnreadyUntilHalfOpen(t *testing.T) {
	s, _, fail := edgeStack(t, `  breaker:
    failure_ratio: 0.5
    min_requests: 4
    window: 10s
    open_for: 2s
    half_open_requests: 1
`)
	ready := s.health + "/ready?plugin=pivot"
	if resp, body := testsupport.Do(t, "GET", ready, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("/ready before: %d %q", resp.StatusCode, body)
	}
	testsupport.WriteFile(t, fail, "1")
	for i := 0; i < 4; i++ {
		_, _ = testsupport.Do(t, "GET", s.base+"/flaky", nil, nil)
	}
	if resp, _ := testsupport.Do(t, "GET", s.base+"/anything", nil, nil); resp.StatusCode != 503 {
		t.Fatalf("the breaker did not open: %d", resp.StatusCode)
	}
	resp, body := testsupport.Do(t, "GET", ready, nil, nil)
	if resp.StatusCode != 503 || !strings.Contains(string(body), "circuit breaker open") || !strings.Contains(string(body), "probing again in") {
		t.Fatalf("/ready with the breaker open: %d %q", resp.StatusCode, body)
	}
	if resp, body := testsupport.Do(t, "GET", s.health+"/health?plugin=pivot", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("/health must stay 200 (the workers live): %d %q", resp.StatusCode, body)
	}
	testsupport.WaitFor(t, 5*time.Second, "/ready to be 200 again once half-open", func() bool {
		resp, _ := testsupport.Do(t, "GET", ready, nil, nil)
		return resp.StatusCode == 200
	})
}
