package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/cmd/rr/internal/rpcclient"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"github.com/roadrunner-server/informer/v4"
)

// The CLI tests build ./cmd/rr once and run the binary for real. They build their own binary,
// not testsupport.RRBinary's: --version must show the build time they set.

const testBuildTime = "2024-02-29T00:00:00Z"

var rrBin string // the rr binary under test

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pivot-rr-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)

		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()

	rrBin = filepath.Join(dir, "rr")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	build := exec.CommandContext(ctx, "go", "build", "-o", rrBin, "-ldflags", "-X main.buildTime="+testBuildTime, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err = build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building the rr binary: %v\n", err)

		return 1
	}

	return m.Run()
}

// testEnv is the environment of every process started by the tests:
// testsupport.Env (no variable that would change rr's behaviour) without the
// tests' own PIVOT_TEST_* variables and any NO_COLOR but its own, plus extra.
func testEnv(extra ...string) []string {
	env := []string{"NO_COLOR=1"}
	for _, kv := range testsupport.Env() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "PIVOT_TEST_") || name == "NO_COLOR" {
			continue
		}
		env = append(env, kv)
	}

	return append(env, extra...)
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit code %d\n--- stdout:\n%s\n--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// runRR runs the binary in dir to completion (bounded by 60 s).
func runRR(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cmd := exec.CommandContext(ctx, rrBin, args...)
	cmd.Dir = dir
	cmd.Env = testEnv(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.code = exitErr.ExitCode()
	default:
		t.Fatalf("rr %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("rr %s: timed out\n%s", strings.Join(args, " "), res)
	}

	return res
}

// server is a running `rr serve`.
type rrServer struct {
	cmd    *exec.Cmd
	stdout testsupport.SyncBuffer
	stderr testsupport.SyncBuffer
	done   chan struct{}
	err    error // Wait's result, valid after done is closed
}

func (s *rrServer) output() string {
	return "--- serve stdout:\n" + s.stdout.String() + "\n--- serve stderr:\n" + s.stderr.String()
}

func (s *rrServer) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// wait waits for the server to exit and returns its exit code.
func (s *rrServer) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()

	select {
	case <-s.done:
	case <-time.After(timeout):
		t.Fatalf("rr serve did not exit within %s\n%s", timeout, s.output())
	}

	var exitErr *exec.ExitError
	switch {
	case s.err == nil:
		return 0
	case errors.As(s.err, &exitErr):
		return exitErr.ExitCode()
	default:
		t.Fatalf("rr serve: %v", s.err)

		return -1
	}
}

// startServe starts `rr <args...> serve` in dir; the process is stopped
// (SIGTERM, then SIGKILL) when the test ends.
func startServe(t *testing.T, dir string, env []string, args ...string) *rrServer {
	t.Helper()

	s := &rrServer{done: make(chan struct{})}
	s.cmd = exec.Command(rrBin, append(args, "serve")...)
	s.cmd.Dir = dir
	s.cmd.Env = testEnv(env...)
	s.cmd.Stdout, s.cmd.Stderr = &s.stdout, &s.stderr

	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()

	t.Cleanup(func() {
		if s.exited() {
			return
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})

	return s
}

// writeConfig writes the .rr.yaml that rr finds in dir and returns its path.
func writeConfig(t *testing.T, dir, content string) string {
	t.Helper()

	path := filepath.Join(dir, ".rr.yaml")
	testsupport.WriteFile(t, path, content)

	return path
}

// waitRPC waits until the server answers informer.List on addr and returns
// that list.
func waitRPC(t *testing.T, s *rrServer, addr string) []string {
	t.Helper()

	deadline := time.Now().Add(30 * time.Second)
	for {
		client, err := rpcclient.Dial(addr)
		if err == nil {
			var list []string
			err = client.Call("informer.List", true, &list)
			_ = client.Close()
			if err == nil {
				sort.Strings(list)

				return list
			}
		}

		if s.exited() {
			t.Fatalf("rr serve exited before its RPC came up: %v\n%s", s.err, s.output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("RPC at %s not ready: %v\n%s", addr, err, s.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func rpcCall(t *testing.T, addr, method string, arg, reply any) {
	t.Helper()

	client, err := rpcclient.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Close() }()

	if err = client.Call(method, arg, reply); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}

// workerPids asks informer.Workers over RPC for the pids of a plugin.
func workerPids(t *testing.T, addr, plugin string) []int64 {
	t.Helper()

	list := &informer.WorkerList{}
	rpcCall(t, addr, "informer.Workers", plugin, list)

	pids := make([]int64, 0, len(list.Workers))
	for _, w := range list.Workers {
		pids = append(pids, w.Pid)
	}
	sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })

	return pids
}

// waitWorkers waits until a plugin reports n ready workers.
func waitWorkers(t *testing.T, s *rrServer, addr, plugin string, n int) []int64 {
	t.Helper()

	deadline := time.Now().Add(30 * time.Second)
	for {
		list := &informer.WorkerList{}
		rpcCall(t, addr, "informer.Workers", plugin, list)

		ready := 0
		for _, w := range list.Workers {
			if w.StatusStr == "ready" {
				ready++
			}
		}
		if ready == n && len(list.Workers) == n {
			return workerPids(t, addr, plugin)
		}

		if s.exited() || time.Now().After(deadline) {
			t.Fatalf("%s: want %d ready workers, have %+v\n%s", plugin, n, list.Workers, s.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var tableRow = regexp.MustCompile(`(?m)^\|\s+(\d+)\s+\|`)

// tablePids extracts the PID column of the workers tables in out.
func tablePids(t *testing.T, out string) []int64 {
	t.Helper()

	var pids []int64
	for _, m := range tableRow.FindAllStringSubmatch(out, -1) {
		pid, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })

	return pids
}

func TestVersion(t *testing.T) {
	res := runRR(t, t.TempDir(), nil, "--version")
	if res.code != 0 {
		t.Fatal(res)
	}

	want := fmt.Sprintf("rr version %s (build time: %s, %s), OS: %s, arch: %s\npivot plugin version %s\n",
		pivot.RRVersion, testBuildTime, runtime.Version(), runtime.GOOS, runtime.GOARCH, pivot.Version)
	if res.stdout != want {
		t.Fatalf("--version printed\n%q\nwant\n%q", res.stdout, want)
	}
	if pivot.RRVersion != "2023.3.12" {
		t.Errorf("pivot.RRVersion = %q", pivot.RRVersion)
	}
}

func TestHelpListsCommands(t *testing.T) {
	res := runRR(t, t.TempDir(), nil, "--help")
	if res.code != 0 {
		t.Fatal(res)
	}
	for _, want := range []string{"serve", "workers", "reset", "stop", "jobs", "config", "--config", "--WorkDir", "--dotenv", "--debug", "--override", "--silent", "--pid"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("--help lacks %q\n%s", want, res.stdout)
		}
	}
}

// TestServeConfigErrors: serve must fail fast with exit code 1 and a message
// naming the problem.
func TestServeConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		yaml   string // "" = no config file at all
		args   []string
		expect []string // substrings of stderr
	}{
		{
			name:   "missing config file",
			expect: []string{"failed to read the configuration file", ".rr.yaml", "no such file or directory"},
		},
		{
			name:   "no version",
			yaml:   "logs:\n  level: error\n",
			expect: []string{"configuration file should contain a version"},
		},
		{
			name:   "invalid yaml",
			yaml:   "version: \"3\"\nrpc:\n  listen: [unclosed\n",
			expect: []string{"failed to read the configuration file", "While parsing config", "yaml: line"},
		},
		{
			name:   "invalid rpc.listen",
			yaml:   "version: \"3\"\nrpc:\n  listen: bogus\n",
			expect: []string{"rpc_plugin_init", "invalid socket DSN"},
		},
		{
			name:   "invalid http pool value",
			yaml:   "version: \"3\"\nserver:\n  command: \"php -v\"\nhttp:\n  address: 127.0.0.1:1\n  pool:\n    num_workers: many\n",
			expect: []string{"http_plugin_init", "pool.num_workers"},
		},
		{
			name:   "invalid endure section",
			yaml:   "version: \"3\"\nendure:\n  grace_period: forever\n",
			expect: []string{"endure", "grace_period"},
		},
		{
			name:   "invalid override",
			yaml:   "version: \"3\"\n",
			args:   []string{"-o", "no-equals-sign"},
			expect: []string{"invalid override `no-equals-sign`"},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.yaml != "" {
				writeConfig(t, dir, tt.yaml)
			}

			res := runRR(t, dir, nil, append(tt.args, "serve")...)
			if res.code != 1 {
				t.Fatalf("want exit code 1\n%s", res)
			}
			for _, want := range tt.expect {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("stderr lacks %q\n%s", want, res)
				}
			}
			if strings.Contains(res.stdout, "server started") {
				t.Errorf("the server claims to have started\n%s", res)
			}
		})
	}
}

func TestRPCCommandsWithoutRPCSection(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, "version: \"3\"\nlogs:\n  level: error\n")

	for _, args := range [][]string{{"workers"}, {"reset"}, {"jobs", "list"}, {"jobs", "--list"}} {
		res := runRR(t, dir, nil, args...)
		if res.code != 1 || !strings.Contains(res.stderr, "rpc service not specified in the configuration") {
			t.Errorf("rr %s: want exit 1 and the missing rpc section error\n%s", strings.Join(args, " "), res)
		}
	}
}

func TestRPCCommandsServerDown(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, fmt.Sprintf("version: \"3\"\nrpc:\n  listen: tcp://%s\n", testsupport.FreeAddr(t)))

	for _, args := range [][]string{{"workers"}, {"reset", "http"}, {"jobs", "list"}} {
		res := runRR(t, dir, nil, args...)
		if res.code != 1 || !strings.Contains(res.stderr, "failed to connect to the RoadRunner RPC") {
			t.Errorf("rr %s: want exit 1 and a connection error\n%s", strings.Join(args, " "), res)
		}
	}
}

func TestJobsUsageErrors(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, "version: \"3\"\nrpc:\n  listen: tcp://127.0.0.1:1\n")

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"jobs"}, "command should be in the form of"},
		{[]string{"jobs", "pause"}, "rr jobs pause pipe1,pipe2"},
		{[]string{"jobs", "--destroy"}, "rr jobs destroy pipe1,pipe2"},
		{[]string{"jobs", "resume", " , "}, "rr jobs resume pipe1,pipe2"},
	}
	for _, tt := range tests {
		res := runRR(t, dir, nil, tt.args...)
		if res.code != 1 || !strings.Contains(res.stderr, tt.want) {
			t.Errorf("rr %s: want exit 1 and %q\n%s", strings.Join(tt.args, " "), tt.want, res)
		}
	}
}

func TestSplitPipelines(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{"a"}, []string{"a"}},
		{[]string{"a,b"}, []string{"a", "b"}},
		{[]string{"a", "b,c", " d "}, []string{"a", "b", "c", "d"}},
		{[]string{",", ""}, nil},
	}
	for _, tt := range tests {
		got := splitPipelines(tt.in)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("splitPipelines(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestEnvAndOverridesReachServerAndCLI: ${ENV} substitution and -o overrides
// reach the config plugin of `rr serve` (checked with rpc.Config, the whole
// config as the server sees it) and the CLI's own RPC address lookup.
func TestEnvAndOverridesReachServerAndCLI(t *testing.T) {
	dir := t.TempDir()
	hostPort := testsupport.FreeAddr(t)
	_, port, _ := net.SplitHostPort(hostPort)
	writeConfig(t, dir, `version: "3"
rpc:
  listen: "tcp://127.0.0.1:${PIVOT_TEST_RPC_PORT}"
logs:
  level: error
endure:
  grace_period: 5s
custom:
  from_env: "${PIVOT_TEST_VALUE}"
  with_default: "${PIVOT_TEST_UNSET:-fallback}"
  overridden: original
  sibling: kept
`)

	env := []string{"PIVOT_TEST_RPC_PORT=" + port, "PIVOT_TEST_VALUE=hello-from-env"}
	s := startServe(t, dir, env, "-o", "custom.overridden=from-cli", "-o", "custom.added=${PIVOT_TEST_VALUE}!")
	addr := "tcp://" + hostPort
	waitRPC(t, s, addr)

	var raw []byte
	rpcCall(t, addr, "rpc.Config", true, &raw)
	var cfg struct {
		Custom map[string]string `json:"custom"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("rpc.Config: %v\n%s", err, raw)
	}
	want := map[string]string{
		"from_env":     "hello-from-env",
		"with_default": "fallback",
		"overridden":   "from-cli",
		"sibling":      "kept",
		"added":        "hello-from-env!",
	}
	for k, v := range want {
		if cfg.Custom[k] != v {
			t.Errorf("server config custom.%s = %q, want %q (custom: %v)", k, cfg.Custom[k], v, cfg.Custom)
		}
	}

	var version string
	rpcCall(t, addr, "rpc.Version", true, &version)
	if version != pivot.RRVersion {
		t.Errorf("rpc.Version = %q, want %q", version, pivot.RRVersion)
	}

	// The CLI finds the server through the same env substitution...
	if res := runRR(t, dir, env, "workers"); res.code != 0 {
		t.Errorf("workers with the env var: %s", res)
	}
	// ...fails without it...
	if res := runRR(t, dir, nil, "workers"); res.code != 1 || !strings.Contains(res.stderr, "failed to connect") {
		t.Errorf("workers without the env var should fail to connect: %s", res)
	}
	// ...and an -o override (env-expanded as well) replaces it.
	if res := runRR(t, dir, nil, "-o", "rpc.listen="+addr, "workers"); res.code != 0 {
		t.Errorf("workers with -o rpc.listen: %s", res)
	}
	if res := runRR(t, dir, []string{"PIVOT_TEST_OTHER=" + port}, "-o", "rpc.listen=tcp://127.0.0.1:${PIVOT_TEST_OTHER}", "workers"); res.code != 0 {
		t.Errorf("workers with an env-expanded -o rpc.listen: %s", res)
	}
	// RR_ prefixed variables override keys too, as in the config plugin.
	if res := runRR(t, dir, []string{"RR_RPC_LISTEN=" + addr}, "workers"); res.code != 0 {
		t.Errorf("workers with RR_RPC_LISTEN: %s", res)
	}

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("serve exit code %d after SIGTERM\n%s", code, s.output())
	}
	for _, want := range []string{"[INFO] RoadRunner server started; version: 2023.3.12, buildtime: " + testBuildTime, "stop signal received, grace timeout is: 5 seconds"} {
		if !strings.Contains(s.stdout.String(), want) {
			t.Errorf("serve stdout lacks %q\n%s", want, s.output())
		}
	}
}

// TestSilentServe: -s suppresses the startup message.
func TestSilentServe(t *testing.T) {
	dir := t.TempDir()
	addr := "tcp://" + testsupport.FreeAddr(t)
	writeConfig(t, dir, fmt.Sprintf("version: \"3\"\nrpc:\n  listen: %s\nlogs:\n  level: error\n", addr))

	s := startServe(t, dir, nil, "-s")
	waitRPC(t, s, addr)
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	if code := s.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d\n%s", code, s.output())
	}
	if strings.Contains(s.stdout.String(), "server started") {
		t.Errorf("-s printed the startup message\n%s", s.output())
	}
}

// TestPidFileWorkDirDotenv: `serve -p -w DIR --dotenv FILE` writes DIR/.pid,
// `stop -w DIR` signals that pid, and the server removes .pid on exit.
func TestPidFileWorkDirDotenv(t *testing.T) {
	cfgDir, workDir, elsewhere := t.TempDir(), t.TempDir(), t.TempDir()
	hostPort := testsupport.FreeAddr(t)
	_, port, _ := net.SplitHostPort(hostPort)
	cfg := writeConfig(t, cfgDir, "version: \"3\"\nrpc:\n  listen: tcp://127.0.0.1:${PIVOT_TEST_DOTENV_PORT}\nlogs:\n  level: error\n")
	dotenv := filepath.Join(elsewhere, "test.env")
	if err := os.WriteFile(dotenv, []byte("PIVOT_TEST_DOTENV_PORT="+port+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	s := startServe(t, elsewhere, nil, "-c", cfg, "-w", workDir, "--dotenv", dotenv, "-p")
	waitRPC(t, s, "tcp://"+hostPort)

	pidFile := filepath.Join(workDir, ".pid")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf(".pid not written to -w: %v\n%s", err, s.output())
	}
	if string(data) != strconv.Itoa(s.cmd.Process.Pid) {
		t.Fatalf(".pid = %q, want %d", data, s.cmd.Process.Pid)
	}
	if _, err = os.Stat(filepath.Join(cfgDir, ".pid")); err == nil {
		t.Errorf(".pid written to the config dir despite -w")
	}

	// DOTENV_PATH works like --dotenv for the CLI.
	if res := runRR(t, elsewhere, []string{"DOTENV_PATH=" + dotenv}, "-c", cfg, "workers"); res.code != 0 {
		t.Errorf("workers with DOTENV_PATH: %s", res)
	}

	res := runRR(t, elsewhere, nil, "-c", cfg, "-w", workDir, "stop")
	if res.code != 0 || !strings.Contains(res.stderr, fmt.Sprintf("stopping process with PID: %d", s.cmd.Process.Pid)) {
		t.Fatalf("stop: %s", res)
	}
	if code := s.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("serve exit code %d after rr stop\n%s", code, s.output())
	}
	if _, err = os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf(".pid not removed after a clean exit: %v", err)
	}
}

// TestStopWithoutServer: no .pid and no server → a clear error naming both
// ways rr stop looked for the server; a stale .pid is reported as such.
func TestStopWithoutServer(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, fmt.Sprintf("version: \"3\"\nrpc:\n  listen: tcp://%s\n", testsupport.FreeAddr(t)))

	res := runRR(t, dir, nil, "stop")
	if res.code != 1 {
		t.Fatalf("want exit code 1: %s", res)
	}
	for _, want := range []string{"cannot find the RoadRunner server to stop", "no .pid file in " + dir, "rr serve -p", "failed to connect"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q\n%s", want, res)
		}
	}

	// a .pid naming a process that has exited
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".pid"), []byte(strconv.Itoa(done.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	res = runRR(t, dir, nil, "stop")
	if res.code != 1 || !strings.Contains(res.stderr, "stale .pid file") {
		t.Fatalf("want exit 1 and a stale .pid error: %s", res)
	}

	// garbage in .pid
	if err := os.WriteFile(filepath.Join(dir, ".pid"), []byte("not-a-pid"), 0o600); err != nil {
		t.Fatal(err)
	}
	res = runRR(t, dir, nil, "stop")
	if res.code != 1 || !strings.Contains(res.stderr, `invalid pid "not-a-pid"`) {
		t.Fatalf("want exit 1 and an invalid pid error: %s", res)
	}
}

// TestPluginServeErrorExits: an error a plugin reports after start (metrics
// cannot bind its address) stops the server with exit code 1, naming the
// error and the plugin.
func TestPluginServeErrorExits(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = busy.Close() }()

	dir := t.TempDir()
	writeConfig(t, dir, fmt.Sprintf("version: \"3\"\nrpc:\n  listen: tcp://%s\nlogs:\n  level: error\nendure:\n  grace_period: 5s\nmetrics:\n  address: %s\n",
		testsupport.FreeAddr(t), busy.Addr()))

	s := startServe(t, dir, nil, "-p")
	if code := s.wait(t, 30*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1\n%s", code, s.output())
	}
	for _, want := range []string{"error: listen tcp " + busy.Addr().String(), "address already in use", "plugin: *metrics.Plugin"} {
		if !strings.Contains(s.stderr.String(), want) {
			t.Errorf("stderr lacks %q\n%s", want, s.output())
		}
	}
	if _, err = os.Stat(filepath.Join(dir, ".pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf(".pid left behind after the error exit: %v", err)
	}
}
