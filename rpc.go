package pivot

import (
	"os"
)

// rpc is the receiver of the pivot.* RPC service (JSON, msgpack or gob codecs over goridge).
type rpc struct {
	p *Plugin
}

// RPC hands the receiver to the rpc plugin; it is called before Serve, so it only keeps a pointer.
func (p *Plugin) RPC() any {
	return &rpc{p: p}
}

// Pid returns the server's process id (`rr stop` uses it when there is no .pid file).
func (r *rpc) Pid(_ bool, pid *int) error {
	*pid = os.Getpid()
	return nil
}

// VersionInfo is the answer of pivot.Version.
type VersionInfo struct {
	Plugin     string `json:"plugin"`
	RoadRunner string `json:"roadrunner"`
}

// Version returns the plugin's and RoadRunner's versions.
func (r *rpc) Version(_ bool, out *VersionInfo) error {
	out.Plugin = Version
	out.RoadRunner = RRVersion
	return nil
}
