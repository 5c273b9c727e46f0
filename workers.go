package pivot

import (
	"context"

	"github.com/roadrunner-server/errors"
	"github.com/roadrunner-server/sdk/v4/state/process"
	"go.uber.org/zap"
)

// Workers lists the pool's workers for the informer plugin (`rr workers`).
func (p *Plugin) Workers() []*process.State {
	h := p.current.Load()
	if h == nil {
		return nil
	}
	workers := h.pool.Workers()
	states := make([]*process.State, 0, len(workers))
	for _, w := range workers {
		st, err := process.WorkerProcessState(w)
		if err != nil {
			// the process may have just exited; list the rest
			p.log.Debug("worker state unavailable", zap.Int64("pid", w.Pid()), zap.Error(err))
			continue
		}
		states = append(states, st)
	}
	return states
}

// AddWorker adds a worker to the running pool (informer.AddWorker); later generations (after a
// reset or a restart) keep the new size.
func (p *Plugin) AddWorker() error {
	const op = errors.Op("pivot_add_worker")
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.current.Load()
	if h == nil {
		return errors.E(op, errors.Str("pivot has no running workers to scale"))
	}
	if p.workerTarget.Load() >= maxWorkers {
		return errors.E(op, errors.Errorf("pivot already runs the maximum of %d workers", maxWorkers))
	}
	if err := h.pool.AddWorker(); err != nil {
		return errors.E(op, err)
	}
	p.workerTarget.Add(1)
	return nil
}

// RemoveWorker removes an idle worker from the running pool (informer.RemoveWorker); at least
// one worker stays.
func (p *Plugin) RemoveWorker(ctx context.Context) error {
	const op = errors.Op("pivot_remove_worker")
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.current.Load()
	if h == nil {
		return errors.E(op, errors.Str("pivot has no running workers to scale"))
	}
	if p.workerTarget.Load() <= 1 {
		return errors.E(op, errors.Str("pivot keeps at least one worker; use rr stop to stop the server"))
	}
	if err := h.pool.RemoveWorker(ctx); err != nil {
		return errors.E(op, err)
	}
	p.workerTarget.Add(^uint64(0))
	return nil
}
