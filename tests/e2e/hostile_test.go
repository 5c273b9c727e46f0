package e2e

import (
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	jobsv1 "github.com/roadrunner-server/api/v4/build/jobs/v1"
	kvv1 "github.com/roadrunner-server/api/v4/build/kv/v1"
	jobsApi "github.com/roadrunner-server/api/v4/plugins/v3/jobs"
	"github.com/roadrunner-server/informer/v4"
)

// TestHostileRPC sends a real `rr serve` every kind of request a goridge RPC client can send
// — malformed frames, every codec with empty and garbage bodies to every method, TTLs of
// every sort, null items, huge inputs, invalid collectors, pipelines named in invalid UTF-8 —
// and after each one asserts that rr still runs and answers a good request (kv.Set/MGet on
// both storages, rpc.Version, pivot over HTTP). A case that kills rr fails with rr's panic;
// the next case starts a fresh rr, so one run lists every input that crashes a binary
// (PIVOT_RR_BIN=<rr built before the fix>).
func TestHostileRPC(t *testing.T) {
	r := startRR(t)
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(st *testing.T) {
			if !r.Alive() {
				r = startRR(t)
			}
			defer func() {
				if err := r.checkAlive(); err != nil {
					st.Error(err)
				}
			}()
			tc.run(st, r)
		})
	}
}

type hostileCase struct {
	name string
	run  func(t *testing.T, r *rrProc)
}

// every RPC method of the plugins in the test's config
var allMethods = []string{
	"kv.Has", "kv.Set", "kv.MGet", "kv.MExpire", "kv.TTL", "kv.Delete", "kv.Clear",
	"jobs.Push", "jobs.PushBatch", "jobs.Pause", "jobs.Resume", "jobs.List", "jobs.Declare", "jobs.Destroy", "jobs.Stat",
	"informer.List", "informer.Workers", "informer.Jobs", "informer.AddWorker", "informer.RemoveWorker",
	"resetter.List", "resetter.Reset",
	"metrics.Add", "metrics.Sub", "metrics.Observe", "metrics.Declare", "metrics.Unregister", "metrics.Set",
	"status.Status", "status.Ready",
	"rpc.Config", "rpc.Version",
	"pivot.Pid", "pivot.Version",
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// timeouts the memory driver used to panic on, or mishandle, and ones it must accept;
// computed when the request is sent
func ttlCases() []struct {
	name    string
	timeout func() string
} {
	type c = struct {
		name    string
		timeout func() string
	}
	return []c{
		{"spiral set(k, v, 1): now+1s in whole seconds", func() string { return time.Now().Add(time.Second).UTC().Format(time.RFC3339) }},
		{"300ms ahead, fractional seconds", func() string { return time.Now().Add(300 * time.Millisecond).Format(time.RFC3339Nano) }},
		{"now", func() string { return time.Now().Format(time.RFC3339Nano) }},
		{"500ms ago", func() string { return time.Now().Add(-500 * time.Millisecond).Format(time.RFC3339Nano) }},
		{"1h ago", func() string { return time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) }},
		{"zero time", func() string { return "0001-01-01T00:00:00Z" }},
		{"year 9999", func() string { return "9999-12-31T23:59:59Z" }},
		{"not a time", func() string { return "in a second" }},
		{"a number", func() string { return "1" }},
	}
}

func hostileCases() []hostileCase {
	var cases []hostileCase
	add := func(name string, run func(t *testing.T, r *rrProc)) {
		cases = append(cases, hostileCase{name: name, run: run})
	}

	// ---- frames goridge cannot read: rr drops the connection ----
	for _, c := range []struct {
		name  string
		bytes []byte
	}{
		{"an HTTP request", []byte("GET / HTTP/1.1\r\nHost: rr\r\n\r\n")},
		{"bad header CRC", frame(5, codecJSON, []uint32{1, 11}, []byte("rpc.Version"), -1, 1)},
		{"header of 14 words", frame(14, codecJSON, make([]uint32, 11), []byte("rpc.Version"), -1, 0)},
		{"header of 15 words", frame(15, codecJSON, make([]uint32, 12), []byte("rpc.Version"), -1, 0)},
		{"method name longer than the payload", frame(5, codecJSON, []uint32{1, 4096}, []byte("rpc.Version"), -1, 0)},
		{"one option", frame(4, codecJSON, []uint32{1}, []byte("rpc.Version"), -1, 0)},
		{"no options", frame(3, codecJSON, nil, []byte("rpc.Version"), -1, 0)},
		{"payload length 4 GiB, then hang up", frame(5, codecJSON, []uint32{1, 11}, []byte("rpc.Version"), 1<<32-1, 0)},
	} {
		c := c
		add("frame/"+c.name, func(t *testing.T, r *rrProc) {
			conn := r.dial(t)
			if _, err := conn.Write(c.bytes); err != nil {
				t.Fatal(err)
			}
			_ = conn.(*net.TCPConn).CloseWrite()
			wantClosed(t, conn)
		})
	}

	// ---- requests that name no method rr has ----
	add("method/empty name", func(t *testing.T, r *rrProc) {
		wantError(t, callJSON(t, r.dial(t), 1, "", ""), "ill-formed")
	})
	add("method/unknown service", func(t *testing.T, r *rrProc) {
		wantError(t, callJSON(t, r.dial(t), 1, "nope.Nope", "{}"), "can't find service")
	})
	add("method/unknown method", func(t *testing.T, r *rrProc) {
		c := r.dial(t)
		wantError(t, callJSON(t, c, 1, "kv.Nope", "{}"), "can't find method")
		wantOK(t, callJSON(t, c, 2, "rpc.Version", "true")) // the connection goes on
	})

	// ---- two requests in flight with one sequence number (goridge keys its state by it) ----
	add("sequence number reused while in flight", func(t *testing.T, r *rrProc) {
		c := r.dial(t)
		reset := request(1, codecJSON, "resetter.Reset", []byte(`"pivot"`))
		if _, err := c.Write(append(reset, reset...)); err != nil {
			t.Fatal(err)
		}
		if a, err := readAnswer(c); err != nil || a.seq != 1 {
			t.Fatalf("first reset: %s, %v", a, err)
		}
		wantClosed(t, c)
	})

	// ---- Proto flag with an empty body to methods whose answer is not protobuf ----
	for _, m := range []string{"rpc.Version", "rpc.Config", "informer.List", "resetter.List", "pivot.Pid"} {
		m := m
		add("proto flag, empty body/"+m, func(t *testing.T, r *rrProc) {
			c := r.dial(t)
			wantError(t, call(t, c, 1, codecProto, m, nil), "cannot encode the answer of "+m)
			wantOK(t, callJSON(t, c, 2, "rpc.Version", "true"))
		})
	}

	// ---- every method, every codec, empty and garbage bodies: one answer each ----
	add("every method x every codec x empty and garbage bodies", func(t *testing.T, r *rrProc) {
		c := r.dial(t)
		seq := uint32(0)
		for _, m := range allMethods {
			for _, flags := range []byte{codecProto, codecJSON, codecMsgpack, codecGob, codecRaw, codecNone} {
				for _, body := range [][]byte{nil, {0xff, 0x00, '{', 0x13, 0x37, 0x80}} {
					seq++
					call(t, c, seq, flags, m, body) // any answer, error or not
				}
			}
		}
	})

	// ---- kv: TTLs (the memory driver's timers panicked on < 1 s, past, MExpire) ----
	for _, storage := range []string{"memory", "bolt"} {
		storage := storage
		for _, tc := range ttlCases() {
			tc := tc
			add(fmt.Sprintf("kv.Set/%s/ttl %s", storage, tc.name), func(t *testing.T, r *rrProc) {
				c := r.client(t)
				timeout := tc.timeout()
				req := &kvv1.Request{Storage: storage, Items: []*kvv1.Item{{Key: "ttl", Value: []byte("v"), Timeout: timeout}}}
				err := c.Call("kv.Set", req, &kvv1.Response{})
				if strings.HasPrefix(tc.name, "not") || tc.name == "a number" {
					if err == nil {
						t.Fatalf("timeout %q accepted", timeout)
					}
				} else if err != nil {
					t.Fatalf("kv.Set timeout %q: %v", timeout, err)
				}
			})
			add(fmt.Sprintf("kv.MExpire/%s/existing key, ttl %s", storage, tc.name), func(t *testing.T, r *rrProc) {
				c := r.client(t)
				if err := c.Call("kv.Set", &kvv1.Request{Storage: storage, Items: []*kvv1.Item{{Key: "exp", Value: []byte("v")}}}, &kvv1.Response{}); err != nil {
					t.Fatal(err)
				}
				_ = c.Call("kv.MExpire", &kvv1.Request{Storage: storage, Items: []*kvv1.Item{{Key: "exp", Timeout: tc.timeout()}}}, &kvv1.Response{})
			})
			add(fmt.Sprintf("kv.MExpire/%s/missing key, ttl %s", storage, tc.name), func(t *testing.T, r *rrProc) {
				_ = r.client(t).Call("kv.MExpire", &kvv1.Request{Storage: storage, Items: []*kvv1.Item{{Key: "missing-" + tc.name, Timeout: tc.timeout()}}}, &kvv1.Response{})
			})
		}
	}

	// ---- kv: null items (JSON), empty and odd inputs ----
	for _, m := range []string{"kv.Has", "kv.MGet", "kv.TTL", "kv.Delete", "kv.Set", "kv.MExpire"} {
		m := m
		add("kv null item/"+m, func(t *testing.T, r *rrProc) {
			// nil *kvv1.Item in Items: kv's RPC reads in.Items[i].Key
			wantError(t, callJSON(t, r.dial(t), 1, m, `{"storage":"memory","items":[null]}`))
		})
	}
	add("kv odd inputs", func(t *testing.T, r *rrProc) {
		c := r.dial(t)
		for i, body := range []string{
			`{}`, `{"storage":""}`, `{"storage":"nope","items":[{"key":"a"}]}`, `{"storage":"memory"}`,
			`{"storage":"memory","items":[]}`, `{"storage":"memory","items":[{"key":""}]}`,
			`{"storage":"memory","items":[{"key":"  "}]}`, `{"storage":"memory","items":[{}]}`,
			`{"storage":"memory","items":[{"key":"a","value":"not base64!"}]}`,
			`{"storage":"bolt","items":[{"key":""}]}`, `{"storage":"bolt","items":[null]}`,
			`null`, `[]`, `"memory"`, `{"storage":["memory"]}`, `{"storage":"memory","items":{"key":"a"}}`,
		} {
			for j, m := range []string{"kv.Has", "kv.Set", "kv.MGet", "kv.MExpire", "kv.TTL", "kv.Delete"} {
				callJSON(t, c, uint32(i*10+j+1), m, body)
			}
		}
	})
	add("kv big inputs", func(t *testing.T, r *rrProc) {
		c := r.client(t)
		many := &kvv1.Request{Storage: "memory"}
		for i := 0; i < 100000; i++ {
			many.Items = append(many.Items, &kvv1.Item{Key: fmt.Sprintf("k%d", i), Value: []byte("v")})
		}
		for _, m := range []string{"kv.Set", "kv.MGet", "kv.Has", "kv.TTL", "kv.Delete"} {
			if err := c.Call(m, many, &kvv1.Response{}); err != nil {
				t.Fatalf("%s with 100000 items: %v", m, err)
			}
		}
		big := &kvv1.Request{Storage: "memory", Items: []*kvv1.Item{
			{Key: "big", Value: make([]byte, 16<<20)},
			{Key: strings.Repeat("k", 1<<20), Value: []byte("long key")},
		}}
		for _, storage := range []string{"memory", "bolt"} {
			big.Storage = storage
			_ = c.Call("kv.Set", big, &kvv1.Response{}) // boltdb refuses keys over 32 KiB
		}
	})
	add("kv.Clear x32 at once", func(t *testing.T, r *rrProc) {
		var wg sync.WaitGroup
		for i := 0; i < 32; i++ {
			c := r.client(t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = c.Call("kv.Clear", &kvv1.Request{Storage: "memory"}, &kvv1.Response{})
			}()
		}
		wg.Wait()
	})

	// ---- jobs ----
	add("jobs odd pushes", func(t *testing.T, r *rrProc) {
		c := r.client(t)
		for _, req := range []*jobsv1.PushRequest{
			{}, {Job: &jobsv1.Job{}}, {Job: &jobsv1.Job{Id: "x"}},
			{Job: &jobsv1.Job{Id: "x", Job: "j", Options: &jobsv1.Options{Pipeline: "nope"}}},
			{Job: &jobsv1.Job{Id: "neg", Job: "j", Options: &jobsv1.Options{Pipeline: "mem", Delay: -1, Priority: -5}}},
			{Job: &jobsv1.Job{Id: "huge", Job: "j", Options: &jobsv1.Options{Pipeline: "mem", Delay: 1 << 62, Priority: 1 << 62}}},
			{Job: &jobsv1.Job{Id: "hdr", Job: "j", Headers: map[string]*jobsv1.HeaderValue{"": nil, "x": {}}, Options: &jobsv1.Options{Pipeline: "mem"}}},
			{Job: &jobsv1.Job{Id: "bolt", Job: "j", Payload: make([]byte, 4<<20), Options: &jobsv1.Options{Pipeline: "bolt", Delay: 1}}},
		} {
			_ = c.Call("jobs.Push", req, &jobsv1.Empty{})
		}
		_ = c.Call("jobs.PushBatch", &jobsv1.PushBatchRequest{}, &jobsv1.Empty{})
		_ = c.Call("jobs.PushBatch", &jobsv1.PushBatchRequest{Jobs: []*jobsv1.Job{{}, {Id: "b", Options: &jobsv1.Options{Pipeline: "mem"}}}}, &jobsv1.Empty{})
		wantError(t, callJSON(t, r.dial(t), 1, "jobs.PushBatch", `{"jobs":[null]}`))
	})
	add("jobs pause, resume, destroy", func(t *testing.T, r *rrProc) {
		c := r.client(t)
		for _, m := range []string{"jobs.Pause", "jobs.Pause", "jobs.Resume", "jobs.Resume", "jobs.Destroy"} {
			_ = c.Call(m, &jobsv1.Pipelines{Pipelines: []string{"nope", ""}}, &jobsv1.Pipelines{})
		}
		for _, m := range []string{"jobs.Pause", "jobs.Pause", "jobs.Resume", "jobs.Resume"} {
			_ = c.Call(m, &jobsv1.Pipelines{Pipelines: []string{"mem", "bolt", "mem"}}, &jobsv1.Empty{})
		}
		var list jobsv1.Pipelines
		if err := c.Call("jobs.List", &jobsv1.Empty{}, &list); err != nil {
			t.Fatal(err)
		}
		_ = c.Call("jobs.Stat", &jobsv1.Empty{}, &jobsv1.Stats{})
	})
	add("jobs.Declare odd pipelines", func(t *testing.T, r *rrProc) {
		c := r.client(t)
		for _, p := range []map[string]string{
			{}, {"driver": "nope", "name": "x"}, {"driver": "memory"}, {"driver": "memory", "name": "m1", "prefetch": "x"},
			{"driver": "memory", "name": "m2", "prefetch": "-1", "priority": "x"}, {"driver": "memory", "queue": "m3"},
			{"driver": "boltdb", "name": "b1", "file": r.Dir + "/declared.db"},
		} {
			_ = c.Call("jobs.Declare", &jobsv1.DeclareRequest{Pipeline: p}, &jobsv1.Empty{})
		}
		_ = c.Call("jobs.Push", &jobsv1.PushRequest{Job: &jobsv1.Job{Id: "1", Job: "j", Options: &jobsv1.Options{Pipeline: "m3"}}}, &jobsv1.Empty{})
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ { // destroying the same pipelines at once
			c := r.client(t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = c.Call("jobs.Destroy", &jobsv1.Pipelines{Pipelines: []string{"", "m2", "m3", "b1"}}, &jobsv1.Pipelines{})
			}()
		}
		wg.Wait()
	})
	add("jobs pipeline named in invalid UTF-8", func(t *testing.T, r *rrProc) {
		// protobuf refuses such strings, JSON (and msgpack, gob) pass them; prometheus
		// panics on such a label value when jobs counts the push
		c := r.dial(t)
		name := "bad-\xff\xfe"
		wantOK(t, callJSON(t, c, 1, "jobs.Declare", `{"pipeline":{"driver":"memory","name":"`+name+`"}}`))
		a := callJSON(t, c, 2, "jobs.Push", `{"job":{"id":"1","job":"j","options":{"pipeline":"`+name+`"}}}`)
		callJSON(t, c, 3, "jobs.Destroy", `{"pipelines":["`+name+`"]}`)
		wantError(t, a, "jobs.Push panicked")
	})

	// ---- informer, resetter ----
	add("informer odd plugins", func(t *testing.T, r *rrProc) {
		c := r.client(t)
		var list []string
		_ = c.Call("informer.List", true, &list)
		for _, p := range []string{"", "nope", "pivot", "jobs", "rpc", "kv"} {
			if err := c.Call("informer.Workers", p, &informer.WorkerList{}); err != nil {
				t.Fatalf("informer.Workers %q: %v", p, err)
			}
			if err := c.Call("informer.Jobs", p, &[]*jobsApi.State{}); err != nil {
				t.Fatalf("informer.Jobs %q: %v", p, err)
			}
		}
		for _, p := range []string{"", "nope", "kv"} {
			_ = c.Call("informer.AddWorker", p, new(bool))
			_ = c.Call("informer.RemoveWorker", p, new(bool))
		}
		for _, p := range []string{"pivot", "jobs"} { // net zero
			if err := c.Call("informer.AddWorker", p, new(bool)); err != nil {
				t.Fatalf("informer.AddWorker %s: %v", p, err)
			}
			if err := c.Call("informer.RemoveWorker", p, new(bool)); err != nil {
				t.Fatalf("informer.RemoveWorker %s: %v", p, err)
			}
		}
		// down to no worker (pivot refuses to remove its last one), then back
		for _, p := range []string{"pivot", "pivot", "pivot", "jobs"} {
			_ = c.Call("informer.RemoveWorker", p, new(bool))
		}
		for _, p := range []string{"pivot", "jobs"} {
			if err := c.Call("informer.AddWorker", p, new(bool)); err != nil {
				t.Fatalf("informer.AddWorker %s: %v", p, err)
			}
		}
		waitHTTP(t, r)
	})
	add("resetter odd and concurrent resets", func(t *testing.T, r *rrProc) {
		c := r.client(t)
		var list []string
		_ = c.Call("resetter.List", true, &list)
		for _, p := range []string{"", "nope", "kv"} {
			_ = c.Call("resetter.Reset", p, new(bool))
		}
		var wg sync.WaitGroup
		for _, p := range []string{"pivot", "pivot", "jobs", "jobs"} {
			c, p := r.client(t), p
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = c.Call("resetter.Reset", p, new(bool))
			}()
		}
		wg.Wait()
		waitHTTP(t, r)
	})

	// ---- metrics (prometheus panics on these) ----
	for _, mc := range []struct{ name, declare, use, method string }{
		{"negative Add to a counter", `{"name":"e2e_counter","collector":{"type":"counter","help":"h"}}`, `{"name":"e2e_counter","value":-1}`, "metrics.Add"},
		{"negative Add to a counter vector", `{"name":"e2e_counter_vec","collector":{"type":"counter","help":"h","labels":["a"]}}`, `{"name":"e2e_counter_vec","value":-1,"labels":["x"]}`, "metrics.Add"},
		{"histogram with unsorted buckets", `{"name":"e2e_hist","collector":{"type":"histogram","help":"h","buckets":[2,1]}}`, `{"name":"e2e_hist","value":1}`, "metrics.Observe"},
		{"histogram vector with unsorted buckets", `{"name":"e2e_hist_vec","collector":{"type":"histogram","help":"h","buckets":[2,1],"labels":["a"]}}`, `{"name":"e2e_hist_vec","value":1,"labels":["x"]}`, "metrics.Observe"},
		{"histogram vector labelled le", `{"name":"e2e_hist_le","collector":{"type":"histogram","help":"h","labels":["le"]}}`, `{"name":"e2e_hist_le","value":1,"labels":["x"]}`, "metrics.Observe"},
		{"summary vector labelled quantile", `{"name":"e2e_sum_q","collector":{"type":"summary","help":"h","labels":["quantile"]}}`, `{"name":"e2e_sum_q","value":1,"labels":["x"]}`, "metrics.Observe"},
		{"gauge vector with a label value not UTF-8", `{"name":"e2e_gauge","collector":{"type":"gauge","help":"h","labels":["a"]}}`, "{\"name\":\"e2e_gauge\",\"value\":1,\"labels\":[\"\xff\"]}", "metrics.Set"},
		{"invalid names", `{"name":"1 bad name","collector":{"type":"gauge","help":"h","labels":["bad label"]}}`, `{"name":"1 bad name","value":1}`, "metrics.Set"},
	} {
		mc := mc
		add("metrics/"+mc.name, func(t *testing.T, r *rrProc) {
			c := r.dial(t)
			callJSON(t, c, 1, "metrics.Declare", mc.declare)
			callJSON(t, c, 2, mc.method, mc.use)
			callJSON(t, c, 3, "metrics.Unregister", `"`+strings.SplitN(mc.declare, `"`, 5)[3]+`"`)
		})
	}
	add("metrics unknown collectors", func(t *testing.T, r *rrProc) {
		c := r.dial(t)
		for i, m := range []string{"metrics.Add", "metrics.Sub", "metrics.Observe", "metrics.Set"} {
			wantError(t, callJSON(t, c, uint32(i+1), m, `{"name":"nope","value":1e308}`), "undefined collector")
		}
		wantError(t, callJSON(t, c, 9, "metrics.Unregister", `"nope"`))
	})

	// ---- status, pivot ----
	add("status odd plugins", func(t *testing.T, r *rrProc) {
		c := r.dial(t)
		seq := uint32(0)
		for _, m := range []string{"status.Status", "status.Ready"} {
			for _, p := range []string{"", "nope", "pivot", "jobs", "kv"} {
				seq++
				callJSON(t, c, seq, m, `{"plugin":"`+p+`"}`)
			}
		}
	})
	add("pivot odd arguments", func(t *testing.T, r *rrProc) {
		c := r.dial(t)
		for i, body := range []string{``, `null`, `{"x":1}`, `"str"`, `[1,2]`} {
			callJSON(t, c, uint32(2*i+1), "pivot.Pid", body)
			callJSON(t, c, uint32(2*i+2), "pivot.Version", body)
		}
	})

	return cases
}

func waitHTTP(t *testing.T, r *rrProc) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.httpOK() != nil {
		if !r.Alive() || time.Now().After(deadline) {
			return // checkAlive reports it
		}
		time.Sleep(50 * time.Millisecond)
	}
}
