package workerlog

import (
	"bytes"
	"os"
	"sync"
	"syscall"
	"time"
)

// span is a request a worker ran, as byte offsets of its stderr stream: the lines that start
// in [from, to) were written while it ran (to < 0: it still runs).
type span struct {
	from, to int64
	id       string
}

// maxSpans bounds the requests a tap remembers while its reader has not caught up.
const maxSpans = 64

// Tap is one worker's stderr: the pool marks each request's start and end on it.
type Tap struct {
	s   *Sink
	pid int64
	f   *os.File
	raw syscall.RawConn

	mu    sync.Mutex
	off   int64 // bytes read from the pipe so far
	spans []span
	// ended: End was called and the span is still open; the sink's closer closes it off the
	// request path, unless the next Begin does first. queued: the tap is in the closer's list.
	ended, queued bool
}

func newTap(s *Sink, pid int64, f *os.File) *Tap {
	t := &Tap{s: s, pid: pid, f: f}
	if *s.cfg.RequestIDs {
		if raw, err := f.SyscallConn(); err == nil {
			t.raw = raw
		}
	}
	return t
}

// written is how many bytes the worker has written so far (read + still in the pipe); t.mu
// is held, so no read moves off meanwhile.
func (t *Tap) written() int64 {
	return t.off + int64(pending(t.raw))
}

// Begin marks the start of a request on the worker (id: its X-Request-Id, copied) and ends
// the one before. It counts what the worker has written so far (one ioctl): the request's
// lines are those written from here on.
func (t *Tap) Begin(id []byte) {
	if t.raw == nil {
		return
	}
	t.mu.Lock()
	at := t.written()
	t.closeLast(at)
	t.ended = false
	if len(id) > 0 {
		if len(t.spans) >= maxSpans {
			// the reader is far behind (or the worker writes nothing, so requestAt never
			// trims): the oldest request's lines lose their id rather than memory growing
			t.spans = append(t.spans[:0], t.spans[1:]...)
		}
		t.spans = append(t.spans, span{from: at, to: -1, id: string(id)})
	}
	t.mu.Unlock()
}

// End marks that the worker finished its request (answered, failed or was killed). It makes
// no system call: the request's span is closed by the next Begin's count, or by the sink's
// closer within closeEvery if the worker stays idle, so a line the worker writes right after
// its answer (its own epilogue) still carries the request's id.
func (t *Tap) End() {
	if t.raw == nil {
		return
	}
	t.mu.Lock()
	if n := len(t.spans); n > 0 && t.spans[n-1].to < 0 {
		t.ended = true
		if !t.queued {
			t.queued = true
			t.s.queueEnd(t)
		}
	}
	t.mu.Unlock()
}

// closeEnded closes the span End left open (the sink's closer).
func (t *Tap) closeEnded() {
	t.mu.Lock()
	if t.ended {
		t.closeLast(t.written())
		t.ended = false
	}
	t.queued = false
	t.mu.Unlock()
}

func (t *Tap) closeLast(at int64) {
	if n := len(t.spans); n > 0 && t.spans[n-1].to < 0 {
		t.spans[n-1].to = at
	}
}

// requestAt is the id of the request that ran when the byte at off was written; spans that
// ended before off are dropped (lines arrive in order).
func (t *Tap) requestAt(off int64) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := 0
	for i < len(t.spans) && t.spans[i].to >= 0 && t.spans[i].to <= off {
		i++
	}
	if i > 0 {
		t.spans = append(t.spans[:0], t.spans[i:]...)
	}
	if len(t.spans) > 0 && t.spans[0].from <= off {
		return t.spans[0].id
	}
	return ""
}

// read splits the stream into lines until EOF. The pipe is read inside the poller's callback
// with t.mu held, so that off and the pipe's content always add up to what was written.
func (t *Tap) read() {
	defer t.f.Close()
	buf := make([]byte, 16<<10) // a pipe holds 64 KB; four reads drain a full one
	maxLine := t.s.cfg.MaxLine
	cur := make([]byte, 0, 256)
	var curStart int64
	truncated := false
	flush := func() {
		if len(cur) == 0 && !truncated {
			return
		}
		id := ""
		if t.raw != nil {
			id = t.requestAt(curStart)
		}
		t.s.enqueue(line{pid: t.pid, reqID: id, text: bytes.Clone(cur), truncated: truncated, at: time.Now()})
		cur, truncated = cur[:0], false
		if cap(cur) > 64<<10 {
			cur = make([]byte, 0, 256)
		}
	}
	for {
		n, start, err := t.readChunk(buf)
		chunk := buf[:n]
		for len(chunk) > 0 {
			i := bytes.IndexByte(chunk, '\n')
			part := chunk
			if i >= 0 {
				part = chunk[:i]
			}
			if room := maxLine - len(cur); len(part) > room {
				cur = append(cur, part[:room]...)
				truncated = true
			} else {
				cur = append(cur, part...)
			}
			if i < 0 {
				break
			}
			flush()
			chunk = chunk[i+1:]
			curStart = start + int64(n-len(chunk))
		}
		if err != nil || n == 0 {
			flush()
			return
		}
	}
}

// readChunk reads what the pipe holds (waiting for it) and returns the offset of its first byte.
func (t *Tap) readChunk(buf []byte) (n int, start int64, err error) {
	if t.raw == nil {
		t.mu.Lock()
		start = t.off
		t.mu.Unlock()
		n, err = t.f.Read(buf)
		t.mu.Lock()
		t.off += int64(n)
		t.mu.Unlock()
		return n, start, err
	}
	var rerr error
	err = t.raw.Read(func(fd uintptr) bool {
		t.mu.Lock()
		defer t.mu.Unlock()
		for {
			n, rerr = syscall.Read(int(fd), buf)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			n = 0
			return false // wait for the pipe to be readable
		}
		if n < 0 {
			n = 0
		}
		start = t.off
		t.off += int64(n)
		return true
	})
	if err == nil {
		err = rerr
	}
	return n, start, err
}
