package testsupport

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Service is a real server process (redis-server, memcached) on its own free loopback port
// with its files in a temporary directory, stopped by the test's cleanup. It can be stopped
// and started again on the same port, as a restart looks to its clients. No system service is
// used.
type Service struct {
	Addr string // 127.0.0.1:port

	t    testing.TB
	name string
	bin  string
	args []string
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *SyncBuffer
}

// StartRedis starts a redis-server without persistence.
func StartRedis(t testing.TB) *Service {
	t.Helper()
	bin := RequireBinary(t, "redis-server", "redis-server")
	addr := FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	return startService(t, "redis-server", bin, addr, dir, []string{
		"--port", port, "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--protected-mode", "no", "--logfile", "",
	})
}

// StartMemcached starts memcached with items up to 4 MB (the default limit, 1 MB, is below a
// 1 MB value plus its two-byte tag).
func StartMemcached(t testing.TB) *Service {
	t.Helper()
	bin := RequireBinary(t, "memcached", "memcached")
	addr := FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	args := []string{"-l", "127.0.0.1", "-p", port, "-U", "0", "-m", "64", "-I", "4m"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root") // memcached refuses to run as root otherwise
	}
	return startService(t, "memcached", bin, addr, t.TempDir(), args)
}

func startService(t testing.TB, name, bin, addr, dir string, args []string) *Service {
	t.Helper()
	s := &Service{Addr: addr, t: t, name: name, bin: bin, args: args, dir: dir}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start runs the server and waits until it accepts connections.
func (s *Service) Start() {
	s.t.Helper()
	s.mu.Lock()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.dir
	s.out = &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
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
			s.t.Fatalf("%s exited at start: %s", s.name, s.out.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond); err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("%s did not listen on %s within 10s: %s", s.name, s.Addr, s.out.String())
}

// Stop terminates the server (SIGTERM, SIGKILL after 5 s) and waits for it to exit.
func (s *Service) Stop() {
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

// Restart stops the server and starts it again on the same port.
func (s *Service) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}

func (s *Service) String() string { return fmt.Sprintf("%s on %s", s.name, s.Addr) }
