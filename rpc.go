package pivot

import (
	"os"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/realtime"
	"github.com/roadrunner-server/errors"
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

// errNoBroadcast answers the Broadcast* methods when pivot.broadcast is not configured.
var errNoBroadcast = errors.Str("pivot.broadcast is not configured: add a pivot.broadcast section (path: /connection) to .rr.yaml")

// BroadcastPublish sends a message to every subscriber of the channels, on every instance
// sharing pivot.broadcast.broker (PHP: Broadcast::publish); out is the number of channels.
func (r *rpc) BroadcastPublish(in realtime.PublishRequest, out *int) error {
	if r.p.broadcast == nil {
		return errNoBroadcast
	}
	if err := r.p.broadcast.Publish(in); err != nil {
		return err
	}
	*out = len(in.Channels)
	return nil
}

// BroadcastPresence lists the connections subscribed to a channel (PHP: Broadcast::presence).
func (r *rpc) BroadcastPresence(channel string, out *[]realtime.PresenceEntry) error {
	if r.p.broadcast == nil {
		return errNoBroadcast
	}
	list, err := r.p.broadcast.Presence(channel)
	if err != nil {
		return err
	}
	*out = list
	return nil
}

// BroadcastDisconnect closes every connection of a user, on every instance (PHP:
// Broadcast::disconnect); the clients get close code 3503 and must not reconnect on their own.
func (r *rpc) BroadcastDisconnect(user string, out *bool) error {
	if r.p.broadcast == nil {
		return errNoBroadcast
	}
	if err := r.p.broadcast.Disconnect(user); err != nil {
		return err
	}
	*out = true
	return nil
}
