package pivot_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
	configImpl "github.com/roadrunner-server/config/v4"
	"github.com/roadrunner-server/endure/v2"
	"github.com/roadrunner-server/kv/v4"
	"github.com/roadrunner-server/logger/v4"
	"github.com/roadrunner-server/memory/v4"
	rpcPlugin "github.com/roadrunner-server/rpc/v4"
)

// Real redis-server and memcached processes for the KV tests, each on its own free loopback
// port with its files in t.TempDir(), stopped in t.Cleanup. No system service is used.

// requireBinary fails loudly when a server binary is missing: CI installs them through
// `make test`, so skipping would hide a real failure.
func requireBinary(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required by this test and was not found in PATH: run `make test` "+
			"(scripts/install-deps.sh test installs redis-server and memcached): %v", name, err)
	}
	return path
}

// serviceProcess is one server process that can be stopped and started again on the same
// port (to test reconnects).
type serviceProcess struct {
	t      testing.TB
	name   string
	bin    string
	args   []string
	addr   string
	dir    string
	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	output *bytes.Buffer
}

func startRedis(t testing.TB) *serviceProcess {
	t.Helper()
	bin := requireBinary(t, "redis-server")
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	s := &serviceProcess{t: t, name: "redis-server", bin: bin, addr: addr, dir: dir, args: []string{
		"--port", port, "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--protected-mode", "no", "--logfile", "",
	}}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// startMemcached starts memcached with items up to 4 MB (the default limit, 1 MB, is below a
// 1 MB value plus its two-byte tag).
func startMemcached(t testing.TB) *serviceProcess {
	t.Helper()
	bin := requireBinary(t, "memcached")
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	args := []string{"-l", "127.0.0.1", "-p", port, "-U", "0", "-m", "64", "-I", "4m"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root") // memcached refuses to run as root otherwise
	}
	s := &serviceProcess{t: t, name: "memcached", bin: bin, addr: addr, dir: t.TempDir(), args: args}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *serviceProcess) start() {
	s.t.Helper()
	s.mu.Lock()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.dir
	s.output = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = s.output, s.output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		s.t.Fatalf("starting %s: %v", s.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			s.t.Fatalf("%s exited at start: %s", s.name, s.output.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond); err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("%s did not listen on %s within 10s: %s", s.name, s.addr, s.output.String())
}

// stop terminates the process (SIGTERM, SIGKILL after 5 s) and waits until the port is free.
func (s *serviceProcess) stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func (s *serviceProcess) restart() {
	s.t.Helper()
	s.stop()
	s.start()
}

func (s *serviceProcess) String() string { return fmt.Sprintf("%s on %s", s.name, s.addr) }

// rpcOnlyStack is a minimal RoadRunner (config, logger, rpc, kv with one memory storage)
// listening on a given RPC address, so a test can stop it and start another on the same
// address, as a RoadRunner restart looks to a PHP client.
type rpcOnlyStack struct {
	t    testing.TB
	cont *endure.Endure
}

func startRPCOnly(t testing.TB, listen string) *rpcOnlyStack {
	t.Helper()
	cfg := &configImpl.Plugin{
		ReadInCfg: []byte(fmt.Sprintf("version: \"3\"\nrpc:\n  listen: %s\nlogs:\n  level: error\n  mode: production\n"+
			"kv:\n  local:\n    driver: memory\n    config:\n      interval: 60\n", listen)),
		Type:    "yaml",
		Version: pivot.RRVersion,
	}
	c := endure.New(slog.LevelError, endure.GracefulShutdownTimeout(10*time.Second))
	if err := c.RegisterAll(cfg, &logger.Plugin{}, &rpcPlugin.Plugin{}, &kv.Plugin{}, &memory.Plugin{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Init(); err != nil {
		t.Fatalf("container init: %v", err)
	}
	if _, err := c.Serve(); err != nil {
		t.Fatalf("container serve: %v", err)
	}
	s := &rpcOnlyStack{t: t, cont: c}
	t.Cleanup(s.stop)
	return s
}

func (s *rpcOnlyStack) stop() {
	if s.cont == nil {
		return
	}
	if err := s.cont.Stop(); err != nil {
		s.t.Errorf("container stop: %v", err)
	}
	s.cont = nil
}

// socketFront is the address PHP dials for an in-process RoadRunner: it forwards to the rpc
// plugin and, on down(), closes its listener and every connection, which is what clients
// see when a RoadRunner process exits. (In-process, the rpc plugin's Stop only closes its
// listener; connections it accepted keep being served.)
type socketFront struct {
	t       testing.TB
	path    string
	backend string
	mu      sync.Mutex
	ln      net.Listener
	conns   []net.Conn
	wg      sync.WaitGroup
}

func newSocketFront(t testing.TB, path, backend string) *socketFront {
	f := &socketFront{t: t, path: path, backend: backend}
	f.up()
	t.Cleanup(f.down)
	return f
}

func (f *socketFront) up() {
	f.t.Helper()
	ln, err := net.Listen("unix", f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("unix", f.backend)
			if err != nil {
				_ = c.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, c, b)
			f.mu.Unlock()
			f.wg.Add(2)
			go func() { defer f.wg.Done(); _, _ = io.Copy(b, c); _ = b.Close() }()
			go func() { defer f.wg.Done(); _, _ = io.Copy(c, b); _ = c.Close() }()
		}
	}()
}

func (f *socketFront) down() {
	f.mu.Lock()
	if f.ln != nil {
		_ = f.ln.Close()
		f.ln = nil
	}
	for _, c := range f.conns {
		_ = c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}
