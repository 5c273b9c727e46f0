package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one process the harness started, in its own process group so that stopping it
// also stops everything it spawned (rr's PHP workers, nginx's and php-fpm's children).
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
	wd   *watchdog
}

// procs is every process the harness started; stopAll stops them all (deferred in run, so it
// also runs on errors, panics and Ctrl-C); the watchdog covers the harness being killed.
type procs struct {
	mu   sync.Mutex
	list []*proc
	wd   *watchdog
}

func newProcs() (*procs, error) {
	wd, err := startWatchdog()
	if err != nil {
		return nil, err
	}
	return &procs{wd: wd}, nil
}

// close stops every process and then the watchdog.
func (ps *procs) close(grace time.Duration) {
	ps.stopAll(grace)
	ps.wd.close()
}

// start runs argv with its output in logPath, in a new process group that the watchdog knows.
func (ps *procs) start(name, logPath string, env []string, argv ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ps.wd.watch(cmd.Process.Pid)
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{}), wd: ps.wd}
	go func() {
		p.err = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process, waits up to grace, then SIGKILLs whatever is left in its
// process group (a group id is not reused while any member lives, so this hits only ours).
func (p *proc) stop(grace time.Duration) {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
		}
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
	}
	p.wd.release(p.pid())
}

// stopAll stops every process, the last started first, concurrently per process.
func (ps *procs) stopAll(grace time.Duration) {
	ps.mu.Lock()
	list := ps.list
	ps.list = nil
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for i := len(list) - 1; i >= 0; i-- {
		wg.Add(1)
		go func(p *proc) {
			defer wg.Done()
			p.stop(grace)
		}(list[i])
	}
	wg.Wait()
}

// logTail is the end of a process's log, for error messages.
func (p *proc) logTail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// exitError describes a process that exited on its own.
func (p *proc) exitError() error {
	msg := fmt.Sprintf("%s exited (%v)", p.name, p.err)
	if tail := p.logTail(15); tail != "" {
		msg += ":\n" + indent(tail, "    ")
	}
	return errors.New(msg)
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
