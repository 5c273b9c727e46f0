package pivot

import (
	"fmt"
	"net/http"

	"github.com/roadrunner-server/api/v4/plugins/v1/status"
	"github.com/roadrunner-server/errors"
)

// The status plugin writes a returned error's text as the response body (with its
// unavailable_status_code), so an unhealthy pivot says why.

// Status is the health check (/health?plugin=pivot): healthy while at least one worker is alive.
func (p *Plugin) Status() (*status.Status, error) {
	if h := p.current.Load(); h != nil && h.activeWorkers() > 0 {
		return &status.Status{Code: http.StatusOK}, nil
	}
	return nil, errors.Str(p.unavailableReason())
}

// Ready is the readiness check (/ready?plugin=pivot): ready when the pool can take requests
// and the plugin is not draining. Busy workers count as ready: a loaded server is not unready.
func (p *Plugin) Ready() (*status.Status, error) {
	if p.stopping.Load() {
		return nil, errors.Str("pivot: not ready: draining (shutting down)")
	}
	return p.Status()
}

func (p *Plugin) unavailableReason() string {
	if o := p.outage.Load(); o != nil {
		return fmt.Sprintf("pivot: not ready: %s; next attempt in %ds", o.reason, o.retryAfterSeconds())
	}
	return "pivot: not ready: no live worker"
}
