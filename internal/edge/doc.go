// Package edge will hold what stands between a client and the HTTP front before PHP is asked
// (issue 19): TLS listeners and certificate reloads, HTTP/2 and HTTP/3, static files,
// compression, headers and CORS, rate limits and the circuit breaker around the pool.
//
// Where it plugs in: plugin.go builds the listeners and wraps the front's handler; the front
// (internal/httpfront) never imports edge, and edge declares the narrow interfaces it needs
// (a handler to wrap, a store for limits), as internal/httpfront does for the supervisor.
package edge
