// Package limit is `pivot.limit`: a token bucket per client in front of PHP, kept in memory
// (one instance) or in Redis (every instance behind a load balancer shares it). A request over
// its budget gets 429 with Retry-After and never reaches PHP; every answer carries the IETF
// draft's RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset headers.
package limit

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// DefaultRoute is the route label of the budget of pivot.limit itself (every path no route's
// prefix matches).
const DefaultRoute = "default"

// Metrics counts what the limiter does (metrics.go implements it).
type Metrics interface {
	// Limited counts a request refused with 429, by route (its prefix, or DefaultRoute).
	Limited(route string)
	// StoreError counts a request let through because the store (Redis) failed.
	StoreError()
}

// Limiter is the middleware of pivot.limit.
type Limiter struct {
	keyer   keyer
	routes  []route // longest prefix first
	def     *route  // nil: paths no route matches are not limited
	metrics Metrics
	log     *zap.Logger
	redis   redis.UniversalClient
	// warnedAt (unix ns) rate-limits the store's warnings to one every 10 s
	warnedAt atomic.Int64
	now      func() time.Time
}

type route struct {
	name   string // the prefix, or DefaultRoute
	prefix string
	store  store
	mem    *memoryStore // store, when it is the memory store: a direct call keeps the key on the stack
	burst  []byte       // RateLimit-Limit
}

// New builds the limiter of a valid c (InitDefaults and Valid called).
func New(c *Config, m Metrics, log *zap.Logger) *Limiter {
	l := &Limiter{keyer: keyer{trusted: c.trusted}, metrics: m, log: log, now: time.Now}
	if c.header != "" {
		l.keyer.header = []byte(c.header)
	}
	if c.Store == StoreRedis {
		l.redis = newRedisClient(c.Redis)
	}
	mk := func(name, prefix string, r float64, burst int) *route {
		rt := &route{name: name, prefix: prefix, burst: []byte(strconv.Itoa(burst))}
		if l.redis != nil {
			rt.store = newRedisStore(l.redis, c.Redis.Prefix, name, r, burst, c.Redis.Timeout)
		} else {
			rt.mem = newMemoryStore(r, burst, c.MaxKeys)
			rt.store = rt.mem
		}
		return rt
	}
	for _, r := range routesByLength(c.Routes) {
		l.routes = append(l.routes, *mk(r.Prefix, r.Prefix, r.Rate, r.Burst))
	}
	if c.Rate > 0 {
		l.def = mk(DefaultRoute, "", c.Rate, c.Burst)
	}
	return l
}

// Close closes the Redis client, if any.
func (l *Limiter) Close() error {
	if l.redis != nil {
		return l.redis.Close()
	}
	return nil
}

// match is the route of path: the longest prefix that matches it on a segment boundary
// (/api matches /api and /api/users, not /apiary; /api/ matches what starts with it).
func (l *Limiter) match(path []byte) *route {
	for i := range l.routes {
		if hasPathPrefix(path, l.routes[i].prefix) {
			return &l.routes[i]
		}
	}
	return l.def
}

func hasPathPrefix(path []byte, prefix string) bool {
	if len(path) < len(prefix) || string(path[:len(prefix)]) != prefix {
		return false
	}
	return len(path) == len(prefix) || prefix[len(prefix)-1] == '/' || path[len(prefix)] == '/'
}

// Middleware answers 429 for a request over its budget, and passes the others on with the
// RateLimit-* headers on their responses.
func (l *Limiter) Middleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(c *fasthttp.RequestCtx) {
		r := l.match(c.Path())
		if r == nil {
			next(c)
			return
		}
		var buf [80]byte
		key := l.keyer.key(buf[:0], c)
		var d decision
		var err error
		if r.mem != nil {
			d, err = r.mem.take(key, l.now())
		} else {
			d, err = r.store.take(append([]byte(nil), key...), l.now()) // a copy: buf stays on the stack
		}
		if err != nil {
			l.storeFailed(r, err)
			next(c)
			return
		}
		if !d.allowed {
			l.metrics.Limited(r.name)
			c.SetStatusCode(fasthttp.StatusTooManyRequests)
			c.Response.Header.Set("Retry-After", strconv.FormatInt(ceilSeconds(d.retryAfter, 1), 10))
			setHeaders(c, r, d)
			c.Response.Header.SetContentType("text/plain; charset=utf-8")
			c.Response.Header.Set("X-Content-Type-Options", "nosniff")
			c.SetBodyString("too many requests: over pivot.limit, retry later\n")
			return
		}
		next(c)
		setHeaders(c, r, d)
	}
}

var (
	headerLimit     = []byte("RateLimit-Limit")
	headerRemaining = []byte("RateLimit-Remaining")
	headerReset     = []byte("RateLimit-Reset")
)

func setHeaders(c *fasthttp.RequestCtx, r *route, d decision) {
	var n [20]byte
	h := &c.Response.Header
	h.SetBytesKV(headerLimit, r.burst)
	h.SetBytesKV(headerRemaining, strconv.AppendInt(n[:0], int64(d.remaining), 10))
	h.SetBytesKV(headerReset, strconv.AppendInt(n[:0], ceilSeconds(d.reset, 0), 10))
}

// ceilSeconds is d in whole seconds, rounded up, at least least.
func ceilSeconds(d time.Duration, least int64) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s < least {
		return least
	}
	return s
}

// storeFailed logs a store's failure (at most every 10 s) and counts it; the request goes on.
func (l *Limiter) storeFailed(r *route, err error) {
	l.metrics.StoreError()
	now := l.now().UnixNano()
	last := l.warnedAt.Load()
	if now-last < int64(10*time.Second) || !l.warnedAt.CompareAndSwap(last, now) {
		return
	}
	l.log.Warn("pivot.limit: the rate limit store failed: requests go through unlimited (fail-open) until it answers again",
		zap.String("route", r.name), zap.Error(err))
}

// Ping asks the Redis of store: redis whether it answers (nil for the memory store), so that
// pivot can warn at start rather than at the first request.
func (l *Limiter) Ping(ctx context.Context) error {
	if l.redis == nil {
		return nil
	}
	return l.redis.Ping(ctx).Err()
}
