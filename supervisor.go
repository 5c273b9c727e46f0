package pivot

import (
	"context"
	"fmt"
	"time"

	"github.com/roadrunner-server/errors"
	"go.uber.org/zap"
)

// The supervisor keeps a generation of workers serving. When the pool cannot start (the PHP
// script does not boot) or dies at run time (no live worker, or workers keep dying while
// nothing is served), it retires the pool and starts a new one with exponential backoff.
// Meanwhile requests get a fast 503 with Retry-After instead of waiting for allocate_timeout,
// and /ready reports why. Recovery is automatic once the cause is fixed.

// outage describes why no pool is serving; nil when one is.
type outage struct {
	reason  string
	retryAt time.Time
}

func (o *outage) retryAfterSeconds() int {
	s := int(time.Until(o.retryAt).Seconds() + 0.999)
	if s < 1 {
		return 1
	}
	return s
}

// churnSample is one supervisor tick's view of a pool generation.
type churnSample struct {
	at      time.Time
	spawned int    // workers that appeared since the previous tick
	served  uint64 // requests served since the previous tick
}

func (p *Plugin) setOutage(reason string, retryAt time.Time) {
	p.outage.Store(&outage{reason: reason, retryAt: retryAt})
}

// supervise runs until stop is closed. It owns restarts; Reset and Stop coordinate with it
// through p.mu.
func (p *Plugin) supervise(stop <-chan struct{}, errCh chan<- error) {
	rc := p.cfg.Restart
	backoff := rc.InitialBackoff
	failures := 0
	var (
		watched     *poolHandle
		seen        map[int64]struct{}
		samples     []churnSample
		lastServed  uint64
		deadSince   time.Time
		stableSince time.Time
	)
	sleep := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-stop:
			return false
		case <-t.C:
			return true
		}
	}

	for {
		h := p.current.Load()
		if h == nil {
			if p.stopping.Load() {
				return
			}
			p.mu.Lock()
			if p.current.Load() == nil && !p.stopping.Load() {
				gen, err := p.startGeneration()
				if err == nil {
					p.current.Store(gen)
					p.outage.Store(nil)
					p.log.Info("workers started", zap.Int("attempt", failures+1))
				} else {
					failures++
					p.metrics.restartFailures.Inc()
					reason := fmt.Sprintf("workers cannot start (attempt %d): %v", failures, err)
					if rc.MaxConsecutiveFailures > 0 && failures >= rc.MaxConsecutiveFailures {
						p.mu.Unlock()
						p.setOutage(reason, time.Now().Add(time.Hour))
						p.log.Error("giving up: pivot.restart.max_consecutive_failures reached", zap.Int("failures", failures), zap.Error(err))
						errCh <- errors.E(errors.Op("pivot_supervisor"), errors.Errorf(
							"pivot: workers failed to start %d times in a row (pivot.restart.max_consecutive_failures): %v", failures, err))
						return
					}
					p.setOutage(reason, time.Now().Add(backoff))
					p.log.Error("workers cannot start; retrying", zap.Duration("backoff", backoff), zap.Int("failures", failures), zap.Error(err))
					p.mu.Unlock()
					if !sleep(backoff) {
						return
					}
					backoff = min(backoff*2, rc.MaxBackoff)
					continue
				}
			}
			p.mu.Unlock()
			continue
		}

		if h != watched { // a new generation: start watching it afresh
			watched, seen, samples = h, map[int64]struct{}{}, samples[:0]
			for _, w := range h.pool.Workers() {
				seen[w.Pid()] = struct{}{}
			}
			deadSince, stableSince, lastServed = time.Time{}, time.Now(), h.served.Load()
		}
		if !sleep(rc.CheckInterval) {
			return
		}
		if p.current.Load() != h {
			continue // reset or stop swapped it meanwhile
		}

		now := time.Now()
		spawned := 0
		for _, w := range h.pool.Workers() {
			if _, ok := seen[w.Pid()]; !ok {
				seen[w.Pid()] = struct{}{}
				spawned++
			}
		}
		served := h.served.Load()
		servedNow := served - lastServed
		lastServed = served
		samples = append(samples, churnSample{at: now, spawned: spawned, served: servedNow})
		for len(samples) > 0 && now.Sub(samples[0].at) > rc.CrashWindow {
			samples = samples[1:]
		}

		// Both rules require that nothing was served meanwhile: a pool that recycles its
		// workers quickly (max_jobs, the PHP WorkerManager) while serving is healthy.
		reason := ""
		if h.activeWorkers() == 0 && servedNow == 0 {
			if deadSince.IsZero() {
				deadSince = now
			}
			if now.Sub(deadSince) >= rc.DeadAfter {
				reason = fmt.Sprintf("no live worker for %s", now.Sub(deadSince).Round(time.Millisecond))
			}
		} else {
			deadSince = time.Time{}
		}
		if reason == "" {
			restarts, servedInWindow := 0, uint64(0)
			for _, s := range samples {
				restarts += s.spawned
				servedInWindow += s.served
			}
			if restarts >= p.crashRestarts() && servedInWindow == 0 {
				reason = fmt.Sprintf("workers keep dying: %d restarts within %s and no request served", restarts, rc.CrashWindow)
			}
		}

		if reason == "" {
			if deadSince.IsZero() && (h.served.Load() > 0 || now.Sub(stableSince) >= rc.StableAfter) {
				failures, backoff = 0, rc.InitialBackoff
			}
			continue
		}

		// crash loop: retire this generation and restart after a backoff
		failures++
		p.metrics.restartFailures.Inc()
		p.log.Error("worker pool is failing; restarting it", zap.String("reason", reason), zap.Duration("backoff", backoff), zap.Int("failures", failures))
		p.mu.Lock()
		if p.current.CompareAndSwap(h, nil) {
			p.setOutage(reason, now.Add(backoff))
			go p.abandon(h)
		}
		p.mu.Unlock()
		if !sleep(backoff) {
			return
		}
		backoff = min(backoff*2, rc.MaxBackoff)
	}
}

// crashRestarts is how many worker restarts within the crash window, with nothing served,
// mean a crash loop: more than twice the pool replacing itself.
func (p *Plugin) crashRestarts() int {
	return 2*int(p.workerTarget.Load()) + 2
}

// abandon destroys a failing generation within destroy_timeout (see poolHandle.abandon).
func (p *Plugin) abandon(h *poolHandle) {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Pool.DestroyTimeout)
	defer cancel()
	h.abandon(ctx)
}

// retire drains and destroys a pool generation within destroy_timeout.
func (p *Plugin) retire(h *poolHandle) {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Pool.DestroyTimeout)
	defer cancel()
	h.retire(ctx)
}
