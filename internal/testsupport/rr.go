package testsupport

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RR is one running `rr serve`: its config, its output, and a way to stop it that leaves no
// PHP worker behind (rr and its workers share a process group).
type RR struct {
	Bin    string
	Config string // the .rr.yaml it serves
	Dir    string // a directory of its own (the config's)
	Cmd    *exec.Cmd
	Out    *SyncBuffer // rr's stdout and stderr
	exited chan struct{}
	err    error
}

// RROptions shape how rr runs.
type RROptions struct {
	// WorkDir is rr's -w (the directory server.command runs in); default: Dir.
	WorkDir string
	// Env is added to rr's environment (NAME=value).
	Env []string
	// Output also receives rr's output (e.g. a file kept for later).
	Output io.Writer
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL (default 15 s).
	StopTimeout time.Duration
	// Args are added to `rr serve -c CONFIG -w DIR` (e.g. -o key=value overrides).
	Args []string
}

// StartRR writes yaml to .rr.yaml in a fresh directory and runs `rr serve` on it with the
// binary under test. The test's cleanup stops it and logs its output when the test failed.
func StartRR(t testing.TB, yaml string, o RROptions) *RR {
	t.Helper()
	RequirePHP(t)
	dir := t.TempDir()
	r := &RR{Bin: RRBinary(t), Config: filepath.Join(dir, ".rr.yaml"), Dir: dir, Out: &SyncBuffer{},
		exited: make(chan struct{})}
	WriteFile(t, r.Config, yaml)
	workDir := o.WorkDir
	if workDir == "" {
		workDir = dir
	}
	r.Cmd = exec.Command(r.Bin, append([]string{"serve", "-c", r.Config, "-w", workDir}, o.Args...)...)
	r.Cmd.Env = append(Env(), o.Env...)
	var out io.Writer = r.Out
	if o.Output != nil {
		out = io.MultiWriter(r.Out, o.Output)
	}
	r.Cmd.Stdout, r.Cmd.Stderr = out, out
	// the PHP workers join rr's group; Pdeathsig: no rr outlives a killed test binary
	r.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := r.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.err = r.Cmd.Wait()
		close(r.exited)
	}()
	stopTimeout := o.StopTimeout
	if stopTimeout == 0 {
		stopTimeout = 15 * time.Second
	}
	t.Cleanup(func() {
		r.Stop(stopTimeout)
		if t.Failed() {
			t.Logf("rr output (%s):\n%s", r.Config, Tail(r.Out.String(), 48<<10))
		}
	})
	return r
}

// Exited is closed when rr has exited; Err is then its exit status.
func (r *RR) Exited() <-chan struct{} { return r.exited }

// Err is rr's exit status once Exited is closed.
func (r *RR) Err() error { return r.err }

// Alive tells whether rr still runs.
func (r *RR) Alive() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM, waits up to timeout, then kills rr's whole process group (and any PHP
// worker left behind).
func (r *RR) Stop(timeout time.Duration) {
	pgid := r.Cmd.Process.Pid
	if r.Alive() {
		_ = r.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(timeout):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-r.exited
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// Kill ends rr and its workers at once (SIGKILL to the group).
func (r *RR) Kill() {
	_ = syscall.Kill(-r.Cmd.Process.Pid, syscall.SIGKILL)
	<-r.exited
}

// WaitReady polls ready until it says yes; the test fails when rr exits first or after timeout,
// with ready's last answer.
func (r *RR) WaitReady(t testing.TB, timeout time.Duration, ready func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		if !r.Alive() {
			t.Fatalf("rr serve exited during startup: %v\n%s", r.err, Tail(r.Out.String(), 16<<10))
		}
		ok, answer := ready()
		if ok {
			r.checkSchema(t)
			return
		}
		last = answer
		if time.Now().After(deadline) {
			t.Fatalf("rr was not ready within %s (last answer: %s)\n%s", timeout, last, Tail(r.Out.String(), 16<<10))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// HTTPAnswers is a WaitReady check: GET url answers with status want.
func HTTPAnswers(url string, want int) func() (bool, string) {
	return func() (bool, string) {
		resp, err := QuickClient.Get(url) //nolint:noctx
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		_ = resp.Body.Close()
		return resp.StatusCode == want, fmt.Sprintf("status %d, body %q", resp.StatusCode, b)
	}
}

// CLI runs an rr subcommand (`rr workers`, `rr reset`, ...) against this rr's config.
func (r *RR) CLI(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.Bin, append(args, "-c", r.Config)...)
	cmd.Env = Env()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("rr %s did not finish within %s", strings.Join(args, " "), timeout)
	}
	return string(out), err
}

// Env is this process's environment without the variables that change rr's behaviour (RR_*,
// systemd's NOTIFY_SOCKET, DOTENV_PATH), and without colours in rr's output.
func Env() []string {
	env := []string{"NO_COLOR=1"}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "RR_") || name == "NOTIFY_SOCKET" || name == "DOTENV_PATH" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Tail is the last max bytes of s.
func Tail(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return "...\n" + s[len(s)-max:]
}

// Terminate sends SIGTERM (what `rr stop`, systemd and Kubernetes send) and fails the test
// unless rr exits with status 0 within the given time.
func (r *RR) Terminate(t testing.TB, within time.Duration) {
	t.Helper()
	if err := r.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.exited:
		if r.err != nil {
			t.Fatalf("rr exited with %v after SIGTERM\n%s", r.err, Tail(r.Out.String(), 16<<10))
		}
	case <-time.After(within):
		t.Fatalf("rr did not exit within %s of SIGTERM\n%s", within, Tail(r.Out.String(), 16<<10))
	}
}
