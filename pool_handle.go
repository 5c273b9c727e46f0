package pivot

import (
	"context"
	"sync/atomic"
	"time"

	staticPool "github.com/roadrunner-server/sdk/v4/pool/static_pool"
)

// poolHandle is one generation of workers. Requests acquire the current handle; a reset or a
// recovery swaps in a new generation and retires the old one, which is destroyed only once its
// last request has finished — so swapping pools never fails a request.
type poolHandle struct {
	pool     *staticPool.Pool
	inflight atomic.Int64
	retired  atomic.Bool
	// served counts requests a worker of this generation answered (any status), so the
	// supervisor can tell a crash loop (workers die, nothing is served) from normal churn.
	served  atomic.Uint64
	started time.Time
}

func newPoolHandle(pl *staticPool.Pool) *poolHandle {
	return &poolHandle{pool: pl, started: time.Now()}
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
			return
		case <-tick.C:
		}
	}
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
