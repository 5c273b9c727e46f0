package pivot_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Tests that drive the built ./rr binary as a process: signals and CLI commands reach the real
// distribution, exactly as an operator's would.

var (
	rrOnce sync.Once
	rrBin  string
	rrErr  error
	rrDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if rrDir != "" {
		_ = os.RemoveAll(rrDir)
	}
	os.Exit(code)
}

// buildRR builds cmd/rr once per test binary.
func buildRR(t testing.TB) string {
	t.Helper()
	rrOnce.Do(func() {
		rrDir, rrErr = os.MkdirTemp("", "pivot-rr-")
		if rrErr != nil {
			return
		}
		rrBin = filepath.Join(rrDir, "rr")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", rrBin, "./cmd/rr").CombinedOutput()
		if err != nil {
			rrErr = fmt.Errorf("go build ./cmd/rr: %v\n%s", err, out)
		}
	})
	if rrErr != nil {
		t.Fatal(rrErr)
	}
	return rrBin
}

type rrProcess struct {
	cmd    *exec.Cmd
	cfg    string
	base   string
	out    *bytes.Buffer
	exited chan error
}

// startRR writes a .rr.yaml for the lifecycle worker and runs `rr serve` on it.
func startRR(t *testing.T, ls *lifecycleScript, pivotYAML string) *rrProcess {
	t.Helper()
	addr, rpcAddr := freePort(t), freePort(t)
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
	waitFor(t, 30*time.Second, "rr serve to answer", func() bool {
		select {
		case err := <-p.exited:
			t.Fatalf("rr serve exited: %v\n%s", err, p.out.String())
		default:
		}
		resp, err := client.Get(p.base + "/") //nolint:noctx
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p
}

// startRRWithYAML runs the real rr binary on a full .rr.yaml; the HTTP base is returned.
func startRRWithYAML(t *testing.T, yaml string, addr string) *rrProcess {
	t.Helper()
	requirePHP(t)
	bin := buildRR(t)
	cfg := filepath.Join(t.TempDir(), ".rr.yaml")
	writeFile(t, cfg, yaml)
	out := &bytes.Buffer{}
	cmd := exec.Command(bin, "serve", "-c", cfg)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &rrProcess{cmd: cmd, cfg: cfg, base: "http://" + addr, out: out, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
		}
		if t.Failed() {
			t.Logf("rr output:\n%s", out.String())
		}
	})
	return p
}

func (p *rrProcess) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(rrBin, append(args, "-c", p.cfg)...).CombinedOutput()
	if err != nil {
		t.Fatalf("rr %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestSIGTERMDrainsEveryAcceptedRequest(t *testing.T) {
	ls := newLifecycleScript(t)
	p := startRR(t, ls, "  shutdown_timeout: 20s\n  pool:\n    num_workers: 4\n")

	// 16 clients on 4 workers: at SIGTERM, requests are running and queued
	finish := startLoad(t, loadOptions{url: p.base + "/sleep?ms=150", concurrency: 16, maxRequests: 50_000, maxDuration: 40 * time.Second})
	time.Sleep(1500 * time.Millisecond)
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("rr exited with %v after SIGTERM\n%s", err, p.out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("rr did not exit within 30s of SIGTERM\n%s", p.out.String())
	}
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
