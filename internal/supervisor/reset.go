package supervisor

import (
	"context"
	"time"

	"github.com/roadrunner-server/errors"
	"go.uber.org/zap"
)

// Reset replaces every worker without a stall (`rr reset`, SIGUSR2): a new generation is
// started while the old one keeps serving, swapped in, and the old one is retired once its
// in-flight requests finish. If the new workers cannot start (a broken deploy), the old ones
// keep serving and Reset reports why.
func (s *Supervisor) Reset() error {
	const op = errors.Op("pivot_reset")
	if !s.resetting.CompareAndSwap(false, true) {
		return errors.E(op, errors.Str("pivot: a reset is already in progress; wait for it to finish and retry"))
	}
	defer s.resetting.Store(false)
	if s.stopping.Load() {
		return errors.E(op, errors.Str("pivot is stopping; nothing to reset"))
	}

	start := time.Now()
	s.log.Info("reset: starting a new generation of workers")
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Pool.ResetTimeout)
	defer cancel()

	gen, err := s.startGeneration()
	if err != nil {
		s.log.Error("reset failed: the new workers cannot start; the current workers keep serving", zap.Error(err))
		return errors.E(op, errors.Errorf("pivot: reset failed, the current workers keep serving: %v", err))
	}

	s.mu.Lock()
	if s.stopping.Load() {
		s.mu.Unlock()
		gen.abandon(ctx)
		return errors.E(op, errors.Str("pivot is stopping; the reset was abandoned"))
	}
	old := s.current.Swap(gen)
	s.outage.Store(nil)
	s.mu.Unlock()

	if old != nil {
		old.retire(ctx)
	}
	s.opts.Metrics.ResetDone()
	s.log.Info("reset: done", zap.Duration("elapsed", time.Since(start)))
	return nil
}
