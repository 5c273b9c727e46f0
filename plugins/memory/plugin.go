// Package memory is the "memory" plugin of this RoadRunner distribution: RoadRunner's own
// memory plugin (github.com/roadrunner-server/memory/v4 v4.6.16, the version RoadRunner
// v2023.3.12 ships) with its KV storage wrapped so that no expiry a client sends can crash
// rr or keep a key it should have dropped. See [Storage] for what the wrapper changes.
//
// The jobs driver (memory pipelines) is the original, untouched.
//
// Why a module of its own (plugins/memory/go.mod) and not a package of the root module:
// velox (v1.8.0 / v2024.1.x, the versions with the RoadRunner v2023 template) imports each
// plugin by the module path it reads from <folder>/go.mod and writes `&<alias>.Plugin{}`, so
// a plugin must be the root package of a module. velox.toml points at this folder with
// `folder = "plugins/memory"`; the repository's go.mod requires this module and replaces it
// with ./plugins/memory, so ./cmd/rr builds the very same code.
package memory

import (
	"github.com/roadrunner-server/api/v4/plugins/v1/kv"
	upstream "github.com/roadrunner-server/memory/v4"
)

// PluginName is the name the original plugin registers: `kv.<storage>.driver: memory` and
// `jobs.pipelines.<name>.driver: memory` find the plugin by it.
const PluginName = upstream.PluginName

// Plugin is RoadRunner's memory plugin with a safe KV storage. Everything but KvFromConfig
// is the embedded original's: Init, Name ("memory"), Collects (the OTEL tracer), and the jobs
// constructors DriverFromConfig / DriverFromPipeline, so endure wires it exactly as it wires
// the original (kv and jobs collect it through the same interfaces). It neither provides
// (Provides) nor serves (Serve/Stop) anything, like the original.
//
// Register it instead of the original, never beside it: both are named "memory".
type Plugin struct {
	upstream.Plugin
}

// KvFromConfig builds the original in-memory KV driver for the config section at key and
// wraps it in a [Storage].
func (p *Plugin) KvFromConfig(key string) (kv.Storage, error) {
	st, err := p.Plugin.KvFromConfig(key)
	if err != nil {
		return nil, err
	}

	return NewStorage(st), nil
}
