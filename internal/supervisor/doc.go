// Package supervisor keeps a generation of PHP workers serving: it starts the pool
// (internal/pool) a generation at a time, swaps generations without failing a request (a
// zero-downtime reset), restarts a pool that cannot start or crash-loops with exponential
// backoff, and scales the running pool. It knows no HTTP: the front acquires a Generation per
// request and releases it when the response is written.
//
//	generation.go  one generation: in-flight count, retire (drain, destroy), abandon
//	supervisor.go  Supervisor: the serving generation, why none serves, start, stop
//	restart.go     the crash-loop watch and its backoff (pivot.restart: RestartConfig)
//	reset.go       Reset: a new generation swapped in while the old one drains
//	scale.go       the informer's view: Workers, AddWorker, RemoveWorker
package supervisor
