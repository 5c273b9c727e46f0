package pivot

import (
	"context"

	"github.com/roadrunner-server/errors"
	"github.com/roadrunner-server/sdk/v4/state/process"
	"go.uber.org/zap"
)

// Workers lists the pool's workers for the informer plugin (`rr workers`).
func (p *Plugin) Workers() []*process.State {
	pl := p.pool.Load()
	if pl == nil {
		return nil
	}
	workers := pl.Workers()
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

// AddWorker adds a worker to the running pool (informer.AddWorker).
func (p *Plugin) AddWorker() error {
	const op = errors.Op("pivot_add_worker")
	pl := p.pool.Load()
	if pl == nil {
		return errors.E(op, errors.Str("the pivot pool is not running"))
	}
	return pl.AddWorker()
}

// RemoveWorker removes a worker from the running pool (informer.RemoveWorker).
func (p *Plugin) RemoveWorker(ctx context.Context) error {
	const op = errors.Op("pivot_remove_worker")
	pl := p.pool.Load()
	if pl == nil {
		return errors.E(op, errors.Str("the pivot pool is not running"))
	}
	return pl.RemoveWorker(ctx)
}

// Reset replaces every worker (resetter.Reset "pivot", `rr reset`).
func (p *Plugin) Reset() error {
	const op = errors.Op("pivot_reset")
	p.mu.Lock()
	defer p.mu.Unlock()
	pl := p.pool.Load()
	if pl == nil {
		return errors.E(op, errors.Str("the pivot pool is not running"))
	}
	p.log.Info("reset: replacing every worker")
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Pool.ResetTimeout)
	defer cancel()
	if err := pl.Reset(ctx); err != nil {
		return errors.E(op, err)
	}
	p.log.Info("reset: done")
	return nil
}
