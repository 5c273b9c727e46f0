package breaker

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// gobreaker reads time.Now itself (no clock to inject): the transitions are tested with short
// real durations.

type countMetrics struct {
	mu          sync.Mutex
	rejected    map[string]int
	transitions map[string]int // "route from→to"
}

func (m *countMetrics) Rejected(r string) { m.mu.Lock(); m.rejected[r]++; m.mu.Unlock() }

func (m *countMetrics) Transition(r, from, to string) {
	m.mu.Lock()
	if m.transitions == nil {
		m.transitions = map[string]int{}
	}
	m.transitions[r+" "+from+"→"+to]++
	m.mu.Unlock()
}

// fakePHP answers with the status (and after the delay) the test sets, counting its hits.
type fakePHP struct {
	mu     sync.Mutex
	status int
	delay  time.Duration
	hits   int
}

func (p *fakePHP) set(status int, delay time.Duration) {
	p.mu.Lock()
	p.status, p.delay = status, delay
	p.mu.Unlock()
}

func (p *fakePHP) handle(c *fasthttp.RequestCtx) {
	p.mu.Lock()
	p.hits++
	status, delay := p.status, p.delay
	p.mu.Unlock()
	time.Sleep(delay)
	c.SetStatusCode(status)
}

func (p *fakePHP) count() int { p.mu.Lock(); defer p.mu.Unlock(); return p.hits }

func newBreakers(t *testing.T, c Config) (*Breakers, *countMetrics, *observer.ObservedLogs) {
	t.Helper()
	c.InitDefaults()
	if err := c.Valid(); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	m := &countMetrics{rejected: map[string]int{}}
	return New(&c, m, zap.New(core)), m, logs
}

func do(h fasthttp.RequestHandler, path string) *fasthttp.RequestCtx {
	c := &fasthttp.RequestCtx{}
	c.Request.SetRequestURI(path)
	h(c)
	return c
}

func stateOf(b *Breakers, route string) State {
	var got State = -1
	b.States(func(r string, s State) {
		if r == route {
			got = s
		}
	})
	return got
}

func TestTransitions(t *testing.T) {
	b, m, logs := newBreakers(t, Config{Settings: Settings{FailureRatio: 0.5, MinRequests: 4, Window: time.Second,
		OpenFor: 300 * time.Millisecond, HalfOpenRequests: 2}})
	php := &fakePHP{status: 200}
	h := b.Middleware(php.handle)

	// closed: 3 failures of 3 requests is below min_requests
	php.set(500, 0)
	for i := 0; i < 3; i++ {
		if c := do(h, "/"); c.Response.StatusCode() != 500 {
			t.Fatalf("closed: %d", c.Response.StatusCode())
		}
	}
	if s := stateOf(b, DefaultRoute); s != Closed {
		t.Fatalf("state %v after 3 requests, want closed (min_requests 4)", s)
	}
	// the 4th: 4 of 4 failed → open
	do(h, "/")
	if s := stateOf(b, DefaultRoute); s != Open {
		t.Fatalf("state %v, want open", s)
	}
	// open: 503 with Retry-After, PHP not asked
	hits := php.count()
	c := do(h, "/")
	if c.Response.StatusCode() != 503 || string(c.Response.Header.Peek("Retry-After")) != "1" {
		t.Fatalf("open: %d Retry-After %q", c.Response.StatusCode(), c.Response.Header.Peek("Retry-After"))
	}
	if php.count() != hits || m.rejected[DefaultRoute] != 1 {
		t.Fatalf("open breaker reached PHP (%d → %d) or was not counted (%v)", hits, php.count(), m.rejected)
	}

	// half-open after open_for: a failing probe opens it again
	time.Sleep(350 * time.Millisecond)
	if s := stateOf(b, DefaultRoute); s != HalfOpen {
		t.Fatalf("state %v after open_for, want half-open", s)
	}
	if c := do(h, "/"); c.Response.StatusCode() != 500 {
		t.Fatalf("probe: %d", c.Response.StatusCode())
	}
	if s := stateOf(b, DefaultRoute); s != Open {
		t.Fatalf("state %v after a failed probe, want open", s)
	}

	// half-open again: 2 good probes close it
	time.Sleep(350 * time.Millisecond)
	php.set(200, 0)
	for i := 0; i < 2; i++ {
		if c := do(h, "/"); c.Response.StatusCode() != 200 {
			t.Fatalf("probe %d: %d", i, c.Response.StatusCode())
		}
	}
	if s := stateOf(b, DefaultRoute); s != Closed {
		t.Fatalf("state %v after 2 good probes, want closed", s)
	}

	var changes []string
	for _, e := range logs.All() {
		if strings.HasPrefix(e.Message, "pivot.breaker") {
			changes = append(changes, e.ContextMap()["from"].(string)+"→"+e.ContextMap()["to"].(string))
		}
	}
	want := "closed→open half-open→open open→half-open half-open→closed"
	got := strings.Join(changes, " ")
	for _, w := range strings.Fields(want) {
		if !strings.Contains(got, w) {
			t.Errorf("state changes logged: %q, missing %s", got, w)
		}
	}
	if len(changes) != 5 {
		t.Errorf("%d state changes logged (%q), want 5", len(changes), got)
	}
	// rr_pivot_breaker_transitions_total counts the same changes, by route, from and to
	wantCounts := map[string]int{
		"default closed→open": 1, "default open→half-open": 2, "default half-open→open": 1,
		"default half-open→closed": 1,
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.transitions) != len(wantCounts) {
		t.Errorf("transitions counted: %v, want %v", m.transitions, wantCounts)
	}
	for k, n := range wantCounts {
		if m.transitions[k] != n {
			t.Errorf("transition %q counted %d times, want %d (all: %v)", k, m.transitions[k], n, m.transitions)
		}
	}
}

// While probes are under way, the other requests get 503 too (Retry-After 1).
func TestHalfOpenLimitsProbes(t *testing.T) {
	b, _, _ := newBreakers(t, Config{Settings: Settings{MinRequests: 1, Window: time.Second,
		OpenFor: 100 * time.Millisecond, HalfOpenRequests: 1}})
	php := &fakePHP{status: 500}
	h := b.Middleware(php.handle)
	do(h, "/")
	time.Sleep(150 * time.Millisecond)
	php.set(200, 200*time.Millisecond)
	probe := make(chan int)
	go func() { probe <- do(h, "/").Response.StatusCode() }()
	time.Sleep(50 * time.Millisecond)
	c := do(h, "/")
	if c.Response.StatusCode() != 503 || string(c.Response.Header.Peek("Retry-After")) != "1" ||
		!strings.Contains(string(c.Response.Body()), "recovering") {
		t.Fatalf("during the probe: %d %q %q", c.Response.StatusCode(), c.Response.Header.Peek("Retry-After"), c.Response.Body())
	}
	if s := <-probe; s != 200 {
		t.Fatalf("probe: %d", s)
	}
	if s := stateOf(b, DefaultRoute); s != Closed {
		t.Fatalf("state %v, want closed", s)
	}
}

func TestRetryAfterCountsDown(t *testing.T) {
	b, _, _ := newBreakers(t, Config{Settings: Settings{MinRequests: 1, OpenFor: 3 * time.Second}})
	h := b.Middleware((&fakePHP{status: 502}).handle)
	do(h, "/")
	if ra := string(do(h, "/").Response.Header.Peek("Retry-After")); ra != "3" {
		t.Fatalf("Retry-After %q, want 3", ra)
	}
	time.Sleep(1100 * time.Millisecond)
	if ra := string(do(h, "/").Response.Header.Peek("Retry-After")); ra != "2" {
		t.Fatalf("Retry-After %q a second later, want 2", ra)
	}
}

func TestSlowCountsAsFailure(t *testing.T) {
	b, _, _ := newBreakers(t, Config{Settings: Settings{MinRequests: 2, FailureRatio: 1, Slow: 30 * time.Millisecond}})
	php := &fakePHP{status: 200, delay: 50 * time.Millisecond}
	h := b.Middleware(php.handle)
	do(h, "/")
	do(h, "/")
	if s := stateOf(b, DefaultRoute); s != Open {
		t.Fatalf("state %v after 2 slow 200s, want open", s)
	}
}

func TestRatioOverTheWindow(t *testing.T) {
	b, _, _ := newBreakers(t, Config{Settings: Settings{MinRequests: 10, FailureRatio: 0.5, Window: 400 * time.Millisecond}})
	php := &fakePHP{status: 200}
	h := b.Middleware(php.handle)
	for i := 0; i < 20; i++ { // 4xx and 2xx are successes
		if i%2 == 0 {
			php.set(404, 0)
		} else {
			php.set(200, 0)
		}
		do(h, "/")
	}
	php.set(500, 0)
	for i := 0; i < 15; i++ { // 15 failures of 35: 43 %
		do(h, "/")
	}
	if s := stateOf(b, DefaultRoute); s != Closed {
		t.Fatalf("state %v at 15/35 failed, want closed", s)
	}
	// the window rolls: the successes leave it, failures alone open it
	time.Sleep(500 * time.Millisecond)
	for i := 0; i < 10; i++ {
		do(h, "/")
	}
	if s := stateOf(b, DefaultRoute); s != Open {
		t.Fatalf("state %v, want open once the successes left the window", s)
	}
}

func TestRoutes(t *testing.T) {
	b, m, _ := newBreakers(t, Config{Settings: Settings{MinRequests: 100},
		Routes: []RouteConfig{{Prefix: "/api", Settings: Settings{MinRequests: 2}}, {Prefix: "/api/slow/"}}})
	php := &fakePHP{status: 500}
	h := b.Middleware(php.handle)
	do(h, "/api/users")
	do(h, "/api")
	if stateOf(b, "/api") != Open || stateOf(b, DefaultRoute) != Closed || stateOf(b, "/api/slow/") != Closed {
		t.Fatal("only /api's breaker should be open")
	}
	if c := do(h, "/api/x"); c.Response.StatusCode() != 503 {
		t.Fatalf("/api/x: %d", c.Response.StatusCode())
	}
	for _, p := range []string{"/", "/apiary", "/api/slow/x"} {
		if c := do(h, p); c.Response.StatusCode() != 500 {
			t.Fatalf("%s: %d, want PHP's 500 (another breaker)", p, c.Response.StatusCode())
		}
	}
	if m.rejected["/api"] != 1 {
		t.Fatalf("rejected %v", m.rejected)
	}
	if m.transitions["/api closed→open"] != 1 || len(m.transitions) != 1 {
		t.Fatalf("transitions %v, want only /api closed→open", m.transitions)
	}
	// a route inherits what it leaves out
	c := Config{Settings: Settings{OpenFor: 7 * time.Second}, Routes: []RouteConfig{{Prefix: "/a"}}}
	c.InitDefaults()
	if c.Routes[0].OpenFor != 7*time.Second || c.Routes[0].MinRequests != defaultMinRequests {
		t.Fatalf("route settings %+v", c.Routes[0].Settings)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		c    Config
		want string
	}{
		{Config{Settings: Settings{FailureRatio: 1.5}}, "pivot.breaker.failure_ratio is 1.5"},
		{Config{Settings: Settings{FailureRatio: -0.1}}, "pivot.breaker.failure_ratio is -0.1"},
		{Config{Settings: Settings{Window: time.Millisecond}}, "pivot.breaker.window is 1ms"},
		{Config{Settings: Settings{OpenFor: -time.Second}}, "pivot.breaker.open_for is -1s"},
		{Config{Settings: Settings{Slow: -time.Second}}, "pivot.breaker.slow is -1s"},
		{Config{Routes: []RouteConfig{{Prefix: "api"}}}, `pivot.breaker.routes[0].prefix "api" must be a path starting with /`},
		{Config{Routes: []RouteConfig{{Prefix: "/a"}, {Prefix: "/a"}}}, `pivot.breaker.routes[1].prefix "/a" is listed already`},
		{Config{Routes: []RouteConfig{{Prefix: "/a", Settings: Settings{FailureRatio: 2}}}}, "pivot.breaker.routes[0].failure_ratio is 2"},
	}
	for _, tc := range cases {
		c := tc.c
		c.InitDefaults()
		err := c.Valid()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
}

func BenchmarkMiddleware(b *testing.B) {
	c := Config{Settings: Settings{Slow: time.Second}}
	c.InitDefaults()
	h := New(&c, &countMetrics{rejected: map[string]int{}}, zap.NewNop()).Middleware(func(c *fasthttp.RequestCtx) { c.SetStatusCode(200) })
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.SetRequestURI("/hello")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h(ctx)
	}
}
