package limit

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func redisLimiter(t *testing.T, addr string, c Config, m Metrics, log *zap.Logger) *Limiter {
	t.Helper()
	c.Store = StoreRedis
	c.Redis = &RedisConfig{Addrs: []string{addr}, Prefix: "test:" + strings.ReplaceAll(t.Name(), "/", "_") + ":"}
	l := New(config(t, c), m, log)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// The GCRA script against a real Redis: the same answers as the memory store's token bucket,
// and two limiters (two instances) on one Redis share one budget.
func TestRedisStore(t *testing.T) {
	r := testsupport.StartRedis(t)
	cfg := Config{Rate: 2, Burst: 3}
	a := redisLimiter(t, r.Addr, cfg, nopMetrics{}, zap.NewNop())
	b := redisLimiter(t, r.Addr, cfg, nopMetrics{}, zap.NewNop())
	ha, hb := a.Middleware(php), b.Middleware(php)

	want := []answer{
		{200, "3", "2", "1", ""}, {200, "3", "1", "1", ""}, {200, "3", "0", "2", ""}, {429, "3", "0", "2", "1"},
	}
	hs := []func(*testing.T) answer{
		func(t *testing.T) answer { return run(t, ha, ctx(t, "1.1.1.1:1", "/")) },
		func(t *testing.T) answer { return run(t, hb, ctx(t, "1.1.1.1:2", "/")) }, // the other instance
		func(t *testing.T) answer { return run(t, ha, ctx(t, "1.1.1.1:3", "/")) },
		func(t *testing.T) answer { return run(t, hb, ctx(t, "1.1.1.1:4", "/")) },
	}
	for i, h := range hs {
		if got := h(t); got != want[i] {
			t.Errorf("request %d: %+v, want %+v", i, got, want[i])
		}
	}
	if got := run(t, hb, ctx(t, "2.2.2.2:1", "/")); got.status != 200 || got.remaining != "2" {
		t.Errorf("another client: %+v", got)
	}
	time.Sleep(600 * time.Millisecond) // one token back (2/s)
	if got := run(t, ha, ctx(t, "1.1.1.1:1", "/")); got.status != 200 || got.remaining != "0" {
		t.Errorf("after 0.6 s: %+v", got)
	}
	if got := run(t, ha, ctx(t, "1.1.1.1:1", "/")); got.status != 429 {
		t.Errorf("after 0.6 s, twice: %+v", got)
	}
}

// Redis down, or up but silent: requests go through (fail-open) within redis.timeout, then for
// a second without asking; one warning, every such request counted; back to limiting once
// Redis answers again.
func TestRedisFailOpen(t *testing.T) {
	r := testsupport.StartRedis(t)
	core, logs := observer.New(zapcore.WarnLevel)
	m := &countMetrics{limited: map[string]int{}}
	l := redisLimiter(t, r.Addr, Config{Rate: 1, Burst: 1}, m, zap.New(core))
	h := l.Middleware(php)
	run(t, h, ctx(t, "1.1.1.1:1", "/"))
	if a := run(t, h, ctx(t, "1.1.1.1:1", "/")); a.status != 429 {
		t.Fatalf("Redis up: %+v", a)
	}

	r.Stop()
	for i := 0; i < 5; i++ {
		start := time.Now()
		a := run(t, h, ctx(t, "1.1.1.1:1", "/"))
		if a.status != 200 || a.limit != "" {
			t.Fatalf("Redis down, request %d: %+v: want 200 without RateLimit headers", i, a)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Redis down: a request took %s", d)
		}
	}
	if m.errors != 5 || logs.Len() != 1 || !strings.Contains(logs.All()[0].Message, "fail-open") {
		t.Fatalf("store errors %d (want 5), warnings %d (want 1): %v", m.errors, logs.Len(), logs.All())
	}

	r.Start()
	time.Sleep(skipAfterError + 100*time.Millisecond)
	testsupport.WaitFor(t, 10*time.Second, "limiting again once Redis is back", func() bool {
		return run(t, h, ctx(t, "9.9.9.9:1", "/")).status == 429
	})
}

func TestRedisSilentIsBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() { // accepts, reads, never answers
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	m := &countMetrics{limited: map[string]int{}}
	l := redisLimiter(t, ln.Addr().String(), Config{Rate: 1}, m, zap.NewNop())
	h := l.Middleware(php)
	start := time.Now()
	if a := run(t, h, ctx(t, "1.1.1.1:1", "/")); a.status != 200 {
		t.Fatalf("%+v", a)
	}
	if d := time.Since(start); d < defaultRedisTimeout/2 || d > 5*defaultRedisTimeout {
		t.Fatalf("a silent Redis held the request %s (redis.timeout %s)", d, defaultRedisTimeout)
	}
	start = time.Now()
	run(t, h, ctx(t, "1.1.1.1:1", "/"))
	if d := time.Since(start); d > 20*time.Millisecond {
		t.Fatalf("the next request waited %s: Redis should not be asked for a second", d)
	}
}
