package memory

import (
	"strings"
	"sync"
	"time"

	"github.com/roadrunner-server/api/v4/plugins/v1/kv"
	"github.com/roadrunner-server/errors"
)

// Storage wraps RoadRunner's in-memory KV driver (memory/v4 v4.6.16, memorykv) and keeps the
// keys' expiries itself.
//
// What the original driver does with an item's timeout (an RFC 3339 time; kv.Set and
// kv.MExpire carry it): it truncates the time left to whole seconds and runs
// time.NewTicker(seconds) in a goroutine of its own per key. So:
//
//   - less than one second left ⇒ time.NewTicker(0) panics in that goroutine and rr exits
//     ("panic: non-positive interval for NewTicker"). spiral/roadrunner-kv's set($k, $v, 1)
//     sends now + 1 s in whole seconds, which is always less than a second away. A time up to
//     1 s in the past does the same;
//   - kv.MExpire with a time less than 1 s ahead or in the past ⇒ NewTicker(0) or
//     Ticker.Reset(0) panics: rr exits;
//   - kv.Set with a time more than 1 s in the past stores the key with no expiry at all;
//   - a key's old timer keeps running when the key is set again, deleted or cleared, and
//     then deletes the new value;
//   - kv.MExpire on a missing key arms a timer that deletes the key once someone sets it;
//   - two kv.Clear at once (or a Clear after Stop) close the same channel twice: panic.
//
// What Storage does instead. The driver never sees a timeout (items reach it with an empty
// Timeout), so none of its timers ever starts. Storage keeps each key's expiry to the
// nanosecond, with one time.AfterFunc per key, and also drops an expired key when it is read,
// so no read returns a key whose time has passed even if its timer is late.
//
//   - An expiry that is not in the future (now, or any time in the past) expires the key AT
//     ONCE: Set does not store the value and deletes the key's older value (the write
//     replaced it with one that has already expired); MExpire deletes the key. Nothing is
//     rounded up.
//   - An expiry in the future, however close, is kept exactly: a key set to expire in 300 ms
//     lives 300 ms. Nothing is rounded to whole seconds either (the original cut the time
//     left down to whole seconds).
//   - Set replaces the key's expiry (no expiry if the item has no timeout); Delete and Clear
//     drop it. MExpire on a missing key does nothing (like Redis EXPIRE).
//   - TTL reports the timeout string the client sent last (Set or MExpire), "" for a key
//     without expiry, as the original reports the item's.
//   - An unparsable timeout or an empty (or whitespace) key fails the whole Set or MExpire
//     before anything is written; the original wrote the items before the bad one, and
//     stored empty keys that no other call can reach.
//   - Clear and Stop are serialized; Clear after Stop is an error; a second Stop does nothing.
//
// Every method holds one mutex around the driver call: the driver's own calls are map
// operations, and this way a timer never deletes a key that a concurrent Set just wrote.
type Storage struct {
	inner kv.Storage

	mu      sync.Mutex
	expires map[string]*expiry
	stopped bool
}

type expiry struct {
	at      time.Time
	timeout string // as the client sent it
	timer   *time.Timer
}

// item is what reaches the original driver: key and value, never a timeout.
type item struct {
	key   string
	value []byte
}

func (i *item) Key() string     { return i.key }
func (i *item) Value() []byte   { return i.value }
func (i *item) Timeout() string { return "" }

var _ kv.Storage = (*Storage)(nil)

// NewStorage wraps inner, an in-memory KV driver that must never receive a timeout again
// from anyone else.
func NewStorage(inner kv.Storage) *Storage {
	return &Storage{inner: inner, expires: make(map[string]*expiry)}
}

func (s *Storage) Has(keys ...string) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropExpired(keys...)

	return s.inner.Has(keys...)
}

func (s *Storage) Get(key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropExpired(key)

	return s.inner.Get(key)
}

func (s *Storage) MGet(keys ...string) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropExpired(keys...)

	return s.inner.MGet(keys...)
}

// TTL returns, for each existing key, the timeout it was given ("" for none).
func (s *Storage) TTL(keys ...string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropExpired(keys...)

	out, err := s.inner.TTL(keys...)
	if err != nil {
		return nil, err
	}
	for k := range out {
		if e := s.expires[k]; e != nil {
			out[k] = e.timeout
		}
	}

	return out, nil
}

// Set stores the items; see [Storage] for timeouts.
func (s *Storage) Set(items ...kv.Item) error {
	const op = errors.Op("memory_kv_set")
	if items == nil {
		return s.inner.Set() // the driver's own "no keys" error
	}

	type write struct {
		key, timeout string
		value        []byte
		at           time.Time
	}
	writes := make([]write, 0, len(items))
	for _, it := range items {
		if it == nil {
			continue // as the original does
		}
		w := write{key: it.Key(), value: it.Value(), timeout: it.Timeout()}
		if strings.TrimSpace(w.key) == "" {
			return errors.E(op, errors.EmptyKey)
		}
		if w.timeout != "" {
			at, err := parseTimeout(w.timeout)
			if err != nil {
				return errors.E(op, err)
			}
			w.at = at
		}
		writes = append(writes, w)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, w := range writes {
		s.forget(w.key)
		if w.timeout != "" && !w.at.After(now) {
			// already expired: gone at once, older value included
			if err := s.inner.Delete(w.key); err != nil {
				return errors.E(op, err)
			}
			continue
		}
		if err := s.inner.Set(&item{key: w.key, value: w.value}); err != nil {
			return errors.E(op, err)
		}
		if w.timeout != "" {
			s.arm(w.key, w.timeout, w.at, now)
		}
	}

	return nil
}

// MExpire gives existing keys a new expiry; see [Storage].
func (s *Storage) MExpire(items ...kv.Item) error {
	const op = errors.Op("memory_kv_mexpire")

	type change struct {
		key, timeout string
		at           time.Time
	}
	changes := make([]change, 0, len(items))
	for _, it := range items {
		if it == nil {
			continue
		}
		if it.Timeout() == "" || strings.TrimSpace(it.Key()) == "" {
			return errors.E(op, errors.Str("timeout for MExpire is empty or key is empty"))
		}
		at, err := parseTimeout(it.Timeout())
		if err != nil {
			return errors.E(op, err)
		}
		changes = append(changes, change{key: it.Key(), timeout: it.Timeout(), at: at})
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, c := range changes {
		s.dropExpired(c.key)
		exists, err := s.inner.Has(c.key)
		if err != nil {
			return errors.E(op, err)
		}
		if !exists[c.key] {
			continue
		}
		s.forget(c.key)
		if !c.at.After(now) {
			if err = s.inner.Delete(c.key); err != nil {
				return errors.E(op, err)
			}
			continue
		}
		s.arm(c.key, c.timeout, c.at, now)
	}

	return nil
}

func (s *Storage) Delete(keys ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.inner.Delete(keys...); err != nil {
		return err
	}
	for _, k := range keys {
		s.forget(k)
	}

	return nil
}

func (s *Storage) Clear() error {
	const op = errors.Op("memory_kv_clear")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		// the original would close its stop channel a second time and panic
		return errors.E(op, errors.Str("the memory storage is stopped"))
	}
	s.forgetAll()

	return s.inner.Clear()
}

func (s *Storage) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	s.forgetAll()
	s.inner.Stop()
}

// parseTimeout reads an RFC 3339 time as the original driver does (time.RFC3339, which also
// accepts fractional seconds).
func parseTimeout(timeout string) (time.Time, error) {
	return time.Parse(time.RFC3339, timeout)
}

// arm makes key expire at `at` (in the future). Called with s.mu held, after forget(key).
func (s *Storage) arm(key, timeout string, at, now time.Time) {
	e := &expiry{at: at, timeout: timeout}
	// at.Sub(now) saturates for far-future times (year 9999 ≈ 292 years): fine for a timer.
	e.timer = time.AfterFunc(at.Sub(now), func() { s.fire(key, e) })
	s.expires[key] = e
}

// fire removes key when its timer ends, unless the expiry was replaced or dropped meanwhile.
func (s *Storage) fire(key string, e *expiry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expires[key] != e {
		return
	}
	delete(s.expires, key)
	_ = s.inner.Delete(key) // a stored key is never empty: Delete cannot fail
}

// dropExpired removes the keys whose expiry has passed but whose timer has not run yet.
// Called with s.mu held.
func (s *Storage) dropExpired(keys ...string) {
	if len(s.expires) == 0 {
		return
	}
	now := time.Now()
	for _, k := range keys {
		if e := s.expires[k]; e != nil && !e.at.After(now) {
			s.forget(k)
			_ = s.inner.Delete(k)
		}
	}
}

// forget drops key's expiry, if any. Called with s.mu held.
func (s *Storage) forget(key string) {
	if e := s.expires[key]; e != nil {
		e.timer.Stop()
		delete(s.expires, key)
	}
}

func (s *Storage) forgetAll() {
	for k, e := range s.expires {
		e.timer.Stop()
		delete(s.expires, k)
	}
}
