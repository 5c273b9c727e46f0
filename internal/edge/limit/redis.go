package limit

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisStore keeps the budgets in Redis, so that every instance using the same Redis shares
// them: one atomic script per request (GCRA, the generic cell rate algorithm: one key per
// client holding the time its bucket is full again, "theoretical arrival time"), with Redis's
// clock (TIME), so the instances' clocks do not matter.
//
// Redis down or slow: the request goes through (fail-open) after at most redis.timeout, and
// for the next second every request goes through without asking Redis, so an outage adds no
// latency; the caller logs a warning and counts rr_pivot_rate_limit_store_errors_total.
// Limiting every client as one, or refusing every request, would turn a Redis outage into an
// outage of the site.
type redisStore struct {
	client redis.UniversalClient
	key    string // prefix + route
	rate   float64
	burst  int
	// timeout bounds a call; skipUntil (unix ns): Redis failed, let requests through unasked
	timeout   time.Duration
	skipUntil atomic.Int64
}

// skipAfterError is how long requests go through without asking Redis after it failed.
const skipAfterError = time.Second

// errSkipped: Redis failed less than skipAfterError ago and was not asked.
var errSkipped = errors.New("redis failed less than a second ago: not asked")

// gcra: KEYS[1] the client's key; ARGV: emission interval (µs per request), burst. Returns
// {allowed (0/1), remaining, retry after µs, reset after µs}.
var gcra = redis.NewScript(`
local key = KEYS[1]
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call("GET", key) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return {0, 0, allow_at - now, tat - now}
end
local ttl = math.ceil((new_tat - now) / 1000)
redis.call("SET", key, string.format("%.0f", new_tat), "PX", ttl)
return {1, math.floor((now - allow_at) / interval), 0, new_tat - now}
`)

func newRedisClient(c *RedisConfig) redis.UniversalClient {
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs: c.Addrs, Username: c.Username, Password: c.Password, DB: c.DB,
		DialTimeout: c.Timeout, ReadTimeout: c.Timeout, WriteTimeout: c.Timeout, PoolTimeout: c.Timeout,
		MaxRetries: -1, // a retry would double the wait: the request goes through instead
		// no CLIENT SETINFO at connect: one round trip less, and Redis < 7.2 rejects it
		DisableIndentity: true,
	})
}

func newRedisStore(client redis.UniversalClient, prefix, route string, r float64, burst int, timeout time.Duration) *redisStore {
	return &redisStore{client: client, key: prefix + route + ":", rate: r, burst: burst, timeout: timeout}
}

func (s *redisStore) take(key []byte, now time.Time) (decision, error) {
	if now.UnixNano() < s.skipUntil.Load() {
		return decision{}, errSkipped
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	interval := int64(1e6 / s.rate)
	if interval < 1 {
		interval = 1
	}
	res, err := gcra.Run(ctx, s.client, []string{s.key + string(key)}, interval, s.burst).Int64Slice()
	if err == nil && len(res) != 4 {
		err = errors.New("the rate limit script answered " + strconv.Itoa(len(res)) + " values, not 4")
	}
	if err != nil {
		s.skipUntil.Store(now.Add(skipAfterError).UnixNano())
		return decision{}, err
	}
	return decision{allowed: res[0] == 1, remaining: int(res[1]),
		retryAfter: time.Duration(res[2]) * time.Microsecond, reset: time.Duration(res[3]) * time.Microsecond}, nil
}
