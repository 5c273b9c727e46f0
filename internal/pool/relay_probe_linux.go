//go:build linux

package pool

import (
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// dupStdinProbe duplicates the write end of a worker's stdin (close-on-exec, so no worker
// inherits it): after the worker has exited, the pipe still tells how much of what was written
// it never read, even once exec.Cmd has closed its own end. nil if it cannot.
func dupStdinProbe(stdin io.Writer) *os.File {
	sc, ok := stdin.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var probe *os.File
	_ = raw.Control(func(fd uintptr) {
		if nfd, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0); err == nil {
			probe = os.NewFile(uintptr(nfd), "worker stdin probe")
		}
	})
	return probe
}

// unreadInput is how many bytes written to the worker's stdin it has not read; -1 if unknown.
// A socket relay has no probe (relay_socket.go: socketUnread).
func (r *pipeRelay) unreadInput() int {
	if r.probe == nil {
		return r.socketUnread()
	}
	raw, err := r.probe.SyscallConn()
	if err != nil {
		return -1
	}
	n := -1
	if raw.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ); err == nil {
			n = v
		}
	}) != nil {
		return -1
	}
	return n
}
