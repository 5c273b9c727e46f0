package httpfront

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
func (f *Front) writeExecError(c *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(errors.SoftJob, err):
		f.log.Error("worker error", zap.Error(err), requestID(c))
		f.writeError(c, http.StatusInternalServerError, "the application failed to handle the request")
	case errors.Is(errors.NoFreeWorkers, err):
		f.metrics.NoFreeWorker()
		c.Response.Header.Set("Retry-After", "1")
		f.writeError(c, http.StatusServiceUnavailable, "no free workers: every worker is busy, try again")
	case errors.Is(errors.QueueSize, err):
		f.metrics.NoFreeWorker()
		c.Response.Header.Set("Retry-After", "1")
		f.writeError(c, http.StatusServiceUnavailable, "the request queue is full (pivot.pool.max_queue_size), try again")
	case errors.Is(errors.WatcherStopped, err):
		c.Response.Header.Set("Retry-After", "1")
		f.writeError(c, http.StatusServiceUnavailable, "the worker pool is stopping")
	case errors.Is(errors.ExecTTL, err):
		f.log.Warn("request exceeded pivot.pool.supervisor.exec_ttl; the worker was killed and replaced", zap.Error(err), requestID(c))
		f.writeError(c, http.StatusGatewayTimeout, "the application did not answer within exec_ttl")
	case errors.Is(errors.Network, err), errors.Is(errors.Decode, err):
		f.log.Error("worker died or broke the protocol; it is replaced", zap.Error(err), requestID(c))
		f.writeError(c, http.StatusBadGateway, "the worker handling the request failed")
	case errors.Is(errors.WorkerAllocate, err):
		f.log.Error("no worker could be started", zap.Error(err), requestID(c))
		c.Response.Header.Set("Retry-After", "1")
		f.writeError(c, http.StatusServiceUnavailable, "no worker could be started")
	default:
		f.log.Error("request failed", zap.Error(err), requestID(c))
		f.writeError(c, http.StatusInternalServerError, "internal error")
	}
}

// writeUnavailable answers at once while no generation of workers serves, instead of making
// the client wait for allocate_timeout.
func (f *Front) writeUnavailable(c *fasthttp.RequestCtx) {
	retry, stopping := f.gens.Unavailable()
	c.Response.Header.Set("Retry-After", strconv.Itoa(retry))
	msg := "the application is not available right now, try again"
	if stopping {
		msg = "the server is shutting down"
	}
	f.writeError(c, http.StatusServiceUnavailable, msg)
}

// writeError writes a short plain-text error response.
func (f *Front) writeError(c *fasthttp.RequestCtx, status int, msg string) {
	c.Response.Header.SetContentType("text/plain; charset=utf-8")
	c.Response.Header.Set("X-Content-Type-Options", "nosniff")
	f.metrics.CountStatus(status)
	c.Response.SetStatusCode(status)
	c.Response.SetBodyString(msg + "\n")
}
