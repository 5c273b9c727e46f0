// Package httpfront is pivot's HTTP front: its fasthttp server, the connection wrapper that has
// every byte checked by internal/http1 before fasthttp parses it, and the request path from the
// body as it arrives to the response written or streamed back. It knows nothing of endure or of
// how generations of workers are started: the plugin gives it a Generations (the serving
// generation of workers, or why none serves) and a Metrics, and the listener.
//
// A request flows: server.go (fasthttp server, protocol errors) → conn.go (framing check,
// lingering close, silent connections on drain) → the middleware the plugin gives as
// Options.Wrap (internal/edge: static files, compression) → handler.go (HandleRequest, the body
// as it arrives) → form.go / uploads.go (forms and files) → request_context.go (the http/v4 JSON
// context) → Generation.Exec (internal/pool) → handler.go (status, headers, body, streams;
// requestState is the pool's FrameSink and StreamDetacher) → interim.go (1xx answers);
// errors.go maps a failure to the status a client sees.
package httpfront

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/pool"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"golang.org/x/net/http2"
)

// Generation is the generation of workers a request runs on, registered for it by
// Generations.Acquire until Release.
type Generation interface {
	// Exec runs the request on a worker of the generation; the response frames go to sink.
	Exec(ctx, body []byte, sink pool.FrameSink) error
	// Served counts a request a worker of the generation answered.
	Served()
	// Retired reports whether the generation was retired or abandoned (a reset, a recovery, a
	// stop), so that an error of its stopped pool is answered as an unavailable server.
	Retired() bool
	// Release ends the request's registration, once its response is complete.
	Release()
}

// Generations gives the front the serving generation of workers.
type Generations interface {
	// Acquire returns the serving generation with a request registered on it, or nil while no
	// generation serves (the supervisor is restarting workers, or the plugin is stopping).
	Acquire() Generation
	// Unavailable says, while Acquire returns nil, in how many seconds to retry (at least 1),
	// and whether the plugin is stopping.
	Unavailable() (retryAfter int, stopping bool)
}

// Metrics are the counters the front feeds.
type Metrics interface {
	// CountStatus counts a response by its status code.
	CountStatus(status int)
	// NoFreeWorker counts a request refused because no worker was free in time.
	NoFreeWorker()
}

// Options is what the front reads of the `pivot` section.
type Options struct {
	// MaxHeaderBytes bounds the request head (431 above it); it is also each connection's
	// read buffer.
	MaxHeaderBytes int
	// MaxBody bounds a request's body, in bytes (413 above it).
	MaxBody int64
	// ReadHeaderTimeout bounds the head's arrival; ReadTimeout the body's (0: unbounded).
	ReadHeaderTimeout, ReadTimeout time.Duration
	WriteTimeout, IdleTimeout      time.Duration
	// Uploads is where multipart files are stored while PHP handles the request.
	Uploads Uploads
	// UID and GID own the stored uploads when both are set (server.user / server.group).
	UID, GID int
	// Wrap, when set, wraps HandleRequest in the middleware of pivot.middleware (internal/edge,
	// wired by the plugin): the server runs what it returns. Nil: HandleRequest alone.
	Wrap func(fasthttp.RequestHandler) fasthttp.RequestHandler
	// Streams, when set, may replace the body of a streamed response (compression).
	Streams StreamFilter

	// TLS, when set, is ServeTLS's configuration (pivot.ssl: the certificate through
	// GetCertificate, client certificates): HTTPS on net/http, HTTP/2 and HTTP/1.1 by ALPN,
	// every request through the same pipeline (nethttp.go).
	TLS *tls.Config
	// H2C serves cleartext HTTP/2 with prior knowledge on Serve's listener beside HTTP/1.1
	// (pivot.http2.h2c): a connection that opens with HTTP/2's preface goes to net/http.
	H2C bool
	// MaxConcurrentStreams bounds an HTTP/2 connection's streams (0: 128).
	MaxConcurrentStreams uint32
	// RedirectTLS, when set, is the HTTPS port every request of Serve's listener is redirected
	// to with a 308 (pivot.ssl.redirect).
	RedirectTLS int
	// AltSvc, when set, is the Alt-Svc header of every HTTPS response (HTTP/3's advertisement).
	AltSvc string
	// RequestHeaders are the request headers the middleware in Wrap sets, replaces or adds
	// (internal/observe: X-Request-Id, traceparent, tracestate; pivot.headers.request): PHP
	// gets every value fasthttp's parsed view has for them, not only what the client sent (the
	// request context is written from the raw head otherwise). A name listed twice is harmless.
	RequestHeaders []string
	// Observer, when set, hears which worker ran each request and when (the access log and
	// tracing, internal/observe); nil: nothing is measured.
	Observer Observer
}

// Observer hears, per request, the worker that ran it and its timings (unix ns).
type Observer interface {
	// Executed: c ran on worker pid, asked for a worker at queued, got one at started and had
	// its whole answer at ended; a streamed answer (streaming) ends with StreamEnded.
	Executed(c *fasthttp.RequestCtx, pid, queued, started, ended int64, streaming bool)
	// StreamEnded: c's streamed body ended after n bytes (before any compression).
	StreamEnded(c *fasthttp.RequestCtx, n int64)
}

// RequestIDHeader carries the request's id (internal/observe sets it on the request before
// the front sees it): every log line the front writes about a request names it.
const RequestIDHeader = "X-Request-Id"

// requestID is the request-id field of a log line about c.
func requestID(c *fasthttp.RequestCtx) zap.Field {
	return zap.ByteString("request_id", c.Request.Header.Peek(RequestIDHeader))
}

// StreamFilter may wrap a streamed response's body before fasthttp pulls it (the `gzip`
// middleware compresses it frame by frame): it sets the response headers it changes and
// returns the reader to stream, whose Close must close body. It returns body to leave the
// stream as it is.
type StreamFilter interface {
	FilterStream(c *fasthttp.RequestCtx, body io.ReadCloser) io.ReadCloser
}

// Uploads is `pivot.uploads` as the front uses it.
type Uploads struct {
	Dir string
	// Forbidden and Allowed are sets of lower-case extensions with their dot (".php"); an
	// empty Allowed allows every extension not forbidden.
	Forbidden, Allowed map[string]struct{}
	// MaxSize is the largest uploaded file, in bytes (0: no limit): a multipart request with a
	// larger file gets 413 before PHP runs.
	MaxSize int64
}

// Front is the HTTP front: New builds it, Serve runs it on a listener, Shutdown drains it.
type Front struct {
	opts    Options
	gens    Generations
	metrics Metrics
	log     *zap.Logger
	states  sync.Pool // *requestState

	// setHeaders is Options.RequestHeaders
	setHeaders [][]byte
	// handler is HandleRequest inside the middleware (Options.Wrap)
	handler fasthttp.RequestHandler

	mu   sync.Mutex
	http *fasthttp.Server
	ln   *connListener
	shut bool

	// the net/http side (netserver.go, nethttp.go): HTTPS and h2c; nil when neither is on
	net       *http.Server
	h2        *http2.Server
	h2cConns  sync.WaitGroup
	netShut   bool
	netStates sync.Pool // *netRequest
	// h3 is the HTTP/3 server (http3.go), once ServeHTTP3 runs
	h3 *h3State
}

// New builds the front; HandleRequest works from now on, Serve starts the server.
func New(opts Options, gens Generations, m Metrics, log *zap.Logger) *Front {
	f := &Front{opts: opts, gens: gens, metrics: m, log: log}
	for _, h := range opts.RequestHeaders {
		f.setHeaders = append(f.setHeaders, []byte(h))
	}
	f.states.New = func() any { return newRequestState() }
	f.handler = f.HandleRequest
	if opts.Wrap != nil {
		f.handler = opts.Wrap(f.HandleRequest)
	}
	f.netStatesInit()
	if opts.netServersNeeded() {
		f.newNetServer()
	}
	return f
}

// Handler is what the front's server runs for a request: HandleRequest inside the middleware
// of Options.Wrap, for a program that serves the front from a fasthttp server of its own.
func (f *Front) Handler() fasthttp.RequestHandler { return f.serve }

// serve runs a request through the middleware and HandleRequest, then marks the end of its
// handler on the connection: fasthttp writes the response next (interim.go), whoever wrote it.
func (f *Front) serve(c *fasthttp.RequestCtx) {
	f.handler(c)
	noteResponse(c)
}

// Serve accepts connections on ln and serves them until Shutdown; an error it returns once
// Shutdown was called is the closed listener's, not a failure. Called after Shutdown, it closes
// ln and returns nil.
func (f *Front) Serve(ln net.Listener) error {
	f.mu.Lock()
	if f.shut {
		f.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	f.ln = newConnListener(ln)
	if f.opts.H2C {
		f.ln.h2c = f.serveH2C
	}
	f.http = f.newHTTPServer()
	srv, cl := f.http, f.ln
	f.mu.Unlock()
	return srv.Serve(cl)
}

// Shutdown drains: the listeners close, idle and silent connections are closed, HTTP/2
// connections get a GOAWAY, and every accepted request finishes, until ctx ends (its error is
// then returned).
func (f *Front) Shutdown(ctx context.Context) error {
	f.mu.Lock()
	f.shut = true
	f.mu.Unlock()
	netErr, h3Err := make(chan error, 1), make(chan error, 1)
	go func() { netErr <- f.shutdownNet(ctx) }()
	go func() { h3Err <- f.shutdownH3(ctx) }()
	err := f.shutdownHTTP(ctx)
	for _, ch := range []chan error{netErr, h3Err} {
		if errN := <-ch; err == nil {
			err = errN
		}
	}
	return err
}

// shutdownHTTP drains the fasthttp server.
func (f *Front) shutdownHTTP(ctx context.Context) error {
	f.mu.Lock()
	srv, ln := f.http, f.ln
	f.mu.Unlock()
	if srv == nil {
		return nil
	}
	swept := make(chan struct{})
	go ln.closeSilentUntil(swept)
	err := srv.ShutdownWithContext(ctx)
	close(swept)
	_ = ln.Close() // in case Serve had not started yet: it returns at once
	return err
}
