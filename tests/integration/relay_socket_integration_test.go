package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Socket relays (server.relay: tcp://… or unix://…) end to end: the real plugin graph and the
// real rr binary, with real PHP workers that connect to pivot's relay (php/src/Relay).

// relayKinds are the socket relays under test; unix sockets live in the test's temp dir.
func relayKinds(t *testing.T, test func(t *testing.T, relay string)) {
	for _, kind := range []string{"tcp", "unix"} {
		t.Run(kind, func(t *testing.T) {
			relay := "tcp://" + testsupport.FreeAddr(t)
			if kind == "unix" {
				relay = "unix://" + filepath.Join(t.TempDir(), "rr.sock")
			}
			test(t, relay)
		})
	}
}

// withRelay puts server.relay (and relay_timeout) into a rendered .rr.yaml; none when relay is "".
func withRelay(t testing.TB, yaml, relay string) string {
	t.Helper()
	if relay == "" {
		return yaml
	}
	if !strings.Contains(yaml, "\nserver:\n") {
		t.Fatal("no server section in the config")
	}
	return strings.Replace(yaml, "\nserver:\n", fmt.Sprintf("\nserver:\n  relay: %q\n  relay_timeout: 10s\n", relay), 1)
}

// startRelayStack is startStackB with server.relay set.
func startRelayStack(t testing.TB, relay string, o stackOptions) *stack {
	t.Helper()
	o.relay = relay
	return startStackB(t, o)
}

// workerRelay is the RR_RELAY a worker process was started with.
func workerRelay(t *testing.T, pid int64) string {
	t.Helper()
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	relay := ""
	for _, kv := range bytes.Split(env, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("RR_RELAY=")); ok {
			relay = string(v) // the last one wins, as in os/exec
		}
	}
	return relay
}

// checkWorkersUseTheSocket: the workers were told pivot's own socket, next to server.relay.
func checkWorkersUseTheSocket(t *testing.T, s *stack, relay string) {
	t.Helper()
	for _, pid := range s.pids() {
		got := workerRelay(t, pid)
		want := "tcp://127.0.0.1:"
		if strings.HasPrefix(relay, "unix://") {
			want = strings.TrimSuffix(relay, ".sock") + ".pivot.sock"
		}
		if !strings.HasPrefix(got, want) || got == relay {
			t.Fatalf("worker %d has RR_RELAY=%q; want pivot's own socket (%s…), not the server plugin's %s", pid, got, want, relay)
		}
	}
}

func TestSocketRelayServesConcurrentAndStreamedRequests(t *testing.T) {
	relayKinds(t, func(t *testing.T, relay string) {
		s := startRelayStack(t, relay, stackOptions{pivot: "  pool:\n    num_workers: 4\n    allocate_timeout: 20s\n"})
		testsupport.WaitFor(t, 10*time.Second, "4 workers", func() bool { return len(s.pids()) == 4 })
		checkWorkersUseTheSocket(t, s, relay)
		pool := map[int64]bool{}
		for _, pid := range s.pids() {
			pool[pid] = true
		}

		// 800 requests from 32 goroutines, with bodies both ways
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			seen = map[int64]int{}
		)
		payload := `{"k":"` + strings.Repeat("v", 4000) + `"}`
		for g := 0; g < 32; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 25; i++ {
					if (g+i)%2 == 0 {
						resp, body := testsupport.Do(t, "GET", s.base+"/", nil, nil)
						if resp.StatusCode != 200 {
							t.Errorf("GET /: %d %s", resp.StatusCode, body)
							return
						}
						var m struct{ Pid int64 }
						_ = json.Unmarshal(body, &m)
						mu.Lock()
						seen[m.Pid]++
						mu.Unlock()
						continue
					}
					resp, body := testsupport.Do(t, "POST", s.base+"/json", strings.NewReader(payload), http.Header{"Content-Type": {"application/json"}})
					if resp.StatusCode != 200 || !bytes.Contains(body, []byte(strings.Repeat("v", 4000))) {
						t.Errorf("POST /json: %d %.200s", resp.StatusCode, body)
						return
					}
				}
			}(g)
		}
		wg.Wait()
		checkSpread(t, seen, pool, 400)

		// a large response crosses the socket whole
		resp, body := testsupport.Do(t, "GET", s.base+"/bytes?size=5000000", nil, nil)
		if resp.StatusCode != 200 || len(body) != 5_000_000 {
			t.Fatalf("GET /bytes: %d, %d bytes", resp.StatusCode, len(body))
		}

		// a streamed response arrives chunk by chunk
		start := time.Now()
		sresp, err := testsupport.Client.Get(s.base + "/stream?chunks=3&delay_ms=400") //nolint:noctx
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sresp.Body.Close() }()
		br := bufio.NewReader(sresp.Body)
		line, err := br.ReadString('\n')
		if err != nil || line != "chunk 0\n" {
			t.Fatalf("first chunk %q: %v", line, err)
		}
		if first := time.Since(start); first > 600*time.Millisecond {
			t.Fatalf("the first chunk took %s: buffered instead of streamed", first)
		}
		rest, _ := io.ReadAll(br)
		if string(rest) != "chunk 1\nchunk 2\n" {
			t.Fatalf("rest of the stream %q", rest)
		}
		// and a stream whose client goes away leaves a worker that still serves
		c2, err := testsupport.Client.Get(s.base + "/stream?chunks=50&delay_ms=50") //nolint:noctx
		if err != nil {
			t.Fatal(err)
		}
		_, _ = bufio.NewReader(c2.Body).ReadString('\n')
		_ = c2.Body.Close()
		for i := 0; i < 20; i++ {
			if resp, _ := testsupport.Do(t, "GET", s.base+"/", nil, nil); resp.StatusCode != 200 {
				t.Fatalf("after a cancelled stream: %d", resp.StatusCode)
			}
		}
		t.Logf("%s: 800 requests over %d workers %v", relay, len(seen), seen)
	})
}

func TestSocketRelayResetUnderLoadFailsNoRequest(t *testing.T) {
	relayKinds(t, func(t *testing.T, relay string) {
		ls := newLifecycleScript(t)
		s := startRelayStack(t, relay, ls.options("  pool:\n    num_workers: 4\n    allocate_timeout: 10s\n"))
		c := s.rpcClient()
		finish := startLoad(t, loadOptions{url: s.base + "/sleep?ms=2", concurrency: 8, maxRequests: 2_000_000, maxDuration: 30 * time.Second})
		for i := 0; i < 3; i++ {
			time.Sleep(300 * time.Millisecond)
			before := s.pids()
			var ok bool
			if err := c.Call("resetter.Reset", "pivot", &ok); err != nil || !ok {
				t.Errorf("reset %d: %v", i, err)
			}
			after := s.pids()
			if len(after) != 4 {
				t.Errorf("reset %d: %d workers after", i, len(after))
			}
			checkReplaced(t, i, before, after)
		}
		time.Sleep(300 * time.Millisecond)
		res := finish()
		t.Logf("3 resets under load over %s: %s", relay, res)
		if res.failed.Load() != 0 || res.refused.Load() != 0 || res.ok.Load() < 100 {
			t.Fatalf("a reset under load must fail no request: %s", res)
		}
		checkWorkersUseTheSocket(t, s, relay)
	})
}

func TestSocketRelayKilledWorkersAreReplaced(t *testing.T) {
	relayKinds(t, func(t *testing.T, relay string) {
		ls := newLifecycleScript(t)
		s := startRelayStack(t, relay, ls.options("  pool:\n    num_workers: 2\n    allocate_timeout: 20s\n"))
		testsupport.WaitFor(t, 10*time.Second, "2 workers", func() bool { return len(s.pids()) == 2 })

		// idle: replaced, and nothing fails
		victim := s.pids()[0]
		if err := syscall.Kill(int(victim), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitReplaced(t, s, victim, 2)
		for i := 0; i < 20; i++ {
			if resp, body := testsupport.Do(t, "GET", s.base+"/", nil, nil); resp.StatusCode != 200 {
				t.Fatalf("request %d after the kill: %d %s", i, resp.StatusCode, body)
			}
		}

		// under load: each kill fails at most the request its worker was running
		const kills = 3
		finish := startLoad(t, loadOptions{url: s.base + "/sleep?ms=5", concurrency: 4, maxRequests: 2_000_000, maxDuration: 30 * time.Second})
		for i := 0; i < kills; i++ {
			time.Sleep(300 * time.Millisecond)
			victim := s.pids()[i%2]
			_ = syscall.Kill(int(victim), syscall.SIGKILL)
			waitReplaced(t, s, victim, 2)
		}
		time.Sleep(300 * time.Millisecond)
		res := finish()
		t.Logf("%d SIGKILLs under load over %s: %s", kills, relay, res)
		if res.failed.Load() > kills || res.ok.Load() < 100 {
			t.Fatalf("more requests failed than workers were killed: %s", res)
		}
	})
}

func waitReplaced(t *testing.T, s *stack, victim int64, n int) {
	t.Helper()
	testsupport.WaitFor(t, 10*time.Second, fmt.Sprintf("worker %d to be replaced", victim), func() bool {
		now := s.pids()
		if len(now) != n {
			return false
		}
		for _, pid := range now {
			if pid == victim {
				return false
			}
		}
		return true
	})
}

func TestSocketRelayMaxJobsRecyclesWorkers(t *testing.T) {
	relayKinds(t, func(t *testing.T, relay string) {
		ls := newLifecycleScript(t)
		s := startRelayStack(t, relay, ls.options("  pool:\n    num_workers: 1\n    max_jobs: 3\n    allocate_timeout: 10s\n"))
		var pids []int64
		for i := 0; i < 9; i++ {
			resp, body := testsupport.Do(t, "GET", s.base+"/", nil, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
			}
			pids = append(pids, pidOf(t, body))
		}
		for i := range pids {
			sameJob := pids[i] == pids[i/3*3]                   // three requests per worker...
			fresh := i%3 != 0 || i == 0 || pids[i] != pids[i-1] // ...then a new one
			if !sameJob || !fresh {
				t.Fatalf("pids per request with max_jobs 3: %v", pids)
			}
		}
		// and under load, the recycling fails nothing
		res := runLoad(t, loadOptions{url: s.base + "/sleep?ms=1", concurrency: 4, maxRequests: 300, maxDuration: 30 * time.Second})
		if res.failed.Load() != 0 || res.ok.Load() != 300 {
			t.Fatalf("max_jobs 3 under load: %s", res)
		}
		t.Logf("%s: pids %v; under load %s", relay, pids, res)
	})
}

// A worker that cannot connect must not leave pivot answering 503 with no reason: the spawn
// fails at once, and the reason (in the log and /ready) says why.
func TestSocketRelayWorkerThatExitsNamesTheCause(t *testing.T) {
	relayKinds(t, func(t *testing.T, relay string) {
		dir := t.TempDir()
		script := filepath.Join(dir, "worker.php")
		testsupport.WriteFile(t, script, "<?php fwrite(STDERR, \"boot failed\\n\"); exit(3);\n")
		s := startRelayStack(t, relay, stackOptions{worker: script, noWait: true,
			pivot: "  restart:\n    initial_backoff: 100ms\n  pool:\n    num_workers: 1\n    allocate_timeout: 5s\n"})
		var body string
		testsupport.WaitFor(t, 10*time.Second, "/ready to say why", func() bool {
			// the status plugin may not listen yet: pivot's own port is all noWait waited for
			resp, err := testsupport.Client.Get(s.health + "/ready?plugin=pivot") //nolint:noctx
			if err != nil {
				return false
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			body = string(b)
			return resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(body, "exited before it connected")
		})
		if !strings.Contains(body, "server.relay") {
			t.Fatalf("/ready must name server.relay: %s", body)
		}
		t.Logf("/ready: %s", strings.TrimSpace(body))
	})
}

func relayYAML(t *testing.T, relay, worker, addr, rpcAddr string) string {
	return fmt.Sprintf(`version: "3"
rpc:
  listen: tcp://%s
server:
  command: "php %s"
  relay: %q
logs:
  level: warn
  mode: production
pivot:
  address: %s
  pool:
    num_workers: 2
    allocate_timeout: 10s
`, rpcAddr, worker, relay, addr)
}

func TestRRServesOverSocketRelays(t *testing.T) {
	relayKinds(t, func(t *testing.T, relay string) {
		ls := newLifecycleScript(t)
		addr, rpcAddr := testsupport.FreeAddr(t), testsupport.FreeAddr(t)
		p := startRRWithYAML(t, relayYAML(t, relay, ls.path, addr, rpcAddr), addr)
		testsupport.WaitFor(t, 30*time.Second, "rr serve to answer 200", func() bool {
			select {
			case <-p.Exited():
				t.Fatalf("rr serve exited: %v\n%s", p.Err(), p.Out.String())
			default:
			}
			resp, err := testsupport.Client.Get(p.base + "/") //nolint:noctx
			if err != nil {
				return false
			}
			_ = resp.Body.Close()
			return resp.StatusCode == 200
		})
		pidsOf := func() map[int64]bool {
			m := map[int64]bool{}
			for i := 0; i < 20; i++ {
				resp, body := testsupport.Do(t, "GET", p.base+"/", nil, nil)
				if resp.StatusCode != 200 {
					t.Fatalf("GET /: %d %s", resp.StatusCode, body)
				}
				m[pidOf(t, body)] = true
			}
			return m
		}
		before := pidsOf()
		finish := startLoad(t, loadOptions{url: p.base + "/sleep?ms=2", concurrency: 6, maxRequests: 100_000, maxDuration: 30 * time.Second})
		time.Sleep(300 * time.Millisecond)
		p.run(t, "reset", "pivot")
		time.Sleep(300 * time.Millisecond)
		res := finish()
		if res.failed.Load() != 0 || res.ok.Load() < 50 {
			t.Fatalf("rr reset under load over %s: %s", relay, res)
		}
		for pid := range pidsOf() {
			if before[pid] {
				t.Fatalf("pid %d survived rr reset", pid)
			}
		}

		p.Terminate(t, 30*time.Second)
		if path, ok := strings.CutPrefix(relay, "unix://"); ok {
			own := strings.TrimSuffix(path, ".sock") + ".pivot.sock"
			if _, err := os.Lstat(own); !os.IsNotExist(err) {
				t.Fatalf("pivot's socket %s must be removed on stop: %v", own, err)
			}
		}
		t.Logf("rr over %s: reset under load %s", relay, res)
	})
}

// Every relay value that cannot work stops rr at startup with an error that names it, instead
// of serving 503s: the server plugin refuses what it cannot listen on (before pivot's Init
// runs), pivot refuses what it cannot serve its own workers on.
func TestRRRefusesAnUnusableRelayAtStartup(t *testing.T) {
	dir := t.TempDir()
	// the server plugin's socket path is 102 bytes (it binds), pivot's own 108 (too long)
	longDir := filepath.Join(dir, strings.Repeat("d", 94-len(dir)))
	if err := os.MkdirAll(longDir, 0o755); err != nil {
		t.Fatal(err)
	}
	notSocketDir := t.TempDir()
	testsupport.WriteFile(t, filepath.Join(notSocketDir, "rr.pivot.sock"), "not a socket")
	for _, tc := range []struct {
		name, relay string
		want        []string
	}{
		{"unknown scheme", "foo://x", []string{"server_plugin_init", "foo://x"}},
		{"pipe", "pipe", []string{"server_plugin_init", "invalid DSN"}},
		{"bad port", "tcp://127.0.0.1:99999", []string{"server_plugin_init", "99999"}},
		{"address not on this host", "tcp://192.0.2.1:7000", []string{"server_plugin_init", "192.0.2.1:7000"}},
		{"no such directory", "unix:///nonexistent/dir/rr.sock", []string{"server_plugin_init", "/nonexistent/dir/rr.sock"}},
		{"pivot's socket path too long", "unix://" + filepath.Join(longDir, "r.sock"), []string{"pivot", "server.relay", "longer than"}},
		{"pivot's socket path taken by a file", "unix://" + filepath.Join(notSocketDir, "rr.sock"), []string{"pivot", "server.relay", "not a socket"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, rpcAddr := testsupport.FreeAddr(t), testsupport.FreeAddr(t)
			p := startRRWithYAML(t, relayYAML(t, tc.relay, testsupport.RepoPath(t, "examples/hello/worker.php"), addr, rpcAddr), addr)
			select {
			case <-p.Exited():
				err := p.Err()
				if err == nil {
					t.Fatalf("rr exited 0\n%s", p.Out.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("rr with server.relay %q did not fail at startup\n%s", tc.relay, p.Out.String())
			}
			out := p.Out.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("the startup error must mention %q:\n%s", w, out)
				}
			}
			t.Logf("%s: %s", tc.relay, lastLine(out))
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-2):], " ")
}

// pivot.pipeline works over a socket as over pipes: the project's PHP worker announces
// in-order reads in the handshake, and requests queue behind busy workers.
func TestSocketRelayPipelineQueuesBehindBusyWorkers(t *testing.T) {
	relayKinds(t, func(t *testing.T, relay string) {
		ls := newLifecycleScript(t)
		s := startRelayStack(t, relay, ls.options("  pipeline: true\n  pipeline_window: 10s\n  pipeline_pause_after: 1h\n"+
			"  pool:\n    num_workers: 2\n    allocate_timeout: 10s\n"))
		res := runLoad(t, loadOptions{url: s.base + "/sleep?ms=2", concurrency: 8, maxRequests: 1500, maxDuration: 30 * time.Second})
		if res.failed.Load() != 0 || res.ok.Load() != 1500 {
			t.Fatalf("pipelined load over %s: %s", relay, res)
		}
		n := pipelinedCount(t, s)
		if n == 0 {
			t.Fatal("no request waited behind a busy worker")
		}
		t.Logf("%s: %d of 1500 requests queued behind a busy worker", relay, n)
	})
}

// BenchmarkSocketRelayHandler is BenchmarkHandler's GET over a tcp and a unix relay (compare
// with BenchmarkHandler/GET_hello, over pipes).
func BenchmarkSocketRelayHandler(b *testing.B) {
	for _, kind := range []string{"tcp", "unix"} {
		b.Run(kind, func(b *testing.B) {
			relay := "tcp://" + testsupport.FreeAddr(b)
			if kind == "unix" {
				relay = "unix://" + filepath.Join(b.TempDir(), "rr.sock")
			}
			s := startRelayStack(b, relay, stackOptions{pivot: "  pool:\n    num_workers: 2\n"})
			benchHandle(b, s, "GET /hello HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
		})
	}
}
