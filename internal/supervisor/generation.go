package supervisor

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/pool"
)

// Generation is one generation of workers. Requests acquire the current generation; a reset or
// a recovery swaps in a new one and retires the old one, which is destroyed only once its last
// request has finished — so swapping pools never fails a request.
type Generation struct {
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

func newGeneration(pl *pool.Pool, ctx context.Context, cancel context.CancelFunc) *Generation {
	return &Generation{pool: pl, ctx: ctx, cancel: cancel, started: time.Now()}
}

// acquire registers a request; it fails when the generation was retired meanwhile, and the
// caller then loads the new current one. Incrementing before checking closes the race with
// retire.
func (g *Generation) acquire() bool {
	g.inflight.Add(1)
	if g.retired.Load() {
		g.inflight.Add(-1)
		return false
	}
	return true
}

// Release ends a request's registration.
func (g *Generation) Release() {
	g.inflight.Add(-1)
}

// Exec runs a request on a worker of the generation.
func (g *Generation) Exec(ctx, body []byte, sink pool.FrameSink) error {
	return g.pool.Exec(ctx, body, sink)
}

// Served counts a request a worker of the generation answered.
func (g *Generation) Served() { g.served.Add(1) }

// Retired reports whether the generation was retired or abandoned.
func (g *Generation) Retired() bool { return g.retired.Load() }

// retire stops new requests from acquiring the generation, waits (until ctx ends) for the
// requests that did, then destroys the pool: each worker gets the stop frame once it is idle.
func (g *Generation) retire(ctx context.Context) {
	g.retired.Store(true)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for g.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			g.pool.Destroy(ctx)
			g.cancel()
			return
		case <-tick.C:
		}
	}
	// Destroy first: a worker being respawned right now (max_jobs, ttl) finishes its spawn
	// and is stopped with the rest; cancelling first would make the sdk retry the spawn until
	// allocate_timeout before Destroy could return. Cancelling after stops any later spawn.
	g.pool.Destroy(ctx)
	g.cancel()
}

// abandon destroys a failing generation at once: requests waiting for one of its workers get
// a 503 now instead of waiting out allocate_timeout, since none of its workers is serving.
func (g *Generation) abandon(ctx context.Context) {
	g.retired.Store(true)
	g.cancel()
	g.pool.Destroy(ctx)
}

// activeWorkers counts workers that are alive (ready or working).
func (g *Generation) activeWorkers() int {
	n := 0
	for _, w := range g.pool.Workers() {
		if w.State().IsActive() {
			n++
		}
	}
	return n
}
