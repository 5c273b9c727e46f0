package breaker

import (
	"fmt"
	"strings"
	"time"
)

const (
	defaultFailureRatio     = 0.5
	defaultMinRequests      = 20
	defaultWindow           = 10 * time.Second
	defaultOpenFor          = 10 * time.Second
	defaultHalfOpenRequests = 3
	// buckets of the rolling window: it slides by window/10
	windowBuckets = 10
)

// Config is `pivot.breaker`: a circuit breaker around the PHP pool.
type Config struct {
	Settings `mapstructure:",squash"`
	// Routes give path prefixes breakers of their own (the longest prefix wins); a key left
	// out is pivot.breaker's.
	Routes []RouteConfig `mapstructure:"routes"`
}

// RouteConfig is one of pivot.breaker.routes.
type RouteConfig struct {
	Prefix   string `mapstructure:"prefix"`
	Settings `mapstructure:",squash"`
}

// Settings are the keys of a breaker, pivot.breaker's own and each route's.
type Settings struct {
	// FailureRatio opens the breaker when at least this share of the requests of the window
	// failed (a 5xx, a worker's error, or slower than slow). Default 0.5.
	FailureRatio float64 `mapstructure:"failure_ratio"`
	// MinRequests: the breaker does not open before the window holds this many finished
	// requests. Default 20.
	MinRequests uint32 `mapstructure:"min_requests"`
	// Window is the rolling window the ratio is computed over (in 10 steps). Default 10s.
	Window time.Duration `mapstructure:"window"`
	// OpenFor is how long an open breaker answers 503 before it lets probes through. Default 10s.
	OpenFor time.Duration `mapstructure:"open_for"`
	// Slow: a request that takes longer counts as a failure. 0 (default): time does not count.
	Slow time.Duration `mapstructure:"slow"`
	// HalfOpenRequests is the probes let through once open_for is over: the breaker closes
	// when they all succeed and opens again at the first failure. Default 3.
	HalfOpenRequests uint32 `mapstructure:"half_open_requests"`
}

// InitDefaults fills the unset values; a route inherits pivot.breaker's.
func (c *Config) InitDefaults() {
	c.Settings.inherit(Settings{FailureRatio: defaultFailureRatio, MinRequests: defaultMinRequests,
		Window: defaultWindow, OpenFor: defaultOpenFor, HalfOpenRequests: defaultHalfOpenRequests})
	for i := range c.Routes {
		c.Routes[i].Prefix = strings.TrimSpace(c.Routes[i].Prefix)
		c.Routes[i].Settings.inherit(c.Settings)
	}
}

func (s *Settings) inherit(from Settings) {
	if s.FailureRatio == 0 {
		s.FailureRatio = from.FailureRatio
	}
	if s.MinRequests == 0 {
		s.MinRequests = from.MinRequests
	}
	if s.Window == 0 {
		s.Window = from.Window
	}
	if s.OpenFor == 0 {
		s.OpenFor = from.OpenFor
	}
	if s.Slow == 0 {
		s.Slow = from.Slow
	}
	if s.HalfOpenRequests == 0 {
		s.HalfOpenRequests = from.HalfOpenRequests
	}
}

// Valid checks the section after InitDefaults; every error names the key and the fix.
func (c *Config) Valid() error {
	if err := c.Settings.valid("pivot.breaker"); err != nil {
		return err
	}
	seen := map[string]int{}
	for i, r := range c.Routes {
		key := fmt.Sprintf("pivot.breaker.routes[%d]", i)
		if !strings.HasPrefix(r.Prefix, "/") {
			return fmt.Errorf("%s.prefix %q must be a path starting with /, e.g. prefix: /api/", key, r.Prefix)
		}
		if j, dup := seen[r.Prefix]; dup {
			return fmt.Errorf("%s.prefix %q is listed already (pivot.breaker.routes[%d]): remove one", key, r.Prefix, j)
		}
		seen[r.Prefix] = i
		if err := r.Settings.valid(key); err != nil {
			return err
		}
	}
	return nil
}

func (s *Settings) valid(key string) error {
	switch {
	case s.FailureRatio <= 0 || s.FailureRatio > 1:
		return fmt.Errorf("%s.failure_ratio is %g: use a share of the requests from 0 to 1, e.g. 0.5 (half of them failed)", key, s.FailureRatio)
	case s.Window < windowBuckets*time.Millisecond:
		return fmt.Errorf("%s.window is %s: use a duration of at least 10ms, e.g. 10s", key, s.Window)
	case s.OpenFor < time.Millisecond:
		return fmt.Errorf("%s.open_for is %s: use a duration of at least 1ms, e.g. 10s", key, s.OpenFor)
	case s.Slow < 0:
		return fmt.Errorf("%s.slow is %s: use 0 (time does not count) or a duration, e.g. 2s", key, s.Slow)
	}
	return nil
}
