package e2e

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"testing"
	"time"

	kvv1 "github.com/roadrunner-server/api/v4/build/kv/v1"
)

// The memory KV storage's expiries, through a real rr (plugins/memory's wrapper): a TTL under
// one second or in the past no longer kills rr; an expiry not in the future removes the key at
// once; a future one is kept to the instant; a key's former expiry never deletes its new value.

func kvGet(t *testing.T, r *rrProc, key string) (value string, ok bool) {
	t.Helper()
	var out kvv1.Response
	if err := r.client(t).Call("kv.MGet", &kvv1.Request{Storage: "memory", Items: []*kvv1.Item{{Key: key}}}, &out); err != nil {
		t.Fatalf("kv.MGet %s: %v", key, err)
	}
	for _, it := range out.GetItems() {
		if it.GetKey() == key {
			return string(it.GetValue()), true
		}
	}
	return "", false
}

func kvCall(t *testing.T, r *rrProc, method string, items ...*kvv1.Item) *kvv1.Response {
	t.Helper()
	var out kvv1.Response
	if err := r.client(t).Call(method, &kvv1.Request{Storage: "memory", Items: items}, &out); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return &out
}

// phpSet runs a PHP client that writes the expiry as spiral/roadrunner-kv does (now + ttl,
// DATE_RFC3339: whole seconds).
func phpSet(t *testing.T, r *rrProc, key string, ttl int) string {
	t.Helper()
	out, err := exec.Command("php", "testdata/kv-set-ttl.php", "tcp://"+r.rpc, "memory", key, strconv.Itoa(ttl)).CombinedOutput()
	if err != nil {
		t.Fatalf("php: %v\n%s", err, out)
	}
	var res struct {
		OK      bool
		Timeout string
		Message string
	}
	if err = json.Unmarshal(out, &res); err != nil || !res.OK {
		t.Fatalf("php kv.Set %s ttl %d: %s (%v)\nrr: %s", key, ttl, out, err, r.crashIfDead())
	}
	return res.Timeout
}

func (r *rrProc) crashIfDead() string {
	time.Sleep(100 * time.Millisecond)
	if !r.Alive() {
		return r.crash()
	}
	return "running"
}

// TestMemoryKVShortTTLFromPHP: the reported crash — spiral's set($k, $v, 1) — from PHP.
func TestMemoryKVShortTTLFromPHP(t *testing.T) {
	r := startRR(t)
	for _, ttl := range []int{1, 0, -5, 2} {
		timeout := phpSet(t, r, "php-"+strconv.Itoa(ttl), ttl)
		at, err := time.Parse(time.RFC3339, timeout)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.checkAlive(); err != nil {
			t.Fatalf("after PHP set with ttl %d (timeout %s): %v", ttl, timeout, err)
		}
		// gone once its (whole-second) expiry has passed, at once if it had already
		time.Sleep(time.Until(at.Add(50 * time.Millisecond)))
		if _, ok := kvGet(t, r, "php-"+strconv.Itoa(ttl)); ok {
			t.Fatalf("ttl %d (timeout %s): still there at %s", ttl, timeout, time.Now().Format(time.StampMilli))
		}
	}
}

func TestMemoryKVExpiry(t *testing.T) {
	r := startRR(t)

	t.Run("sub-second expiry is kept to the instant", func(t *testing.T) {
		at := time.Now().Add(400 * time.Millisecond)
		timeout := at.Format(time.RFC3339Nano)
		kvCall(t, r, "kv.Set", &kvv1.Item{Key: "subsec", Value: []byte("v"), Timeout: timeout})
		if _, ok := kvGet(t, r, "subsec"); !ok && time.Now().Before(at) {
			t.Fatal("gone before its expiry")
		}
		ttl := kvCall(t, r, "kv.TTL", &kvv1.Item{Key: "subsec"})
		if len(ttl.GetItems()) == 1 && ttl.GetItems()[0].GetTimeout() != timeout {
			t.Fatalf("kv.TTL = %v, want %s", ttl.GetItems(), timeout)
		}
		time.Sleep(time.Until(at.Add(20 * time.Millisecond)))
		if _, ok := kvGet(t, r, "subsec"); ok {
			t.Fatal("still there after its expiry")
		}
	})

	t.Run("past expiry: not stored, older value removed", func(t *testing.T) {
		kvCall(t, r, "kv.Set", &kvv1.Item{Key: "past", Value: []byte("old")})
		kvCall(t, r, "kv.Set", &kvv1.Item{Key: "past", Value: []byte("new"), Timeout: time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)})
		if v, ok := kvGet(t, r, "past"); ok {
			t.Fatalf("a write that expired an hour ago left %q", v)
		}
	})

	t.Run("MExpire in the past deletes at once, sub-second expires on time", func(t *testing.T) {
		kvCall(t, r, "kv.Set", &kvv1.Item{Key: "a", Value: []byte("v")}, &kvv1.Item{Key: "b", Value: []byte("v")})
		at := time.Now().Add(300 * time.Millisecond)
		kvCall(t, r, "kv.MExpire",
			&kvv1.Item{Key: "a", Timeout: time.Now().Add(-time.Second).Format(time.RFC3339Nano)},
			&kvv1.Item{Key: "b", Timeout: at.Format(time.RFC3339Nano)})
		if _, ok := kvGet(t, r, "a"); ok {
			t.Fatal("MExpire into the past kept the key")
		}
		time.Sleep(time.Until(at.Add(20 * time.Millisecond)))
		if _, ok := kvGet(t, r, "b"); ok {
			t.Fatal("MExpire 300 ms: still there after")
		}
	})

	t.Run("a key's former expiry does not delete its new value", func(t *testing.T) {
		first := time.Now().Add(1500 * time.Millisecond) // ≥ 1 s left: the original did not panic on it
		kvCall(t, r, "kv.Set", &kvv1.Item{Key: "reset", Value: []byte("v1"), Timeout: first.Format(time.RFC3339Nano)})
		kvCall(t, r, "kv.Set", &kvv1.Item{Key: "reset", Value: []byte("v2")})
		time.Sleep(time.Until(first.Add(300 * time.Millisecond)))
		if v, ok := kvGet(t, r, "reset"); !ok || v != "v2" {
			t.Fatalf("after its former expiry: %q, %v; want v2 (the key was set again without TTL)", v, ok)
		}
	})

	if err := r.checkAlive(); err != nil {
		t.Fatal(err)
	}
}
