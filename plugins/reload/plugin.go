// Package reload is the "reload" plugin of this RoadRunner distribution: it watches the
// application's files and resets the plugins that serve it when one changes, so PHP code
// edited during development is served without restarting rr (a development tool).
//
// It reads RoadRunner 2.x's `reload` section unchanged (github.com/roadrunner-server/reload,
// which RoadRunner dropped in v2023 and which cannot be had as a module here):
//
//	reload:
//	  interval: 1s
//	  patterns: [".php"]
//	  services:
//	    http:  { recursive: true, ignore: ["vendor/"], patterns: [".php", ".env"], dirs: ["app", "config", "routes"] }
//	    pivot: { recursive: true, dirs: ["."] }
//
// Each key under services names a plugin to reset: any plugin with RoadRunner's resetter
// contract, Name() and Reset() error (the stock `http` resets its pool; `pivot` does a
// zero-downtime rolling reset: if the new workers cannot start, the old ones keep serving).
// See Config for every key and its default.
//
// What differs from RoadRunner 2.x's plugin: the kernel reports changes (fsnotify: inotify on
// Linux) instead of a poll of every file each interval, so `interval` is the quiet time that
// ends a burst of changes (a save, a branch switch) before the ONE reset for it, and may be
// shorter than 1s (MinInterval); a pattern matches the end of a file name (or is a glob)
// rather than any part of it, so editors' temporary files do not reset anything; a failed
// Reset is logged and the next change retries, instead of stopping rr; a service naming a
// plugin that is not running or cannot be reset is a warning, not an error; `ignore` takes
// names ("vendor/", ignored at any depth) as well as paths; .git is never watched; unknown
// keys are errors (a typo would silently watch the wrong thing).
//
// Why a module of its own: see plugins/memory's package comment (velox builds each plugin
// from the root package of a module; velox.toml uses folder = "plugins/reload").
package reload

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/roadrunner-server/endure/v2/dep"
	"github.com/roadrunner-server/errors"
	"go.uber.org/zap"
)

// PluginName is the name of the plugin and of its configuration section.
const PluginName = "reload"

// Resetter is RoadRunner's resetter contract (what `rr reset` calls): the plugins named in
// reload.services are found by it.
type Resetter interface {
	Name() string
	Reset() error
}

// Configurer is what the plugin needs of RoadRunner's config plugin.
type Configurer interface {
	// UnmarshalKey takes a single key and unmarshal it into a Struct.
	UnmarshalKey(name string, out any) error
	// Has checks if config section exists.
	Has(name string) bool
}

// Logger is what the plugin needs of RoadRunner's logger plugin.
type Logger interface {
	NamedLogger(name string) *zap.Logger
}

// The contracts endure matches structurally: a signature drift is a compile error here
// rather than a plugin that is silently never served or never given its resetters.
var (
	_ interface {
		Init(Configurer, Logger) error
		Serve() chan error
		Stop(context.Context) error
		Name() string
		Collects() []*dep.In
	} = (*Plugin)(nil)
)

// Plugin is the endure plugin `reload`.
type Plugin struct {
	cfg     *Config
	log     *zap.Logger
	workDir string
	// matchers are the resolved services, by name
	matchers map[string]*matcher

	mu        sync.Mutex
	resetters map[string]Resetter
	watchers  []*watcher
}

// Init reads and validates the `reload` section; without it, or with enabled: false, the
// plugin is disabled. Every directory in reload.services.<name>.dirs must exist.
func (p *Plugin) Init(cfg Configurer, log Logger) error {
	const op = errors.Op("reload_plugin_init")
	if !cfg.Has(PluginName) {
		return errors.E(op, errors.Disabled)
	}

	conf := &Config{}
	if err := cfg.UnmarshalKey(PluginName, conf); err != nil {
		return errors.E(op, errors.Errorf("reload: invalid configuration (check the types of the values): %v", err))
	}
	if !conf.IsEnabled() {
		return errors.E(op, errors.Disabled)
	}
	var raw map[string]any
	if err := cfg.UnmarshalKey(PluginName, &raw); err != nil {
		return errors.E(op, errors.Errorf("reload: the section cannot be read: %v", err))
	}
	if err := checkUnknownKeys(raw); err != nil {
		return errors.E(op, err)
	}
	conf.InitDefaults()
	if err := conf.Valid(); err != nil {
		return errors.E(op, err)
	}

	workDir, err := os.Getwd()
	if err != nil {
		return errors.E(op, errors.Errorf("reload: the working directory: %v", err))
	}
	matchers := make(map[string]*matcher, len(conf.Services))
	for _, name := range conf.ServiceNames() {
		m, errR := conf.Resolve(name, workDir)
		if errR != nil {
			return errors.E(op, errR)
		}
		matchers[name] = m
	}

	p.cfg, p.workDir, p.matchers = conf, workDir, matchers
	p.log = log.NamedLogger(PluginName)
	p.resetters = make(map[string]Resetter)
	p.watchers = nil

	if mode := logsMode(cfg); strings.EqualFold(mode, "production") {
		p.log.Warn("reload is a development tool, but logs.mode is production: every change of a watched file resets workers; " +
			"remove the reload section (or set reload.enabled: false) in production")
	}
	return nil
}

// logsMode is logs.mode ("" when not set).
func logsMode(cfg Configurer) string {
	if !cfg.Has("logs") {
		return ""
	}
	var logs struct {
		Mode string `mapstructure:"mode"`
	}
	if err := cfg.UnmarshalKey("logs", &logs); err != nil {
		return ""
	}
	return logs.Mode
}

// Serve starts a watcher for every service whose plugin is running and can be reset; the
// others are named in a warning.
func (p *Plugin) Serve() chan error {
	const op = errors.Op("reload_plugin_serve")
	errCh := make(chan error, 1)

	p.mu.Lock()
	defer p.mu.Unlock()
	available := make([]string, 0, len(p.resetters))
	for name := range p.resetters {
		available = append(available, name)
	}
	sort.Strings(available)

	for _, name := range p.cfg.ServiceNames() {
		target, ok := p.resetters[name]
		if !ok {
			can := strings.Join(available, ", ")
			if can == "" {
				can = "none"
			}
			p.log.Warn(fmt.Sprintf("reload.services.%s: no running plugin named %q can be reset, so its files are not watched "+
				"(plugins that can be reset here: %s); is the %q section in the configuration, and is the plugin built into rr?",
				name, name, can, name))
			continue
		}
		m := p.matchers[name]
		w, err := newWatcher(name, m, target, p.cfg.Interval, p.workDir, p.log)
		if err != nil {
			for _, started := range p.watchers {
				_ = started.close(context.Background())
			}
			p.watchers = nil
			errCh <- errors.E(op, err)
			return errCh
		}
		p.watchers = append(p.watchers, w)
		p.log.Info("watching for changes", zap.String("service", name), zap.Strings("dirs", m.dirs),
			zap.Bool("recursive", m.recursive), zap.Strings("patterns", m.patterns),
			zap.Int("directories", w.dirCount()), zap.Duration("interval", p.cfg.Interval))
	}
	for _, w := range p.watchers {
		w.start()
	}
	return errCh
}

// Stop closes every watcher and waits (within ctx) for a reset in flight.
func (p *Plugin) Stop(ctx context.Context) error {
	const op = errors.Op("reload_plugin_stop")
	p.mu.Lock()
	watchers := p.watchers
	p.watchers = nil
	p.mu.Unlock()

	var failed []string
	for _, w := range watchers {
		if err := w.close(ctx); err != nil {
			failed = append(failed, err.Error())
		}
	}
	if len(failed) > 0 {
		return errors.E(op, errors.Str(strings.Join(failed, "; ")))
	}
	return nil
}

// Name is the plugin's and its section's name.
func (p *Plugin) Name() string { return PluginName }

// Collects every plugin that can be reset (the resetter contract), by name.
func (p *Plugin) Collects() []*dep.In {
	return []*dep.In{
		dep.Fits(func(pl any) {
			r := pl.(Resetter)
			p.mu.Lock()
			if p.resetters == nil {
				p.resetters = make(map[string]Resetter)
			}
			p.resetters[r.Name()] = r
			p.mu.Unlock()
		}, (*Resetter)(nil)),
	}
}
