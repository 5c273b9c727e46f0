package memory

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roadrunner-server/api/v4/plugins/v1/kv"
	"github.com/roadrunner-server/memory/v4/memorykv"
	"go.uber.org/zap"
)

// The tests drive the real memorykv driver (memory/v4 v4.6.16) through this package's Plugin,
// as the kv plugin does: Plugin.Init, then KvFromConfig.

type nopLogger struct{}

func (nopLogger) NamedLogger(string) *zap.Logger { return zap.NewNop() }

// config answers memorykv's UnmarshalKey(key, **memorykv.Config) like RoadRunner's config
// plugin would for `kv.<name>.config: {interval: 60}`.
type config struct{}

func (config) UnmarshalKey(_ string, out any) error {
	cfg, ok := out.(**memorykv.Config)
	if !ok {
		return fmt.Errorf("unexpected config target %T", out)
	}
	*cfg = &memorykv.Config{Interval: 60}
	return nil
}

func (config) Has(string) bool { return true }

func newStorage(t *testing.T) *Storage {
	t.Helper()
	p := &Plugin{}
	if err := p.Init(nopLogger{}, config{}); err != nil {
		t.Fatal(err)
	}
	if p.Name() != "memory" {
		t.Fatalf("Name() = %q, want memory (kv and jobs find the driver by it)", p.Name())
	}
	st, err := p.KvFromConfig("kv.test.config")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Stop)
	s, ok := st.(*Storage)
	if !ok {
		t.Fatalf("KvFromConfig returned %T, want *Storage", st)
	}
	return s
}

type testItem struct{ key, value, timeout string }

func (i testItem) Key() string     { return i.key }
func (i testItem) Value() []byte   { return []byte(i.value) }
func (i testItem) Timeout() string { return i.timeout }

func rfc(t time.Time) string { return t.Format(time.RFC3339Nano) }

// present reads key with MGet and checks the read against its expiry `at` (zero: none): a
// key read as present must not have expired before the read began, a key read as absent
// must have expired by the time the read ended.
func present(t *testing.T, s *Storage, key string, at time.Time) bool {
	t.Helper()
	before := time.Now()
	got, err := s.MGet(key)
	after := time.Now()
	if err != nil {
		t.Fatalf("MGet %q: %v", key, err)
	}
	_, ok := got[key]
	if !at.IsZero() {
		if ok && !before.Before(at) {
			t.Fatalf("%q read at %s although it expired at %s", key, before.Format(time.StampMicro), at.Format(time.StampMicro))
		}
		if !ok && after.Before(at) {
			t.Fatalf("%q gone at %s although it expires at %s", key, after.Format(time.StampMicro), at.Format(time.StampMicro))
		}
	}
	return ok
}

// waitGone polls key until it is gone (checking every read against at) and fails when it is
// still there `limit` after at.
func waitGone(t *testing.T, s *Storage, key string, at time.Time, limit time.Duration) {
	t.Helper()
	deadline := at.Add(limit)
	for present(t, s, key, at) {
		if time.Now().After(deadline) {
			t.Fatalf("%q still there %s after its expiry", key, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// nextSecondPlus sleeps until `frac` past the next whole second and returns that second.
func nextSecondPlus(frac time.Duration) time.Time {
	now := time.Now()
	sec := now.Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(sec.Add(frac)))
	return sec
}

func TestStorageSetTimeouts(t *testing.T) {
	tests := []struct {
		name    string
		timeout func(now time.Time) (timeout string, at time.Time) // at: zero = no expiry
		stored  bool
		wantErr string
	}{
		{name: "no timeout", timeout: func(time.Time) (string, time.Time) { return "", time.Time{} }, stored: true},
		{name: "spiral set(k, v, 1): now+1s in whole seconds, under a second left", timeout: func(time.Time) (string, time.Time) {
			sec := nextSecondPlus(100 * time.Millisecond) // 0.9 s left once formatted
			at := sec.Add(time.Second)
			return at.UTC().Format(time.RFC3339), at
		}, stored: true},
		{name: "300 ms, fractional seconds", timeout: func(now time.Time) (string, time.Time) {
			at := now.Add(300 * time.Millisecond)
			return rfc(at), at
		}, stored: true},
		{name: "1.5 s, numeric offset", timeout: func(now time.Time) (string, time.Time) {
			at := now.Add(1500 * time.Millisecond)
			return at.In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano), at
		}, stored: true},
		{name: "now", timeout: func(now time.Time) (string, time.Time) { return rfc(now), now }},
		{name: "500 ms ago (the original panics)", timeout: func(now time.Time) (string, time.Time) {
			return rfc(now.Add(-500 * time.Millisecond)), now
		}},
		{name: "1 h ago (the original keeps it forever)", timeout: func(now time.Time) (string, time.Time) {
			return now.Add(-time.Hour).UTC().Format(time.RFC3339), now
		}},
		{name: "zero time", timeout: func(now time.Time) (string, time.Time) { return "0001-01-01T00:00:00Z", now }},
		{name: "year 9999", timeout: func(time.Time) (string, time.Time) { return "9999-12-31T23:59:59Z", time.Time{} }, stored: true},
		{name: "not RFC 3339", timeout: func(time.Time) (string, time.Time) { return "tomorrow", time.Time{} }, wantErr: "cannot parse"},
		{name: "a duration is not a time", timeout: func(time.Time) (string, time.Time) { return "1s", time.Time{} }, wantErr: "cannot parse"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStorage(t)
			// an older value without expiry: an expired write must remove it too
			if err := s.Set(testItem{key: "k", value: "old"}); err != nil {
				t.Fatal(err)
			}
			timeout, at := tt.timeout(time.Now())
			err := s.Set(testItem{key: "k", value: "new", timeout: timeout})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Set(timeout %q) = %v, want an error containing %q", timeout, err, tt.wantErr)
				}
				if got, _ := s.MGet("k"); string(got["k"]) != "old" {
					t.Fatalf("a failed Set changed the key: %q", got["k"])
				}
				return
			}
			if err != nil {
				t.Fatalf("Set(timeout %q): %v", timeout, err)
			}

			if !tt.stored {
				if present(t, s, "k", at) {
					t.Fatalf("timeout %q is not in the future, but the key is there", timeout)
				}
				if has, _ := s.Has("k"); has["k"] {
					t.Fatal("Has reports the expired key")
				}
				return
			}

			if !present(t, s, "k", at) {
				t.Fatalf("timeout %q: the key is not there right after Set", timeout)
			}
			ttl, err := s.TTL("k")
			if err != nil || ttl["k"] != timeout {
				t.Fatalf("TTL = %q, %v; want %q", ttl["k"], err, timeout)
			}
			if at.IsZero() {
				time.Sleep(200 * time.Millisecond)
				if !present(t, s, "k", at) {
					t.Fatal("a key without a near expiry disappeared")
				}
				return
			}
			waitGone(t, s, "k", at, time.Second)
			if ttl, _ := s.TTL("k"); len(ttl) != 0 {
				t.Fatalf("TTL still reports the expired key: %v", ttl)
			}
		})
	}
}

// Timers of a key's former expiry must never delete a later value (the original's timers did).
func TestStorageReplacedExpiry(t *testing.T) {
	const short = 200 * time.Millisecond
	tests := []struct {
		name string
		then func(t *testing.T, s *Storage, now time.Time) (at time.Time) // the key's expiry afterwards (zero: none)
		gone bool                                                         // the key is gone (deleted) afterwards
		want string                                                       // its value afterwards (default v2)
	}{
		{name: "set again without timeout", then: func(t *testing.T, s *Storage, _ time.Time) time.Time {
			mustSet(t, s, testItem{key: "k", value: "v2"})
			return time.Time{}
		}},
		{name: "set again with a later expiry", then: func(t *testing.T, s *Storage, now time.Time) time.Time {
			at := now.Add(3 * short)
			mustSet(t, s, testItem{key: "k", value: "v2", timeout: rfc(at)})
			return at
		}},
		{name: "set again with an earlier expiry", then: func(t *testing.T, s *Storage, now time.Time) time.Time {
			at := now.Add(short / 2)
			mustSet(t, s, testItem{key: "k", value: "v2", timeout: rfc(at)})
			return at
		}},
		{name: "MExpire later", want: "v1", then: func(t *testing.T, s *Storage, now time.Time) time.Time {
			at := now.Add(3 * short)
			if err := s.MExpire(testItem{key: "k", timeout: rfc(at)}); err != nil {
				t.Fatal(err)
			}
			return at
		}},
		{name: "delete, then set without timeout", then: func(t *testing.T, s *Storage, _ time.Time) time.Time {
			if err := s.Delete("k"); err != nil {
				t.Fatal(err)
			}
			mustSet(t, s, testItem{key: "k", value: "v2"})
			return time.Time{}
		}},
		{name: "clear, then set without timeout", then: func(t *testing.T, s *Storage, _ time.Time) time.Time {
			if err := s.Clear(); err != nil {
				t.Fatal(err)
			}
			mustSet(t, s, testItem{key: "k", value: "v2"})
			return time.Time{}
		}},
		{name: "delete", gone: true, then: func(t *testing.T, s *Storage, _ time.Time) time.Time {
			if err := s.Delete("k"); err != nil {
				t.Fatal(err)
			}
			return time.Time{}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStorage(t)
			now := time.Now()
			first := now.Add(short)
			mustSet(t, s, testItem{key: "k", value: "v1", timeout: rfc(first)})
			at := tt.then(t, s, now)

			time.Sleep(time.Until(first.Add(short / 2)))
			switch {
			case tt.gone:
				if present(t, s, "k", time.Time{}) {
					t.Fatal("deleted key is back")
				}
			case at.IsZero() || at.After(time.Now()):
				if !present(t, s, "k", at) {
					t.Fatal("the key's former expiry deleted its new value")
				}
				want := tt.want
				if want == "" {
					want = "v2"
				}
				if got, _ := s.MGet("k"); string(got["k"]) != want {
					t.Fatalf("value %q, want %s", got["k"], want)
				}
			}
			if !at.IsZero() {
				waitGone(t, s, "k", at, time.Second)
			}
		})
	}
}

func mustSet(t *testing.T, s *Storage, items ...kv.Item) {
	t.Helper()
	if err := s.Set(items...); err != nil {
		t.Fatal(err)
	}
}

func TestStorageMExpire(t *testing.T) {
	tests := []struct {
		name    string
		items   func(now time.Time) ([]kv.Item, time.Time) // expiry given to "k" (zero: unchanged)
		wantErr string
		gone    bool // "k" is deleted at once
	}{
		{name: "under a second", items: func(now time.Time) ([]kv.Item, time.Time) {
			at := now.Add(300 * time.Millisecond)
			return []kv.Item{testItem{key: "k", timeout: rfc(at)}}, at
		}},
		{name: "whole seconds, under a second left", items: func(time.Time) ([]kv.Item, time.Time) {
			at := nextSecondPlus(200 * time.Millisecond).Add(time.Second)
			return []kv.Item{testItem{key: "k", timeout: at.UTC().Format(time.RFC3339)}}, at
		}},
		{name: "now (the original panics)", gone: true, items: func(now time.Time) ([]kv.Item, time.Time) {
			return []kv.Item{testItem{key: "k", timeout: rfc(now)}}, time.Time{}
		}},
		{name: "1 h ago (the original panics)", gone: true, items: func(now time.Time) ([]kv.Item, time.Time) {
			return []kv.Item{testItem{key: "k", timeout: now.Add(-time.Hour).Format(time.RFC3339)}}, time.Time{}
		}},
		{name: "nil item is skipped", items: func(now time.Time) ([]kv.Item, time.Time) {
			at := now.Add(300 * time.Millisecond)
			return []kv.Item{nil, testItem{key: "k", timeout: rfc(at)}}, at
		}},
		{name: "empty timeout", wantErr: "timeout for MExpire is empty", items: func(time.Time) ([]kv.Item, time.Time) {
			return []kv.Item{testItem{key: "k"}}, time.Time{}
		}},
		{name: "empty key", wantErr: "key is empty", items: func(now time.Time) ([]kv.Item, time.Time) {
			return []kv.Item{testItem{key: " ", timeout: rfc(now.Add(time.Hour))}}, time.Time{}
		}},
		{name: "one bad timeout fails the whole call", wantErr: "cannot parse", items: func(now time.Time) ([]kv.Item, time.Time) {
			return []kv.Item{testItem{key: "k", timeout: rfc(now)}, testItem{key: "k", timeout: "soon"}}, time.Time{}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStorage(t)
			mustSet(t, s, testItem{key: "k", value: "v"})
			items, at := tt.items(time.Now())
			err := s.MExpire(items...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("MExpire = %v, want an error containing %q", err, tt.wantErr)
				}
				if !present(t, s, "k", time.Time{}) {
					t.Fatal("a failed MExpire changed the key")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.gone {
				if present(t, s, "k", time.Time{}) {
					t.Fatal("MExpire with a time not in the future kept the key")
				}
				return
			}
			if ttl, _ := s.TTL("k"); ttl["k"] != items[len(items)-1].Timeout() {
				t.Fatalf("TTL %q, want %q", ttl["k"], items[len(items)-1].Timeout())
			}
			waitGone(t, s, "k", at, time.Second)
		})
	}
}

// MExpire on a missing key is a no-op: it must not delete the key when it is set later.
func TestStorageMExpireMissingKey(t *testing.T) {
	s := newStorage(t)
	at := time.Now().Add(100 * time.Millisecond)
	if err := s.MExpire(testItem{key: "later", timeout: rfc(at)}); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, testItem{key: "later", value: "v"})
	time.Sleep(time.Until(at.Add(200 * time.Millisecond)))
	if !present(t, s, "later", time.Time{}) {
		t.Fatal("an MExpire sent before the key existed deleted it")
	}
}

func TestStorageSetValidation(t *testing.T) {
	tests := []struct {
		name    string
		items   []kv.Item
		wantErr string
		stored  []string
	}{
		{name: "no items", items: nil, wantErr: "at least 1 key"},
		{name: "empty key", items: []kv.Item{testItem{key: "a", value: "1"}, testItem{key: "", value: "2"}}, wantErr: "can't be empty"},
		{name: "whitespace key", items: []kv.Item{testItem{key: " \t", value: "2"}}, wantErr: "can't be empty"},
		{name: "nil item skipped", items: []kv.Item{nil, testItem{key: "a", value: "1"}}, stored: []string{"a"}},
		{name: "bad timeout after a good item: nothing written", items: []kv.Item{testItem{key: "a", value: "1"}, testItem{key: "b", value: "2", timeout: "x"}}, wantErr: "cannot parse"},
		{name: "same key twice: the last wins", items: []kv.Item{testItem{key: "a", value: "1"}, testItem{key: "a", value: "2", timeout: "2000-01-01T00:00:00Z"}}},
		{name: "1 MiB value", items: []kv.Item{testItem{key: "big", value: strings.Repeat("x", 1<<20)}}, stored: []string{"big"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStorage(t)
			err := s.Set(tt.items...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Set = %v, want an error containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			got, err := s.MGet("a", "b", "big")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.stored) {
				t.Fatalf("stored %d keys, want %v", len(got), tt.stored)
			}
			for _, k := range tt.stored {
				if _, ok := got[k]; !ok {
					t.Fatalf("%q not stored", k)
				}
			}
		})
	}
}

func TestStorageClearAndStop(t *testing.T) {
	s := newStorage(t)
	mustSet(t, s, testItem{key: "a", value: "1", timeout: rfc(time.Now().Add(time.Hour))})

	// the original closes one channel per Clear: two at once panic
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Clear(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if present(t, s, "a", time.Time{}) {
		t.Fatal("Clear left a key")
	}

	s.Stop()
	s.Stop() // the original would close its channel again
	if err := s.Clear(); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("Clear after Stop = %v, want an error", err)
	}
}

// TestStorageConcurrent mixes every call on a few keys from many goroutines (run with -race);
// afterwards every key left must have a future expiry or none.
func TestStorageConcurrent(t *testing.T) {
	s := newStorage(t)
	keys := []string{"a", "b", "c", "d", "e"}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(seed))
			for i := 0; i < 400; i++ {
				k := keys[rnd.Intn(len(keys))]
				timeout := ""
				if rnd.Intn(3) > 0 {
					timeout = rfc(time.Now().Add(time.Duration(rnd.Intn(60)-20) * time.Millisecond))
				}
				var err error
				switch rnd.Intn(7) {
				case 0, 1:
					err = s.Set(testItem{key: k, value: "v", timeout: timeout})
				case 2:
					if timeout != "" {
						err = s.MExpire(testItem{key: k, timeout: timeout})
					}
				case 3:
					_, err = s.MGet(keys...)
				case 4:
					_, err = s.TTL(k)
				case 5:
					err = s.Delete(k)
				case 6:
					if rnd.Intn(10) == 0 {
						err = s.Clear()
					} else {
						_, err = s.Has(k)
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}(int64(g))
	}
	wg.Wait()

	time.Sleep(100 * time.Millisecond) // every expiry set above has passed
	ttl, err := s.TTL(keys...)
	if err != nil {
		t.Fatal(err)
	}
	for k, timeout := range ttl {
		if timeout != "" {
			t.Errorf("%q still there with expiry %s", k, timeout)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.expires) != 0 {
		t.Errorf("%d expiries left behind", len(s.expires))
	}
}

// TestOriginalDriverPanics documents what the wrapper is for: each input below, given to
// RoadRunner's own memorykv driver (no wrapper), kills the process. It runs the driver in a
// child process (the panic happens in the driver's own goroutine, no recover can catch it).
// If this test fails, the upstream driver changed: re-check Storage's doc comment.
func TestOriginalDriverPanics(t *testing.T) {
	if input := os.Getenv("PIVOT_MEMORY_ORIGINAL_INPUT"); input != "" {
		runOriginal(input)
		return
	}
	for _, input := range []string{"set-under-1s", "set-500ms-ago", "mexpire-past"} {
		t.Run(input, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestOriginalDriverPanics$", "-test.count=1")
			cmd.Env = append(os.Environ(), "PIVOT_MEMORY_ORIGINAL_INPUT="+input)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "non-positive interval for") {
				t.Fatalf("the original driver survived %s (exit %v):\n%s", input, err, out)
			}
		})
	}
}

func runOriginal(input string) {
	d, err := memorykv.NewInMemoryDriver("kv.test.config", zap.NewNop(), config{}, nil)
	if err != nil {
		panic(err)
	}
	now := time.Now()
	switch input {
	case "set-under-1s":
		err = d.Set(testItem{key: "k", value: "v", timeout: rfc(now.Add(500 * time.Millisecond))})
	case "set-500ms-ago":
		err = d.Set(testItem{key: "k", value: "v", timeout: rfc(now.Add(-500 * time.Millisecond))})
	case "mexpire-past":
		if err = d.Set(testItem{key: "k", value: "v"}); err == nil {
			err = d.MExpire(testItem{key: "k", timeout: rfc(now.Add(-time.Hour))})
		}
	}
	if err != nil {
		panic(err)
	}
	time.Sleep(time.Second) // the driver's goroutine panics meanwhile
}
