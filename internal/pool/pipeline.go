package pool

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/roadrunner-server/errors"
	"github.com/roadrunner-server/goridge/v3/pkg/frame"
	"github.com/roadrunner-server/sdk/v4/fsm"
	"github.com/roadrunner-server/sdk/v4/worker"
)

// Request pipelining (`pivot.pipeline: true`, off by default).
//
// When every worker is busy and requests wait, a request may be written into the pipe of a
// busy worker, behind the request that worker is running. The worker reads it as soon as it
// has answered, instead of sleeping on an empty pipe and being woken for its next request:
// that sleep and wake-up, with the context switches around it, is what bounds a small box at
// low concurrency (bench/README.md). The price is head-of-line blocking: a queued request waits
// for the one in front of it however long that one runs, even when another worker frees up
// first. Hence off by default and bounded:
//   - at most one request waits in a worker's pipe, and only when more requests are in the
//     pool than workers. While requests wait for a free worker, a new one does not queue
//     (they came first); instead the owner of a request that starts offers its slot to the
//     oldest of them, unless that one is too large for a slot: it then gets the next free
//     worker, which owners that always found their slot taken would never release;
//   - only behind a request that started less than pivot.pipeline_window ago (1 ms by
//     default): a request that has run longer may well be a slow one, and one that arrives
//     while a slow request runs almost always finds it older than that;
//   - not for pivot.pipeline_pause (1 s) after any request ran longer than
//     pivot.pipeline_pause_after (10 ms): while requests queue, those in front of them have all
//     recently run within that time. An app whose slow requests come often never queues; one
//     whose slow requests are rare may have a request queued behind the first slow one after
//     each pause (at most one per worker);
//   - only requests of at most pipelineMaxRequest bytes (their write never blocks);
//   - never behind a worker's last job (max_jobs) or behind a streamed response once its first
//     frame is seen (one queued before then waits for the stream's end);
//   - only behind workers that said in their handshake that they read frames strictly in order
//     (`"pipelining":true` beside the pid, which this project's PHP worker sends): the official
//     PHP libraries poll stdin while they stream and drop a request they find there.
//
// A queued request whose worker fails before it has answered the request in front never
// started: it runs on another worker. One whose worker fails after that gets the failure (5xx),
// as a request running on a worker that dies does — unless the worker never read it (a script
// that leaves its loop after a response): the stdin probe (relay_probe_linux.go) shows it
// unread, and it runs elsewhere.

// pipelineMaxRequest bounds a queued request (context and body): far below the 64 KiB of a
// Linux pipe, so writing it never blocks behind the request in front.
const pipelineMaxRequest = 16 << 10

// slot states: a worker's one place for a queued request.
const (
	slotClosed int32 = iota // free, or running a request nothing may queue behind
	slotOpen                // running a request; one request may queue behind it
	slotQueued              // running a request; one request is queued behind it
)

// handoff is what the owner of a worker tells the request queued behind its own.
type handoff uint8

const (
	// handOwn: the request in front is answered; the queued one owns the worker now.
	handOwn handoff = iota
	// handRetry: the worker failed before answering the request in front, so it never started
	// the queued one, which runs on another worker.
	handRetry
	// handFail: the worker failed after answering the request in front; the queued one may
	// have started and cannot be run again.
	handFail
)

// pipelineSlot lives in each worker's relay.
type pipelineSlot struct {
	state      atomic.Int32
	handoffs   chan handoff // one hand-off per queued request
	buf        []byte       // the queued request's frame: the owner writes from the relay's own buffer
	started    atomic.Int64 // when the running request started (unix ns)
	registered atomic.Bool
	w          *worker.Process
	// queuedLen is the size of the queued request's frame once it is written (0 before)
	queuedLen atomic.Int64
}

// unreadRequestBytes is how much of what was written to the worker's stdin it has not read,
// less a request queued behind the running one; -1 if unknown (a queued request whose write
// may not be complete). A worker that fails with the running request wholly unread never
// started it, so it may run elsewhere.
func (r *pipeRelay) unreadRequestBytes() int {
	unread := r.unreadInput()
	if r.slot.state.Load() == slotQueued {
		q := r.slot.queuedLen.Load()
		if q == 0 || unread < 0 {
			return -1
		}
		unread -= int(q)
	}
	return unread
}

// Pipeline knows the workers a request may queue behind (pivot.pipeline).
type Pipeline struct {
	window  int64        // queue only behind a request younger than this (ns)
	slow    int64        // a request that ran longer than this (ns)…
	pause   int64        // …stops requests queueing for this long (ns)
	resume  atomic.Int64 // unix ns before which nothing queues
	pauses  Counter
	mu      sync.Mutex // serialises register
	relays  atomic.Pointer[[]*pipeRelay]
	waiters waiterQueue
	// waiting counts the requests blocked in take: while any wait, no new request queues in a
	// pipe, so those that came first are served first
	waiting atomic.Int64
	queued  Counter
	// warnedOutOfOrder: the log has said once that the workers cannot take queued requests
	warnedOutOfOrder atomic.Bool
}

// Counter is one of the pipeline's metrics (a prometheus.Counter).
type Counter interface{ Inc() }

// NewPipeline is pivot.pipeline's state for one generation of workers: queue only behind a
// request younger than window; a request that ran longer than pauseAfter stops queueing for
// pause. queued and pauses count the queued requests and the pauses.
func NewPipeline(window, pauseAfter, pause time.Duration, queued, pauses Counter) *Pipeline {
	return &Pipeline{window: int64(window), slow: int64(pauseAfter),
		pause: int64(pause), queued: queued, pauses: pauses}
}

// ended notes a request that started at started (unix ns) and has its answer (or its end): a
// slow one pauses pipelining.
func (rp *Pipeline) ended(started int64) {
	now := time.Now().UnixNano()
	if now-started <= rp.slow {
		return
	}
	if rp.resume.Swap(now+rp.pause) <= now {
		rp.pauses.Inc()
	}
}

// paused reports whether a slow request ended less than the pause ago.
func (rp *Pipeline) paused(now int64) bool { return now < rp.resume.Load() }

// register adds a worker's relay the first time its slot opens, dropping the relays of workers
// that have exited (the watcher replaces workers, so the list would grow otherwise).
func (rp *Pipeline) register(rl *pipeRelay, w *worker.Process) {
	if !rl.slot.registered.CompareAndSwap(false, true) {
		return
	}
	rl.slot.w = w
	rp.mu.Lock()
	defer rp.mu.Unlock()
	var live []*pipeRelay
	if old := rp.relays.Load(); old != nil {
		live = make([]*pipeRelay, 0, len(*old)+1)
		for _, r := range *old {
			if !r.closed.Load() {
				live = append(live, r)
			}
		}
	}
	live = append(live, rl)
	rp.relays.Store(&live)
}

// queueBehind writes the request into the pipe of a worker with an open slot and returns that
// worker's relay; nil when no slot is open. The caller must then wait for the relay's hand-off
// (even if the write failed: the owner sends one either way).
func (rp *Pipeline) queueBehind(reqCtx, reqBody []byte) (*pipeRelay, error) {
	list := rp.relays.Load()
	if list == nil {
		return nil, nil
	}
	now := time.Now().UnixNano()
	if rp.paused(now) {
		return nil, nil
	}
	oldest := now - rp.window
	for _, rl := range *list {
		if rl.slot.state.Load() == slotOpen && rl.slot.started.Load() >= oldest &&
			rl.slot.state.CompareAndSwap(slotOpen, slotQueued) {
			return rl, rl.writeQueuedRequest(frame.CodecJSON, reqCtx, reqBody)
		}
	}
	return nil, nil
}

// acquire finds a worker for the request: with pipelining and every worker busy, a slot behind
// a running request (queued: the request is already in the worker's pipe); otherwise, or when
// that worker failed before starting it, a free worker or a slot offered while it waits (take).
func (p *Pool) acquire(reqCtx, reqBody []byte) (w *worker.Process, queued bool, err error) {
	small := len(reqCtx)+len(reqBody) <= pipelineMaxRequest
	if rp := p.pipeline; rp != nil && small && p.queue.Load() > p.cfg.NumWorkers && rp.waiting.Load() == 0 {
		if rl, werr := rp.queueBehind(reqCtx, reqBody); rl != nil {
			if w, err = p.behind(rl, werr); w != nil || err != nil {
				return w, w != nil, err
			}
		}
	}
	for {
		w, slot, err := p.take(small)
		if err != nil || slot == nil {
			return w, false, err
		}
		// an owner offered this waiter the slot behind its request
		if w, err = p.behind(slot, slot.writeQueuedRequest(frame.CodecJSON, reqCtx, reqBody)); w != nil || err != nil {
			return w, w != nil, err
		}
	}
}

// behind waits for the hand-off of the worker whose pipe the request was written into (werr:
// how that write went). Neither a worker nor an error: the worker failed before it started the
// request, which must go elsewhere.
func (p *Pool) behind(rl *pipeRelay, werr error) (*worker.Process, error) {
	const op = errors.Op("pivot_exec")
	switch <-rl.slot.handoffs {
	case handOwn:
		if werr == nil {
			p.pipeline.queued.Inc()
			return rl.slot.w, nil
		}
		// its stdin is closed: the worker is gone, and never got this request
		_ = p.broken(rl.slot.w, nil, nil)
	case handFail:
		return nil, errors.E(op, errors.Network, errors.Str("the worker failed after answering the request in front of this one; this one may have started, so it is not run again"))
	case handRetry:
	}
	return nil, nil
}

// declineSlot gives back a slot offered to a waiter that got a free worker as well: open again
// if the request in front still runs, otherwise the worker, with nothing written, is released.
func (p *Pool) declineSlot(rl *pipeRelay) {
	if rl.slot.state.CompareAndSwap(slotQueued, slotOpen) {
		return
	}
	if <-rl.slot.handoffs == handOwn {
		p.finish(rl.slot.w)
	}
}

// waiterQueue is the requests waiting in take, oldest first: an owner
// that opens its slot while requests wait offers it to the oldest, so pipelining works under
// overload too and keeps the order of arrival.
type waiterQueue struct {
	mu         sync.Mutex
	head, tail *takeContext
}

func (q *waiterQueue) push(tc *takeContext) {
	q.mu.Lock()
	tc.prev, tc.next, tc.listed = q.tail, nil, true
	if q.tail != nil {
		q.tail.next = tc
	} else {
		q.head = tc
	}
	q.tail = tc
	q.mu.Unlock()
}

func (q *waiterQueue) remove(tc *takeContext) {
	q.mu.Lock()
	q.unlink(tc)
	q.mu.Unlock()
}

func (q *waiterQueue) unlink(tc *takeContext) {
	if !tc.listed {
		return
	}
	if tc.prev != nil {
		tc.prev.next = tc.next
	} else {
		q.head = tc.next
	}
	if tc.next != nil {
		tc.next.prev = tc.prev
	} else {
		q.tail = tc.prev
	}
	tc.prev, tc.next, tc.listed = nil, nil, false
}

// offerSlot gives rl's slot to the oldest waiter; false if there is none, or if the oldest
// cannot take a slot (a large request): it waits for a free worker, which an owner that
// always found its slot taken would never release.
func (q *waiterQueue) offerSlot(rl *pipeRelay) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for tc := q.head; tc != nil && tc.acceptSlot; {
		next := tc.next
		q.unlink(tc)
		// reserved before the waiter wakes: the owner's hand-off then finds it
		rl.slot.state.Store(slotQueued)
		if tc.offer(rl) {
			return true
		}
		rl.slot.state.Store(slotClosed) // it timed out meanwhile: try the next
		tc = next
	}
	return false
}

// openSlot lets one request queue behind the one w is now running, unless it is w's last job,
// the worker is already marked for replacement or pipelining is paused. A queued request opens
// the slot only once it owns the worker: its own write into the slot's buffer has returned by then.
func (p *Pool) openSlot(w *worker.Process, rl *pipeRelay, started int64) {
	if p.pipeline == nil {
		return
	}
	if !rl.inOrder {
		// a worker that may read a queued request while it streams and drop it (the official
		// PHP libraries do) would wedge with that request unanswered
		if !p.pipeline.warnedOutOfOrder.Swap(true) {
			p.log.Warn("pivot.pipeline is on, but the workers do not announce in-order frame reads in their handshake " +
				"(only this project's PHP worker does): no request is queued behind them")
		}
		return
	}
	if !w.State().Compare(fsm.StateWorking) ||
		(p.cfg.MaxJobs != 0 && w.State().NumExecs() >= p.cfg.MaxJobs) || p.pipeline.paused(started) {
		return
	}
	p.pipeline.register(rl, w)
	rl.slot.started.Store(started)
	// the request that queued last (this one, if it was queued) stored its size after its
	// write, which may have been after the hand-off's reset
	rl.slot.queuedLen.Store(0)
	if p.pipeline.waiting.Load() > 0 && p.pipeline.waiters.offerSlot(rl) {
		return
	}
	rl.slot.state.Store(slotOpen)
}

// closeSlot stops further requests from queueing behind a streamed response.
func closeSlot(rl *pipeRelay) { rl.slot.state.CompareAndSwap(slotOpen, slotClosed) }

// handOver passes the worker to the request queued behind the one that just ended, if any,
// and closes the slot otherwise. It reports whether a queued request got the hand-off.
func (p *Pool) handOver(w *worker.Process, h handoff) bool {
	if p.pipeline == nil {
		return false
	}
	rl, ok := w.Relay().(*pipeRelay)
	if !ok || rl.slot.state.CompareAndSwap(slotOpen, slotClosed) {
		return false
	}
	if !rl.slot.state.CompareAndSwap(slotQueued, slotClosed) {
		return false
	}
	rl.slot.queuedLen.Store(0)
	rl.slot.handoffs <- h
	return true
}
