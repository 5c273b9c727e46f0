package supervisor

import (
	"context"

	"github.com/roadrunner-server/errors"
	"github.com/roadrunner-server/sdk/v4/state/process"
	"go.uber.org/zap"
)

// Workers lists the serving generation's workers (the informer: `rr workers`).
func (s *Supervisor) Workers() []*process.State {
	g := s.current.Load()
	if g == nil {
		return nil
	}
	workers := g.pool.Workers()
	states := make([]*process.State, 0, len(workers))
	for _, w := range workers {
		st, err := process.WorkerProcessState(w)
		if err != nil {
			// the process may have just exited; list the rest
			s.log.Debug("worker state unavailable", zap.Int64("pid", w.Pid()), zap.Error(err))
			continue
		}
		states = append(states, st)
	}
	return states
}

// AddWorker adds a worker to the running pool; later generations (after a reset or a restart)
// keep the new size.
func (s *Supervisor) AddWorker() error {
	const op = errors.Op("pivot_add_worker")
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.current.Load()
	if g == nil {
		return errors.E(op, errors.Str("pivot has no running workers to scale"))
	}
	if s.workerTarget.Load() >= MaxWorkers {
		return errors.E(op, errors.Errorf("pivot already runs the maximum of %d workers", MaxWorkers))
	}
	if err := g.pool.AddWorker(); err != nil {
		return errors.E(op, err)
	}
	s.workerTarget.Add(1)
	return nil
}

// RemoveWorker removes an idle worker from the running pool; at least one worker stays.
func (s *Supervisor) RemoveWorker(ctx context.Context) error {
	const op = errors.Op("pivot_remove_worker")
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.current.Load()
	if g == nil {
		return errors.E(op, errors.Str("pivot has no running workers to scale"))
	}
	if s.workerTarget.Load() <= 1 {
		return errors.E(op, errors.Str("pivot keeps at least one worker; use rr stop to stop the server"))
	}
	if err := g.pool.RemoveWorker(ctx); err != nil {
		return errors.E(op, err)
	}
	s.workerTarget.Add(^uint64(0))
	return nil
}
