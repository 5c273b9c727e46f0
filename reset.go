package pivot

import (
	"context"
	"time"

	"github.com/roadrunner-server/errors"
	"go.uber.org/zap"
)

// Reset replaces every worker without a stall (resetter.Reset "pivot", `rr reset`, SIGUSR2): a
// new generation is started while the old one keeps serving, swapped in, and the old one is
// retired once its in-flight requests finish. If the new workers cannot start (a broken
// deploy), the old ones keep serving and Reset reports why.
func (p *Plugin) Reset() error {
	const op = errors.Op("pivot_reset")
	if !p.resetting.CompareAndSwap(false, true) {
		return errors.E(op, errors.Str("pivot: a reset is already in progress; wait for it to finish and retry"))
	}
	defer p.resetting.Store(false)
	if p.stopping.Load() {
		return errors.E(op, errors.Str("pivot is stopping; nothing to reset"))
	}

	start := time.Now()
	p.log.Info("reset: starting a new generation of workers")
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Pool.ResetTimeout)
	defer cancel()

	gen, err := p.startGeneration()
	if err != nil {
		p.log.Error("reset failed: the new workers cannot start; the current workers keep serving", zap.Error(err))
		return errors.E(op, errors.Errorf("pivot: reset failed, the current workers keep serving: %v", err))
	}

	p.mu.Lock()
	if p.stopping.Load() {
		p.mu.Unlock()
		gen.abandon(ctx)
		return errors.E(op, errors.Str("pivot is stopping; the reset was abandoned"))
	}
	old := p.current.Swap(gen)
	p.outage.Store(nil)
	p.mu.Unlock()

	if old != nil {
		old.retire(ctx)
	}
	p.metrics.resets.Inc()
	p.log.Info("reset: done", zap.Duration("elapsed", time.Since(start)))
	return nil
}

// resetOnSignal resets on SIGUSR2 (pivot.reset_signal), for deploy scripts without RPC access.
func (p *Plugin) resetOnSignal() {
	for {
		select {
		case <-p.stopCh:
			return
		case _, ok := <-p.sigCh:
			if !ok {
				return
			}
			if err := p.Reset(); err != nil {
				p.log.Error("SIGUSR2 reset", zap.Error(err))
			}
		}
	}
}
