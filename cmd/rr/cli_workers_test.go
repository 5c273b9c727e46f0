package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	jobsApi "github.com/roadrunner-server/api/v4/plugins/v3/jobs"
)

// These tests run `rr serve` with real PHP workers: examples/hello/worker.php
// (RoadRunner's HTTP worker protocol) behind the stock http plugin, the jobs
// plugin and the pivot plugin.

func helloWorker(t *testing.T) string {
	t.Helper()

	testsupport.RequirePHP(t)
	path := testsupport.RepoPath(t, "examples/hello/worker.php")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the example worker is missing: %v", err)
	}

	return path
}

// writeHelloConfig writes dir's .rr.yaml: RPC on a free port, the hello
// worker, error logs, then plugins (the YAML of the plugins' sections). It
// returns the RPC address, as the CLI's rpcclient dials it.
func writeHelloConfig(t *testing.T, dir, plugins string) string {
	t.Helper()

	rpcAddr := "tcp://" + testsupport.FreeAddr(t)
	writeConfig(t, dir, fmt.Sprintf("version: \"3\"\nrpc:\n  listen: %s\nserver:\n  command: \"php %s\"\nlogs:\n  level: error\n%s",
		rpcAddr, helloWorker(t), plugins))

	return rpcAddr
}

// getPid asks the hello worker behind addr for its pid (GET /pid).
func getPid(t *testing.T, addr string) int64 {
	t.Helper()

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/pid")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()

	var body struct {
		Pid int64 `json:"pid"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /pid: status %d", resp.StatusCode)
	}
	if err = json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET /pid: %v", err)
	}

	return body.Pid
}

func containsPid(pids []int64, pid int64) bool {
	for _, p := range pids {
		if p == pid {
			return true
		}
	}

	return false
}

func equalPids(a, b []int64) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// waitGone waits until none of pids is a running process (bounded).
func waitGone(t *testing.T, pids []int64) {
	t.Helper()

	deadline := time.Now().Add(15 * time.Second)
	for _, pid := range pids {
		for processAlive(int(pid)) {
			if time.Now().After(deadline) {
				t.Errorf("worker %d still running after the server stopped", pid)
				_ = syscall.Kill(int(pid), syscall.SIGKILL)

				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func jobsStates(t *testing.T, addr string) map[string]bool {
	t.Helper()

	var states []*jobsApi.State
	rpcCall(t, addr, "informer.Jobs", "jobs", &states)

	ready := map[string]bool{}
	for _, s := range states {
		ready[s.Pipeline] = s.Ready
	}

	return ready
}

// TestHTTPWorkersResetJobsStop drives the CLI against the stock http and
// jobs plugins: workers (plain and -i), reset, jobs list/pause/resume/
// destroy, then stop through the .pid written by `serve -p`.
func TestHTTPWorkersResetJobsStop(t *testing.T) {
	dir := t.TempDir()
	httpAddr := testsupport.FreeAddr(t)
	addr := writeHelloConfig(t, dir, fmt.Sprintf(`endure:
  grace_period: 10s
http:
  address: %s
  pool:
    num_workers: 2
jobs:
  pool:
    num_workers: 1
  pipelines:
    p1:
      driver: memory
      config:
        priority: 10
    p2:
      driver: memory
      config:
        priority: 10
  consume: [p1, p2]
`, httpAddr))

	s := startServe(t, dir, nil, "-p")
	if list := waitRPC(t, s, addr); !contains(list, "http") || !contains(list, "jobs") {
		t.Fatalf("informer.List = %v, want http and jobs\n%s", list, s.output())
	}
	httpPids := waitWorkers(t, s, addr, "http", 2)
	jobsPids := waitWorkers(t, s, addr, "jobs", 1)

	if pid := getPid(t, httpAddr); !containsPid(httpPids, pid) {
		t.Fatalf("GET /pid answered by %d, not one of the http workers %v", pid, httpPids)
	}

	t.Run("workers", func(t *testing.T) {
		res := runRR(t, dir, nil, "workers")
		if res.code != 0 {
			t.Fatal(res)
		}
		for _, want := range []string{
			"Workers of [http]:", "Workers of [jobs]:", "Jobs of [jobs]:",
			"PID", "STATUS", "EXECS", "MEMORY", "CPU%", "CREATED", "ready",
			"PIPELINE", "DRIVER", "| READY", "p1", "p2", "memory",
		} {
			if !strings.Contains(res.stdout, want) {
				t.Errorf("rr workers output lacks %q\n%s", want, res)
			}
		}
		if strings.Index(res.stdout, "Workers of [http]") > strings.Index(res.stdout, "Workers of [jobs]") {
			t.Errorf("plugins not sorted by name\n%s", res.stdout)
		}

		res = runRR(t, dir, nil, "workers", "http")
		if res.code != 0 || !equalPids(tablePids(t, res.stdout), httpPids) {
			t.Errorf("rr workers http: want pids %v\n%s", httpPids, res)
		}
		if strings.Contains(res.stdout, "Workers of [jobs]") {
			t.Errorf("rr workers http shows other plugins\n%s", res.stdout)
		}
	})

	t.Run("workers -i", func(t *testing.T) {
		cmd := exec.Command(rrBin, "workers", "-i", "http")
		cmd.Dir, cmd.Env = dir, testEnv()
		var out testsupport.SyncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		t.Cleanup(func() { _ = cmd.Process.Kill() })

		time.Sleep(2500 * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("workers -i exited with %v\n%s", err, out.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("workers -i did not exit on SIGINT\n%s", out.String())
		}
		if n := strings.Count(out.String(), "Workers of [http]"); n < 2 {
			t.Errorf("workers -i drew %d frames in 2.5 s, want >= 2\n%s", n, out.String())
		}
	})

	t.Run("reset", func(t *testing.T) {
		res := runRR(t, dir, nil, "reset", "http")
		if res.code != 0 || !strings.Contains(res.stderr, "resetting plugin: [http]") || !strings.Contains(res.stderr, "plugin reset: [http]") {
			t.Fatalf("rr reset http: %s", res)
		}
		newPids := waitWorkers(t, s, addr, "http", 2)
		for _, pid := range newPids {
			if containsPid(httpPids, pid) {
				t.Errorf("worker %d survived the reset (before %v, after %v)", pid, httpPids, newPids)
			}
		}
		if pid := getPid(t, httpAddr); !containsPid(newPids, pid) {
			t.Errorf("GET /pid answered by %d, not one of the new workers %v", pid, newPids)
		}
		if !equalPids(workerPids(t, addr, "jobs"), jobsPids) {
			t.Errorf("rr reset http also reset the jobs workers")
		}
		httpPids = newPids

		// all plugins, silently
		res = runRR(t, dir, nil, "-s", "reset")
		if res.code != 0 || res.stderr != "" {
			t.Fatalf("rr -s reset: %s", res)
		}
		newJobs := waitWorkers(t, s, addr, "jobs", 1)
		if equalPids(newJobs, jobsPids) {
			t.Errorf("rr reset (all) did not reset the jobs workers: %v", newJobs)
		}
		httpPids = waitWorkers(t, s, addr, "http", 2)

		res = runRR(t, dir, nil, "reset", "nosuch", "http")
		if res.code != 1 || !strings.Contains(res.stderr, "failed to reset plugin [nosuch]") ||
			!strings.Contains(res.stderr, "no such plugin") || !strings.Contains(res.stderr, "failed to reset: nosuch") ||
			!strings.Contains(res.stderr, "plugin reset: [http]") {
			t.Fatalf("rr reset nosuch http: want exit 1 naming nosuch, http reset anyway\n%s", res)
		}
		httpPids = waitWorkers(t, s, addr, "http", 2)
	})

	t.Run("jobs", func(t *testing.T) {
		res := runRR(t, dir, nil, "jobs", "list")
		if res.code != 0 || !strings.Contains(res.stdout, "PIPELINE(S)") || !strings.Contains(res.stdout, "p1") || !strings.Contains(res.stdout, "p2") {
			t.Fatalf("rr jobs list: %s", res)
		}

		res = runRR(t, dir, nil, "jobs", "pause", "p1")
		if res.code != 0 || !strings.Contains(res.stdout, "p1") {
			t.Fatalf("rr jobs pause p1: %s", res)
		}
		if st := jobsStates(t, addr); st["p1"] || !st["p2"] {
			t.Fatalf("after pause p1: ready = %v", st)
		}
		if res = runRR(t, dir, nil, "workers", "jobs"); !strings.Contains(res.stdout, "PAUSED/STOPPED") {
			t.Errorf("rr workers jobs does not show the paused pipeline\n%s", res)
		}

		// the official flag form
		if res = runRR(t, dir, nil, "jobs", "--resume", "p1"); res.code != 0 {
			t.Fatalf("rr jobs --resume p1: %s", res)
		}
		if st := jobsStates(t, addr); !st["p1"] || !st["p2"] {
			t.Fatalf("after resume p1: ready = %v", st)
		}

		if res = runRR(t, dir, nil, "-s", "jobs", "destroy", "p2"); res.code != 0 || res.stdout != "" {
			t.Fatalf("rr -s jobs destroy p2: %s", res)
		}
		res = runRR(t, dir, nil, "jobs", "--list")
		if res.code != 0 || !strings.Contains(res.stdout, "p1") || strings.Contains(res.stdout, "p2") {
			t.Fatalf("rr jobs --list after destroying p2: %s", res)
		}

		if res = runRR(t, dir, nil, "jobs", "pause", "nosuch"); res.code != 1 || !strings.Contains(res.stderr, "jobs.Pause") {
			t.Errorf("rr jobs pause nosuch: want exit 1 with the RPC error\n%s", res)
		}
	})

	t.Run("stop", func(t *testing.T) {
		pidFile := filepath.Join(dir, ".pid")
		if _, err := os.Stat(pidFile); err != nil {
			t.Fatalf("serve -p wrote no .pid: %v", err)
		}

		workers := append(append([]int64{}, httpPids...), workerPids(t, addr, "jobs")...)

		res := runRR(t, dir, nil, "stop")
		if res.code != 0 || !strings.Contains(res.stderr, "(from .pid)") {
			t.Fatalf("rr stop: %s", res)
		}
		if code := s.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("serve exit code %d after rr stop\n%s", code, s.output())
		}
		if !strings.Contains(s.stdout.String(), "stop signal received") {
			t.Errorf("serve did not report the stop signal\n%s", s.output())
		}
		if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
			t.Errorf(".pid not removed: %v", err)
		}
		waitGone(t, workers)
	})
}

// TestPivotWorkersResetStop: the CLI against the pivot plugin. Skipped only
// when the binary's pivot plugin does not register with the informer.
func TestPivotWorkersResetStop(t *testing.T) {
	tests := []struct {
		name    string
		pidFile bool   // serve -p
		source  string // how rr stop must find the server
	}{
		{name: "stop via .pid", pidFile: true, source: "(from .pid)"},
		{name: "stop via RPC pivot.Pid", pidFile: false, source: "(from RPC pivot.Pid)"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			pivotAddr := testsupport.FreeAddr(t)
			addr := writeHelloConfig(t, dir, fmt.Sprintf(`endure:
  grace_period: 10s
pivot:
  address: %s
  pool:
    num_workers: 2
`, pivotAddr))

			var args []string
			if tt.pidFile {
				args = append(args, "-p")
			}
			s := startServe(t, dir, nil, args...)

			if list := waitRPC(t, s, addr); !contains(list, "pivot") {
				t.Skipf("SKIP: the pivot plugin is not active in this binary (informer.List = %v); rr workers/reset/stop against pivot untested\n%s", list, s.output())
			}

			pids := waitWorkers(t, s, addr, "pivot", 2)

			res := runRR(t, dir, nil, "workers", "pivot")
			if res.code != 0 || !strings.Contains(res.stdout, "Workers of [pivot]:") {
				t.Fatalf("rr workers pivot: %s", res)
			}
			if got := tablePids(t, res.stdout); len(got) != 2 || !equalPids(got, pids) {
				t.Fatalf("rr workers pivot shows pids %v, want the 2 workers %v\n%s", got, pids, res.stdout)
			}
			if res = runRR(t, dir, nil, "workers"); !strings.Contains(res.stdout, "Workers of [pivot]:") {
				t.Errorf("rr workers (all) lacks pivot\n%s", res)
			}

			if pid := getPid(t, pivotAddr); !containsPid(pids, pid) {
				t.Fatalf("GET /pid on pivot answered by %d, not one of %v", pid, pids)
			}

			res = runRR(t, dir, nil, "reset", "pivot")
			if res.code != 0 || !strings.Contains(res.stderr, "plugin reset: [pivot]") {
				t.Fatalf("rr reset pivot: %s", res)
			}
			newPids := waitWorkers(t, s, addr, "pivot", 2)
			for _, pid := range newPids {
				if containsPid(pids, pid) {
					t.Fatalf("pivot worker %d survived rr reset pivot (before %v, after %v)", pid, pids, newPids)
				}
			}
			if res = runRR(t, dir, nil, "workers", "pivot"); !equalPids(tablePids(t, res.stdout), newPids) {
				t.Errorf("rr workers pivot after reset: want %v\n%s", newPids, res)
			}
			if pid := getPid(t, pivotAddr); !containsPid(newPids, pid) {
				t.Errorf("GET /pid after reset answered by %d, not one of %v", pid, newPids)
			}
			waitGone(t, pids)

			res = runRR(t, dir, nil, "stop")
			if res.code != 0 || !strings.Contains(res.stderr, tt.source) {
				t.Fatalf("rr stop: want exit 0 and %q\n%s", tt.source, res)
			}
			if code := s.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("serve exit code %d after rr stop\n%s", code, s.output())
			}
			if !strings.Contains(s.stdout.String(), "stop signal received") {
				t.Errorf("serve did not report the stop signal\n%s", s.output())
			}
			if _, err := os.Stat(filepath.Join(dir, ".pid")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf(".pid left behind: %v", err)
			}
			waitGone(t, newPids)
		})
	}
}

// TestSecondSignalForcesExit: a second signal while the container is still
// stopping (the server plugin alone takes a second) exits at once with 1.
func TestSecondSignalForcesExit(t *testing.T) {
	dir := t.TempDir()
	addr := writeHelloConfig(t, dir, fmt.Sprintf(`http:
  address: %s
  pool:
    num_workers: 1
`, testsupport.FreeAddr(t)))

	s := startServe(t, dir, nil, "-p")
	waitRPC(t, s, addr)
	pids := waitWorkers(t, s, addr, "http", 1)

	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	_ = s.cmd.Process.Signal(syscall.SIGINT)

	if code := s.wait(t, 10*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1\n%s", code, s.output())
	}
	if !strings.Contains(s.stdout.String(), "exit forced") {
		t.Errorf("no \"exit forced\" message\n%s", s.output())
	}
	if _, err := os.Stat(filepath.Join(dir, ".pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf(".pid left behind after the forced exit: %v", err)
	}
	// the workers' pipes close with rr; they must not outlive it
	waitGone(t, pids)
}
