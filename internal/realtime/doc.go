// Package realtime will hold the broadcast hub (issue 22): WebSocket and SSE connections held in
// Go, PHP authorising connects and subscriptions and publishing over RPC, a Redis broker for
// several instances.
//
// Where it plugs in: plugin.go mounts its paths beside the front and exposes its RPC methods;
// realtime asks PHP through a narrow interface of its own, never through internal/httpfront.
package realtime
