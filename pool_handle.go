package pivot

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/httpfront"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/pool"
)

// poolHandle is one generation of workers. Requests acquire the current handle; a reset or a
// recovery swaps in a new generation and retires the old one, which is destroyed only once its
// last request has finished — so swapping pools never fails a request.
type poolHandle struct {
	pool *pool.Pool
	// ctx is the generation's life: the sdk pool spawns every worker under it and derives each
	// Exec's wait for a free worker from it. Cancelling it wakes requests still waiting on an
	// abandoned generation at once, and stops a retired generation from spawning orphans.
	ctx      context.Context
	cancel   context.CancelFunc
	inflight atomic.Int64
	retired  atomic.Bool
	// served counts requests a worker of this generation answered (any status), so the
	// supervisor can tell a crash loop (workers die, nothing is served) from normal churn.
	served  atomic.Uint64
	started time.Time
}

func newPoolHandle(pl *pool.Pool, ctx context.Context, cancel context.CancelFunc) *poolHandle {
	return &poolHandle{pool: pl, ctx: ctx, cancel: cancel, started: time.Now()}
}

// acquire registers a request; it fails when the handle was retired meanwhile, and the caller
// then loads the new current handle. Incrementing before checking closes the race with retire.
func (h *poolHandle) acquire() bool {
	h.inflight.Add(1)
	if h.retired.Load() {
		h.inflight.Add(-1)
		return false
	}
	return true
}

// Release ends a request's registration (httpfront.Generation).
func (h *poolHandle) Release() {
	h.inflight.Add(-1)
}

// Exec runs a request on a worker of the generation (httpfront.Generation).
func (h *poolHandle) Exec(ctx, body []byte, sink pool.FrameSink) error {
	return h.pool.Exec(ctx, body, sink)
}

// Served counts a request a worker of the generation answered (httpfront.Generation).
func (h *poolHandle) Served() { h.served.Add(1) }

// Retired reports whether the generation was retired or abandoned (httpfront.Generation).
func (h *poolHandle) Retired() bool { return h.retired.Load() }

// generations is the plugin as the HTTP front sees it: the serving generation, or why none
// serves (httpfront.Generations).
type generations Plugin

var (
	_ httpfront.Generations = (*generations)(nil)
	_ httpfront.Generation  = (*poolHandle)(nil)
)

// Acquire returns the serving generation with this request registered on it, or nil while no
// generation serves (the supervisor is restarting workers, or the plugin is stopping).
func (g *generations) Acquire() httpfront.Generation {
	for {
		h := g.current.Load()
		if h == nil {
			return nil
		}
		if h.acquire() {
			return h
		}
		// retired between the load and the acquire: a reset swapped in a new generation
	}
}

// Unavailable is the Retry-After of a 503 while no generation serves, and whether the plugin
// is stopping.
func (g *generations) Unavailable() (retryAfter int, stopping bool) {
	retryAfter = 1
	if o := g.outage.Load(); o != nil {
		retryAfter = o.retryAfterSeconds()
	}
	return retryAfter, g.stopping.Load()
}

// retire stops new requests from acquiring the handle, waits (until ctx ends) for the requests
// that did, then destroys the pool: each worker gets the stop frame once it is idle.
func (h *poolHandle) retire(ctx context.Context) {
	h.retired.Store(true)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for h.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			h.pool.Destroy(ctx)
			h.cancel()
			return
		case <-tick.C:
		}
	}
	// Destroy first: a worker being respawned right now (max_jobs, ttl) finishes its spawn
	// and is stopped with the rest; cancelling first would make the sdk retry the spawn until
	// allocate_timeout before Destroy could return. Cancelling after stops any later spawn.
	h.pool.Destroy(ctx)
	h.cancel()
}

// abandon destroys a failing generation at once: requests waiting for one of its workers get
// a 503 now instead of waiting out allocate_timeout, since none of its workers is serving.
func (h *poolHandle) abandon(ctx context.Context) {
	h.retired.Store(true)
	h.cancel()
	h.pool.Destroy(ctx)
}

// activeWorkers counts workers that are alive (ready or working).
func (h *poolHandle) activeWorkers() int {
	n := 0
	for _, w := range h.pool.Workers() {
		if w.State().IsActive() {
			n++
		}
	}
	return n
}
