package supervisor

import (
	"fmt"
	"time"

	"github.com/roadrunner-server/errors"
	"go.uber.org/zap"
)

// RestartConfig is `pivot.restart`: how a pool that cannot start or keeps dying is restarted.
type RestartConfig struct {
	// InitialBackoff is the first wait before a restart; it doubles up to MaxBackoff.
	InitialBackoff time.Duration `mapstructure:"initial_backoff"`
	MaxBackoff     time.Duration `mapstructure:"max_backoff"`
	// MaxConsecutiveFailures stops RoadRunner with an error after this many failed starts in a
	// row (0: keep retrying and serve 503s until the cause is fixed).
	MaxConsecutiveFailures int `mapstructure:"max_consecutive_failures"`
	// CheckInterval is how often the supervisor looks at the workers.
	CheckInterval time.Duration `mapstructure:"check_interval"`
	// DeadAfter: no live worker for this long means the pool is down.
	DeadAfter time.Duration `mapstructure:"dead_after"`
	// CrashWindow: more than 2×num_workers+2 worker restarts within it, with no request
	// served, is a crash loop.
	CrashWindow time.Duration `mapstructure:"crash_window"`
	// StableAfter: a generation alive this long (or that served a request) resets the backoff.
	StableAfter time.Duration `mapstructure:"stable_after"`
}

// InitDefaults sets production defaults: quick first retries, at most 30 s apart, forever.
func (r *RestartConfig) InitDefaults() {
	if r.InitialBackoff == 0 {
		r.InitialBackoff = 200 * time.Millisecond
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = 30 * time.Second
	}
	if r.CheckInterval == 0 {
		r.CheckInterval = 250 * time.Millisecond
	}
	if r.DeadAfter == 0 {
		r.DeadAfter = time.Second
	}
	if r.CrashWindow == 0 {
		r.CrashWindow = 10 * time.Second
	}
	if r.StableAfter == 0 {
		r.StableAfter = 10 * time.Second
	}
}

// Valid checks pivot.restart after InitDefaults; every error names the key and the fix.
func (r *RestartConfig) Valid() error {
	if r.InitialBackoff > r.MaxBackoff {
		return fmt.Errorf("pivot.restart.initial_backoff (%s) is larger than pivot.restart.max_backoff (%s): lower it or raise max_backoff", r.InitialBackoff, r.MaxBackoff)
	}
	if r.MaxConsecutiveFailures < 0 {
		return fmt.Errorf("pivot.restart.max_consecutive_failures is %d: use 0 (retry forever) or a positive count", r.MaxConsecutiveFailures)
	}
	return nil
}

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
	secs := int(time.Until(o.retryAt).Seconds() + 0.999)
	if secs < 1 {
		return 1
	}
	return secs
}

// churnSample is one supervisor tick's view of a pool generation.
type churnSample struct {
	at      time.Time
	spawned int    // workers that appeared since the previous tick
	served  uint64 // requests served since the previous tick
}

func (s *Supervisor) setOutage(reason string, retryAt time.Time) {
	s.outage.Store(&outage{reason: reason, retryAt: retryAt})
}

// watch runs until Drain. It owns restarts; Reset and Stop coordinate with it through s.mu.
// It returns an error only when pivot.restart.max_consecutive_failures is reached.
func (s *Supervisor) watch() error {
	stop := s.stopCh
	rc := s.opts.Restart
	backoff := rc.InitialBackoff
	failures := 0
	var (
		watched     *Generation
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
		h := s.current.Load()
		if h == nil {
			if s.stopping.Load() {
				return nil
			}
			s.mu.Lock()
			if s.current.Load() == nil && !s.stopping.Load() {
				gen, err := s.startGeneration()
				if err == nil {
					s.current.Store(gen)
					s.outage.Store(nil)
					s.log.Info("workers started", zap.Int("attempt", failures+1))
				} else {
					failures++
					s.opts.Metrics.RestartFailed()
					reason := fmt.Sprintf("workers cannot start (attempt %d): %v", failures, err)
					if rc.MaxConsecutiveFailures > 0 && failures >= rc.MaxConsecutiveFailures {
						s.mu.Unlock()
						s.setOutage(reason, time.Now().Add(time.Hour))
						s.log.Error("giving up: pivot.restart.max_consecutive_failures reached", zap.Int("failures", failures), zap.Error(err))
						return errors.E(errors.Op("pivot_supervisor"), errors.Errorf(
							"pivot: workers failed to start %d times in a row (pivot.restart.max_consecutive_failures): %v", failures, err))
					}
					s.setOutage(reason, time.Now().Add(backoff))
					s.log.Error("workers cannot start; retrying", zap.Duration("backoff", backoff), zap.Int("failures", failures), zap.Error(err))
					s.mu.Unlock()
					if !sleep(backoff) {
						return nil
					}
					backoff = min(backoff*2, rc.MaxBackoff)
					continue
				}
			}
			s.mu.Unlock()
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
			return nil
		}
		if s.current.Load() != h {
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
			for _, sample := range samples {
				restarts += sample.spawned
				servedInWindow += sample.served
			}
			if restarts >= s.crashRestarts() && servedInWindow == 0 {
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
		s.opts.Metrics.RestartFailed()
		s.log.Error("worker pool is failing; restarting it", zap.String("reason", reason), zap.Duration("backoff", backoff), zap.Int("failures", failures))
		s.mu.Lock()
		if s.current.CompareAndSwap(h, nil) {
			s.setOutage(reason, now.Add(backoff))
			go s.abandonNow(h)
		}
		s.mu.Unlock()
		if !sleep(backoff) {
			return nil
		}
		backoff = min(backoff*2, rc.MaxBackoff)
	}
}

// crashRestarts is how many worker restarts within the crash window, with nothing served,
// mean a crash loop: more than twice the pool replacing itself.
func (s *Supervisor) crashRestarts() int {
	return 2*int(s.workerTarget.Load()) + 2
}
