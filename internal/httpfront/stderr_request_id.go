package httpfront

import "github.com/pivotphp/pivotphp-runtime-roadrunner/internal/pool"

var _ pool.RequestIdentifier = (*requestState)(nil)

// RequestIDHeader is the request's X-Request-Id as the front hands it to the pool: the pool
// ties what the worker writes to stderr while it runs the request to this id
// (pivot.worker_logs).
func (st *requestState) RequestIDHeader() []byte { return st.c.Request.Header.Peek("X-Request-Id") }
