package observe

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/roadrunner-server/errors"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// Observer gives every request an id and, when configured, a server span and an access-log
// line. Its Middleware is the outermost handler around pivot's front; the front reports each
// request's worker and timings through Executed and StreamEnded (httpfront.Observer).
type Observer struct {
	access *zap.Logger // nil: pivot.access_log is off
	fast   *fastLine   // nil: zap encodes every access line

	trace *tracing // nil: tracing is off

	states sync.Pool
}

// New builds the observer; tracing starts its exporter (a failure names the otel key).
func New(o Options, log *zap.Logger) (*Observer, error) {
	const op = errors.Op("pivot_observe_new")
	ob := &Observer{}
	ob.states.New = func() any { return new(state) }
	if o.AccessLog {
		ob.access = log.Named("access")
		if o.Logs != nil {
			if l, sinks := bufferedAccessLogger(o.Logs); l != nil {
				ob.access = l.Named(log.Name()).Named("access")
				if len(sinks) > 0 && ob.access.Core().Enabled(zap.InfoLevel) {
					ob.fast = newFastLine(ob.access.Name(), o.Logs.LineEnding, sinks)
				}
			}
		}
	}
	if ob.access != nil {
		// RoadRunner's logs config never prints the caller (CallerKey is omitted in every
		// mode), yet zap.Config.Build turns it on: a stack walk per line for nothing
		ob.access = ob.access.WithOptions(zap.WithCaller(false))
	}
	if o.Trace != nil || o.Otel != nil {
		t, err := newTracing(o, log)
		if err != nil {
			return nil, errors.E(op, err)
		}
		ob.trace = t
	}
	return ob, nil
}

// Measures says whether the front must report workers and timings (access log or tracing on);
// with both off the front measures nothing.
func (o *Observer) Measures() bool { return o.access != nil || o.trace != nil }

// RequestHeaders are the request headers Middleware sets, which PHP must get as set.
func (o *Observer) RequestHeaders() []string {
	if o.trace != nil {
		return []string{Header, "traceparent", "tracestate"}
	}
	return []string{Header}
}

// Shutdown writes the access-log lines still buffered and flushes the spans not exported yet
// (within ctx).
func (o *Observer) Shutdown(ctx context.Context) error {
	if o.access != nil {
		_ = o.access.Sync() // the buffered lines
	}
	if o.trace == nil {
		return nil
	}
	return o.trace.shutdown(ctx)
}

// state is one measured request, from the middleware to its end (the handler's return, or a
// streamed body's end).
type state struct {
	t0                     time.Time
	pid                    int64
	queued, started, ended int64 // unix ns, from the front
	streaming              bool
	bytes                  int64
	// the access line's fields: passed through an interface they would escape, an allocation
	// per request; zap's cores copy them
	fields [9]zap.Field
	// span is the request's server span; recording: it is sampled and will be exported
	span        spanRecord
	recording   bool
	traceparent [traceparentLen]byte
}

// stateKey is the RequestCtx user value holding a measured request's state.
const stateKey = "pivot.observe"

// Middleware is the outermost handler: the request id on the request (for PHP and every
// handler inside) and on the response; with access log or tracing, the request is measured.
func (o *Observer) Middleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	if !o.Measures() {
		return func(c *fasthttp.RequestCtx) {
			ensureID(c)
			next(c)
			c.Response.Header.SetBytesV(Header, c.Request.Header.Peek(Header))
		}
	}
	return func(c *fasthttp.RequestCtx) {
		ensureID(c)
		st := o.states.Get().(*state)
		st.t0 = time.Now()
		c.SetUserValue(stateKey, st)
		if o.trace != nil {
			o.trace.startSpan(c, st)
		}
		next(c)
		c.Response.Header.SetBytesV(Header, c.Request.Header.Peek(Header))
		if st.streaming {
			return // StreamEnded ends it, once fasthttp has written the body
		}
		resp := &c.Response
		if resp.IsBodyStream() {
			st.bytes = int64(resp.Header.ContentLength()) // reading Body() would drain the stream
		} else {
			st.bytes = int64(len(resp.Body()))
		}
		o.finish(c, st)
	}
}

// logAccess writes the access line through zap.
func (o *Observer) logAccess(st *state, a *accessFields) {
	if ce := o.access.Check(zap.InfoLevel, "request"); ce != nil {
		st.fields = [...]zap.Field{
			zap.ByteString("request_id", a.id),
			zap.ByteString("method", a.method),
			zap.ByteString("path", a.path),
			zap.Int("status", a.status),
			zap.Int64("bytes", a.bytes),
			zap.Duration("queue_wait", a.wait),
			zap.Duration("php", a.php),
			zap.Duration("total", a.total),
			zap.Int64("worker_pid", a.pid),
		}
		ce.Write(st.fields[:]...)
	}
}

// requestPath is the request target's path as the client sent it, without its query: the
// access line's and the span's path. fasthttp's Path() would parse (and decode) the URI for it,
// a microsecond the front never pays otherwise.
func requestPath(c *fasthttp.RequestCtx) []byte {
	p := c.Request.Header.RequestURI()
	if len(p) > 0 && p[0] != '/' {
		if i := bytes.Index(p, []byte("://")); i >= 0 { // absolute-form
			p = p[i+3:]
			if j := bytes.IndexByte(p, '/'); j >= 0 {
				p = p[j:]
			} else {
				p = []byte("/")
			}
		}
	}
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

// ensureID keeps a sane incoming X-Request-Id, or sets a new one.
func ensureID(c *fasthttp.RequestCtx) {
	if SaneID(c.Request.Header.Peek(Header)) {
		return
	}
	// a buffer on the stack would escape through fasthttp's setter: one allocation a request
	buf := idBufs.Get().(*[IDLen]byte)
	c.Request.Header.SetBytesV(Header, NewID(buf))
	idBufs.Put(buf)
}

var idBufs = sync.Pool{New: func() any { return new([IDLen]byte) }}

// Executed is the front's report: the request ran on worker pid, asked for a worker at queued,
// got one at started and had its answer at ended (unix ns); a streamed answer (streaming)
// ends later, with StreamEnded.
func (o *Observer) Executed(c *fasthttp.RequestCtx, pid, queued, started, ended int64, streaming bool) {
	st, _ := c.UserValue(stateKey).(*state)
	if st == nil {
		return
	}
	st.pid, st.queued, st.started, st.ended, st.streaming = pid, queued, started, ended, streaming
}

// StreamEnded is the front's report that a streamed body ended after n bytes.
func (o *Observer) StreamEnded(c *fasthttp.RequestCtx, n int64) {
	st, _ := c.UserValue(stateKey).(*state)
	if st == nil || !st.streaming {
		return
	}
	st.ended, st.bytes = time.Now().UnixNano(), n
	o.finish(c, st)
}

func (o *Observer) finish(c *fasthttp.RequestCtx, st *state) {
	now := time.Now()
	// the request's figures, read once for the access line and the span
	a := accessFields{
		at: now, id: c.Request.Header.Peek(Header), method: c.Method(), path: requestPath(c),
		status: c.Response.StatusCode(), bytes: st.bytes, pid: st.pid, total: now.Sub(st.t0),
	}
	if st.started != 0 {
		a.wait, a.php = time.Duration(st.started-st.queued), time.Duration(st.ended-st.started)
	}
	if o.access != nil && (o.fast == nil || !o.fast.write(&a)) {
		o.logAccess(st, &a)
	}
	if st.recording {
		o.trace.endSpan(st, &a)
	}
	c.RemoveUserValue(stateKey)
	*st = state{}
	o.states.Put(st)
}
