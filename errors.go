package pivot

import (
	"net/http"
	"strconv"

	"github.com/roadrunner-server/errors"
	"go.uber.org/zap"
)

// writeExecError maps a pool error to the status a client should see: the worker's own error
// is a 500, a worker that died or broke the protocol is a 502 (it is replaced), no capacity is
// a 503 with Retry-After, and a request killed by exec_ttl is a 504.
func (p *Plugin) writeExecError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(errors.SoftJob, err):
		p.log.Error("worker error", zap.Error(err))
		p.writeError(w, http.StatusInternalServerError, "the application failed to handle the request")
	case errors.Is(errors.NoFreeWorkers, err):
		p.metrics.noFreeWorkers.Inc()
		w.Header().Set("Retry-After", "1")
		p.writeError(w, http.StatusServiceUnavailable, "no free workers: every worker is busy, try again")
	case errors.Is(errors.QueueSize, err):
		p.metrics.noFreeWorkers.Inc()
		w.Header().Set("Retry-After", "1")
		p.writeError(w, http.StatusServiceUnavailable, "the request queue is full (pivot.pool.max_queue_size), try again")
	case errors.Is(errors.WatcherStopped, err):
		w.Header().Set("Retry-After", "1")
		p.writeError(w, http.StatusServiceUnavailable, "the worker pool is stopping")
	case errors.Is(errors.ExecTTL, err):
		p.log.Warn("request exceeded pivot.pool.supervisor.exec_ttl; the worker was killed and replaced", zap.Error(err))
		p.writeError(w, http.StatusGatewayTimeout, "the application did not answer within exec_ttl")
	case errors.Is(errors.Network, err), errors.Is(errors.Decode, err):
		p.log.Error("worker died or broke the protocol; it is replaced", zap.Error(err))
		p.writeError(w, http.StatusBadGateway, "the worker handling the request failed")
	case errors.Is(errors.WorkerAllocate, err):
		p.log.Error("no worker could be started", zap.Error(err))
		w.Header().Set("Retry-After", "1")
		p.writeError(w, http.StatusServiceUnavailable, "no worker could be started")
	default:
		p.log.Error("request failed", zap.Error(err))
		p.writeError(w, http.StatusInternalServerError, "internal error")
	}
}

// writeUnavailable answers at once while no generation of workers serves, instead of making
// the client wait for allocate_timeout.
func (p *Plugin) writeUnavailable(w http.ResponseWriter) {
	retry := 1
	if o := p.outage.Load(); o != nil {
		retry = o.retryAfterSeconds()
	}
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	msg := "the application is not available right now, try again"
	if p.stopping.Load() {
		msg = "the server is shutting down"
	}
	p.writeError(w, http.StatusServiceUnavailable, msg)
}

// writeError writes a short plain-text error response.
func (p *Plugin) writeError(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	p.metrics.countStatus(status)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}
