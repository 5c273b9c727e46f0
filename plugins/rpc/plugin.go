// Package rpc is the "rpc" plugin of this RoadRunner distribution: the goridge RPC server
// (`rpc.listen`) that PHP and the rr CLI talk to, the same as RoadRunner's own
// (github.com/roadrunner-server/rpc/v4 v4.2.17) — same config, same services (every
// plugin's RPC() under its Name(), plus rpc.Config and rpc.Version), same codec (goridge
// v3.8.1), same wire — except for how a connection is served: no request a client sends can
// crash rr. See conn.go.
//
// Why not a wrapper embedding rpc/v4's Plugin, as plugins/memory embeds the memory plugin:
// what has to change is the loop that serves an accepted connection
// (`go s.rpc.ServeCodec(goridgeRpc.NewCodec(conn))` inside rpc/v4's Serve), and rpc/v4 offers
// no hook for it; its state (config, collected plugins, net/rpc server, listener) is
// unexported. So this plugin re-implements the plugin's ~100 lines around that loop with
// rpc/v4's exported Config and RPCer, and nothing of rpc/v4 is copied or patched.
//
// What crashes the original (net/rpc does not recover panics, neither in the codec nor in a
// service method, and each takes the whole process down):
//
//   - goridge's codec on malformed frames: a method-name length (option 2) longer than the
//     payload (slice bounds out of range); a header length of 14 or 15 words (ReadOptions
//     panics); a request flagged Proto with an empty body to a method whose reply is not a
//     protobuf message, e.g. rpc.Version, informer.List (interface conversion in
//     WriteResponse); two requests in flight with the same sequence number (nil interface
//     conversion in WriteResponse);
//   - service methods that panic on input: kv.Has/MGet/TTL/Delete with a null item
//     (JSON `"items":[null]`), metrics.Add of a negative value to a counter, metrics.Declare
//     of a histogram with unsorted buckets, a histogram label "le" or a summary label
//     "quantile" (the vector variants panic at the first Observe), jobs.Push to a pipeline
//     declared with a name that is not UTF-8 (prometheus label values).
//
// Panics in goroutines a method starts (the memory KV driver's TTL timers) cannot be
// recovered here: plugins/memory prevents those.
//
// Why a module of its own: see plugins/memory's package comment (velox builds each plugin
// from the root package of a module; velox.toml uses folder = "plugins/rpc").
package rpc

import (
	"context"
	"net"
	"net/rpc"
	"sort"
	"sync/atomic"
	"time"

	"github.com/goccy/go-json"
	"github.com/roadrunner-server/endure/v2/dep"
	"github.com/roadrunner-server/errors"
	upstream "github.com/roadrunner-server/rpc/v4"
	"go.uber.org/zap"
)

// PluginName is the original's: the config section and the built-in service are "rpc".
const PluginName = upstream.PluginName

// RPCer is what every plugin with RPC methods implements (the original's interface).
type RPCer = upstream.RPCer

type Configurer interface {
	// RRVersion returns the RoadRunner version (rpc.Version answers it).
	RRVersion() string
	// Unmarshal returns the whole configuration (rpc.Config answers it as JSON).
	Unmarshal(out any) error
	// UnmarshalKey takes a single key and unmarshal it into a Struct.
	UnmarshalKey(name string, out any) error
	// Has checks if config section exists.
	Has(name string) bool
}

type Logger interface {
	NamedLogger(name string) *zap.Logger
}

// Plugin is the RPC server. Weight 100, as the original: endure serves it first.
type Plugin struct {
	cfg      upstream.Config
	log      *zap.Logger
	server   *rpc.Server
	plugins  map[string]RPCer
	listener net.Listener
	closed   atomic.Bool

	wholeCfg  []byte
	rrVersion string
}

// Init reads the `rpc` section; the plugin is disabled without one, as the original.
func (p *Plugin) Init(cfg Configurer, log Logger) error {
	const op = errors.Op("rpc_plugin_init")
	if !cfg.Has(PluginName) {
		return errors.E(op, errors.Disabled)
	}
	if err := cfg.UnmarshalKey(PluginName, &p.cfg); err != nil {
		return errors.E(op, errors.Disabled, err)
	}
	p.cfg.InitDefaults()
	if err := p.cfg.Valid(); err != nil {
		return errors.E(op, err)
	}

	p.plugins = make(map[string]RPCer)
	p.log = log.NamedLogger(PluginName)

	var whole any
	if err := cfg.Unmarshal(&whole); err != nil {
		return errors.E(op, err)
	}
	var err error
	if p.wholeCfg, err = json.Marshal(whole); err != nil {
		return errors.E(op, err)
	}
	p.rrVersion = cfg.RRVersion()

	return nil
}

// Serve registers every collected plugin's RPC() under its name and the built-in "rpc"
// service, then accepts connections on rpc.listen.
func (p *Plugin) Serve() chan error {
	const op = errors.Op("rpc_plugin_serve")
	errCh := make(chan error, 1)

	p.server = rpc.NewServer()
	names := make([]string, 0, len(p.plugins))
	for name, pl := range p.plugins {
		if err := p.server.RegisterName(name, pl.RPC()); err != nil {
			errCh <- errors.E(op, err)
			return errCh
		}
		names = append(names, name)
	}
	sort.Strings(names)
	if err := p.server.RegisterName(PluginName, &API{cfg: p.wholeCfg, version: p.rrVersion}); err != nil {
		errCh <- errors.E(op, err)
		return errCh
	}

	var err error
	if p.listener, err = p.cfg.Listener(); err != nil {
		errCh <- errors.E(op, err)
		return errCh
	}
	p.log.Debug("plugin was started", zap.String("address", p.cfg.Listen), zap.Strings("list of the plugins with RPC methods:", names))

	go p.accept()

	return errCh
}

func (p *Plugin) accept() {
	for {
		c, err := p.listener.Accept()
		if err != nil {
			if p.closed.Load() {
				return
			}
			p.log.Error("failed to accept the connection", zap.Error(err))
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors: do not spin
			continue
		}
		go serveConn(p.server, c, p.log)
	}
}

// Stop closes the listener; connections already accepted finish on their own, as with
// the original.
func (p *Plugin) Stop(context.Context) error {
	const op = errors.Op("rpc_plugin_stop")
	p.closed.Store(true)
	if p.listener == nil {
		return nil
	}
	if err := p.listener.Close(); err != nil {
		return errors.E(op, err)
	}
	return nil
}

func (p *Plugin) Weight() uint { return 100 }

func (p *Plugin) Name() string { return PluginName }

// Collects every plugin with RPC methods.
func (p *Plugin) Collects() []*dep.In {
	return []*dep.In{
		dep.Fits(func(pl any) {
			r := pl.(RPCer)
			p.plugins[r.Name()] = r
		}, (*RPCer)(nil)),
	}
}

// Register publishes svc's methods as "<name>.<Method>" (net/rpc's rules), as the
// original's Register; only after Serve.
func (p *Plugin) Register(name string, svc any) error {
	if p.server == nil {
		return errors.E("RPC service is not configured")
	}
	return p.server.RegisterName(name, svc)
}

// API is the built-in "rpc" service, with the original's methods.
type API struct {
	cfg     []byte
	version string
}

// Config returns the whole configuration as JSON.
func (a *API) Config(_ *bool, out *[]byte) error {
	*out = a.cfg
	return nil
}

// Version returns the RoadRunner version.
func (a *API) Version(_ *bool, out *string) error {
	*out = a.version
	return nil
}
