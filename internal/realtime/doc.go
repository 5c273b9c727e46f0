// Package realtime is pivot.broadcast (issue 22): WebSocket and SSE connections held in Go on
// pivot's own server, PHP authorising connects and subscriptions and publishing over RPC, a
// memory or Redis broker for one or several instances. The hub is
// github.com/centrifugal/centrifuge v0.29.4 (the last one whose go line fits go.mod's 1.22):
// per-client write queues (a slow client is dropped, a publisher never waits), ping/pong,
// presence, its Redis broker; its WebSocket handler runs on the connection taken over from
// fasthttp (or from net/http's Hijack under pivot.ssl), and sse.go is a unidirectional
// centrifuge Transport for EventSource, written on a taken-over HTTP/1.1 connection or, over
// HTTP/2 and HTTP/3, through net/http's response (Stream).
//
// Where it plugs in: plugin.go builds the Hub and puts Hub.Middleware outermost in the front's
// chain (its two paths; every other request goes on unchanged); rpc.go's Broadcast* methods
// and metrics.go's collector read it; Stop calls Hub.Shutdown before the HTTP drain. realtime
// asks PHP through PHP, a function of its own (the root hands it the front's handler), and
// takes connections over through Detacher, never importing internal/httpfront.
package realtime
