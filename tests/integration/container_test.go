package integration

import (
	"fmt"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/rpc"
	"strings"
	"testing"
	"time"

	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
	configImpl "github.com/roadrunner-server/config/v4"
	"github.com/roadrunner-server/endure/v2"
	goridgeRpc "github.com/roadrunner-server/goridge/v3/pkg/rpc"
	"github.com/roadrunner-server/informer/v4"
	"github.com/roadrunner-server/logger/v4"
	"github.com/roadrunner-server/metrics/v4"
	"github.com/roadrunner-server/resetter/v4"
	rpcPlugin "github.com/roadrunner-server/rpc/v4"
	"github.com/roadrunner-server/server/v4"
	"github.com/roadrunner-server/status/v4"
)

// A real RoadRunner plugin graph (the same endure container `rr serve` builds) with real PHP
// workers from examples/hello, driven over real HTTP on 127.0.0.1.

type stack struct {
	t       testing.TB
	pivot   *pivot.Plugin
	base    string // http://127.0.0.1:PORT of the pivot server
	rpcAddr string
	health  string // http://127.0.0.1:PORT of the status plugin
	metrics string // http://127.0.0.1:PORT of the metrics plugin
	cont    *endure.Endure
	errs    <-chan *endure.Result
	stopped bool
}

type stackOptions struct {
	// pivot is the YAML body of the pivot section (indented by 2), without `address`.
	pivot string
	// worker overrides the PHP script (default examples/hello/worker.php).
	worker string
	env    map[string]string
	// extra is appended to the YAML verbatim (top-level sections such as jobs:, kv:, redis:).
	extra string
	// plugins are registered in addition to the base set (e.g. &jobs.Plugin{}, &kv.Plugin{}).
	plugins []any
	// noPivot leaves the pivot section out (for stacks that only need other plugins).
	noPivot bool
	// noWait returns before pivot's workers are ready (for tests of failing pools).
	noWait bool
	// relay sets server.relay (tcp://… or unix://…; relay_socket_integration_test.go).
	relay string
}

// stackConfig renders a full .rr.yaml for the container.
func stackConfig(t testing.TB, o stackOptions, addr, rpcAddr, statusAddr, metricsAddr string) string {
	worker := o.worker
	if worker == "" {
		worker = testsupport.RepoPath(t, "examples/hello/worker.php")
	}
	pivotBody := o.pivot
	if pivotBody == "" {
		pivotBody = "  pool:\n    num_workers: 2\n    allocate_timeout: 10s\n    destroy_timeout: 10s\n"
	}
	var env strings.Builder
	for k, v := range o.env {
		fmt.Fprintf(&env, "    %s: %q\n", k, v)
	}
	envSection := ""
	if env.Len() > 0 {
		envSection = "  env:\n" + env.String()
	}
	pivotSection := fmt.Sprintf("pivot:\n  address: %s\n%s", addr, pivotBody)
	if o.noPivot {
		pivotSection = ""
	}
	return fmt.Sprintf(`version: "3"
rpc:
  listen: tcp://%s
server:
  command: "php %s"
%slogs:
  level: error
  mode: production
status:
  address: %s
metrics:
  address: %s
%s%s`, rpcAddr, worker, envSection, statusAddr, metricsAddr, pivotSection, o.extra)
}

func startStack(t *testing.T, o stackOptions) *stack { return startStackB(t, o) }

// startStackB starts the stack for tests and benchmarks.
func startStackB(t testing.TB, o stackOptions) *stack {
	t.Helper()
	testsupport.RequirePHP(t)
	addr, rpcAddr, statusAddr, metricsAddr := testsupport.FreeAddr(t), testsupport.FreeAddr(t), testsupport.FreeAddr(t), testsupport.FreeAddr(t)
	s := &stack{t: t, pivot: &pivot.Plugin{}, base: "http://" + addr, rpcAddr: rpcAddr,
		health: "http://" + statusAddr, metrics: "http://" + metricsAddr}

	s.cont = endure.New(slog.LevelError, endure.GracefulShutdownTimeout(30*time.Second))
	cfg := &configImpl.Plugin{
		ReadInCfg: []byte(withRelay(t, stackConfig(t, o, addr, rpcAddr, statusAddr, metricsAddr), o.relay)),
		Type:      "yaml",
		Version:   pivot.RRVersion,
	}
	plugins := append([]any{cfg, &logger.Plugin{}, &server.Plugin{}, &rpcPlugin.Plugin{}, &informer.Plugin{},
		&resetter.Plugin{}, &status.Plugin{}, &metrics.Plugin{}, s.pivot}, o.plugins...)
	if err := s.cont.RegisterAll(plugins...); err != nil {
		t.Fatal(err)
	}
	if err := s.cont.Init(); err != nil {
		t.Fatalf("container init: %v", err)
	}
	testsupport.CheckSchema(t, "the stack's config", cfg.ReadInCfg)
	errs, err := s.cont.Serve()
	if err != nil {
		t.Fatalf("container serve: %v", err)
	}
	s.errs = errs
	t.Cleanup(s.stop)
	if !o.noPivot {
		s.waitHTTP(s.base + "/")
		if !o.noWait {
			testsupport.WaitFor(t, 20*time.Second, "pivot workers to be ready", func() bool {
				st, err := s.pivot.Ready()
				return err == nil && st != nil && st.Code == http.StatusOK
			})
		}
	}
	return s
}

func (s *stack) stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	if err := s.cont.Stop(); err != nil {
		s.t.Errorf("container stop: %v", err)
	}
}

// noRedirects answers a redirect as it is (pivot.ssl.redirect's 308 is an answer).
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// waitHTTP polls until url answers (any status) or fails the test after 20 s.
func (s *stack) waitHTTP(url string) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case r := <-s.errs:
			s.t.Fatalf("plugin %s failed: %v", r.VertexID, r.Error)
		default:
		}
		resp, err := noRedirects.Get(url) //nolint:noctx
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("%s did not answer within 20s", url)
}

// rpcClient dials the rpc plugin with goridge's codec, as `rr workers` does.
func (s *stack) rpcClient() *rpc.Client {
	s.t.Helper()
	conn, err := net.DialTimeout("tcp", s.rpcAddr, 5*time.Second)
	if err != nil {
		s.t.Fatal(err)
	}
	c := rpc.NewClientWithCodec(goridgeRpc.NewClientCodec(conn))
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *stack) pids() []int64 {
	var out []int64
	for _, w := range s.pivot.Workers() {
		out = append(out, w.Pid)
	}
	return out
}

// checkSpread fails the test unless `total` answers came from at least two workers, every one
// of them in the pool.
func checkSpread(t *testing.T, seen map[int64]int, pool map[int64]bool, total int) {
	t.Helper()
	n := 0
	for pid, count := range seen {
		if !pool[pid] {
			t.Errorf("pid %d answered but is not in the pool %v", pid, pool)
		}
		n += count
	}
	if n != total || len(seen) < 2 {
		t.Fatalf("%d answers (want %d) from %d workers: %v", n, total, len(seen), seen)
	}
}

// checkReplaced fails the test for every worker of before still in after: a reset replaces
// them all.
func checkReplaced(t *testing.T, reset int, before, after []int64) {
	t.Helper()
	for _, a := range after {
		for _, b := range before {
			if a == b {
				t.Errorf("reset %d: pid %d survived (before %v after %v)", reset, a, before, after)
			}
		}
	}
}
