package pivot

import (
	"os/exec"

	"go.uber.org/zap"
)

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
// (internal/pool, on sdk/v4's worker watcher) and destroys it last.
type Server interface {
	CmdFactory(env map[string]string) func() *exec.Cmd
	UID() int
	GID() int
}
