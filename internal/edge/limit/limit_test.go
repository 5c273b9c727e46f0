package limit

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// ctx builds a request from peer (ip:port) with the given header lines.
func ctx(t testing.TB, peer, path string, headers ...string) *fasthttp.RequestCtx {
	t.Helper()
	raw := "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(headers, "") + "\r\n"
	var req fasthttp.Request
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(peer)
	c := &fasthttp.RequestCtx{}
	c.Init(&req, net.TCPAddrFromAddrPort(ap), nil)
	return c
}

func config(t testing.TB, c Config) *Config {
	t.Helper()
	c.InitDefaults()
	if err := c.Valid(); err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestKey(t *testing.T) {
	proxies := []string{"10.0.0.0/8", "192.168.1.1", "fd00::/8"}
	cases := []struct {
		name    string
		by      string
		trusted []string
		peer    string
		headers []string
		want    string // an address, or h:<value>
	}{
		{"peer v4", "ip", nil, "203.0.113.7:5000", nil, "203.0.113.7"},
		{"XFF ignored without trusted proxies", "ip", nil, "203.0.113.7:5000", []string{"X-Forwarded-For: 1.2.3.4\r\n"}, "203.0.113.7"},
		{"spoofed XFF from an untrusted peer", "ip", proxies, "203.0.113.7:5000", []string{"X-Forwarded-For: 10.0.0.5, 1.2.3.4\r\n"}, "203.0.113.7"},
		{"trusted proxy: client from XFF", "ip", proxies, "10.1.2.3:5000", []string{"X-Forwarded-For: 198.51.100.9\r\n"}, "198.51.100.9"},
		{"trusted chain: right-most untrusted", "ip", proxies, "10.1.2.3:5000",
			[]string{"X-Forwarded-For: 6.6.6.6, 198.51.100.9, 192.168.1.1, 10.9.9.9\r\n"}, "198.51.100.9"},
		{"client's own forged entries left of it are ignored", "ip", proxies, "10.1.2.3:5000",
			[]string{"X-Forwarded-For: 10.0.0.1, 198.51.100.9\r\n"}, "198.51.100.9"},
		{"several XFF headers: the last one is nearest", "ip", proxies, "10.1.2.3:5000",
			[]string{"X-Forwarded-For: 1.1.1.1\r\n", "X-Forwarded-For: 2.2.2.2, 10.0.0.3\r\n"}, "2.2.2.2"},
		{"every hop trusted: the left-most", "ip", proxies, "10.1.2.3:5000", []string{"X-Forwarded-For: 10.0.0.7, 10.0.0.8\r\n"}, "10.0.0.7"},
		{"trusted proxy without XFF: the proxy", "ip", proxies, "10.1.2.3:5000", nil, "10.1.2.3"},
		{"garbage entry: the hop that passed it", "ip", proxies, "10.1.2.3:5000", []string{"X-Forwarded-For: 1.2.3.4, nonsense, 10.0.0.9\r\n"}, "10.0.0.9"},
		{"entry with a port", "ip", proxies, "10.1.2.3:5000", []string{"X-Forwarded-For: 198.51.100.9:4711\r\n"}, "198.51.100.9"},
		{"IPv6 peer keyed by its /64", "ip", nil, "[2001:db8:1:2:aaaa::1]:5000", nil, "2001:db8:1:2::"},
		{"IPv6 peer, another address of the /64", "ip", nil, "[2001:db8:1:2:bbbb::9]:5000", nil, "2001:db8:1:2::"},
		{"IPv6 trusted proxy, IPv6 client", "ip", proxies, "[fd00::1]:5000", []string{"X-Forwarded-For: 2001:db8:5::7, fd00::2\r\n"}, "2001:db8:5::"},
		{"bracketed IPv6 with a port", "ip", proxies, "[fd00::1]:5000", []string{"X-Forwarded-For: [2001:db8:5::7]:443\r\n"}, "2001:db8:5::"},
		{"IPv4-mapped peer", "ip", proxies, "[::ffff:10.1.2.3]:5000", []string{"X-Forwarded-For: 198.51.100.9\r\n"}, "198.51.100.9"},
		{"zone in XFF is not an address", "ip", proxies, "10.1.2.3:5000", []string{"X-Forwarded-For: fe80::1%eth0\r\n"}, "10.1.2.3"},
		{"by header", "header:X-Api-Key", nil, "203.0.113.7:5000", []string{"X-Api-Key: secret-1\r\n"}, "h:secret-1"},
		{"by header, case-insensitive name", "header:x-api-key", nil, "203.0.113.7:5000", []string{"X-API-KEY: secret-2\r\n"}, "h:secret-2"},
		{"by header, missing: by ip", "header:X-Api-Key", proxies, "10.1.2.3:5000", []string{"X-Forwarded-For: 198.51.100.9\r\n"}, "198.51.100.9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(t, Config{Rate: 1, By: tc.by, TrustedProxies: tc.trusted})
			l := New(cfg, nopMetrics{}, zap.NewNop())
			got := l.keyer.key(nil, ctx(t, tc.peer, "/", tc.headers...))
			var want []byte
			if v, ok := strings.CutPrefix(tc.want, "h:"); ok {
				want = append([]byte{'h'}, v...)
			} else {
				want = appendAddrKey(nil, netip.MustParseAddr(tc.want))
			}
			if string(got) != string(want) {
				t.Errorf("key %q, want %q (%s)", got, want, tc.want)
			}
		})
	}
}

func TestLongHeaderValueIsHashed(t *testing.T) {
	l := New(config(t, Config{Rate: 1, By: "header:X-Api-Key"}), nopMetrics{}, zap.NewNop())
	long := strings.Repeat("k", 500)
	k1 := l.keyer.key(nil, ctx(t, "1.2.3.4:1", "/", "X-Api-Key: "+long+"\r\n"))
	k2 := l.keyer.key(nil, ctx(t, "1.2.3.4:1", "/", "X-Api-Key: "+long+"x\r\n"))
	if len(k1) != 33 || k1[0] != 'H' || string(k1) == string(k2) {
		t.Fatalf("keys %q %q: want 'H' + 32 distinct bytes", k1, k2)
	}
}

type nopMetrics struct{}

func (nopMetrics) Limited(string) {}
func (nopMetrics) StoreError()    {}

type countMetrics struct {
	mu      sync.Mutex
	limited map[string]int
	errors  int
}

func (m *countMetrics) Limited(r string) { m.mu.Lock(); m.limited[r]++; m.mu.Unlock() }
func (m *countMetrics) StoreError()      { m.mu.Lock(); m.errors++; m.mu.Unlock() }

// clock is a fake time for the limiter.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func php(c *fasthttp.RequestCtx) { c.SetStatusCode(200); c.SetBodyString("php") }

type answer struct {
	status                  int
	limit, remaining, reset string
	retryAfter              string
}

func run(t *testing.T, h fasthttp.RequestHandler, c *fasthttp.RequestCtx) answer {
	t.Helper()
	h(c)
	r := &c.Response
	return answer{r.StatusCode(), string(r.Header.Peek("RateLimit-Limit")), string(r.Header.Peek("RateLimit-Remaining")),
		string(r.Header.Peek("RateLimit-Reset")), string(r.Header.Peek("Retry-After"))}
}

func TestMemoryLimitAndHeaders(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	m := &countMetrics{limited: map[string]int{}}
	l := New(config(t, Config{Rate: 2, Burst: 3}), m, zap.NewNop())
	l.now = clk.now
	phpHits := 0
	h := l.Middleware(func(c *fasthttp.RequestCtx) { phpHits++; php(c) })
	steps := []struct {
		advance time.Duration
		peer    string
		want    answer
	}{
		{0, "1.1.1.1:1", answer{200, "3", "2", "1", ""}}, // 1 token used: full again in 0.5 s → 1
		{0, "1.1.1.1:1", answer{200, "3", "1", "1", ""}},
		{0, "1.1.1.1:1", answer{200, "3", "0", "2", ""}}, // 3 tokens to refill at 2/s: 1.5 s → 2
		{0, "1.1.1.1:1", answer{429, "3", "0", "2", "1"}},
		{0, "2.2.2.2:1", answer{200, "3", "2", "1", ""}},                      // another client: its own budget
		{500 * time.Millisecond, "1.1.1.1:1", answer{200, "3", "0", "2", ""}}, // 1 token back, used
		{100 * time.Millisecond, "1.1.1.1:1", answer{429, "3", "0", "2", "1"}},
		{2 * time.Second, "1.1.1.1:1", answer{200, "3", "2", "1", ""}}, // full again
	}
	for i, s := range steps {
		clk.advance(s.advance)
		before := phpHits
		got := run(t, h, ctx(t, s.peer, "/x"))
		if got != s.want {
			t.Errorf("step %d: %+v, want %+v", i, got, s.want)
		}
		if reached := phpHits > before; reached != (s.want.status == 200) {
			t.Errorf("step %d: PHP reached %v with status %d", i, reached, got.status)
		}
	}
	if m.limited[DefaultRoute] != 2 {
		t.Errorf("limited %v, want 2 on %s", m.limited, DefaultRoute)
	}
}

func TestRetryAfterOfASlowRate(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	l := New(config(t, Config{Rate: 0.1}), nopMetrics{}, zap.NewNop()) // one every 10 s, burst 1
	l.now = clk.now
	h := l.Middleware(php)
	if a := run(t, h, ctx(t, "1.1.1.1:1", "/")); a.status != 200 || a.limit != "1" || a.reset != "10" {
		t.Fatalf("first: %+v", a)
	}
	clk.advance(2500 * time.Millisecond)
	if a := run(t, h, ctx(t, "1.1.1.1:1", "/")); a.status != 429 || a.retryAfter != "8" {
		t.Fatalf("second: %+v, want 429 with Retry-After 8 (7.5 s rounded up)", a)
	}
}

func TestRoutes(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	m := &countMetrics{limited: map[string]int{}}
	cfg := config(t, Config{Rate: 100, Burst: 100, Routes: []RouteConfig{
		{Prefix: "/api", Rate: 1, Burst: 2},
		{Prefix: "/api/login", Rate: 1, Burst: 1},
		{Prefix: "/files/", Burst: 5}, // rate inherited
	}})
	l := New(cfg, m, zap.NewNop())
	l.now = clk.now
	cases := []struct{ path, route, limit string }{
		{"/", DefaultRoute, "100"},
		{"/apiary", DefaultRoute, "100"}, // /api matches on a segment boundary only
		{"/api", "/api", "2"},
		{"/api/users", "/api", "2"},
		{"/api/login", "/api/login", "1"}, // the longest prefix wins
		{"/api/login/sso", "/api/login", "1"},
		{"/api/loginx", "/api", "2"},
		{"/files/a.txt", "/files/", "5"},
		{"/files", DefaultRoute, "100"},
	}
	for _, tc := range cases {
		r := l.match([]byte(tc.path))
		if r.name != tc.route || string(r.burst) != tc.limit {
			t.Errorf("%s: route %s limit %s, want %s limit %s", tc.path, r.name, r.burst, tc.route, tc.limit)
		}
	}
	h := l.Middleware(php)
	// each route its own budget: /api/login's one request does not use /api's
	for i, want := range []int{200, 429} {
		if a := run(t, h, ctx(t, "1.1.1.1:1", "/api/login")); a.status != want {
			t.Errorf("/api/login #%d: %d, want %d", i, a.status, want)
		}
	}
	for i, want := range []int{200, 200, 429} {
		if a := run(t, h, ctx(t, "1.1.1.1:1", "/api/users")); a.status != want {
			t.Errorf("/api/users #%d: %d, want %d", i, a.status, want)
		}
	}
	if m.limited["/api"] != 1 || m.limited["/api/login"] != 1 {
		t.Errorf("limited %v", m.limited)
	}
}

func TestOnlyRoutesLimited(t *testing.T) {
	l := New(config(t, Config{Routes: []RouteConfig{{Prefix: "/api/", Rate: 1, Burst: 1}}}), nopMetrics{}, zap.NewNop())
	h := l.Middleware(php)
	for i := 0; i < 5; i++ {
		if a := run(t, h, ctx(t, "1.1.1.1:1", "/page")); a.status != 200 || a.limit != "" {
			t.Fatalf("/page: %+v: want 200 without RateLimit headers (rate 0: only routes limited)", a)
		}
	}
	run(t, h, ctx(t, "1.1.1.1:1", "/api/x"))
	if a := run(t, h, ctx(t, "1.1.1.1:1", "/api/x")); a.status != 429 {
		t.Fatalf("/api/x: %+v", a)
	}
}

// A flood of distinct keys keeps the memory store at max_keys; idle keys are swept.
func TestMemoryStoreBounded(t *testing.T) {
	s := newMemoryStore(1, 5, 1024) // idle after 5 s
	now := time.Unix(1_700_000_000, 0)
	for i := 0; i < 100_000; i++ {
		if _, err := s.take([]byte("4"+strconv.Itoa(i)), now); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.size(); n > 1024 {
		t.Fatalf("%d keys after a flood of 100000: the bound is 1024", n)
	}

	// idle keys are swept when new ones arrive; a key in use keeps its budget
	s = newMemoryStore(1, 5, 1<<16) // idle after 5 s
	for i := 0; i < 10_000; i++ {
		_, _ = s.take([]byte("old"+strconv.Itoa(i)), now)
	}
	for i := 0; i < 5; i++ {
		_, _ = s.take([]byte("client"), now.Add(2*time.Second))
	}
	later := now.Add(6 * time.Second)
	d, _ := s.take([]byte("client"), later) // 4 s later: 4 tokens back, one used
	if !d.allowed || d.remaining != 3 {
		t.Fatalf("client: %+v", d)
	}
	const fresh = memoryShards * 20 // every shard gets some (all but surely)
	for i := 0; i < fresh; i++ {
		_, _ = s.take([]byte("new"+strconv.Itoa(i)), later)
	}
	if n := s.size(); n != fresh+1 {
		t.Fatalf("%d keys, want %d: the 10000 idle ones were not swept", n, fresh+1)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		c    Config
		want string
	}{
		{Config{}, "pivot.limit.rate is not set"},
		{Config{Rate: -1}, "pivot.limit.rate is -1"},
		{Config{Rate: 1, By: "cookie"}, `pivot.limit.by: "cookie" is not ip or header:NAME`},
		{Config{Rate: 1, By: "header:"}, `pivot.limit.by: "header:" does not name a valid header`},
		{Config{Rate: 1, TrustedProxies: []string{"10.0.0.0/33"}}, "pivot.limit.trusted_proxies[0]"},
		{Config{Rate: 1, Store: "etcd"}, `pivot.limit.store: "etcd" is not memory or redis`},
		{Config{Rate: 1, Store: "redis"}, "pivot.limit.redis.addrs is empty"},
		{Config{Rate: 1, Store: "redis", Redis: &RedisConfig{Addrs: []string{"localhost"}}}, `pivot.limit.redis.addrs[0]: "localhost" is not a host:port`},
		{Config{Rate: 1, Redis: &RedisConfig{Addrs: []string{"127.0.0.1:6379"}}}, "add store: redis"},
		{Config{Rate: 1, Routes: []RouteConfig{{Prefix: "api"}}}, `pivot.limit.routes[0].prefix "api" must be a path starting with /`},
		{Config{Rate: 1, Routes: []RouteConfig{{Prefix: "/a"}, {Prefix: "/a"}}}, "pivot.limit.routes[1].prefix \"/a\" is listed already"},
		{Config{Routes: []RouteConfig{{Prefix: "/a", Burst: 3}}}, "pivot.limit.routes[0].rate is 0"},
		{Config{Rate: 1, MaxKeys: 10}, "pivot.limit.max_keys is 10"},
	}
	for _, tc := range cases {
		c := tc.c
		c.InitDefaults()
		err := c.Valid()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
	c := Config{Rate: 2.5}
	c.InitDefaults()
	if err := c.Valid(); err != nil || c.Burst != 3 || c.By != "ip" || c.Store != StoreMemory {
		t.Errorf("defaults: %+v %v", c, err)
	}
}

func BenchmarkMiddleware(b *testing.B) {
	l := New(config(b, Config{Rate: 1e9, Burst: 1 << 30}), nopMetrics{}, zap.NewNop())
	h := l.Middleware(php)
	c := ctx(b, "203.0.113.7:5000", "/hello")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h(c)
	}
	_ = fmt.Sprint()
}
