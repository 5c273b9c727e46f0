//go:build !linux

package pool

import (
	"io"
	"os"
)

// dupStdinProbe is Linux only (FIONREAD on a pipe); elsewhere a worker that exits with a
// request unread fails that request, as in stock RoadRunner.
func dupStdinProbe(io.Writer) *os.File { return nil }

func (r *pipeRelay) unreadInput() int { return r.socketUnread() }
