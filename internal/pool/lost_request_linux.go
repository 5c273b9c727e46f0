//go:build linux

package pool

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

func canSeeLostRequests() bool {
	_, err := os.Stat("/proc/self/syscall")
	return err == nil
}

// waitsForInput reports whether the worker sits in read(0) (its stdin, the relay's pipe) with
// nothing unread in that pipe and nothing unread in its stdout pipe.
func (r *pipeRelay) waitsForInput(pid int) bool {
	if r.unreadInput() != 0 || r.unreadOutput() != 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/syscall")
	if err != nil {
		return false
	}
	// "<nr> <arg0> ...": blocked in read(2) on fd 0
	f := bytes.Fields(b)
	return len(f) > 2 && string(f[0]) == strconv.Itoa(unix.SYS_READ) && string(f[1]) == "0x0"
}

// unreadOutput is how many bytes the worker wrote to its stdout that the relay has not read
// from the pipe; -1 if unknown.
func (r *pipeRelay) unreadOutput() int {
	f, ok := r.src.(*os.File)
	if !ok {
		return -1
	}
	raw, err := f.SyscallConn()
	if err != nil {
		return -1
	}
	n := -1
	_ = raw.Control(func(fd uintptr) {
		if v, errI := unix.IoctlGetInt(int(fd), unix.TIOCINQ); errI == nil {
			n = v
		}
	})
	return n
}
