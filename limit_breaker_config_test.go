package pivot

import (
	"testing"
	"time"
)

// pivot.limit and pivot.breaker decode as written: durations, fractions, lists of routes, the
// breaker's squashed settings, a route inheriting what it leaves out.
func TestInitDecodesLimitAndBreaker(t *testing.T) {
	yaml := "server:\n  command: php worker.php\npivot:\n  address: 127.0.0.1:0\n" +
		"  limit:\n    rate: 0.5\n    by: header:X-Api-Key\n    trusted_proxies: [10.0.0.0/8]\n    store: redis\n" +
		"    redis: { addrs: [\"127.0.0.1:6379\"], timeout: 50ms }\n" +
		"    routes:\n      - { prefix: /api/login, rate: 2, burst: 4 }\n      - { prefix: /api/ }\n" +
		"  breaker:\n    failure_ratio: 0.3\n    min_requests: 10\n    window: 30s\n    open_for: 15s\n    half_open_requests: 2\n" +
		"    routes:\n      - { prefix: /reports/, slow: 10s, open_for: 1m }\n"
	p := &Plugin{}
	if err := p.Init(pluginConfig(t, yaml), testLogger{}, testServer{}); err != nil {
		t.Fatal(err)
	}
	l, b := p.cfg.Limit, p.cfg.Breaker
	if l.Rate != 0.5 || l.Burst != 1 || l.By != "header:X-Api-Key" || l.Store != "redis" || l.Redis.Timeout != 50*time.Millisecond ||
		len(l.Routes) != 2 || l.Routes[0].Rate != 2 || l.Routes[0].Burst != 4 || l.Routes[1].Rate != 0.5 || l.Routes[1].Burst != 1 {
		t.Errorf("limit %+v routes %+v redis %+v", l, l.Routes, l.Redis)
	}
	if b.FailureRatio != 0.3 || b.MinRequests != 10 || b.Window != 30*time.Second || b.OpenFor != 15*time.Second ||
		b.HalfOpenRequests != 2 || len(b.Routes) != 1 {
		t.Fatalf("breaker %+v", b)
	}
	r := b.Routes[0]
	if r.Prefix != "/reports/" || r.Slow != 10*time.Second || r.OpenFor != time.Minute || r.FailureRatio != 0.3 || r.MinRequests != 10 {
		t.Errorf("breaker route %+v", r)
	}
	if p.limiter == nil || p.breakers == nil {
		t.Error("pivot.limit and pivot.breaker are not wired")
	}
	_ = p.limiter.Close()

	// not configured: nothing wired
	p = &Plugin{}
	if err := p.Init(pluginConfig(t, "server:\n  command: php worker.php\npivot:\n  address: 127.0.0.1:0\n"), testLogger{}, testServer{}); err != nil {
		t.Fatal(err)
	}
	if p.limiter != nil || p.breakers != nil {
		t.Error("a limiter or breaker without their sections")
	}
}
