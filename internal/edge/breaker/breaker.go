// Package breaker is `pivot.breaker`: a circuit breaker around the PHP pool
// (github.com/sony/gobreaker/v2, with its rolling window). It counts 5xx
// answers (a worker's error is a 500, a dead worker a 502, no free worker a 503, exec_ttl a
// 504) and requests slower than `slow`; once failure_ratio of the window's requests failed (at
// least min_requests of them), it opens: requests get an immediate 503 with Retry-After (the
// seconds left of open_for) and PHP is not asked. Then half_open_requests probes go through:
// the breaker closes when they all succeed and opens again at the first failure.
package breaker

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// DefaultRoute is the route label of pivot.breaker's own breaker (every path no route's prefix
// matches).
const DefaultRoute = "default"

// State is a breaker's state, as rr_pivot_breaker_state reports it.
type State int

// The states, in rr_pivot_breaker_state's values.
const (
	Closed   State = 0
	HalfOpen State = 1
	Open     State = 2
)

func (s State) String() string {
	switch s {
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	}
	return "closed"
}

// Metrics counts what the breakers do (metrics.go implements it).
type Metrics interface {
	// Rejected counts a request answered 503 by an open (or busy half-open) breaker.
	Rejected(route string)
	// Transition counts a breaker's change of state (rr_pivot_breaker_transitions_total): from
	// and to are State.String()'s names. Called under the breaker's lock: it must not block.
	Transition(route, from, to string)
}

// Breakers is the middleware of pivot.breaker: a breaker per route prefix and one for the rest.
type Breakers struct {
	routes  []*breaker // longest prefix first
	def     *breaker
	metrics Metrics
	log     *zap.Logger
}

type breaker struct {
	name   string
	prefix string
	cb     *gobreaker.CircuitBreaker[struct{}]
	slow   time.Duration
	// openUntil (unix ns) is when the open state ends: Retry-After's seconds
	openUntil atomic.Int64
}

// errFailed is what a failed request reports to gobreaker.
var errFailed = errors.New("failed")

// New builds the breakers of a valid c (InitDefaults and Valid called).
func New(c *Config, m Metrics, log *zap.Logger) *Breakers {
	b := &Breakers{metrics: m, log: log}
	routes := append([]RouteConfig(nil), c.Routes...)
	// longest prefix first
	for i := 1; i < len(routes); i++ {
		for j := i; j > 0 && len(routes[j].Prefix) > len(routes[j-1].Prefix); j-- {
			routes[j], routes[j-1] = routes[j-1], routes[j]
		}
	}
	for _, r := range routes {
		b.routes = append(b.routes, b.newBreaker(r.Prefix, r.Prefix, r.Settings))
	}
	b.def = b.newBreaker(DefaultRoute, "", c.Settings)
	return b
}

func (b *Breakers) newBreaker(name, prefix string, s Settings) *breaker {
	br := &breaker{name: name, prefix: prefix, slow: s.Slow}
	open := s.OpenFor
	br.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         name,
		MaxRequests:  s.HalfOpenRequests,
		Interval:     s.Window,
		BucketPeriod: s.Window / windowBuckets,
		Timeout:      open,
		ReadyToTrip: func(n gobreaker.Counts) bool {
			done := n.TotalSuccesses + n.TotalFailures
			return done >= s.MinRequests && float64(n.TotalFailures) >= s.FailureRatio*float64(done)
		},
		// called under the breaker's lock, in the request that changed the state
		OnStateChange: func(_ string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				br.openUntil.Store(time.Now().Add(open).UnixNano())
			}
			fromS, toS := state(from).String(), state(to).String()
			b.metrics.Transition(name, fromS, toS)
			fields := []zap.Field{zap.String("route", name), zap.String("from", fromS), zap.String("to", toS)}
			if to == gobreaker.StateOpen {
				b.log.Warn("pivot.breaker: circuit open: requests get 503 without reaching PHP", append(fields, zap.Duration("open_for", open))...)
			} else {
				b.log.Info("pivot.breaker: circuit state changed", fields...)
			}
		},
	})
	return br
}

func state(s gobreaker.State) State {
	switch s {
	case gobreaker.StateOpen:
		return Open
	case gobreaker.StateHalfOpen:
		return HalfOpen
	}
	return Closed
}

// OpenReason says why pivot.breaker's own breaker (every path no route claims) is open and when
// it lets probes through; "" while it is closed or half-open. /ready reports it: an instance
// whose every route fails leaves the load balancer for open_for, then comes back half-open to
// be probed. Route breakers never make the instance unready: one failing part of an app is no
// reason to take the rest away.
func (b *Breakers) OpenReason() string {
	if state(b.def.cb.State()) != Open { // State moves an expired open to half-open
		return ""
	}
	secs := int(time.Until(time.Unix(0, b.def.openUntil.Load())).Seconds() + 0.999)
	return fmt.Sprintf("circuit breaker open (pivot.breaker: too many 5xx or slow answers from PHP); probing again in %ds", max(secs, 1))
}

// States reports each breaker's state, pivot.breaker's own last (rr_pivot_breaker_state).
func (b *Breakers) States(visit func(route string, s State)) {
	for _, br := range b.routes {
		visit(br.name, state(br.cb.State()))
	}
	visit(b.def.name, state(b.def.cb.State()))
}

func (b *Breakers) match(path []byte) *breaker {
	for _, br := range b.routes {
		if hasPathPrefix(path, br.prefix) {
			return br
		}
	}
	return b.def
}

// hasPathPrefix: /api matches /api and /api/users, not /apiary; /api/ what starts with it.
func hasPathPrefix(path []byte, prefix string) bool {
	if len(path) < len(prefix) || string(path[:len(prefix)]) != prefix {
		return false
	}
	return len(path) == len(prefix) || prefix[len(prefix)-1] == '/' || path[len(prefix)] == '/'
}

// Middleware answers 503 while the request's breaker is open, and reports how the others
// went: a 5xx status or a run longer than slow is a failure. A streamed response is judged by
// its status and the time to its first frame (the handler returns then).
func (b *Breakers) Middleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(c *fasthttp.RequestCtx) {
		br := b.match(c.Path())
		// Execute rather than the two-step breaker's Allow: its done callback is a closure
		// allocated per request; this one stays on the stack
		_, err := br.cb.Execute(func() (struct{}, error) {
			var start time.Time
			if br.slow > 0 {
				start = time.Now()
			}
			next(c)
			if c.Response.StatusCode() >= 500 || br.slow > 0 && time.Since(start) > br.slow {
				return struct{}{}, errFailed
			}
			return struct{}{}, nil
		})
		if err != nil && err != errFailed {
			b.reject(c, br, err)
		}
	}
}

func (b *Breakers) reject(c *fasthttp.RequestCtx, br *breaker, err error) {
	b.metrics.Rejected(br.name)
	retry := int64(1) // half-open with its probes under way
	if errors.Is(err, gobreaker.ErrOpenState) {
		if left := time.Until(time.Unix(0, br.openUntil.Load())); left > 0 {
			retry = int64((left + time.Second - 1) / time.Second)
		}
	}
	c.SetStatusCode(fasthttp.StatusServiceUnavailable)
	c.Response.Header.Set("Retry-After", strconv.FormatInt(retry, 10))
	c.Response.Header.SetContentType("text/plain; charset=utf-8")
	c.Response.Header.Set("X-Content-Type-Options", "nosniff")
	msg := "the application is failing: pivot.breaker is open, try again later\n"
	if !errors.Is(err, gobreaker.ErrOpenState) {
		msg = "the application is recovering: pivot.breaker lets a few requests through, try again\n"
	}
	c.SetBodyString(msg)
}
