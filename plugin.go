package pivot

import "github.com/roadrunner-server/errors"

// PluginName is the name of the plugin and of its configuration section.
const PluginName = "pivot"

type Plugin struct{}

func (p *Plugin) Init() error {
	const op = errors.Op("pivot_plugin_init")
	return errors.E(op, errors.Disabled)
}

func (p *Plugin) Name() string { return PluginName }
