//go:build linux

package pool

import "golang.org/x/sys/unix"

// processExited reports whether the child pid has exited, without reaping it (WNOWAIT): the
// worker's Wait still collects it.
func processExited(pid int) bool {
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil {
		return false
	}
	return info.Signo != 0 // WNOHANG leaves it zero while the child runs
}
