package pool

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/protocol"
	"github.com/roadrunner-server/errors"
	"github.com/roadrunner-server/goridge/v3/pkg/frame"
	"github.com/roadrunner-server/sdk/v4/fsm"
	sdkpool "github.com/roadrunner-server/sdk/v4/pool"
	"github.com/roadrunner-server/sdk/v4/state/process"
	"github.com/roadrunner-server/sdk/v4/worker"
	workerWatcher "github.com/roadrunner-server/sdk/v4/worker_watcher"
	"go.uber.org/zap"
)

// Pool is pivot's pool of PHP workers. sdk/v4's worker watcher keeps the workers (spawn,
// replace on exit, scale, destroy); pivot runs each request on the request's own goroutine:
// no goroutine, channel or payload copy per request as in sdk/v4's static pool, and the
// supervisor goroutine ends with the pool (the sdk's never does, which would leak one per reset).
type Pool struct {
	cfg      *sdkpool.Config
	log      *zap.Logger
	ctx      context.Context
	ww       *workerWatcher.WorkerWatcher
	queue    atomic.Uint64
	stop     chan struct{}
	stopOnce sync.Once
	// takeCtxs is a bounded free list (not a sync.Pool: a context dropped by the GC would stay
	// registered with the pool's context)
	takeCtxs chan *takeContext
	// pipeline is nil unless pivot.pipeline is on (pipeline.go).
	pipeline *Pipeline
}

// maxFreeTakeContexts bounds the reusable wait contexts kept by a pool (one per request
// waiting at once).
const maxFreeTakeContexts = 256

// stopRequest is a worker's "I did not handle this request, restart me" answer.
const stopRequest = `{"stop":true}`

// largeResponse: after a complete response above this size the relay drops its read buffer,
// so one large answer does not pin its memory on the worker for good.
const largeResponse = 256 << 10

// FrameKind says where a response frame stands, and so how long its bytes stay valid: they
// live in the relay's read buffer, which the worker's next request reuses.
type FrameKind uint8

const (
	// FrameWhole is a complete response: ctx and body are valid only during OnFrame.
	FrameWhole FrameKind = iota
	// FrameStreamPart is a frame with more to come: ctx is valid only during OnFrame, the body
	// until the next frame of the stream is read.
	FrameStreamPart
	// FrameStreamLast ends a stream: ctx and body are valid only during OnFrame, because the
	// worker is handed back (to the request queued behind, or to the pool) as soon as it returns.
	FrameStreamLast
)

// FrameSink receives a request's response frames.
type FrameSink interface {
	// OnFrame gets each frame (see FrameKind for how long its bytes live). Returning false
	// asks the worker to end its stream.
	OnFrame(ctx, body []byte, kind FrameKind) bool
}

// WorkerReporter is a FrameSink that wants to know which worker took its request, and when
// (unix ns): the access log and tracing report them (internal/observe, through the front).
type WorkerReporter interface {
	OnWorker(pid, started int64)
}

// New starts cfg.NumWorkers workers spawned by factory from cmd under ctx (every later worker
// too); pipeline is nil unless pivot.pipeline is on.
func New(ctx context.Context, cmd sdkpool.Command, factory sdkpool.Factory, cfg *sdkpool.Config, pipeline *Pipeline, log *zap.Logger) (*Pool, error) {
	const op = errors.Op("pivot_worker_pool")
	cfg.InitDefaults()
	allocator := sdkpool.NewPoolAllocator(ctx, cfg.AllocateTimeout, factory, cmd, cfg.Command, log)
	p := &Pool{
		cfg:      cfg,
		log:      log,
		ctx:      ctx,
		ww:       workerWatcher.NewSyncWorkerWatcher(allocator, log, cfg.NumWorkers, cfg.AllocateTimeout),
		stop:     make(chan struct{}),
		takeCtxs: make(chan *takeContext, maxFreeTakeContexts),
		pipeline: pipeline,
	}
	workers, err := sdkpool.AllocateParallel(cfg.NumWorkers, allocator)
	if err != nil {
		return nil, errors.E(op, err)
	}
	if err = p.ww.Watch(workers); err != nil {
		return nil, errors.E(op, err)
	}
	if cfg.Supervisor != nil {
		go p.supervise()
	}
	go p.watchLostRequests()
	return p, nil
}

// Workers lists the pool's workers (the informer, status, the supervisor).
func (p *Pool) Workers() []*worker.Process { return p.ww.List() }

// AddWorker starts one more worker.
func (p *Pool) AddWorker() error { return p.ww.AddWorker() }

// RemoveWorker stops one worker once it is idle (within ctx).
func (p *Pool) RemoveWorker(ctx context.Context) error { return p.ww.RemoveWorker(ctx) }

// Destroy stops every worker once it is idle (within ctx) and ends the supervisor.
func (p *Pool) Destroy(ctx context.Context) {
	p.stopOnce.Do(func() { close(p.stop) })
	p.ww.Destroy(ctx)
}

// Exec runs one request (its http/v4 context and body) on a free worker and hands the
// response frames to sink. Its errors carry roadrunner-server/errors kinds (QueueSize,
// NoFreeWorkers, SoftJob, Network, ExecTTL, ...), which the caller maps to statuses.
func (p *Pool) Exec(reqCtx, reqBody []byte, sink FrameSink) error {
	const op = errors.Op("pivot_exec")
	if max := p.cfg.MaxQueueSize; max != 0 && p.queue.Load() >= max {
		return errors.E(op, errors.QueueSize, errors.Str("max queue size reached"))
	}
	p.queue.Add(1)
	defer p.queue.Add(^uint64(0))

	// A worker that answers {"stop":true} hands the request to another one; bound the hand-overs
	// so an app that always answers so cannot spin a request forever.
	for handovers := uint64(0); handovers <= 2*p.cfg.NumWorkers+2; handovers++ {
		w, queued, err := p.acquire(reqCtx, reqBody)
		if err != nil {
			return errors.E(op, err)
		}
		retry, err := p.run(w, queued, reqCtx, reqBody, sink)
		if !retry {
			return err
		}
	}
	return errors.E(op, errors.WorkerAllocate, errors.Str("every worker handed the request back ({\"stop\":true}) or ended before reading it; none served it"))
}

// take waits up to allocate_timeout for a free worker. The wait's context is reused across
// requests (context.WithTimeout would allocate a context and a timer and register with the
// pool's context on every request): it ends at the timeout or when the pool's context ends.
// With pivot.pipeline, a waiter whose request is small enough may be offered a slot behind a
// running request instead (pipeline.go): slot is then that worker's relay, w nil.
func (p *Pool) take(acceptSlot bool) (w *worker.Process, slot *pipeRelay, err error) {
	var tc *takeContext
	select {
	case tc = <-p.takeCtxs:
	default:
		tc = newTakeContext(p.ctx)
	}
	tc.timer.Reset(p.cfg.AllocateTimeout)
	rp := p.pipeline // the waiters are counted and queued only for pipelining
	if rp != nil {
		rp.waiting.Add(1)
		tc.acceptSlot = acceptSlot
		rp.waiters.push(tc)
	}
	w, err = p.ww.Take(tc)
	if rp != nil {
		rp.waiters.remove(tc)
		rp.waiting.Add(-1)
	}
	state := tc.state.Load()
	if state == takeOffered {
		slot = tc.offered
		if err == nil {
			p.declineSlot(slot) // a free worker came as well: it is the better one
			slot = nil
		}
		err = nil
	}
	if tc.timer.Stop() && (state == takeWaiting || state == takeOffered) {
		if state == takeOffered {
			tc.rearm()
		}
		select {
		case p.takeCtxs <- tc: // its timer never fired: reusable
			return w, slot, err
		default:
		}
	}
	tc.release()
	return w, slot, err
}

// takeContext is a reusable context for take: Done is closed when its timer fires or its
// parent ends, after which it is not reused.
type takeContext struct {
	done      atomic.Pointer[chan struct{}] // a new channel when an offered context is reused
	timer     *time.Timer
	state     atomic.Int32 // takeWaiting, takeTimedOut, takeCancelled, takeOffered
	parent    context.Context
	stopAfter func() bool
	// offered is the slot a running request's owner gave this waiter (pipeline.go), if its
	// request is small enough (acceptSlot); prev, next and listed place it in the pool's queue
	// of waiters.
	offered    *pipeRelay
	acceptSlot bool
	prev, next *takeContext
	listed     bool
}

const (
	takeWaiting int32 = iota
	takeTimedOut
	takeCancelled
	takeOffered
)

var _ context.Context = (*takeContext)(nil)

func newTakeContext(parent context.Context) *takeContext {
	tc := &takeContext{parent: parent}
	done := make(chan struct{})
	tc.done.Store(&done)
	tc.timer = time.AfterFunc(time.Hour, func() { tc.fire(takeTimedOut) })
	tc.timer.Stop()
	tc.stopAfter = context.AfterFunc(parent, func() { tc.fire(takeCancelled) })
	return tc
}

func (tc *takeContext) fire(why int32) {
	if tc.state.CompareAndSwap(takeWaiting, why) {
		close(*tc.done.Load())
	}
}

// offer wakes the waiter with a slot; false if it was no longer waiting.
func (tc *takeContext) offer(rl *pipeRelay) bool {
	tc.offered = rl
	if tc.state.CompareAndSwap(takeWaiting, takeOffered) {
		close(*tc.done.Load())
		return true
	}
	tc.offered = nil
	return false
}

// rearm makes an offered context reusable (its timer stopped before firing).
func (tc *takeContext) rearm() {
	done := make(chan struct{})
	tc.done.Store(&done)
	tc.offered = nil
	tc.state.Store(takeWaiting)
}

// release drops a fired context's hook on its parent.
func (tc *takeContext) release() { tc.stopAfter() }

func (tc *takeContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (tc *takeContext) Done() <-chan struct{}       { return *tc.done.Load() }
func (tc *takeContext) Value(key any) any           { return tc.parent.Value(key) }

func (tc *takeContext) Err() error {
	switch tc.state.Load() {
	case takeTimedOut:
		return context.DeadlineExceeded
	case takeCancelled, takeOffered:
		return context.Canceled
	}
	return nil
}

// run executes the request on w (queued: it is already in w's pipe, behind the request w
// answered last). retry is true when the worker answered {"stop":true}: it did not handle the
// request, which goes to another worker.
func (p *Pool) run(w *worker.Process, queued bool, reqCtx, reqBody []byte, sink FrameSink) (retry bool, err error) {
	const op = errors.Op("pivot_exec")
	rl, ok := w.Relay().(*pipeRelay)
	if !ok {
		p.release(w)
		return false, errors.E(op, errors.Str("worker without a pivot relay"))
	}
	started := time.Now().UnixNano()
	w.State().SetLastUsed(uint64(started))
	if r, ok := sink.(WorkerReporter); ok {
		r.OnWorker(w.Pid(), started)
	}
	if !queued || w.State().Compare(fsm.StateReady) {
		// a queued request keeps a replacement mark set while the one in front ran
		w.State().Transition(fsm.StateWorking)
	}

	var ttl *execTimer
	if sv := p.cfg.Supervisor; sv != nil && sv.ExecTTL > 0 {
		ttl = startExecTimer(w, sv.ExecTTL)
		defer func() { ttl.stop() }()
	}

	// before the write: the worker may write to stderr as soon as it reads the request (a
	// pipelined request was written earlier; its lines count from here)
	beginRequest(rl, sink)
	if !queued {
		if err = rl.writeRequest(frame.CodecJSON, reqCtx, reqBody); err != nil {
			// the worker is gone (its stdin is closed): it cannot have read the request
			_ = p.broken(w, ttl, nil)
			return true, nil
		}
	}
	w.State().RegisterExec()
	p.openSlot(w, rl, started)

	rl.awaiting.Store(started)
	f, err := rl.readFrame()
	rl.awaiting.Store(0)
	if p.pipeline != nil {
		p.pipeline.ended(started) // a stream's start; its end is noted again
	}
	if err != nil {
		if rl.unreadRequestBytes() >= protocol.RequestFrameLen(reqCtx, reqBody) {
			// the worker ended without reading the request (a script that left its loop between
			// requests, or one that died as it was written): it never started, so it runs elsewhere
			_ = p.broken(w, ttl, nil)
			return true, nil
		}
		if rl.lost.Load() {
			err = errors.Str("the worker read the request and waited for another without answering it; it was replaced")
		}
		return false, p.broken(w, ttl, errors.E(op, errors.Network, err))
	}
	if f.flags&frame.ERROR != 0 {
		msg := string(f.payload)
		w.State().Transition(fsm.StateReady)
		p.release(w)
		return false, errors.E(op, errors.SoftJob, errors.Str(msg))
	}
	if f.options != 1 || int(f.ctxLen) > len(f.payload) {
		w.State().Transition(fsm.StateErrored)
		p.release(w)
		return false, errors.E(op, errors.Decode, errors.Str("the response frame must carry exactly one option, the context length"))
	}
	ctx, body := f.payload[:f.ctxLen], f.payload[f.ctxLen:]
	if len(body) == 0 && b2s(ctx) == stopRequest {
		w.State().Transition(fsm.StateInvalid)
		p.release(w)
		return true, nil
	}
	p.countJob(w)

	if f.byte10&frame.STREAM == 0 {
		if !ttl.stop() {
			// exec_ttl fired as the answer arrived: the worker is being killed, the answer is whole
			w.State().Transition(fsm.StateExecTTLReached)
			p.handOver(w, handFail)
			sink.OnFrame(ctx, body, FrameWhole)
			return false, nil
		}
		// the sink copies the response: the worker is free before a slow client reads it
		sink.OnFrame(ctx, body, FrameWhole)
		if len(f.payload) > largeResponse {
			rl.trimReadBuffer()
		}
		p.finish(w)
		p.yieldToWaiter()
		return false, nil
	}
	closeSlot(rl)
	return false, p.stream(w, rl, ttl, started, ctx, body, sink)
}

// stream relays the frames of a streamed response; if the client goes away, the worker is
// told to stop (STOP bit) and its remaining frames are discarded. A sink that writes the
// response after its handler returns (StreamDetacher) takes the stream as a cursor instead and
// pulls the frames itself; the worker stays taken until the cursor ends.
func (p *Pool) stream(w *worker.Process, rl *pipeRelay, ttl *execTimer, started int64, ctx, body []byte, sink FrameSink) error {
	wanted := sink.OnFrame(ctx, body, FrameStreamPart)
	if !ttl.stop() { // fired while the first frame was written
		return p.broken(w, ttl, nil)
	}
	c := &StreamCursor{p: p, w: w, rl: rl, ttl: ttl, started: started, wanted: wanted}
	d, detachable := sink.(StreamDetacher)
	for {
		// the sink may take the stream only once it has the final head: frames before it can be
		// interim answers (1xx)
		if detachable && d.DetachStream(c) {
			return nil
		}
		if done, err := c.Next(sink); done {
			return err
		}
	}
}

// StreamDetacher is a FrameSink that continues a stream after Exec returns.
type StreamDetacher interface {
	// DetachStream takes over the stream; false leaves the next frame to Exec, which asks
	// again after it.
	DetachStream(c *StreamCursor) bool
}

// StreamCursor is a streamed response in progress, read frame by frame. It holds its worker
// until the last frame (or the worker's failure); Next or Cancel must be called until done.
type StreamCursor struct {
	p           *Pool
	w           *worker.Process
	rl          *pipeRelay
	ttl         *execTimer
	cancelTimer *execTimer
	started     int64 // unix ns
	wanted      bool
	done        bool
}

// Next reads one frame and hands its body to sink (nil: discard). done is true once the stream
// ended, with the worker handed back, or failed, with err.
func (c *StreamCursor) Next(sink FrameSink) (done bool, err error) {
	const op = errors.Op("pivot_stream")
	if c.done {
		return true, nil
	}
	defer func() {
		if done {
			c.done = true
			c.cancelTimer.stop()
			if c.p.pipeline != nil {
				c.p.pipeline.ended(c.started)
			}
		}
	}()
	p, w, rl, ttl := c.p, c.w, c.rl, c.ttl
	if sink == nil {
		c.wanted = false
	}
	if !c.wanted && c.cancelTimer == nil {
		if err = rl.writeControl(frame.STOP); err != nil {
			return true, p.broken(w, ttl, errors.E(op, errors.Network, err))
		}
		if !ttl.stop() {
			return true, p.broken(w, ttl, nil)
		}
		c.cancelTimer = startExecTimer(w, p.cfg.StreamTimeout)
	}
	if c.wanted {
		ttl.rearm() // exec_ttl applies to each frame
	}
	f, err := rl.readFrame()
	if err != nil {
		return true, p.broken(w, ttl, errors.E(op, errors.Network, err))
	}
	if f.flags&frame.ERROR != 0 {
		// an error inside a stream leaves the worker in an unknown state: replace it
		w.State().Transition(fsm.StateInvalid)
		p.release(w)
		return true, errors.E(op, errors.SoftJob, errors.Str(string(f.payload)))
	}
	if f.byte10&frame.PING != 0 && c.wanted {
		if err = rl.writeControl(frame.PONG); err != nil {
			return true, p.broken(w, ttl, errors.E(op, errors.Network, err))
		}
	}
	more := f.byte10&frame.STREAM != 0
	if c.wanted && f.options == 1 && int(f.ctxLen) <= len(f.payload) {
		kind := FrameStreamPart
		if !more {
			kind = FrameStreamLast
		}
		c.wanted = sink.OnFrame(f.payload[:f.ctxLen], f.payload[f.ctxLen:], kind)
	}
	if !more {
		rl.trimReadBuffer()
		if !ttl.stop() || !c.cancelTimer.stop() {
			p.handOver(w, handFail) // the stream is whole: a queued request may have started
			return true, p.broken(w, ttl, errors.E(op, errors.Network, errors.Str("the stream ended as its timer fired")))
		}
		p.finish(w)
		return true, nil
	}
	return false, nil
}

// Cancel ends a stream whose client went away: the worker is told to stop and the rest of
// its frames are discarded (bounded by pool.stream_timeout).
func (c *StreamCursor) Cancel() error {
	for {
		if done, err := c.Next(nil); done {
			return err
		}
	}
}

// countJob marks a worker that reached max_jobs; the release then replaces it.
func (p *Pool) countJob(w *worker.Process) {
	if p.cfg.MaxJobs != 0 && w.State().NumExecs() >= p.cfg.MaxJobs {
		w.State().Transition(fsm.StateMaxJobsReached)
	}
}

// finish returns a worker after a complete response, or hands it to the request queued behind.
func (p *Pool) finish(w *worker.Process) {
	if p.handOver(w, handOwn) {
		return // still working, now for the queued request
	}
	if w.State().Compare(fsm.StateWorking) {
		w.State().Transition(fsm.StateReady)
	}
	p.giveBack(w)
}

// yieldToWaiter lets the request that was just handed the freed worker run first, when
// requests are queued. The send readies that goroutine in this P's next slot, where it would
// wait until this one has written its response and blocked, and where another P may take it
// only after backing off (runqgrab's 3 µs sleep). Yielding runs it here at once, so the worker
// gets its next request sooner, and puts this goroutine on the global run queue, where an idle
// P picks it up right away: the response is written on the other CPU meanwhile. bench/README.md
// has the figures (+4 to +13 % req/s at 2 and 4 workers).
func (p *Pool) yieldToWaiter() {
	if p.queue.Load() > p.cfg.NumWorkers {
		runtime.Gosched()
	}
}

// release hands the worker to the request queued behind, or back to the watcher.
func (p *Pool) release(w *worker.Process) {
	if p.handOver(w, handOwn) {
		return // the queued request releases it (a replacement mark stays)
	}
	p.giveBack(w)
}

// giveBack returns the worker to the watcher; one that must go (max_jobs, ttl, ...) is stopped
// off the request path, so its exit never delays the response.
func (p *Pool) giveBack(w *worker.Process) {
	endRequest(w)
	if w.State().Compare(fsm.StateReady) {
		p.ww.Release(w)
		return
	}
	go p.ww.Release(w)
}

// broken kills a worker that failed mid-request (it died, broke the protocol or ran past
// exec_ttl); the watcher replaces it.
func (p *Pool) broken(w *worker.Process, ttl *execTimer, err error) error {
	endRequest(w)            // what it wrote as it failed (a fatal error) is the request's
	p.handOver(w, handRetry) // the answer in front is incomplete: a queued request never started
	if ttl.expired() {
		w.State().Transition(fsm.StateExecTTLReached)
		p.log.Warn("exec_ttl reached: worker killed", zap.Int64("pid", w.Pid()))
		return errors.E(errors.Op("pivot_exec"), errors.ExecTTL, errors.Str("exec_ttl reached"))
	}
	w.State().Transition(fsm.StateErrored)
	_ = w.Kill()
	return err
}

// execTimer kills a worker whose request runs too long; a nil timer is disabled. stop and the
// kill race for the same state, so a worker is either killed or handed back, never both.
type execTimer struct {
	d     time.Duration
	t     *time.Timer
	state atomic.Int32 // timerRunning, timerStopped or timerFired
}

const (
	timerRunning int32 = iota
	timerStopped
	timerFired
)

func startExecTimer(w *worker.Process, d time.Duration) *execTimer {
	et := &execTimer{d: d}
	et.t = time.AfterFunc(d, func() {
		if et.state.CompareAndSwap(timerRunning, timerFired) {
			_ = w.Kill()
		}
	})
	return et
}

// stop disarms the timer; false means it already fired and the worker is being killed.
func (et *execTimer) stop() bool {
	if et == nil {
		return true
	}
	et.t.Stop()
	return et.state.CompareAndSwap(timerRunning, timerStopped) || et.state.Load() == timerStopped
}

// rearm starts a new countdown for the next frame of a stream, unless the timer fired.
func (et *execTimer) rearm() {
	if et == nil {
		return
	}
	if et.state.CompareAndSwap(timerStopped, timerRunning) || et.state.Load() == timerRunning {
		et.t.Reset(et.d)
	}
}

func (et *execTimer) expired() bool { return et != nil && et.state.Load() == timerFired }

// supervise applies ttl, idle_ttl and max_worker_memory every watch_tick, as sdk/v4 does: a
// ready worker past a limit is marked and stopped on the next tick; a busy one is stopped when
// its request ends.
func (p *Pool) supervise() {
	sv := p.cfg.Supervisor
	tick := time.NewTicker(sv.WatchTick)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		now := time.Now()
		for _, w := range p.ww.List() {
			st := w.State()
			switch st.CurrentState() {
			case fsm.StateMaxMemoryReached, fsm.StateIdleTTLReached, fsm.StateTTLReached:
				_ = w.Stop()
				w.Callback()
				continue
			case fsm.StateReady, fsm.StateWorking:
			default:
				continue
			}
			mark := func(readyState int64, why string) {
				if st.Compare(fsm.StateReady) {
					st.Transition(readyState)
				} else {
					st.Transition(fsm.StateInvalid)
				}
				p.log.Debug("worker replaced", zap.String("reason", why), zap.Int64("pid", w.Pid()))
			}
			if sv.TTL != 0 && now.Sub(w.Created()) >= sv.TTL {
				mark(fsm.StateTTLReached, "ttl")
				continue
			}
			if sv.MaxWorkerMemory != 0 {
				if ps, err := process.WorkerProcessState(w); err == nil && ps.MemoryUsage >= sv.MaxWorkerMemory*mb {
					mark(fsm.StateMaxMemoryReached, "max_worker_memory")
					continue
				}
			}
			if sv.IdleTTL != 0 && st.Compare(fsm.StateReady) {
				if lu := st.LastUsed(); lu != 0 && now.Sub(time.Unix(0, int64(lu))) >= sv.IdleTTL {
					st.Transition(fsm.StateIdleTTLReached)
					p.log.Debug("worker replaced", zap.String("reason", "idle_ttl"), zap.Int64("pid", w.Pid()))
				}
			}
		}
	}
}

// mb is the unit of max_worker_memory.
const mb = 1024 * 1024

// b2s views b as a string without copying; the string must not outlive b's contents.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
