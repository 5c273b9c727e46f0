package compat

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

const kvConfig = `kv:
  memory:
    driver: memory
    config: {}
`

const jobsConfig = `jobs:
  consume: ["compat"]
  pool:
    num_workers: 1
    allocate_timeout: 30s
    destroy_timeout: 10s
  pipelines:
    compat:
      driver: memory
      config:
        priority: 10
        prefetch: 100
`

// KV through Spiral\RoadRunner\KeyValue (PSR-16) on the memory storage: set/get/has/delete,
// multiple keys, a TTL in the future, serialized values.
func TestKV(t *testing.T) {
	want := `{"get_a":"alpha","get_arr":{"x":[1,2,3]},"get_dt":"date","get_missing":"default",` +
		`"get_multiple":{"p:m1":"one","p:m2":"two","p:m3":"none"},"get_n":42,"has_a":true,"has_a_after_delete":false,` +
		`"has_m1_after_delete_multiple":false,"has_missing":false,"ttl_in_future":true,"ttl_none":null}`
	res, ok := forBoth(t, func(t *testing.T, kind string) observed {
		s := startRR(t, kind, rrOptions{topExtra: kvConfig})
		o := s.get(t, "/kv?prefix=p", "Content-Type")
		if o.Status != 200 || canonicalJSON(t, o.Body) != canonicalJSON(t, []byte(want)) {
			t.Errorf("%s: KV script: %s\nwant %s", kind, o, want)
		}
		return o
	})
	if ok {
		sameObserved(t, "KV script", res)
	}
}

// Issue 24, item 6: set($k, $v, 1), a one-second TTL: the value is there at once, gone after it
// expires, and rr does not crash (it is checked alive, and serving, 3 s later).
func TestKVOneSecondTTL(t *testing.T) {
	res, ok := forBoth(t, func(t *testing.T, kind string) []string {
		s := startRR(t, kind, rrOptions{topExtra: kvConfig})
		var seen []string
		for i := 0; i < 3; i++ {
			o := s.get(t, fmt.Sprintf("/kv/ttl1?key=short%d", i))
			seen = append(seen, string(o.Body))
			if o.Status != 200 || string(o.Body) != `{"set":true,"get":"short-lived","has":true}` {
				t.Errorf("%s: set($k, $v, 1) then get: %s", kind, o)
			}
		}
		time.Sleep(3 * time.Second)
		if !s.Alive() {
			t.Fatalf("%s: rr exited after a one-second TTL expired: %v", kind, s.Err())
		}
		for i := 0; i < 3; i++ {
			o := s.get(t, fmt.Sprintf("/kv/get?key=short%d", i))
			seen = append(seen, string(o.Body))
			if o.Status != 200 || string(o.Body) != `{"get":null,"has":false}` {
				t.Errorf("%s: 3 s after set($k, $v, 1): %s", kind, o)
			}
		}
		time.Sleep(1500 * time.Millisecond)
		if !s.Alive() {
			t.Fatalf("%s: rr exited after a one-second TTL expired: %v", kind, s.Err())
		}
		if o := s.get(t, "/ping"); o.Status != 200 {
			t.Errorf("%s: after the TTLs: %s", kind, o)
		}
		return seen
	})
	if ok && strings.Join(res[kindPivot], "\n") != strings.Join(res[kindStock], "\n") {
		t.Errorf("one-second TTL: pivot %q, stock %q", res[kindPivot], res[kindStock])
	}
}

// Jobs: the HTTP worker pushes through Spiral\RoadRunner\Jobs to a memory pipeline; the same
// worker script consumes them (RR_MODE=jobs) with Spiral\RoadRunner\Jobs\Consumer.
func TestJobsPushConsume(t *testing.T) {
	res, ok := forBoth(t, func(t *testing.T, kind string) []string {
		s := startRR(t, kind, rrOptions{topExtra: jobsConfig})
		o := s.get(t, "/jobs/push?n=5&tag=compat")
		var pushed struct {
			IDs []string `json:"ids"`
		}
		if o.Status != 200 || json.Unmarshal(o.Body, &pushed) != nil || len(pushed.IDs) != 5 {
			t.Fatalf("%s: push: %s", kind, o)
		}
		deadline := time.Now().Add(20 * time.Second)
		var got []string
		for _, id := range pushed.IDs {
			path := filepath.Join(s.compatOut, "jobs", id+".json")
			for {
				b, err := os.ReadFile(path)
				if err == nil {
					var doc map[string]any
					if err := json.Unmarshal(b, &doc); err != nil {
						t.Fatalf("%s: %s: %v", kind, path, err)
					}
					// the job's id is random, and so are the tracing headers the jobs plugin adds
					delete(doc, "id")
					if h, _ := doc["headers"].(map[string]any); h != nil {
						delete(h, "Traceparent")
						delete(h, "Uber-Trace-Id")
					}
					got = append(got, canonicalJSON(t, mustJSON(t, doc)))
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: job %s not consumed within 20s", kind, id)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		sort.Strings(got) // the memory driver runs them in any order
		for i, g := range got {
			var doc struct {
				Headers  map[string][]string `json:"headers"`
				Name     string              `json:"name"`
				Payload  string              `json:"payload"`
				Pipeline string              `json:"pipeline"`
			}
			_ = json.Unmarshal([]byte(g), &doc)
			if doc.Name != "compat.task" || doc.Payload != fmt.Sprintf("compat-%d", i) || doc.Pipeline != "compat" ||
				fmt.Sprint(doc.Headers["X-Tag"]) != "[compat]" {
				t.Errorf("%s: consumed job %d: %s", kind, i, g)
			}
		}
		t.Logf("%s: consumed %s", kind, got[0])
		return got
	})
	if ok && strings.Join(res[kindPivot], "\n") != strings.Join(res[kindStock], "\n") {
		t.Errorf("jobs: pivot %q, stock %q", res[kindPivot], res[kindStock])
	}
}

// Metrics: Spiral\RoadRunner\Metrics declares a counter (with a label) and a gauge; add() and
// set() show on the metrics endpoint.
func TestMetricsDeclareAdd(t *testing.T) {
	sample := regexp.MustCompile(`(?m)^compat_(events|level)\b.*$`)
	res, ok := forBoth(t, func(t *testing.T, kind string) string {
		s := startRR(t, kind, rrOptions{metrics: true})
		for _, p := range []string{"/metrics/declare", "/metrics/add?v=2", "/metrics/add?v=1.5"} {
			if o := s.get(t, p); o.Status != 200 {
				t.Fatalf("%s: %s: %s", kind, p, o)
			}
		}
		text := metricsText(t, s)
		lines := sample.FindAllString(text, -1)
		sort.Strings(lines)
		got := strings.Join(lines, "\n")
		want := "compat_events{kind=\"pushed\"} 3.5\ncompat_level 7.5"
		if got != want {
			t.Errorf("%s: metrics endpoint shows\n%s\nwant\n%s", kind, got, want)
		}
		if !strings.Contains(text, "# HELP compat_events Events counted by the compat worker.") {
			t.Errorf("%s: the counter's help is missing", kind)
		}
		return got
	})
	if ok && res[kindPivot] != res[kindStock] {
		t.Errorf("metrics: pivot %q, stock %q", res[kindPivot], res[kindStock])
	}
}

func canonicalJSON(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "invalid JSON: " + string(b)
	}

	return string(mustJSON(t, v))
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}

	return b
}
