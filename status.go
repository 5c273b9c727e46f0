package pivot

import (
	"context"
	"net/http"

	"github.com/roadrunner-server/api/v4/plugins/v1/status"
	"github.com/roadrunner-server/errors"
	"github.com/roadrunner-server/sdk/v4/state/process"
)

// The status plugin writes a returned error's text as the response body (with its
// unavailable_status_code), so an unhealthy pivot says why.

// Status is the health check (/health?plugin=pivot): healthy while at least one worker is alive.
func (p *Plugin) Status() (*status.Status, error) {
	if err := p.workers.Health(); err != nil {
		return nil, err
	}
	return &status.Status{Code: http.StatusOK}, nil
}

// Ready is the readiness check (/ready?plugin=pivot): ready when the pool can take requests,
// the plugin is not draining and pivot.breaker's own breaker is not open. Busy workers count as
// ready: a loaded server is not unready.
func (p *Plugin) Ready() (*status.Status, error) {
	if p.stopping.Load() {
		return nil, errors.Str("pivot: not ready: draining (shutting down)")
	}
	if p.leaving.Load() {
		return nil, errors.Str("pivot: not ready: leaving the load balancer (pivot.shutdown_delay), still serving")
	}
	if p.breakers != nil {
		if reason := p.breakers.OpenReason(); reason != "" {
			return nil, errors.Str("pivot: not ready: " + reason)
		}
	}
	return p.Status()
}

// Workers lists the serving workers for the informer plugin (`rr workers`).
func (p *Plugin) Workers() []*process.State { return p.workers.Workers() }

// AddWorker adds a worker to the running pool (informer.AddWorker); later generations (after a
// reset or a restart) keep the new size.
func (p *Plugin) AddWorker() error { return p.workers.AddWorker() }

// RemoveWorker removes an idle worker from the running pool (informer.RemoveWorker); at least
// one worker stays.
func (p *Plugin) RemoveWorker(ctx context.Context) error { return p.workers.RemoveWorker(ctx) }
