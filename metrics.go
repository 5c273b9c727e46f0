package pivot

import (
	"strconv"
	"sync/atomic"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/edge/breaker"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/edge/limit"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/httpfront"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/supervisor"
	"github.com/prometheus/client_golang/prometheus"
	sdkMetrics "github.com/roadrunner-server/sdk/v4/metrics"
)

const metricsNamespace = "rr_pivot"

var (
	_ httpfront.Metrics    = (*metrics)(nil)
	_ supervisor.Metrics   = (*metrics)(nil)
	_ limit.Metrics        = (*metrics)(nil)
	_ breaker.Metrics      = (*metrics)(nil)
	_ httpfront.TLSMetrics = (*metrics)(nil)
)

// metrics are the plugin's Prometheus collectors, built in Init because the metrics plugin may
// collect them before pivot's Serve runs. Names live under rr_pivot_* so they never collide
// with the http plugin's rr_http_* (a duplicate name aborts RoadRunner's start).
type metrics struct {
	requests        *prometheus.CounterVec
	noFreeWorkers   prometheus.Counter
	resets          prometheus.Counter
	restartFailures prometheus.Counter
	pipelined       prometheus.Counter
	pipelinePauses  prometheus.Counter
	workers         *sdkMetrics.StatsExporter
	// pivot.limit and pivot.breaker (internal/edge/limit, internal/edge/breaker)
	rateLimited      *prometheus.CounterVec
	limitStoreErrors prometheus.Counter
	breakerRejected  *prometheus.CounterVec
	breakerState     *breakerStates
	breakerChanges   *prometheus.CounterVec
	// pivot.ssl
	tlsHandshakeErrors prometheus.Counter
	// pivot.broadcast (internal/realtime)
	broadcast *broadcastStats
	// the supervisor's RSS samples (internal/supervisor/observe.go)
	workerMemory *workerMemory
	// byStatus caches the counter of each status code: no label hashing per request.
	byStatus [600]atomic.Pointer[prometheus.Counter]
}

func newMetrics(p *Plugin) *metrics {
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "requests_total",
			Help: "HTTP requests answered by the pivot plugin, by status code.",
		}, []string{"status"}),
		noFreeWorkers: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "no_free_workers_total",
			Help: "Requests refused with 503 because no worker was free in time.",
		}),
		resets: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "resets_total",
			Help: "Completed zero-downtime resets (rr reset, SIGUSR2).",
		}),
		restartFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "restart_failures_total",
			Help: "Worker pools that failed to start or were restarted because they kept failing.",
		}),
		pipelined: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "pipelined_requests_total",
			Help: "Requests that waited in a busy worker's pipe behind the request it ran (pivot.pipeline).",
		}),
		pipelinePauses: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "pipeline_pauses_total",
			Help: "Times pipelining paused because a request ran longer than pivot.pipeline_pause_after.",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "rate_limited_total",
			Help: "Requests refused with 429 by pivot.limit, by route (its prefix, or default).",
		}, []string{"route"}),
		limitStoreErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "rate_limit_store_errors_total",
			Help: "Requests let through unlimited because pivot.limit's store (Redis) failed or was failing (fail-open).",
		}),
		breakerRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "breaker_rejected_total",
			Help: "Requests answered 503 by pivot.breaker without reaching PHP, by route (its prefix, or default).",
		}, []string{"route"}),
		breakerChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "breaker_transitions_total",
			Help: "pivot.breaker's changes of state by route: from and to are closed, half-open or open.",
		}, []string{"route", "from", "to"}),
		breakerState: &breakerStates{p: p, desc: prometheus.NewDesc(metricsNamespace+"_breaker_state",
			"pivot.breaker's state by route: 0 closed, 1 half-open, 2 open.", []string{"route"}, nil)},
		workerMemory: &workerMemory{p: p, desc: prometheus.NewDesc(metricsNamespace+"_worker_rss_peak_bytes",
			"Each serving worker's highest resident memory (RSS) over the last 5 minutes, sampled every second by the supervisor (rr_pivot_worker_memory_bytes is the value at the scrape).", []string{"pid"}, nil)},
		tlsHandshakeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "tls_handshake_errors_total",
			Help: "Connections to pivot.ssl.address whose TLS handshake failed (no or an untrusted client certificate, a client that does not trust the server's, not TLS at all).",
		}),
		broadcast: newBroadcastStats(p),
		workers: &sdkMetrics.StatsExporter{
			TotalWorkersDesc: prometheus.NewDesc(metricsNamespace+"_total_workers", "Total number of pivot workers.", nil, nil),
			TotalMemoryDesc:  prometheus.NewDesc(metricsNamespace+"_workers_memory_bytes", "Memory used by all pivot workers.", nil, nil),
			StateDesc:        prometheus.NewDesc(metricsNamespace+"_worker_state", "Current state of each pivot worker.", []string{"state", "pid"}, nil),
			WorkerMemoryDesc: prometheus.NewDesc(metricsNamespace+"_worker_memory_bytes", "Memory used by each pivot worker.", []string{"pid"}, nil),
			WorkersReady:     prometheus.NewDesc(metricsNamespace+"_workers_ready", "Pivot workers ready for a request.", nil, nil),
			WorkersWorking:   prometheus.NewDesc(metricsNamespace+"_workers_working", "Pivot workers handling a request.", nil, nil),
			WorkersInvalid:   prometheus.NewDesc(metricsNamespace+"_workers_invalid", "Pivot workers being replaced or stopped.", nil, nil),
			Workers:          p,
		},
	}
}

// CountStatus counts a response by its status code (httpfront.Metrics).
func (m *metrics) CountStatus(status int) {
	if status < 0 || status >= len(m.byStatus) {
		status = 0
	}
	c := m.byStatus[status].Load()
	if c == nil {
		counter := m.requests.WithLabelValues(strconv.Itoa(status))
		c = &counter
		m.byStatus[status].Store(c)
	}
	(*c).Inc()
}

// TLSHandshakeError counts a failed TLS handshake on pivot.ssl.address (httpfront.TLSMetrics).
func (m *metrics) TLSHandshakeError() { m.tlsHandshakeErrors.Inc() }

// NoFreeWorker counts a request refused because no worker was free in time (httpfront.Metrics).
func (m *metrics) NoFreeWorker() { m.noFreeWorkers.Inc() }

// RestartFailed counts a pool that failed to start or was restarted (supervisor.Metrics).
func (m *metrics) RestartFailed() { m.restartFailures.Inc() }

// ResetDone counts a completed zero-downtime reset (supervisor.Metrics).
func (m *metrics) ResetDone() { m.resets.Inc() }

// Limited counts a request refused with 429 by pivot.limit (limit.Metrics).
func (m *metrics) Limited(route string) { m.rateLimited.WithLabelValues(route).Inc() }

// StoreError counts a request let through because pivot.limit's store failed (limit.Metrics).
func (m *metrics) StoreError() { m.limitStoreErrors.Inc() }

// Rejected counts a request answered 503 by pivot.breaker (breaker.Metrics).
func (m *metrics) Rejected(route string) { m.breakerRejected.WithLabelValues(route).Inc() }

// Transition counts a change of a pivot.breaker's state (breaker.Metrics).
func (m *metrics) Transition(route, from, to string) {
	m.breakerChanges.WithLabelValues(route, from, to).Inc()
}

// breakerStates reports rr_pivot_breaker_state when scraped, from the breakers themselves: an
// open breaker turns half-open when asked after open_for, not on a timer.
type breakerStates struct {
	p    *Plugin
	desc *prometheus.Desc
}

func (b *breakerStates) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }

func (b *breakerStates) Collect(ch chan<- prometheus.Metric) {
	if b.p.breakers == nil {
		return
	}
	b.p.breakers.States(func(route string, s breaker.State) {
		ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, float64(s), route)
	})
}

// workerMemory reports rr_pivot_worker_rss_peak_bytes when scraped.
type workerMemory struct {
	p    *Plugin
	desc *prometheus.Desc
}

func (m *workerMemory) Describe(ch chan<- *prometheus.Desc) { ch <- m.desc }

func (m *workerMemory) Collect(ch chan<- prometheus.Metric) {
	m.p.workers.WorkerMemoryPeak(func(pid int64, rss uint64) {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, float64(rss), strconv.FormatInt(pid, 10))
	})
}

// MetricsCollector hands the collectors to the metrics plugin.
func (p *Plugin) MetricsCollector() []prometheus.Collector {
	return []prometheus.Collector{p.metrics.requests, p.metrics.noFreeWorkers, p.metrics.resets, p.metrics.pipelined,
		p.metrics.pipelinePauses, p.metrics.restartFailures, p.metrics.workers, p.metrics.rateLimited,
		p.metrics.limitStoreErrors, p.metrics.breakerRejected, p.metrics.breakerState, p.metrics.tlsHandshakeErrors,
		p.metrics.breakerChanges, p.metrics.broadcast, p.metrics.workerMemory}
}

// broadcastStats reports pivot.broadcast's counters (rr_pivot_broadcast_*) when scraped,
// read from the hub: nothing is counted twice, nothing costs a request.
type broadcastStats struct {
	p                                *Plugin
	clients, in, out, drops, refused *prometheus.Desc
}

func newBroadcastStats(p *Plugin) *broadcastStats {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(metricsNamespace+"_broadcast_"+name, help, nil, nil)
	}
	return &broadcastStats{p: p,
		clients: d("clients", "WebSocket and SSE clients connected to pivot.broadcast now."),
		in:      d("messages_in_total", "Messages published from PHP (one per channel)."),
		out:     d("messages_out_total", "Messages delivered to this instance's subscribers."),
		drops:   d("drops_total", "Clients dropped for being slow (full queue, write timeout, no pong)."),
		refused: d("refused_total", "Connections refused by pivot.broadcast.max_connections or a drain."),
	}
}

func (b *broadcastStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- b.clients
	ch <- b.in
	ch <- b.out
	ch <- b.drops
	ch <- b.refused
}

func (b *broadcastStats) Collect(ch chan<- prometheus.Metric) {
	if b.p.broadcast == nil {
		return
	}
	s := b.p.broadcast.Stats()
	ch <- prometheus.MustNewConstMetric(b.clients, prometheus.GaugeValue, float64(s.Clients))
	ch <- prometheus.MustNewConstMetric(b.in, prometheus.CounterValue, float64(s.MessagesIn))
	ch <- prometheus.MustNewConstMetric(b.out, prometheus.CounterValue, float64(s.MessagesOut))
	ch <- prometheus.MustNewConstMetric(b.drops, prometheus.CounterValue, float64(s.Drops))
	ch <- prometheus.MustNewConstMetric(b.refused, prometheus.CounterValue, float64(s.Refused))
}
