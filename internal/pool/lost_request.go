package pool

import (
	"time"

	"github.com/roadrunner-server/sdk/v4/worker"
	"go.uber.org/zap"
)

// Lost requests. A worker that read a request and then waits for the next one without having
// answered it (a worker that drops a frame it did not expect, or a script whose loop skips an
// answer) would hold its request, and its place in the pool, forever: nothing in the protocol
// tells the pool. The pool looks for it instead: a worker whose answer has been awaited for
// lostRequestAfter, that sits blocked reading its stdin with nothing left unread there and
// nothing written to its stdout, on two looks in a row, is killed; its request gets a 502 and
// the watcher replaces it. Linux only (lost_request_linux.go): it reads the worker's syscall
// from /proc; elsewhere, as in stock RoadRunner, only exec_ttl frees such a worker.

const (
	lostRequestAfter = time.Second
	lostRequestTick  = time.Second
)

// watchLostRequests looks at the pool's workers every lostRequestTick until the pool stops.
func (p *Pool) watchLostRequests() {
	if !canSeeLostRequests() {
		return
	}
	tick := time.NewTicker(lostRequestTick)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		now := time.Now().UnixNano()
		for _, w := range p.ww.List() {
			if rl, ok := w.Relay().(*pipeRelay); ok && rl.lostRequest(w, now) {
				p.log.Error("worker read a request and waits for another without answering it: killed and replaced",
					zap.Int64("pid", w.Pid()))
				_ = w.Kill()
			}
		}
	}
}

// lostRequest reports whether the worker has lost the request whose answer the relay awaits:
// the same request was seen lost on the previous look too.
func (r *pipeRelay) lostRequest(w *worker.Process, now int64) bool {
	since := r.awaiting.Load()
	if since == 0 || now-since < int64(lostRequestAfter) || !r.waitsForInput(int(w.Pid())) {
		r.suspect = 0
		return false
	}
	if r.suspect != since {
		r.suspect = since // look again on the next tick
		return false
	}
	r.lost.Store(true)
	return true
}
