// Package pivot is a RoadRunner plugin that serves HTTP with its own server and its own
// supervised pool of PHP workers, speaking RoadRunner's http/v4 wire protocol so that any
// RoadRunner PSR-7 worker runs unchanged.
//
// This package is the plugin's face to endure and to the other RoadRunner plugins only:
// plugin.go (Init/Serve/Stop, the listener, Reset), config.go (the `pivot` section), rpc.go,
// metrics.go, status.go (health, readiness, the informer's workers). The work is done in
// internal/: httpfront (the HTTP server), http1 (the framing check), protocol (the http/v4
// wire format), supervisor (generations of workers: start, reset, crash-loop restarts) and pool
// (the workers and their relays). ARCHITECTURE.md follows a request through them.
package pivot

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/edge"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/edge/breaker"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/edge/limit"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/httpfront"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/observe"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/observe/panel"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/observe/workerlog"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/pool"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/realtime"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/supervisor"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/tlscert"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/watch"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/roadrunner-server/api/v4/plugins/v1/status"
	"github.com/roadrunner-server/errors"
	rrlogger "github.com/roadrunner-server/logger/v4"
	"github.com/roadrunner-server/sdk/v4/state/process"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// PluginName is the name of the plugin and of its configuration section.
const PluginName = "pivot"

// Version is the pivot plugin's version, printed by `rr --version`.
// Release builds may override it with -ldflags "-X github.com/pivotphp/pivotphp-runtime-roadrunner.Version=...".
var Version = "0.1.0-dev"

// RRVersion is the RoadRunner release whose plugin set this distribution pins.
const RRVersion = "2023.3.12"

// The plugin's dependencies, declared consumer-side and kept narrow: endure resolves each Init
// argument to the one plugin that implements it, and a broad interface risks cycles that
// silently drop plugins.

// Configurer reads .rr.yaml (the config plugin).
type Configurer interface {
	// UnmarshalKey decodes the section `name` into out.
	UnmarshalKey(name string, out any) error
	// Has reports whether the section exists.
	Has(name string) bool
}

// Logger hands out named zap loggers (the logger plugin).
type Logger interface {
	NamedLogger(name string) *zap.Logger
}

// Server builds worker commands with RoadRunner's environment (the server plugin).
//
// The plugin deliberately uses CmdFactory rather than the server's NewPool: a pool created by
// NewPool is owned by the server plugin, which destroys it in its own Stop, concurrently with
// ours (endure stops all plugins at once). Graceful drain needs the pool to outlive the HTTP
// server's shutdown, and resets swap whole generations, so pivot builds its own pool
// (internal/supervisor, internal/pool) and destroys it last.
type Server interface {
	CmdFactory(env map[string]string) func() *exec.Cmd
	UID() int
	GID() int
}

// The contracts other RoadRunner plugins collect pivot through. They are matched structurally
// by endure, so these guards make a signature drift a compile error instead of a plugin that
// silently disappears from `rr workers`, `rr reset`, /health or /metrics.
var (
	_ interface {
		Serve() chan error
		Stop(context.Context) error
		Name() string
	} = (*Plugin)(nil)
	_ interface{ Workers() []*process.State } = (*Plugin)(nil) // informer
	_ interface {
		AddWorker() error
		RemoveWorker(context.Context) error
	} = (*Plugin)(nil) // informer worker management
	_ interface{ Reset() error } = (*Plugin)(nil) // resetter
	_ interface {
		Status() (*status.Status, error)
		Ready() (*status.Status, error)
	} = (*Plugin)(nil) // status
	_ interface{ MetricsCollector() []prometheus.Collector } = (*Plugin)(nil) // metrics
	_ interface{ RPC() any }                                 = (*Plugin)(nil) // rpc
)

// Plugin is the endure plugin `pivot`.
type Plugin struct {
	cfg *Config
	log *zap.Logger

	// workers keeps a generation of PHP workers serving (internal/supervisor).
	workers *supervisor.Supervisor
	// front is the HTTP front (internal/httpfront); serving says Serve gave it the listener.
	front *httpfront.Front
	// handler is the front's handler in pivot.middleware (internal/edge), as its server runs it
	handler  fasthttp.RequestHandler
	serving  bool
	stopping atomic.Bool
	// leaving: a stop was asked for and pivot.shutdown_delay runs: /ready says 503 while
	// requests are still served.
	leaving  atomic.Bool
	leftOnce sync.Once
	stopOnce sync.Once
	stopCh   chan struct{}
	sigCh    chan os.Signal
	done     sync.WaitGroup

	uid, gid int

	// relay is server.relay; sockets accepts the workers' connections for a socket relay
	// (internal/pool/relay_socket.go), nil for pipes.
	relay   pool.RelaySetting
	sockets *pool.SocketFactory

	metrics *metrics
	// limiter is pivot.limit, breakers pivot.breaker (internal/edge/limit, internal/edge/breaker);
	// nil when not configured
	limiter  *limit.Limiter
	breakers *breaker.Breakers
	// broadcast is pivot.broadcast (internal/realtime); nil when not configured
	broadcast *realtime.Hub

	// tls is pivot.ssl's configuration and certs its certificate, reloaded when its files
	// change and on Reset (internal/tlscert); nil without pivot.ssl
	tls   *tls.Config
	certs *tlscert.Pair

	// reloader is pivot.reload, watch mode (internal/watch); nil when off
	reloader *watch.Reloader
	// stderr logs the workers' stderr (pivot.worker_logs); panel is pivot.debug's panel, nil
	// when off (internal/observe)
	stderr *workerlog.Sink
	panel  *panel.Panel
	// observe gives requests their ids, spans and access-log lines (internal/observe)
	observe *observe.Observer
}

// Init reads and validates the `pivot` section; without it the plugin is disabled.
func (p *Plugin) Init(cfg Configurer, log Logger, srv Server) error {
	const op = errors.Op("pivot_plugin_init")
	if !cfg.Has(PluginName) {
		return errors.E(op, errors.Disabled)
	}

	var err error
	if p.cfg, err = CheckConfig(cfg); err != nil {
		return errors.E(op, err)
	}
	if p.relay, err = pool.ReadRelayConfig(cfg); err != nil {
		return errors.E(op, err)
	}

	p.log = log.NamedLogger(PluginName)
	for _, w := range p.cfg.Warnings() {
		p.log.Warn(w)
	}
	p.uid, p.gid = srv.UID(), srv.GID()
	if p.cfg.SSL != nil {
		if p.tls, p.certs, err = p.cfg.SSL.tlsConfig(); err != nil {
			return errors.E(op, err)
		}
	}
	if p.observe, err = newObserver(cfg, p.cfg, p.log); err != nil {
		return errors.E(op, err)
	}
	p.metrics = newMetrics(p)
	if err = p.initReload(cfg); err != nil {
		return errors.E(op, err)
	}
	if p.cfg.Broadcast != nil {
		// PHP is asked through the whole pipeline (p.handler, set below), as any request is
		if p.broadcast, err = realtime.New(p.cfg.Broadcast, func(c *fasthttp.RequestCtx) { p.handler(c) }, p.log.Named("broadcast")); err != nil {
			return errors.E(op, err)
		}
	}
	// the workers' stderr goes through workersLog: pivot.reload reads a failed reload's PHP error there
	p.stderr = workerlog.New(p.cfg.WorkerLogs, p.workersLog().Named("worker"))
	p.workers = supervisor.New(p.supervisorOptions(srv), p.workersLog())
	p.front = httpfront.New(p.frontOptions(), generations{p.workers}, p.metrics, p.log)
	p.handler = p.front.Handler()
	p.stopCh = make(chan struct{})
	return nil
}

// Serve starts the HTTP server and the supervisor, which starts the workers. A pool that cannot
// start does not stop RoadRunner: requests get a fast 503 until the supervisor's retries
// succeed (or pivot.restart.max_consecutive_failures is reached).
func (p *Plugin) Serve() chan error {
	const op = errors.Op("pivot_plugin_serve")
	errCh := make(chan error, 2)

	ln, err := net.Listen("tcp", p.cfg.Address)
	if err != nil {
		errCh <- errors.E(op, errors.Errorf("pivot.address %s: %v", p.cfg.Address, err))
		return errCh
	}

	var lnTLS net.Listener
	var pcH3 net.PacketConn
	if p.tls != nil {
		if lnTLS, err = net.Listen("tcp", p.cfg.SSL.Address); err != nil {
			_ = ln.Close()
			errCh <- errors.E(op, errors.Errorf("pivot.ssl.address %s: %v", p.cfg.SSL.Address, err))
			return errCh
		}
	}
	if p.cfg.HTTP3 != nil {
		if pcH3, err = net.ListenPacket("udp", p.cfg.HTTP3.Address); err != nil {
			_, _ = ln.Close(), lnTLS.Close()
			errCh <- errors.E(op, errors.Errorf("pivot.http3.address %s: %v", p.cfg.HTTP3.Address, err))
			return errCh
		}
	}

	if p.relay.Network != "" {
		if p.sockets, err = pool.NewSocketFactory(p.relay, p.uid, p.gid, p.log); err != nil {
			_ = ln.Close()
			if lnTLS != nil {
				_ = lnTLS.Close()
			}
			if pcH3 != nil {
				_ = pcH3.Close()
			}
			errCh <- errors.E(op, err)
			return errCh
		}
		p.sockets.SetStderr(stderrSink{p.stderr})
	}
	if p.panel != nil {
		if err = p.panel.Start(); err != nil {
			p.log.Error("the debug panel cannot start; pivot serves without it", zap.Error(err))
		}
	}

	if p.broadcast != nil {
		if err = p.broadcast.Start(); err != nil {
			_ = ln.Close()
			if lnTLS != nil {
				_ = lnTLS.Close()
			}
			if pcH3 != nil {
				_ = pcH3.Close()
			}
			if p.sockets != nil {
				_ = p.sockets.Close()
			}
			errCh <- errors.E(op, err)
			return errCh
		}
	}
	p.serving = true
	failed := p.workers.Start(p.sockets)
	p.done.Add(2)
	go func() {
		defer p.done.Done()
		select {
		case err := <-failed:
			errCh <- err
		case <-p.stopCh:
		}
	}()
	go func() {
		defer p.done.Done()
		if errS := p.front.Serve(ln); errS != nil && !p.stopping.Load() {
			errCh <- errors.E(op, errS)
		}
	}()
	if lnTLS != nil {
		p.serveTLS(lnTLS, errCh)
	}
	if pcH3 != nil {
		p.serveHTTP3(pcH3, errCh)
	}
	if p.limiter != nil {
		p.done.Add(1)
		go p.checkLimitStore()
	}
	if p.reloader != nil {
		if err = p.reloader.Start(); err != nil {
			errCh <- errors.E(op, err)
		}
	}
	if *p.cfg.ResetSignal {
		p.sigCh = make(chan os.Signal, 1)
		signal.Notify(p.sigCh, syscall.SIGUSR2)
		go p.resetOnSignal()
	}
	p.log.Info("pivot server started", zap.String("address", ln.Addr().String()),
		zap.Uint64("workers", p.cfg.Pool.NumWorkers))
	return errCh
}

// checkLimitStore warns at start when pivot.limit's Redis does not answer: requests then go
// through unlimited (fail-open) until it does.
func (p *Plugin) checkLimitStore() {
	defer p.done.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := p.limiter.Ping(ctx); err != nil {
		p.log.Warn("pivot.limit.redis does not answer: requests go through unlimited (fail-open) until it does", zap.Error(err))
	}
}

// ShutdownDelay is pivot.shutdown_delay (0 when the plugin is disabled).
func (p *Plugin) ShutdownDelay() time.Duration {
	if p.cfg == nil {
		return 0
	}
	return p.cfg.ShutdownDelay
}

// LeaveLoadBalancer makes /ready answer 503 at once and keeps serving for pivot.shutdown_delay
// (or until ctx ends), so load balancers stop sending requests before the drain starts. `rr
// serve` calls it on the first stop signal, before stopping any plugin, so the status plugin
// still answers; Stop calls it too (an rr built without our serve command), where it runs
// only once.
func (p *Plugin) LeaveLoadBalancer(ctx context.Context) {
	p.leftOnce.Do(func() {
		d := p.ShutdownDelay()
		if d <= 0 {
			return
		}
		p.leaving.Store(true)
		p.log.Info("leaving the load balancer: /ready answers 503, requests are still served", zap.Duration("shutdown_delay", d))
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	})
}

// Stop drains: the listener closes, every accepted request finishes (bounded by
// pivot.shutdown_timeout), then the workers are stopped. Because the plugin owns its pool, no
// worker is taken away from an in-flight request.
func (p *Plugin) Stop(ctx context.Context) error {
	p.LeaveLoadBalancer(ctx)
	p.stopping.Store(true)
	if p.reloader != nil {
		_ = p.reloader.Close(ctx) // no reset may start while the workers drain
	}
	p.workers.Drain()
	p.stopOnce.Do(func() { close(p.stopCh) })
	if p.sigCh != nil {
		signal.Stop(p.sigCh)
	}

	ctx, cancel := context.WithTimeout(ctx, p.cfg.ShutdownTimeout)
	defer cancel()

	var err error
	if p.broadcast != nil && p.serving {
		// clients get close code 3001 (shutdown, reconnect) while PHP can still be asked
		if errB := p.broadcast.Shutdown(ctx); errB != nil {
			p.log.Warn("pivot.broadcast: clients still connected at pivot.shutdown_timeout", zap.Error(errB))
		}
	}
	if p.serving {
		p.log.Info("draining: no new connections, waiting for in-flight requests")
		if errS := p.front.Shutdown(ctx); errS != nil {
			err = errors.E(errors.Op("pivot_plugin_stop"), errors.Errorf("pivot.shutdown_timeout reached with requests in flight: %v", errS))
		}
	}
	p.workers.Stop(ctx)
	if p.panel != nil {
		_ = p.panel.Shutdown(ctx)
	}
	p.stderr.Close()
	if errO := p.observe.Shutdown(ctx); errO != nil {
		p.log.Warn("spans not exported at stop", zap.Error(errO))
	}
	if p.certs != nil {
		_ = p.certs.Close()
	}
	if p.limiter != nil {
		_ = p.limiter.Close()
	}
	if p.sockets != nil {
		// after the retire: a worker that replaces one mid-drain must still connect, or the
		// sdk would retry its spawn until allocate_timeout before the retire could end
		_ = p.sockets.Close()
	}
	p.done.Wait()
	p.log.Info("stopped")
	return err
}

// HandleRequest serves one request through the plugin's HTTP front (internal/httpfront) and
// pivot.middleware (internal/edge): the fasthttp.RequestHandler pivot's own server runs, for a
// Go program that embeds the plugin and serves it from a fasthttp server of its own
// (tests/integration's BenchmarkHandler does).
func (p *Plugin) HandleRequest(c *fasthttp.RequestCtx) { p.handler(c) }

// NetHandler is the same as a net/http handler: what pivot.ssl, h2c and pivot.http3 run (each
// request adapted onto the fasthttp pipeline, internal/httpfront/nethttp.go), for a Go program
// that serves the plugin from a net/http server of its own (tests/integration's
// BenchmarkHandler measures the adapter with it).
func (p *Plugin) NetHandler() http.Handler { return p.front.NetHandler() }

// Reset replaces every worker without a failed request (the resetter: `rr reset`; SIGUSR2):
// see supervisor.Reset. pivot.ssl's certificate is read again first; if it cannot be, the one
// in use stays (logged) and the workers are reset all the same.
func (p *Plugin) Reset() error {
	if p.certs != nil {
		if err := p.certs.Reload(); err != nil {
			p.log.Error("reset: pivot.ssl's certificate was not reloaded; the one in use stays", zap.Error(err))
		} else {
			p.log.Info("reset: pivot.ssl's certificate reloaded", certFields(p.certs)...)
		}
	}
	return p.workers.Reset()
}

// resetOnSignal resets on SIGUSR2 (pivot.reset_signal), for deploy scripts without RPC access.
func (p *Plugin) resetOnSignal() {
	for {
		select {
		case <-p.stopCh:
			return
		case _, ok := <-p.sigCh:
			if !ok {
				return
			}
			if err := p.Reset(); err != nil {
				p.log.Error("SIGUSR2 reset", zap.Error(err))
			}
		}
	}
}

// initReload sets up pivot.reload (watch mode, internal/watch) when it is enabled: the php
// binary that lints changed files is server.command's, and logs.mode decides the error page.
func (p *Plugin) initReload(cfg Configurer) error {
	if !p.cfg.Reload.Enabled {
		return nil
	}
	if cfg.Has("reload.services.pivot") {
		return errors.Str("pivot.reload and reload.services.pivot both watch files for pivot: keep one (pivot.reload lints PHP before it resets; remove reload.services.pivot)")
	}
	var server struct {
		Command any `mapstructure:"command"`
	}
	_ = cfg.UnmarshalKey("server", &server)
	var logs struct {
		Mode string `mapstructure:"mode"`
	}
	_ = cfg.UnmarshalKey("logs", &logs)
	wd, err := os.Getwd()
	if err != nil {
		return errors.Errorf("pivot.reload: the working directory: %v", err)
	}
	php := watch.PHPBinary(server.Command)
	if php == "" {
		p.log.Warn("pivot.reload: no php binary found to lint changed files; a syntax error is caught only when the new workers cannot boot")
	}
	if strings.EqualFold(logs.Mode, "production") {
		p.log.Warn("pivot.reload is a development tool, but logs.mode is production: every change of a watched file resets the workers; " +
			"set pivot.reload.enabled: false (and do not pass --watch) in production")
	}
	p.reloader = watch.New(watch.Options{Config: p.cfg.Reload, WorkDir: wd, PHP: php,
		ErrorPage: watch.DevMode(logs.Mode), Reset: func() error { return p.workers.Reset() }, Log: p.log})
	return nil
}

// workersLog is the supervisor's logger: pivot's, teed into pivot.reload's tap when it is on
// (a failed reload shows what the new workers printed).
func (p *Plugin) workersLog() *zap.Logger {
	if p.reloader == nil {
		return p.log
	}
	return p.reloader.Wrap(p.log)
}

// supervisorOptions is what the supervisor reads of the `pivot` section.
func (p *Plugin) supervisorOptions(srv Server) supervisor.Options {
	o := supervisor.Options{Pool: p.cfg.Pool, Restart: p.cfg.Restart, Command: srv.CmdFactory, Metrics: p.metrics,
		Stderr: stderrSink{p.stderr}}
	if p.cfg.Pipeline {
		o.Pipeline = &supervisor.Pipeline{Window: p.cfg.PipelineWindow, PauseAfter: p.cfg.PipelinePauseAfter,
			Pause: p.cfg.PipelinePause, Queued: p.metrics.pipelined, Pauses: p.metrics.pipelinePauses}
	}
	return o
}

// generations is the supervisor as the HTTP front sees it (httpfront.Generations): the
// serving generation, or why none serves.
type generations struct{ s *supervisor.Supervisor }

var (
	_ httpfront.Generations = generations{}
	_ httpfront.Generation  = (*supervisor.Generation)(nil)
)

// Acquire returns the serving generation, registered for one request, or nil while none serves.
func (g generations) Acquire() httpfront.Generation {
	if gen := g.s.Acquire(); gen != nil {
		return gen
	}
	return nil // a nil *Generation in the interface would not compare equal to nil
}

// Unavailable is the Retry-After of a 503 while no generation serves, and whether pivot stops.
func (g generations) Unavailable() (retryAfter int, stopping bool) { return g.s.Unavailable() }

// frontOptions is what the HTTP front reads of the `pivot` section, with pivot.middleware.
func (p *Plugin) frontOptions() httpfront.Options {
	o := httpfront.Options{
		MaxHeaderBytes:    p.cfg.MaxHeaderBytes,
		MaxBody:           int64(p.cfg.MaxRequestSize * MB),
		ReadHeaderTimeout: p.cfg.ReadHeaderTimeout,
		ReadTimeout:       p.cfg.ReadTimeout,
		WriteTimeout:      p.cfg.WriteTimeout,
		IdleTimeout:       p.cfg.IdleTimeout,
		Uploads: httpfront.Uploads{Dir: p.cfg.Uploads.Dir, Forbidden: p.cfg.Uploads.forbidden,
			Allowed: p.cfg.Uploads.allowed, MaxSize: p.cfg.Uploads.maxSize},
		UID: p.uid, GID: p.gid,
		TLS: p.tls,
	}
	if p.cfg.SSL != nil && p.cfg.SSL.Redirect {
		o.RedirectTLS = p.cfg.SSL.port
	}
	if p.cfg.HTTP3 != nil {
		o.AltSvc = p.cfg.HTTP3.altSvc()
	}
	if h2 := p.cfg.HTTP2; h2 != nil {
		o.H2C, o.MaxConcurrentStreams = h2.H2C, h2.MaxConcurrentStreams
	}
	p.wireMiddleware(&o)
	return o
}

// wireMiddleware builds pivot.middleware (internal/edge) around the front's handler, in
// RoadRunner's order, inside internal/observe's request ids (and spans, access log when set).
// pivot.breaker and pivot.limit, when set, come first, nearest PHP: the breaker right around
// the front's handler, the limiter around it, then pivot.middleware around both. So a file
// `static` serves uses no budget and is served while the breaker is open; a 429 never counts
// as a failure of PHP; gzip compresses PHP's responses as before.
func (p *Plugin) wireMiddleware(o *httpfront.Options) {
	var chain []edge.Middleware
	if p.reloader != nil && p.reloader.ErrorPage() {
		chain = append(chain, p.reloader.Middleware) // nearest PHP: the page replaces its answers
	}
	if p.cfg.Breaker != nil {
		p.breakers = breaker.New(p.cfg.Breaker, p.metrics, p.log)
		chain = append(chain, p.breakers.Middleware)
	}
	if p.cfg.Limit != nil {
		p.limiter = limit.New(p.cfg.Limit, p.metrics, p.log)
		chain = append(chain, p.limiter.Middleware)
	}
	for _, name := range p.cfg.Middleware {
		switch name {
		case middlewareGzip:
			z := edge.NewCompressor()
			chain = append(chain, z.Middleware)
			o.Streams = z // streamed PHP responses are compressed by the front, frame by frame
		case middlewareStatic:
			chain = append(chain, edge.NewStatic(p.cfg.Static, p.log).Middleware)
		case middlewareHeaders: // pivot.headers: CORS preflights answered here, headers added
			if p.cfg.Headers != nil { // without the section it does nothing (Init warned)
				hd := edge.NewHeaders(p.cfg.Headers, p.log)
				chain = append(chain, hd.Middleware)
				o.RequestHeaders = append(o.RequestHeaders, hd.RequestHeaderNames()...)
			}
		}
	}
	if p.broadcast != nil {
		// its paths never reach the limiter, the breaker or PHP (its auth route does)
		chain = append(chain, p.broadcast.Middleware)
	}
	// every request gets its id (and span, access-log line) before anything inside answers
	chain = append(chain, p.observe.Middleware)
	o.RequestHeaders = append(o.RequestHeaders, p.observe.RequestHeaders()...)
	if p.observe.Measures() {
		o.Observer = p.observe
	}
	if p.cfg.Debug.Enabled {
		// outermost: the panel counts every answer, a 429 or a static file too, and reads the
		// request id observe gave the request
		p.panel = panel.New(p.cfg.Debug, p.panelSources(), p.log.Named("debug"))
		chain = append(chain, p.panel.Middleware)
	}
	o.Wrap = func(h fasthttp.RequestHandler) fasthttp.RequestHandler { return edge.Chain(h, chain...) }
}

// newObserver builds internal/observe from pivot.access_log, pivot.trace and RoadRunner's
// `otel` section (one block configures stock http's spans and pivot's).
func newObserver(cfg Configurer, c *Config, log *zap.Logger) (*observe.Observer, error) {
	o := observe.Options{AccessLog: c.AccessLog, Trace: c.Trace, Version: Version}
	if c.AccessLog {
		o.Logs = logsConfig(cfg)
	}
	if cfg.Has("otel") {
		o.Otel = &observe.OtelConfig{}
		if err := cfg.UnmarshalKey("otel", o.Otel); err != nil {
			return nil, errors.Errorf("otel: the section cannot be read (check the types of the values): %v", err)
		}
		o.Otel.InitDefaults()
	}
	return observe.New(o, log)
}

// logsConfig is the logs configuration RoadRunner's logger gives pivot: its channel `pivot`
// (as written), else the section with its defaults (nil when it cannot be read).
func logsConfig(cfg Configurer) *rrlogger.Config {
	out := &rrlogger.Config{}
	if !cfg.Has("logs") {
		out.InitDefault()
		return out
	}
	var channels rrlogger.ChannelConfig
	if err := cfg.UnmarshalKey("logs", &channels); err == nil && channels.Channels[PluginName] != nil {
		return channels.Channels[PluginName]
	}
	if err := cfg.UnmarshalKey("logs", out); err != nil {
		return nil
	}
	out.InitDefault()
	return out
}

// stderrSink is the workers' stderr log as the pool sees it (pool.StderrSink).
type stderrSink struct{ s *workerlog.Sink }

var _ pool.StderrSink = stderrSink{}

func (w stderrSink) Watch(pid int64, r *os.File) pool.StderrTap { return w.s.Watch(pid, r) }

// panelSources is what pivot.debug's panel shows and does.
func (p *Plugin) panelSources() panel.Sources {
	p.stderr.Keep() // the panel shows a failed request's stderr lines
	return panel.Sources{
		Workers: p.workers.Workers,
		Memory: func() map[int64][]panel.Sample {
			out := map[int64][]panel.Sample{}
			for pid, tl := range p.workers.MemoryTimeline() {
				s := make([]panel.Sample, len(tl))
				for i, m := range tl {
					s[i] = panel.Sample{T: m.At.Unix(), RSS: m.RSS}
				}
				out[pid] = s
			}
			return out
		},
		InFlight: p.workers.InFlight,
		Breakers: func() []panel.Breaker {
			var out []panel.Breaker
			if p.breakers != nil {
				p.breakers.States(func(route string, s breaker.State) { out = append(out, panel.Breaker{Route: route, State: s.String()}) })
			}
			return out
		},
		Lines:         p.stderr.Lines,
		DroppedLines:  p.stderr.Dropped,
		Reset:         p.Reset,
		ReplaceWorker: p.workers.ReplaceWorker,
	}
}

// Name is the plugin name used by endure, the informer, the resetter and RPC.
func (p *Plugin) Name() string { return PluginName }

// Weight is endure's default: pivot needs no ordering among served plugins.
func (p *Plugin) Weight() uint { return 1 }

// serveTLS serves pivot.ssl on ln (HTTPS: HTTP/2 and HTTP/1.1 through the same pipeline as
// pivot.address, internal/httpfront/netserver.go) and watches the certificate's files.
func (p *Plugin) serveTLS(ln net.Listener, errCh chan error) {
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		if err := p.front.ServeTLS(ln); err != nil && !p.stopping.Load() {
			errCh <- errors.E(errors.Op("pivot_plugin_serve"), errors.Errorf("pivot.ssl: %v", err))
		}
	}()
	if err := p.certs.Watch(func(err error) {
		if err != nil {
			p.log.Error("pivot.ssl's certificate changed but cannot be loaded; the one in use stays", zap.Error(err))
			return
		}
		p.log.Info("pivot.ssl's certificate reloaded", certFields(p.certs)...)
	}); err != nil {
		p.log.Warn("pivot.ssl's files are not watched: the certificate is reloaded on rr reset only", zap.Error(err))
	}
	p.log.Info("pivot https server started", zap.String("address", ln.Addr().String()),
		zap.Bool("http2", true), zap.Bool("client_certificates", p.tls.ClientCAs != nil))
}

func certFields(c *tlscert.Pair) []zap.Field {
	leaf := c.Certificate().Leaf
	if leaf == nil {
		return nil
	}
	return []zap.Field{zap.String("subject", leaf.Subject.String()), zap.Time("not_after", leaf.NotAfter)}
}

// serveHTTP3 serves pivot.http3 on pc (QUIC, pivot.ssl's certificate; the same pipeline).
func (p *Plugin) serveHTTP3(pc net.PacketConn, errCh chan error) {
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		if err := p.front.ServeHTTP3(pc); err != nil && !p.stopping.Load() {
			errCh <- errors.E(errors.Op("pivot_plugin_serve"), errors.Errorf("pivot.http3: %v", err))
		}
	}()
	p.log.Info("pivot http3 server started", zap.String("address", pc.LocalAddr().String()), zap.String("alt_svc", p.cfg.HTTP3.altSvc()))
}
