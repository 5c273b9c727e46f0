// Package pivot is a RoadRunner plugin that serves HTTP with its own server and its own
// supervised pool of PHP workers, speaking RoadRunner's http/v4 wire protocol so that any
// RoadRunner PSR-7 worker runs unchanged.
//
// A request flows: plugin.go (listener) → internal/httpfront (server.go: fasthttp server;
// conn.go: every byte checked by internal/http1 before fasthttp parses it; handler.go:
// HandleRequest, the body as it arrives; form.go / uploads.go: forms; request_context.go: JSON
// context) → pool_handle.go (the serving generation: the root implements httpfront.Generations
// and httpfront.Generation, metrics.go httpfront.Metrics) → internal/pool (Pool.Exec: a free
// worker, or with pivot.pipeline a place behind a running request; goridge frames over pipes or
// sockets) → PHP → internal/protocol's ApplyResponseContext (status, headers) →
// internal/httpfront (interim.go: 1xx; handler.go: body, streams, requestState is the pool's
// FrameSink and StreamDetacher; errors.go: failures to statuses). internal/httpfront does not
// know endure nor how generations start; internal/protocol holds the http/v4 wire format itself
// (frame headers, the request context's pieces, form and upload trees, JSON), with no fasthttp
// and no pool in it; internal/pool holds the workers, their relays and factories, exec_ttl and
// the supervisor's limits, with no HTTP in it. supervisor.go restarts failing pools with
// backoff; reset.go swaps generations on `rr reset`; internal/pool/lost_request.go replaces a
// worker that read a request and will never answer it.
package pivot

import (
	"context"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/httpfront"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/pool"
	"github.com/roadrunner-server/errors"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// PluginName is the name of the plugin and of its configuration section.
const PluginName = "pivot"

// Plugin is the endure plugin `pivot`.
type Plugin struct {
	cfg    *Config
	log    *zap.Logger
	server Server

	// current is the serving generation of workers, read on every request without a lock;
	// nil before the first start and while the supervisor restarts a failed pool.
	current atomic.Pointer[poolHandle]
	// outage says why no generation serves (nil when one does).
	outage atomic.Pointer[outage]
	// mu serialises swaps of current (start, reset, crash recovery, stop).
	mu           sync.Mutex
	workerTarget atomic.Uint64
	resetting    atomic.Bool
	stopping     atomic.Bool

	// front is the HTTP front (internal/httpfront); serving says Serve gave it the listener.
	front    *httpfront.Front
	serving  bool
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
}

// Init reads and validates the `pivot` section; without it the plugin is disabled.
func (p *Plugin) Init(cfg Configurer, log Logger, srv Server) error {
	const op = errors.Op("pivot_plugin_init")
	if !cfg.Has(PluginName) {
		return errors.E(op, errors.Disabled)
	}

	var raw map[string]any
	if err := cfg.UnmarshalKey(PluginName, &raw); err != nil {
		return errors.E(op, errors.Errorf("pivot: the section cannot be read: %v", err))
	}
	if err := checkUnknownKeys(PluginName, raw); err != nil {
		return errors.E(op, err)
	}

	p.cfg = &Config{}
	if err := cfg.UnmarshalKey(PluginName, p.cfg); err != nil {
		return errors.E(op, errors.Errorf("pivot: invalid configuration (check the types of the values): %v", err))
	}
	p.cfg.InitDefaults()
	if err := p.cfg.Valid(); err != nil {
		return errors.E(op, err)
	}

	var err error
	if p.relay, err = pool.ReadRelayConfig(cfg); err != nil {
		return errors.E(op, err)
	}

	p.log = log.NamedLogger(PluginName)
	p.server = srv
	p.uid, p.gid = srv.UID(), srv.GID()
	p.workerTarget.Store(p.cfg.Pool.NumWorkers)
	p.metrics = newMetrics(p)
	p.front = httpfront.New(p.frontOptions(), (*generations)(p), p.metrics, p.log)
	p.stopCh = make(chan struct{})
	p.setOutage("starting", time.Now())
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

	if p.relay.Network != "" {
		if p.sockets, err = pool.NewSocketFactory(p.relay, p.uid, p.gid, p.log); err != nil {
			_ = ln.Close()
			errCh <- errors.E(op, err)
			return errCh
		}
	}

	p.serving = true
	p.done.Add(2)
	go func() {
		defer p.done.Done()
		p.supervise(p.stopCh, errCh)
	}()
	go func() {
		defer p.done.Done()
		if errS := p.front.Serve(ln); errS != nil && !p.stopping.Load() {
			errCh <- errors.E(op, errS)
		}
	}()
	if *p.cfg.ResetSignal {
		p.sigCh = make(chan os.Signal, 1)
		signal.Notify(p.sigCh, syscall.SIGUSR2)
		go p.resetOnSignal()
	}
	p.log.Info("pivot server started", zap.String("address", ln.Addr().String()),
		zap.Uint64("workers", p.cfg.Pool.NumWorkers))
	return errCh
}

// Stop drains: the listener closes, every accepted request finishes (bounded by
// pivot.shutdown_timeout), then the workers are stopped. Because the plugin owns its pool, no
// worker is taken away from an in-flight request.
func (p *Plugin) Stop(ctx context.Context) error {
	p.stopping.Store(true)
	p.stopOnce.Do(func() { close(p.stopCh) })
	if p.sigCh != nil {
		signal.Stop(p.sigCh)
	}

	ctx, cancel := context.WithTimeout(ctx, p.cfg.ShutdownTimeout)
	defer cancel()

	var err error
	if p.serving {
		p.log.Info("draining: no new connections, waiting for in-flight requests")
		if errS := p.front.Shutdown(ctx); errS != nil {
			err = errors.E(errors.Op("pivot_plugin_stop"), errors.Errorf("pivot.shutdown_timeout reached with requests in flight: %v", errS))
		}
	}
	p.mu.Lock()
	h := p.current.Swap(nil)
	p.mu.Unlock()
	if h != nil {
		h.retire(ctx)
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

// HandleRequest serves one request through the plugin's HTTP front (internal/httpfront): the
// fasthttp.RequestHandler of its server, here for the benchmarks that drive it directly.
func (p *Plugin) HandleRequest(c *fasthttp.RequestCtx) { p.front.HandleRequest(c) }

// frontOptions is what the HTTP front reads of the `pivot` section.
func (p *Plugin) frontOptions() httpfront.Options {
	return httpfront.Options{
		MaxHeaderBytes:    p.cfg.MaxHeaderBytes,
		MaxBody:           int64(p.cfg.MaxRequestSize * MB),
		ReadHeaderTimeout: p.cfg.ReadHeaderTimeout,
		ReadTimeout:       p.cfg.ReadTimeout,
		WriteTimeout:      p.cfg.WriteTimeout,
		IdleTimeout:       p.cfg.IdleTimeout,
		Uploads: httpfront.Uploads{Dir: p.cfg.Uploads.Dir, Forbidden: p.cfg.Uploads.forbidden,
			Allowed: p.cfg.Uploads.allowed},
		UID: p.uid, GID: p.gid,
	}
}

// Name is the plugin name used by endure, the informer, the resetter and RPC.
func (p *Plugin) Name() string { return PluginName }

// Weight is endure's default: pivot needs no ordering among served plugins.
func (p *Plugin) Weight() uint { return 1 }
