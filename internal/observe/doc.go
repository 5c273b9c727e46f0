// Package observe will hold what lets an operator see a request (issue 20): request ids,
// OpenTelemetry spans and their propagation to PHP, the access log, PHP's stderr lines tied to
// the worker and request that wrote them, and the debug panel.
//
// Where it plugs in: plugin.go wraps the front's handler and hands the pool a sink for worker
// output; observe imports neither internal/httpfront nor internal/supervisor.
package observe
