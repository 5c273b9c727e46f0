package pivot

import (
	"context"
	"sync/atomic"
	"time"

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

func (h *poolHandle) release() {
	h.inflight.Add(-1)
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
