package pivot

import (
	"net/http"
	"strconv"

	"github.com/roadrunner-server/errors"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// writeExecError maps a pool error to the status a client should see: the worker's own error
// is a 500, a worker that died or broke the protocol is a 502 (it is replaced), no capacity is
// a 503 with Retry-After, and a request killed by exec_ttl is a 504.
func (p *Plugin) writeExecError(c *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(errors.SoftJob, err):
		p.log.Error("worker error", zap.Error(err))
		p.writeError(c, http.StatusInternalServerError, "the application failed to handle the request")
	case errors.Is(errors.NoFreeWorkers, err):
		p.metrics.noFreeWorkers.Inc()
		c.Response.Header.Set("Retry-After", "1")
		p.writeError(c, http.StatusServiceUnavailable, "no free workers: every worker is busy, try again")
	case errors.Is(errors.QueueSize, err):
		p.metrics.noFreeWorkers.Inc()
		c.Response.Header.Set("Retry-After", "1")
		p.writeError(c, http.StatusServiceUnavailable, "the request queue is full (pivot.pool.max_queue_size), try again")
	case errors.Is(errors.WatcherStopped, err):
		c.Response.Header.Set("Retry-After", "1")
		p.writeError(c, http.StatusServiceUnavailable, "the worker pool is stopping")
	case errors.Is(errors.ExecTTL, err):
		p.log.Warn("request exceeded pivot.pool.supervisor.exec_ttl; the worker was killed and replaced", zap.Error(err))
		p.writeError(c, http.StatusGatewayTimeout, "the application did not answer within exec_ttl")
	case errors.Is(errors.Network, err), errors.Is(errors.Decode, err):
		p.log.Error("worker died or broke the protocol; it is replaced", zap.Error(err))
		p.writeError(c, http.StatusBadGateway, "the worker handling the request failed")
	case errors.Is(errors.WorkerAllocate, err):
		p.log.Error("no worker could be started", zap.Error(err))
		c.Response.Header.Set("Retry-After", "1")
		p.writeError(c, http.StatusServiceUnavailable, "no worker could be started")
	default:
		p.log.Error("request failed", zap.Error(err))
		p.writeError(c, http.StatusInternalServerError, "internal error")
	}
}

// writeUnavailable answers at once while no generation of workers serves, instead of making
// the client wait for allocate_timeout.
func (p *Plugin) writeUnavailable(c *fasthttp.RequestCtx) {
	retry := 1
	if o := p.outage.Load(); o != nil {
		retry = o.retryAfterSeconds()
	}
	c.Response.Header.Set("Retry-After", strconv.Itoa(retry))
	msg := "the application is not available right now, try again"
	if p.stopping.Load() {
		msg = "the server is shutting down"
	}
	p.writeError(c, http.StatusServiceUnavailable, msg)
}

// writeError writes a short plain-text error response.
func (p *Plugin) writeError(c *fasthttp.RequestCtx, status int, msg string) {
	c.Response.Header.SetContentType("text/plain; charset=utf-8")
	c.Response.Header.Set("X-Content-Type-Options", "nosniff")
	p.metrics.countStatus(status)
	c.Response.SetStatusCode(status)
	c.Response.SetBodyString(msg + "\n")
}
