// Package pool is pivot's pool of PHP workers, with no HTTP in it: workers spawned over pipes
// or a tcp/unix socket (factories, the pid handshake), their goridge relays, exec_ttl and the
// supervisor's ttl, idle_ttl and max_worker_memory, request pipelining (pivot.pipeline) and
// the lost-request watch.
//
// A caller runs a request with Pool.Exec, giving the request's http/v4 context and body and a
// FrameSink that receives the response frames; a sink that is also a StreamDetacher may take
// a streamed response over as a StreamCursor and read it after Exec returns. Errors carry
// github.com/roadrunner-server/errors kinds, which the caller maps to statuses.
package pool
