package integration

import (
	"fmt"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests that drive the built ./rr binary as a process: signals and CLI commands reach the real
// distribution, exactly as an operator's would.

// rrProcess is a real `rr serve` (testsupport.RR) with pivot on base.
type rrProcess struct {
	*testsupport.RR
	base string
}

// startRR writes a .rr.yaml for the lifecycle worker and runs `rr serve` on it.
func startRR(t *testing.T, ls *lifecycleScript, pivotYAML string) *rrProcess {
	t.Helper()
	addr, rpcAddr := testsupport.FreeAddr(t), testsupport.FreeAddr(t)
	yaml := fmt.Sprintf(`version: "3"
rpc:
  listen: tcp://%s
server:
  command: "php %s"
  env:
    PIVOT_TEST_DIE_FLAG: %q
logs:
  level: warn
  mode: production
pivot:
  address: %s
%s`, rpcAddr, ls.path, ls.dieFlag, addr, pivotYAML)
	p := startRRWithYAML(t, yaml, addr)
	p.WaitReady(t, 30*time.Second, testsupport.HTTPAnswers(p.base+"/", 200))
	return p
}

// startRRWithYAML runs the real rr binary on a full .rr.yaml; pivot listens on addr.
func startRRWithYAML(t *testing.T, yaml string, addr string) *rrProcess {
	t.Helper()
	return &rrProcess{RR: testsupport.StartRR(t, yaml, testsupport.RROptions{StopTimeout: 5 * time.Second}), base: "http://" + addr}
}

// run runs an rr subcommand against the process's config; a failure fails the test.
func (p *rrProcess) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := p.CLI(time.Minute, args...)
	if err != nil {
		t.Fatalf("rr %v: %v\n%s", args, err, out)
	}
	return out
}

func TestSIGTERMDrainsEveryAcceptedRequest(t *testing.T) {
	ls := newLifecycleScript(t)
	p := startRR(t, ls, "  shutdown_timeout: 20s\n  pool:\n    num_workers: 4\n")

	// 16 clients on 4 workers: at SIGTERM, requests are running and queued
	finish := startLoad(t, loadOptions{url: p.base + "/sleep?ms=150", concurrency: 16, maxRequests: 50_000, maxDuration: 40 * time.Second})
	time.Sleep(1500 * time.Millisecond)
	sent := time.Now()
	p.Terminate(t, 30*time.Second)
	exitAfter := time.Since(sent)
	res := finish()
	t.Logf("SIGTERM under load: exited after %s; %s", exitAfter.Round(time.Millisecond), res)
	if res.failed.Load() != 0 {
		t.Fatalf("an accepted request failed during the drain: %s", res)
	}
	if res.ok.Load() < 16 {
		t.Fatalf("too few requests completed to prove anything: %s", res)
	}
}

func TestRRResetUnderLoadFailsNoRequest(t *testing.T) {
	ls := newLifecycleScript(t)
	p := startRR(t, ls, "  pool:\n    num_workers: 2\n")
	finish := startLoad(t, loadOptions{url: p.base + "/sleep?ms=2", concurrency: 6, maxRequests: 100_000, maxDuration: 30 * time.Second})
	for i := 0; i < 3; i++ {
		time.Sleep(300 * time.Millisecond)
		p.run(t, "reset", "pivot")
	}
	time.Sleep(300 * time.Millisecond)
	res := finish()
	t.Logf("3× rr reset under load: %s", res)
	if res.failed.Load() != 0 || res.refused.Load() != 0 || res.ok.Load() < 100 {
		t.Fatalf("rr reset under load must fail no request: %s", res)
	}
}

// pivot.shutdown_delay: on SIGTERM /ready answers 503 at once while requests are still served
// for the delay; only then does the drain start and rr exit.
func TestShutdownDelayLeavesTheLoadBalancerBeforeDraining(t *testing.T) {
	addr, rpcAddr, statusAddr := testsupport.FreeAddr(t), testsupport.FreeAddr(t), testsupport.FreeAddr(t)
	const delay = 2 * time.Second
	p := startRRWithYAML(t, fmt.Sprintf(`version: "3"
rpc:
  listen: tcp://%s
server:
  command: "php %s"
logs:
  level: warn
  mode: production
status:
  address: %s
pivot:
  address: %s
  shutdown_delay: %s
  pool:
    num_workers: 2
`, rpcAddr, testsupport.RepoPath(t, "examples/hello/worker.php"), statusAddr, addr, delay), addr)
	ready := "http://" + statusAddr + "/ready?plugin=pivot"
	p.WaitReady(t, 30*time.Second, testsupport.HTTPAnswers(ready, 200))

	signalled := time.Now()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, time.Second, "/ready to answer 503 after SIGTERM", func() bool {
		resp, body := testsupport.Do(t, "GET", ready, nil, nil)
		return resp.StatusCode == 503 && strings.Contains(string(body), "leaving the load balancer")
	})
	if since := time.Since(signalled); since > 500*time.Millisecond {
		t.Fatalf("/ready took %s to answer 503", since)
	}
	served := 0
	for time.Since(signalled) < delay-500*time.Millisecond {
		resp, body := testsupport.Do(t, "GET", p.base+"/hello", nil, nil)
		if resp.StatusCode != 200 || string(body) != "Hello, World!" {
			t.Fatalf("during shutdown_delay a request got %d %q", resp.StatusCode, body)
		}
		served++
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-p.Exited():
		t.Fatalf("rr exited %s after SIGTERM, before pivot.shutdown_delay (%s) ended", time.Since(signalled), delay)
	default:
	}
	select {
	case <-p.Exited():
		if err := p.Err(); err != nil {
			t.Fatalf("rr exited with %v after SIGTERM\n%s", err, p.Out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("rr did not exit within 30s of the end of the delay\n%s", p.Out.String())
	}
	if took := time.Since(signalled); took < delay {
		t.Fatalf("rr exited %s after SIGTERM: before shutdown_delay (%s)", took, delay)
	}
	t.Logf("%d requests served during the %s delay; /ready answered 503 at once", served, delay)
}
