// Package amqp is the "amqp" jobs driver of this RoadRunner distribution: jobs pipelines on
// RabbitMQ (AMQP 0-9-1, github.com/rabbitmq/amqp091-go), written for this project because
// RoadRunner's own amqp plugin (github.com/roadrunner-server/amqp/v4) cannot be downloaded
// here. It reads the configuration keys RoadRunner's plugin reads and writes the same rr_*
// message headers, so existing .rr.yaml files and messages keep working; where RoadRunner's
// driver loses or duplicates jobs this one does not (publisher confirms, counted retries and a
// dead-letter queue, endless redial, graceful stop). README.md lists the differences.
//
// Why a module of its own: see plugins/memory's package comment (velox builds each plugin
// from the root package of a module; velox.toml uses folder = "plugins/amqp").
package amqp

import (
	"crypto/tls"
	"fmt"
	"strings"
	"sync"

	"github.com/roadrunner-server/api/v4/plugins/v3/jobs"
	"github.com/roadrunner-server/errors"
	"go.uber.org/zap"
)

// PluginName is the plugin's name: the top-level config section (`amqp:`) and the value of
// `jobs.pipelines.<name>.driver`.
const PluginName = "amqp"

// Configurer is the config plugin.
type Configurer interface {
	// UnmarshalKey takes a single key and unmarshal it into a Struct.
	UnmarshalKey(name string, out any) error
	// Has checks if config section exists.
	Has(name string) bool
}

// Logger is the logger plugin.
type Logger interface {
	NamedLogger(name string) *zap.Logger
}

// Plugin is the jobs driver constructor (jobs collects it as a jobs.Constructor). It neither
// serves nor stops anything itself: each pipeline's driver owns its connection and the jobs
// plugin stops the drivers.
//
// Unlike RoadRunner's plugin it stays enabled without an `amqp:` section (the broker is then
// amqp://guest:guest@127.0.0.1:5672/): it costs nothing until a pipeline uses driver: amqp.
type Plugin struct {
	log    *zap.Logger
	cfg    Configurer
	global GlobalConfig
	tls    *tls.Config

	mu      sync.Mutex
	drivers map[*Driver]struct{} // every driver built and not stopped (status.go)
}

var _ jobs.Constructor = (*Plugin)(nil)

// Init reads and validates the `amqp:` section (addr, tls).
func (p *Plugin) Init(cfg Configurer, log Logger) error {
	const op = errors.Op("amqp_plugin_init")

	p.cfg = cfg
	p.log = log.NamedLogger(PluginName)
	p.global = GlobalConfig{}
	if cfg.Has(PluginName) {
		if err := cfg.UnmarshalKey(PluginName, &p.global); err != nil {
			return errors.E(op, fmt.Errorf("amqp: %w", err))
		}
	}

	tlsCfg, err := p.global.validate()
	if err != nil {
		return errors.E(op, err)
	}
	p.tls = tlsCfg
	return nil
}

// Name is "amqp".
func (p *Plugin) Name() string {
	return PluginName
}

// DriverFromConfig builds the driver of a pipeline from .rr.yaml: its keys are read under
// configKey (jobs.pipelines.<name>.config), then flat beside `driver:` (RoadRunner 2.x style).
func (p *Plugin) DriverFromConfig(configKey string, pq jobs.Queue, pipeline jobs.Pipeline, _ chan<- jobs.Commander) (jobs.Driver, error) {
	const op = errors.Op("amqp_driver_from_config")
	cfg, err := p.configFromConfig(configKey, pipeline)
	if err != nil {
		return nil, errors.E(op, err)
	}
	return p.newDriver(op, cfg, pq)
}

// DriverFromPipeline builds the driver of a pipeline declared over RPC (jobs.Declare): the
// keys are the pipeline's own (string values, queue_headers as a JSON object).
func (p *Plugin) DriverFromPipeline(pipe jobs.Pipeline, pq jobs.Queue, _ chan<- jobs.Commander) (jobs.Driver, error) {
	const op = errors.Op("amqp_driver_from_pipeline")
	cfg, err := configFromPipeline(pipe)
	if err != nil {
		return nil, errors.E(op, err)
	}
	return p.newDriver(op, cfg, pq)
}

func (p *Plugin) configFromConfig(configKey string, pipeline jobs.Pipeline) (*PipelineConfig, error) {
	name := pipeline.Name()
	if name == "" {
		return nil, errors.Str("the pipeline has no name")
	}
	section := map[string]any{}
	if p.cfg.Has(configKey) {
		if err := p.cfg.UnmarshalKey(configKey, &section); err != nil {
			return nil, fmt.Errorf("%s: %w", configKey, err)
		}
	}

	parent := strings.TrimSuffix(configKey, ".config")
	if parent == configKey {
		parent = "jobs.pipelines." + name
	}
	return parsePipelineConfig(name, source{layers: []layer{
		mapLayer(configKey, section, true),
		{prefix: parent, get: pipeline.Get},
	}})
}

func configFromPipeline(pipe jobs.Pipeline) (*PipelineConfig, error) {
	name := pipe.Name()
	if name == "" {
		return nil, errors.Str("the pipeline has no name")
	}
	prefix := "jobs.pipelines." + name
	layers := []layer{{prefix: prefix, get: pipe.Get}}
	if m, ok := pipe.Get("config").(map[string]any); ok {
		layers = append(layers, mapLayer(prefix+".config", m, false))
	}
	return parsePipelineConfig(name, source{layers: layers})
}

func (p *Plugin) newDriver(op errors.Op, cfg *PipelineConfig, pq jobs.Queue) (jobs.Driver, error) {
	if len(cfg.Unknown) > 0 {
		p.log.Warn("unknown amqp pipeline keys (ignored)", zap.String("pipeline", cfg.Name), zap.Strings("keys", cfg.Unknown))
	}
	d, err := newDriver(p.log, cfg, &p.global, p.tls, pq)
	if err != nil {
		return nil, errors.E(op, err)
	}
	p.track(d)
	return d, nil
}
