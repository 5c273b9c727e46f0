package amqp

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/roadrunner-server/api/v4/plugins/v1/status"
)

// The status plugin collects the plugin for /health?plugin=amqp and /ready?plugin=amqp; it
// writes a returned error's text as the body of its 503 (unavailable_status_code), so a
// pipeline that is down is named there, with its broker (password hidden) and why.
var _ interface {
	Status() (*status.Status, error)
	Ready() (*status.Status, error)
	Name() string
} = (*Plugin)(nil)

// Ready is the readiness check (/ready?plugin=amqp): 200 while every amqp pipeline of this rr
// is connected to its broker and the broker accepts publishes, 503 naming each pipeline that
// is not (disconnected and redialling, or blocked by a resource alarm) and why. A paused
// pipeline is up (pausing is the operator's choice); without amqp pipelines it is 200. Only
// the plugin's own state is read: no request goes to the broker.
func (p *Plugin) Ready() (*status.Status, error) {
	if err := p.down(); err != nil {
		return nil, err
	}
	return &status.Status{Code: http.StatusOK}, nil
}

// Status is the health check (/health?plugin=amqp), the same check as Ready: the driver redials
// by itself, so restarting rr does not help a pipeline that is down; keep liveness probes on
// the plugins whose failure a restart fixes (/health?plugin=pivot).
func (p *Plugin) Status() (*status.Status, error) {
	return p.Ready()
}

// track registers a driver for the checks; a stopped driver is forgotten (down prunes it).
func (p *Plugin) track(d *Driver) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drivers == nil {
		p.drivers = make(map[*Driver]struct{})
	}
	p.drivers[d] = struct{}{}
}

// down is nil when every pipeline is up, else an error naming those that are not.
func (p *Plugin) down() error {
	p.mu.Lock()
	drivers := make([]*Driver, 0, len(p.drivers))
	for d := range p.drivers {
		if d.isStopped() {
			delete(p.drivers, d) // stopped or destroyed (jobs.Destroy)
			continue
		}
		drivers = append(drivers, d)
	}
	p.mu.Unlock()

	var names, why []string
	for _, d := range drivers {
		if msg := d.health(); msg != "" {
			names = append(names, d.cfg.Name)
			why = append(why, msg)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	sort.Strings(why)
	return fmt.Errorf("amqp: not ready: %d of %d pipelines down (%s): %s",
		len(names), len(drivers), strings.Join(names, ", "), strings.Join(why, "; "))
}

func (d *Driver) isStopped() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopped
}

// health is "" while the pipeline has a live connection that the broker does not block, else
// why not, naming the pipeline and the broker (password hidden).
func (d *Driver) health() string {
	d.mu.Lock()
	s := d.sess
	d.mu.Unlock()
	if s == nil || s.isClosed() {
		if err := d.downErr(); err != nil {
			return err.Error()
		}
		return fmt.Sprintf("amqp pipeline %q: broker %s: connection lost (redialling)", d.cfg.Name, d.addrSafe)
	}
	if reason := s.blocked.Load(); reason != nil {
		return fmt.Sprintf("amqp pipeline %q: broker %s blocks publishing (resource alarm: %s)", d.cfg.Name, d.addrSafe, *reason)
	}
	return ""
}
