package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
)

// The watchdog is the harness binary run again as a small helper process. The harness tells it,
// over a pipe, the process group of every server process it starts and stops; when the pipe
// closes (the harness finished, or was killed even with SIGKILL) it SIGKILLs the groups still
// listed, so nginx's and php-fpm's children never outlive the harness.
const watchdogEnv = "PIVOT_BENCH_WATCHDOG"

type watchdog struct {
	mu  sync.Mutex
	w   io.WriteCloser
	cmd *exec.Cmd
}

func startWatchdog() (*watchdog, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), watchdogEnv+"=1")
	cmd.Stderr = os.Stderr
	// its own group: Ctrl-C in the terminal reaches the harness, which stops everything itself
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("watchdog: %w", err)
	}
	return &watchdog{w: w, cmd: cmd}, nil
}

func (wd *watchdog) send(op byte, pgid int) {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	_, _ = fmt.Fprintf(wd.w, "%c%d\n", op, pgid)
}

// watch lists a process group; release unlists it once the harness has stopped it.
func (wd *watchdog) watch(pgid int)   { wd.send('+', pgid) }
func (wd *watchdog) release(pgid int) { wd.send('-', pgid) }

// close ends the watchdog (it kills whatever is still listed, normally nothing).
func (wd *watchdog) close() {
	_ = wd.w.Close()
	_ = wd.cmd.Wait()
}

// runWatchdog is the helper process's main.
func runWatchdog(in io.Reader) {
	signal.Ignore(os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	groups := map[int]bool{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 2 {
			continue
		}
		pgid, err := strconv.Atoi(line[1:])
		if err != nil || pgid <= 1 {
			continue
		}
		switch line[0] {
		case '+':
			groups[pgid] = true
		case '-':
			delete(groups, pgid)
		}
	}
	for pgid := range groups {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}
