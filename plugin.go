// Package pivot is a RoadRunner plugin that serves HTTP with its own server and its own
// supervised pool of PHP workers, speaking RoadRunner's http/v4 wire protocol so that any
// RoadRunner PSR-7 worker runs unchanged.
//
// A request flows: server.go (listener, http.Server) → handler.go (ServeHTTP) →
// request_body.go / form.go / uploads.go (body) → request_context.go (JSON context) →
// pool.go (sdk/v4 pool, goridge pipes, PHP) → response.go (status, headers, body, streams).
package pivot

import (
	"context"
	stderr "errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/roadrunner-server/errors"
	staticPool "github.com/roadrunner-server/sdk/v4/pool/static_pool"
	"go.uber.org/zap"
)

// PluginName is the name of the plugin and of its configuration section.
const PluginName = "pivot"

// Plugin is the endure plugin `pivot`.
type Plugin struct {
	cfg    *Config
	log    *zap.Logger
	server Server

	// pool is read on every request without a lock; it is nil until Serve has started it.
	pool atomic.Pointer[staticPool.Pool]
	// mu serialises pool lifecycle operations (Serve, Reset, Stop).
	mu      sync.Mutex
	http    *http.Server
	stopped atomic.Bool

	uid, gid int
	maxBody  int64

	states  sync.Pool // *requestState
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

	p.log = log.NamedLogger(PluginName)
	p.server = srv
	p.uid, p.gid = srv.UID(), srv.GID()
	p.maxBody = int64(p.cfg.MaxRequestSize * MB)
	p.states.New = func() any { return newRequestState() }
	p.metrics = newMetrics(p)
	p.stopped.Store(false)
	return nil
}

// Serve starts the worker pool, then the HTTP server.
func (p *Plugin) Serve() chan error {
	const op = errors.Op("pivot_plugin_serve")
	errCh := make(chan error, 2)

	p.mu.Lock()
	defer p.mu.Unlock()

	pl, err := p.newPool(context.Background())
	if err != nil {
		errCh <- errors.E(op, err)
		return errCh
	}
	p.pool.Store(pl)

	ln, err := net.Listen("tcp", p.cfg.Address)
	if err != nil {
		errCh <- errors.E(op, errors.Errorf("pivot.address %s: %v", p.cfg.Address, err))
		return errCh
	}

	p.http = p.newHTTPServer()
	go func() {
		if errS := p.http.Serve(ln); errS != nil && !stderr.Is(errS, http.ErrServerClosed) {
			errCh <- errors.E(op, errS)
		}
	}()
	p.log.Info("pivot server started", zap.String("address", ln.Addr().String()),
		zap.Uint64("workers", p.cfg.Pool.NumWorkers))
	return errCh
}

// Stop stops accepting connections, lets accepted requests finish within ctx, then destroys
// the pool. Because the plugin owns its pool, no worker is taken away from an in-flight request.
func (p *Plugin) Stop(ctx context.Context) error {
	p.stopped.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()

	var err error
	if p.http != nil {
		if errS := p.http.Shutdown(ctx); errS != nil {
			err = errS
			_ = p.http.Close()
		}
	}
	if pl := p.pool.Load(); pl != nil {
		pl.Destroy(ctx)
	}
	return err
}

// Name is the plugin name used by endure, the informer, the resetter and RPC.
func (p *Plugin) Name() string { return PluginName }

// Weight is endure's default: pivot needs no ordering among served plugins.
func (p *Plugin) Weight() uint { return 1 }
