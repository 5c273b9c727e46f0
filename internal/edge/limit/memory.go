package limit

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// decision is a store's answer for one request.
type decision struct {
	allowed bool
	// remaining is the requests the client may still make at once.
	remaining int
	// retryAfter is how long until the next request would be allowed (when refused).
	retryAfter time.Duration
	// reset is how long until the budget is full again.
	reset time.Duration
}

// store keeps the budgets of one route.
type store interface {
	take(key []byte, now time.Time) (decision, error)
}

// memoryStore keeps a golang.org/x/time/rate limiter per key, in shards.
//
// Bounded memory: a limiter not used for burst/rate (the time its bucket takes to fill) is the
// same as a new one, so it can be dropped without changing any answer: each shard sweeps out
// such keys when a new key arrives and its last sweep is older than that, or when the shard is
// full. A shard holds at most maxKeys/shards keys; under a flood of more distinct keys than
// that within burst/rate (spoofed headers, a botnet), a shard that is still full after its
// sweep drops an arbitrary key to make room: that client starts again with a full budget. So
// memory stays bounded (about 200 bytes a key) at the price of forgetting some budgets during
// such a flood; max_keys sets the bound.
type memoryStore struct {
	limit    rate.Limit
	burst    int
	idle     time.Duration // burst/rate: a key idle that long has a full bucket
	perShard int
	seed     maphash.Seed
	shards   [memoryShards]memoryShard
}

const memoryShards = 64

type memoryShard struct {
	mu        sync.Mutex
	keys      map[string]*memoryEntry
	lastSweep time.Time
}

type memoryEntry struct {
	lim  *rate.Limiter
	seen atomic.Int64 // unix nanoseconds of the last request
}

func newMemoryStore(r float64, burst, maxKeys int) *memoryStore {
	s := &memoryStore{limit: rate.Limit(r), burst: burst, seed: maphash.MakeSeed(),
		perShard: max(1, maxKeys/memoryShards)}
	s.idle = time.Duration(float64(burst) / r * float64(time.Second))
	for i := range s.shards {
		s.shards[i].keys = make(map[string]*memoryEntry)
	}
	return s
}

func (s *memoryStore) take(key []byte, now time.Time) (decision, error) {
	sh := &s.shards[maphash.Bytes(s.seed, key)%memoryShards]
	sh.mu.Lock()
	e := sh.keys[string(key)]
	if e == nil {
		e = s.insert(sh, key, now)
	}
	e.seen.Store(now.UnixNano()) // under the lock: a sweep cannot drop it meanwhile
	sh.mu.Unlock()

	ok := e.lim.AllowN(now, 1)
	tokens := e.lim.TokensAt(now)
	d := decision{allowed: ok, remaining: int(math.Floor(tokens))}
	if d.remaining < 0 {
		d.remaining = 0
	}
	if !ok {
		d.retryAfter = s.durationFor(1 - tokens)
	}
	d.reset = s.durationFor(float64(s.burst) - tokens)
	return d, nil
}

func (s *memoryStore) durationFor(tokens float64) time.Duration {
	if tokens <= 0 {
		return 0
	}
	return time.Duration(tokens / float64(s.limit) * float64(time.Second))
}

// insert adds key's limiter to sh (locked), sweeping or evicting first when it is due or full.
func (s *memoryStore) insert(sh *memoryShard, key []byte, now time.Time) *memoryEntry {
	if len(sh.keys) >= s.perShard || now.Sub(sh.lastSweep) > s.idle {
		s.sweep(sh, now)
	}
	if len(sh.keys) >= s.perShard {
		for k := range sh.keys { // still full: a flood of keys; forget one
			delete(sh.keys, k)
			break
		}
	}
	e := &memoryEntry{lim: rate.NewLimiter(s.limit, s.burst)}
	sh.keys[string(key)] = e
	return e
}

// sweep drops sh's keys idle for at least burst/rate: their buckets are full.
func (s *memoryStore) sweep(sh *memoryShard, now time.Time) {
	sh.lastSweep = now
	cutoff := now.Add(-s.idle).UnixNano()
	for k, e := range sh.keys {
		if e.seen.Load() <= cutoff {
			delete(sh.keys, k)
		}
	}
}

// size is the number of keys held (tests).
func (s *memoryStore) size() int {
	n := 0
	for i := range s.shards {
		s.shards[i].mu.Lock()
		n += len(s.shards[i].keys)
		s.shards[i].mu.Unlock()
	}
	return n
}
