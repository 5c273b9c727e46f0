package pivot

import (
	"net/http"

	"github.com/roadrunner-server/api/v4/plugins/v1/status"
)

// Status is the health check (/health?plugin=pivot): 200 while at least one worker is alive.
func (p *Plugin) Status() (*status.Status, error) {
	pl := p.pool.Load()
	if pl == nil {
		return &status.Status{Code: http.StatusServiceUnavailable}, nil
	}
	for _, w := range pl.Workers() {
		if w.State().IsActive() {
			return &status.Status{Code: http.StatusOK}, nil
		}
	}
	return &status.Status{Code: http.StatusServiceUnavailable}, nil
}

// Ready is the readiness check (/ready?plugin=pivot): 200 when the pool can take requests and
// the plugin is not stopping. Busy workers count as ready: a loaded server is not unready.
func (p *Plugin) Ready() (*status.Status, error) {
	if p.stopped.Load() {
		return &status.Status{Code: http.StatusServiceUnavailable}, nil
	}
	return p.Status()
}
