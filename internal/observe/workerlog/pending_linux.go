//go:build linux

package workerlog

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// pending is how many bytes wait unread in the pipe (FIONREAD, TIOCINQ on Linux); 0 if it cannot tell.
func pending(raw syscall.RawConn) int {
	n := 0
	_ = raw.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ); err == nil {
			n = v
		}
	})
	return n
}
