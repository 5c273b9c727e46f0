package limit

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The stores a budget lives in.
const (
	StoreMemory = "memory"
	StoreRedis  = "redis"
)

const (
	defaultMaxKeys      = 100_000
	defaultRedisTimeout = 100 * time.Millisecond
	defaultRedisPrefix  = "pivot:limit:"
	maxRate             = 1e9
)

// Config is `pivot.limit`: a token bucket per client (rate tokens a second, burst at most)
// for every request that goes on to PHP.
type Config struct {
	// Rate is the requests a second a client may make on average (a fraction is fine: 0.5 is
	// one every 2 s). 0 with routes: only the routes' prefixes are limited.
	Rate float64 `mapstructure:"rate"`
	// Burst is the most requests a client may make at once (default: the rate, at least 1).
	Burst int `mapstructure:"burst"`
	// By is what a budget belongs to: ip (default) or header:NAME (a request without the
	// header is keyed by its ip).
	By string `mapstructure:"by"`
	// TrustedProxies are the CIDRs (or addresses) of the proxies in front of pivot: only a
	// request from one of them has its client read from X-Forwarded-For.
	TrustedProxies []string `mapstructure:"trusted_proxies"`
	// Store is memory (default: one budget per instance) or redis (one budget shared by every
	// instance using the same Redis).
	Store string `mapstructure:"store"`
	// Redis is the Redis of store: redis.
	Redis *RedisConfig `mapstructure:"redis"`
	// MaxKeys bounds the memory store: the most clients remembered per route (default 100000).
	MaxKeys int `mapstructure:"max_keys"`
	// Routes give path prefixes budgets of their own (the longest prefix wins).
	Routes []RouteConfig `mapstructure:"routes"`

	header  string         // by header:NAME, canonical
	trusted []netip.Prefix // TrustedProxies parsed
}

// RouteConfig is one of pivot.limit.routes: a path prefix with a budget of its own. A rate or
// burst left out is pivot.limit's.
type RouteConfig struct {
	Prefix string  `mapstructure:"prefix"`
	Rate   float64 `mapstructure:"rate"`
	Burst  int     `mapstructure:"burst"`
}

// RedisConfig is pivot.limit.redis.
type RedisConfig struct {
	// Addrs: one address (host:port) for a single Redis, several for a cluster.
	Addrs    []string `mapstructure:"addrs"`
	Username string   `mapstructure:"username"`
	Password string   `mapstructure:"password"`
	DB       int      `mapstructure:"db"`
	// Prefix starts every key pivot writes (default "pivot:limit:").
	Prefix string `mapstructure:"prefix"`
	// Timeout bounds each call to Redis, dial included (default 100ms): past it the request
	// is let through (fail-open).
	Timeout time.Duration `mapstructure:"timeout"`
}

// InitDefaults fills the unset values.
func (c *Config) InitDefaults() {
	c.By = strings.TrimSpace(c.By)
	if c.By == "" {
		c.By = "ip"
	}
	c.Store = strings.ToLower(strings.TrimSpace(c.Store))
	if c.Store == "" {
		c.Store = StoreMemory
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = defaultMaxKeys
	}
	if c.Burst == 0 && c.Rate > 0 {
		c.Burst = defaultBurst(c.Rate)
	}
	if c.Redis != nil {
		if c.Redis.Timeout == 0 {
			c.Redis.Timeout = defaultRedisTimeout
		}
		if c.Redis.Prefix == "" {
			c.Redis.Prefix = defaultRedisPrefix
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		r.Prefix = strings.TrimSpace(r.Prefix)
		if r.Rate == 0 {
			r.Rate = c.Rate
			if r.Burst == 0 {
				r.Burst = c.Burst
			}
		}
		if r.Burst == 0 && r.Rate > 0 {
			r.Burst = defaultBurst(r.Rate)
		}
	}
}

func defaultBurst(rate float64) int {
	if rate < 1 {
		return 1
	}
	return int(rate + 0.999999)
}

// Valid checks the section after InitDefaults; every error names the key and the fix.
func (c *Config) Valid() error {
	if c.Rate < 0 || c.Rate > maxRate {
		return fmt.Errorf("pivot.limit.rate is %g: use the requests a second a client may make, from 0 to %g, e.g. rate: 10 (0.5: one every 2 s)", c.Rate, float64(maxRate))
	}
	if c.Rate == 0 && len(c.Routes) == 0 {
		return fmt.Errorf("pivot.limit.rate is not set: set the requests a second a client may make, e.g. rate: 10, or give pivot.limit.routes their rates")
	}
	if c.Burst < 0 {
		return fmt.Errorf("pivot.limit.burst is %d: use the most requests a client may make at once, at least 1 (default: the rate)", c.Burst)
	}
	switch {
	case c.By == "ip":
	case strings.HasPrefix(strings.ToLower(c.By), "header:"):
		name := strings.TrimSpace(c.By[len("header:"):])
		if name == "" || !httpguts.ValidHeaderFieldName(name) {
			return fmt.Errorf("pivot.limit.by: %q does not name a valid header: use header:NAME, e.g. by: header:X-Api-Key", c.By)
		}
		c.header = name
	default:
		return fmt.Errorf("pivot.limit.by: %q is not ip or header:NAME: use by: ip (the client's address) or e.g. by: header:X-Api-Key", c.By)
	}
	c.trusted = c.trusted[:0]
	for i, s := range c.TrustedProxies {
		p, err := parsePrefix(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("pivot.limit.trusted_proxies[%d]: %q is not a CIDR or an IP address: use e.g. 10.0.0.0/8, 192.168.1.10 or fd00::/8", i, s)
		}
		c.trusted = append(c.trusted, p)
	}
	if c.MaxKeys < 64 {
		return fmt.Errorf("pivot.limit.max_keys is %d: use at least 64 (default %d: a bound on the memory the clients' budgets take, about 200 bytes each)", c.MaxKeys, defaultMaxKeys)
	}
	switch c.Store {
	case StoreMemory:
		if c.Redis != nil {
			return fmt.Errorf("pivot.limit.redis is set but pivot.limit.store is memory: add store: redis to share the budget through Redis, or remove pivot.limit.redis")
		}
	case StoreRedis:
		if err := c.Redis.valid(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("pivot.limit.store: %q is not memory or redis: use memory (one budget per instance) or redis (with pivot.limit.redis.addrs)", c.Store)
	}
	seen := map[string]int{}
	for i, r := range c.Routes {
		key := fmt.Sprintf("pivot.limit.routes[%d]", i)
		if !strings.HasPrefix(r.Prefix, "/") {
			return fmt.Errorf("%s.prefix %q must be a path starting with /, e.g. prefix: /api/", key, r.Prefix)
		}
		if j, dup := seen[r.Prefix]; dup {
			return fmt.Errorf("%s.prefix %q is listed already (pivot.limit.routes[%d]): remove one", key, r.Prefix, j)
		}
		seen[r.Prefix] = i
		if r.Rate <= 0 || r.Rate > maxRate {
			return fmt.Errorf("%s.rate is %g: set the requests a second for %s, more than 0 and at most %g, e.g. rate: 5 (or set pivot.limit.rate, which it inherits)", key, r.Rate, r.Prefix, float64(maxRate))
		}
		if r.Burst < 1 {
			return fmt.Errorf("%s.burst is %d: use at least 1 (default: the rate)", key, r.Burst)
		}
	}
	return nil
}

func (r *RedisConfig) valid() error {
	if r == nil || len(r.Addrs) == 0 {
		return fmt.Errorf("pivot.limit.store is redis but pivot.limit.redis.addrs is empty: add redis: { addrs: [\"127.0.0.1:6379\"] }")
	}
	for i, a := range r.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("pivot.limit.redis.addrs[%d]: %q is not a host:port: use e.g. 127.0.0.1:6379", i, a)
		}
	}
	if r.Timeout < 0 {
		return fmt.Errorf("pivot.limit.redis.timeout is %s: use a positive duration, e.g. 100ms", r.Timeout)
	}
	return nil
}

// parsePrefix reads a CIDR or a single address (a /32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("IPv4-mapped prefix")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// routesByLength is the routes, longest prefix first.
func routesByLength(rs []RouteConfig) []RouteConfig {
	out := append([]RouteConfig(nil), rs...)
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].Prefix) > len(out[j].Prefix) })
	return out
}

// Warnings are the section's harmless-looking dangers, logged at start.
func (c *Config) Warnings() []string {
	var w []string
	for i, p := range c.trusted {
		if p.Bits() == 0 {
			w = append(w, fmt.Sprintf("pivot.limit.trusted_proxies[%d] (%s) trusts every address: any client can pick its budget with X-Forwarded-For; list only your proxies' addresses", i, p))
		}
	}
	return w
}
