package httpfront

import (
	"bytes"
	stderrors "errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/pool"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/protocol"
	"github.com/roadrunner-server/errors"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"golang.org/x/net/http/httpguts"
)

// maxPooledBuffer is the largest buffer kept for reuse; a bigger one (a large form) is dropped
// so that one request does not pin its memory for the life of the process.
const maxPooledBuffer = 1 << 20

// requestState is everything one request needs, reused across requests through a sync.Pool.
type requestState struct {
	ctx     []byte
	form    protocol.DataTree
	files   protocol.DataTree
	uploads []*protocol.FileUpload
	fields  []protocol.HeaderField
	formBuf []byte

	// response side: the state is the pool's FrameSink for this request
	f              *Front
	c              *fasthttp.RequestCtx
	g              Generation
	wroteHead      bool
	hasContentType bool
	hasTrailer     bool
	badHeader      bool
	headFailed     bool

	// a streamed response continues after the handler returns: fasthttp pulls its body
	// through Read and ends it with Close
	stream  *pool.StreamCursor
	pending []byte
	// last holds a copy of a stream's final frame: its worker is handed back before Read
	// has passed it on
	last   []byte
	closed bool

	// the request body as read from fasthttp's stream (rawBody)
	body                 []byte
	bodyRead, bodyFailed bool

	// the worker that ran the request and when it took it (unix ns), from the pool
	// (pool.WorkerReporter); streamed counts a streamed body's bytes, for Options.Observer
	pid, started, streamed int64
}

var (
	_ pool.FrameSink      = (*requestState)(nil)
	_ pool.StreamDetacher = (*requestState)(nil)
	_ protocol.HeaderSink = (*requestState)(nil)
	_ io.ReadCloser       = (*requestState)(nil)
	_ pool.WorkerReporter = (*requestState)(nil)
)

// OnWorker records the worker that took the request (pool.WorkerReporter).
func (st *requestState) OnWorker(pid, started int64) { st.pid, st.started = pid, started }

func newRequestState() *requestState {
	return &requestState{ctx: make([]byte, 0, 1024), fields: make([]protocol.HeaderField, 0, 16)}
}

func (st *requestState) reset() {
	if cap(st.ctx) > maxPooledBuffer {
		st.ctx = make([]byte, 0, 1024)
	}
	st.ctx = st.ctx[:0]
	if cap(st.formBuf) > maxPooledBuffer {
		st.formBuf = nil
	}
	st.formBuf = st.formBuf[:0]
	if cap(st.last) > maxPooledBuffer {
		st.last = nil
	}
	st.last = st.last[:0]
	if cap(st.body) > maxPooledBuffer {
		st.body = nil
	}
	st.body, st.bodyRead, st.bodyFailed = st.body[:0], false, false
	st.form, st.files = nil, nil
	clear(st.uploads)
	st.uploads = st.uploads[:0]
	clear(st.fields)
	st.fields = st.fields[:0]
	st.f, st.c, st.g = nil, nil, nil
	st.wroteHead, st.hasContentType, st.hasTrailer, st.badHeader, st.headFailed = false, false, false, false, false
	st.stream, st.pending, st.closed = nil, nil, false
	st.pid, st.started, st.streamed = 0, 0, 0
}

// HandleRequest is the request path: body → context → worker → response. It is the
// fasthttp.RequestHandler of the front's server.
func (f *Front) HandleRequest(c *fasthttp.RequestCtx) {
	st := f.states.Get().(*requestState)
	st.f, st.c = f, c
	defer func() {
		st.finishBody()
		if st.stream == nil {
			f.endRequest(st)
		}
	}()

	// the whole body first: a client that sends it slowly holds no generation of workers
	parsed, body, err := f.requestBody(c, st)
	switch {
	case stderrors.Is(err, errUploadTooLarge):
		// the form was read whole: the connection stays in step (finishBody drains the rest)
		f.writeError(c, http.StatusRequestEntityTooLarge, "an uploaded file exceeds pivot.uploads.max_size")
		return
	case err != nil:
		f.writeBodyError(c, st, err)
		return
	}
	g := f.gens.Acquire()
	if g == nil {
		f.writeUnavailable(c)
		return
	}
	st.g = g
	st.ctx, st.fields = appendRequestContextSet(st.ctx, c, st.fields, parsed, st.files, f.setHeaders)

	// The worker runs on the generation's context, not the request's: a client that goes away
	// must not kill the PHP worker mid-request.
	var queued int64
	obs := f.opts.Observer
	if obs != nil {
		queued = time.Now().UnixNano()
	}
	err = g.Exec(st.ctx, body, st)
	if obs != nil && st.started != 0 {
		var ended int64
		if st.stream == nil || err != nil {
			ended = time.Now().UnixNano()
		}
		obs.Executed(c, st.pid, queued, st.started, ended, ended == 0)
	}
	switch {
	case err == nil:
		g.Served()
		if st.stream != nil {
			c.Response.ImmediateHeaderFlush = true
			var body io.ReadCloser = st
			if f.opts.Streams != nil {
				body = f.opts.Streams.FilterStream(c, st) // its Close closes st
			}
			c.Response.SetBodyStream(body, -1) // chunked; st's Close ends the request
		}
	case g.Retired() && (errors.Is(errors.NoFreeWorkers, err) || errors.Is(errors.WatcherStopped, err)):
		f.writeUnavailable(c) // the generation was abandoned while this request waited
	default:
		if st.wroteHead {
			resetResponse(c) // the worker failed after its head: nothing has been sent yet
		}
		f.writeExecError(c, err)
	}
}

// requestBody reads the whole body and returns what PHP gets: the form tree as JSON for a
// parsed form, as http/v4 sends it, else the raw body (none for HEAD and OPTIONS).
func (f *Front) requestBody(c *fasthttp.RequestCtx, st *requestState) (parsed bool, body []byte, err error) {
	if parsed, err = f.readForm(c, st); err != nil {
		return false, nil, err
	}
	if !parsed {
		if body, err = st.rawBody(); err != nil {
			return false, nil, err
		}
	}
	if err = st.endOfBody(); err != nil {
		return false, nil, err
	}
	switch {
	case parsed:
		st.formBuf = protocol.AppendJSONObject(st.formBuf[:0], st.form)
		return true, st.formBuf, nil
	case c.IsHead() || c.IsOptions():
		return false, nil, nil
	}
	return false, body, nil
}

// errRefusedBody: the framing check refused this request in its chunks or trailers, which
// fasthttp may have taken for the body's end.
var errRefusedBody = stderrors.New("the request's chunked body or trailers are malformed")

// endOfBody reads what is left of the body (a multipart form ends at its closing boundary) and
// makes sure the framing check did not refuse this request on the way: PHP gets only requests
// checked whole.
func (st *requestState) endOfBody() error {
	c := st.c
	if rs := c.RequestBodyStream(); rs != nil && !st.bodyRead {
		if _, err := io.Copy(io.Discard, rs); err != nil {
			st.bodyFailed = true
			return err
		}
		st.bodyRead = true
	}
	if lc, ok := c.Conn().(*serverConn); ok && lc.check != nil && lc.check.Refused(int(c.ConnRequestNum())) != nil {
		st.bodyFailed = true
		return errRefusedBody
	}
	return nil
}

// errTruncatedBody: the connection ended before the body its Content-Length announced.
var errTruncatedBody = stderrors.New("the connection ended before the whole body arrived")

// rawBody reads the body as it arrives: fasthttp streams it (StreamRequestBody), so memory
// follows the bytes received, never the Content-Length a client announces; the framing check
// (internal/http1) has bounded its size. Read once, then kept for the request.
func (st *requestState) rawBody() ([]byte, error) {
	c := st.c
	rs := c.RequestBodyStream()
	if rs == nil || st.bodyRead {
		if rs == nil {
			st.bodyRead = true
			return c.Request.Body(), nil // no body, or one fasthttp read itself
		}
		return st.body, nil
	}
	b := st.body[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := rs.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			st.body, st.bodyFailed = b, true
			return nil, err
		}
	}
	st.body, st.bodyRead = b, true
	if cl := c.Request.Header.ContentLength(); cl >= 0 && len(b) != cl {
		st.bodyFailed = true
		return nil, errTruncatedBody
	}
	return b, nil
}

// finishBody makes sure the connection is at the end of this request's body when the handler
// returns: fasthttp reads the next request from wherever the body was left. A body not read to
// its end (a multipart reader stops at the closing boundary, an error response is sent early)
// is drained, or the connection closed.
func (st *requestState) finishBody() {
	c := st.c
	rs := c.RequestBodyStream()
	switch {
	case rs == nil || st.bodyRead:
	case st.bodyFailed:
		c.SetConnectionClose()
	default:
		if _, err := io.Copy(io.Discard, rs); err != nil {
			c.SetConnectionClose()
		}
	}
}

// writeBodyError answers a request whose body could not be read or parsed; the connection is
// closed after it, since the rest of the body was not read.
func (f *Front) writeBodyError(c *fasthttp.RequestCtx, st *requestState, err error) {
	st.bodyFailed = true
	c.SetConnectionClose()
	lc, _ := c.Conn().(*serverConn)
	if lc != nil {
		lc.linger.Store(true)
		if r := lc.refused(); r != nil {
			f.writeRefusal(c, r)
			return
		}
	}
	var netErr net.Error
	switch {
	case stderrors.Is(err, fasthttp.ErrBodyTooLarge):
		// the net/http path's limit (nethttp.go): the fasthttp path's is the framing check's
		f.writeError(c, http.StatusRequestEntityTooLarge, "request body exceeds pivot.max_request_size")
	case stderrors.As(err, &netErr) && netErr.Timeout():
		f.writeError(c, http.StatusRequestTimeout, "request timeout")
	case stderrors.Is(err, errTruncatedBody), stderrors.Is(err, io.ErrUnexpectedEOF):
		f.log.Debug("request body cut short", zap.Error(err), requestID(c))
		f.writeError(c, http.StatusBadRequest, "incomplete request body")
	default:
		f.log.Debug("bad request body", zap.Error(err), requestID(c))
		f.writeError(c, http.StatusBadRequest, "malformed request body: "+err.Error())
	}
}

// endRequest releases what a request holds once its response is complete.
func (f *Front) endRequest(st *requestState) {
	if len(st.uploads) > 0 {
		st.removeUploads(f.log)
	}
	st.c.Request.RemoveMultipartFormFiles()
	if st.g != nil {
		st.g.Release()
	}
	st.reset()
	f.states.Put(st)
}

// OnFrame takes a response frame: the first one's status and headers (after any interim 1xx
// answers), then its body; a streamed response's later bodies are handed to Read. It returns
// false once the client is gone.
func (st *requestState) OnFrame(ctx, body []byte, kind pool.FrameKind) bool {
	if st.closed {
		return false
	}
	if !st.wroteHead {
		switch st.writeHead(ctx, body, kind) {
		case headFailed:
			st.headFailed = true
			return false
		case headInterim:
			return true // the final head comes in a later frame
		}
		st.wroteHead = true
		if kind != pool.FrameStreamPart { // the whole body is in this frame
			if st.hasTrailer {
				// trailers are sent after a chunked body only
				st.c.Response.SetBodyStream(bytes.NewReader(bytes.Clone(body)), -1)
			} else {
				st.c.Response.SetBody(body) // copied: the worker's buffer is reused at once
			}
			return true
		}
	}
	if kind == pool.FrameStreamLast {
		// the worker is handed back as soon as this returns, and its next request reuses the
		// buffer body points into: Read passes on a copy
		st.last = append(st.last[:0], body...)
		st.pending = st.last
		return true
	}
	// a stream's part: Read hands it on before the next frame is read, so it can stay in the
	// worker's buffer
	st.pending = body
	return true
}

// headResult is what writeHead made of a frame's context.
type headResult uint8

const (
	headFinal   headResult = iota // the response's status and headers are set
	headInterim                   // a 1xx interim answer: sent (or dropped), the final head is still to come
	headFailed                    // the context was invalid: an error response replaces the answer
)

// writeHead applies the response context: status and headers.
func (st *requestState) writeHead(ctx, body []byte, kind pool.FrameKind) headResult {
	f, c := st.f, st.c
	status := http.StatusOK
	if len(ctx) > 0 {
		s, err := protocol.ApplyResponseContext(ctx, st)
		if err != nil {
			f.log.Error("worker sent a malformed response context", zap.ByteString("context", truncate(ctx)), requestID(c))
			resetResponse(c)
			f.writeError(c, http.StatusInternalServerError, "malformed response from worker")
			return headFailed
		}
		if s != 0 {
			status = s
		}
		if status < 100 || status > 599 {
			f.log.Error("worker sent an invalid status code", zap.Int("status", status), requestID(c))
			resetResponse(c)
			f.writeError(c, http.StatusInternalServerError, "unknown status code from worker: "+strconv.Itoa(status))
			return headFailed
		}
		if status < 200 {
			return st.interim(status, body, kind)
		}
	}
	if st.badHeader {
		f.log.Warn("worker sent a header with an invalid name; it was dropped", requestID(c))
	}
	if st.hasTrailer {
		joinTrailerValues(&c.Response.Header)
	}
	// as net/http does: a body without a declared type gets a sniffed one
	if !st.hasContentType && len(body) > 0 && protocol.BodyAllowed(status) && !c.IsHead() {
		c.Response.Header.SetContentType(http.DetectContentType(body))
	}
	f.metrics.CountStatus(status)
	c.Response.SetStatusCode(status)
	return headFinal
}

// joinTrailerValues makes each declared trailer one field line: fasthttp writes a trailer's
// first value only (TrailerHeader peeks), so `X-T: 1` and `X-T: 2` become `X-T: 1, 2`, the
// combined form RFC 9110 5.3 allows (Set-Cookie, the exception, cannot be a trailer).
func joinTrailerValues(h *fasthttp.ResponseHeader) {
	var names []string
	h.VisitAllTrailer(func(k []byte) {
		if len(h.PeekAll(string(k))) > 1 {
			names = append(names, string(k))
		}
	})
	for _, name := range names {
		values := h.PeekAll(name)
		joined := make([]byte, 0, 64)
		for i, v := range values {
			if i > 0 {
				joined = append(joined, ", "...)
			}
			joined = append(joined, v...)
		}
		h.Set(name, string(joined))
	}
}

// ctlToSpace replaces CR, LF, NUL and every other control byte but HTAB with a space: RFC 9110
// 5.5 forbids them in a field value (net/http replaces CR and LF only).
func ctlToSpace(v string) string {
	b := []byte(v)
	for i, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			b[i] = ' '
		}
	}
	return string(b)
}

// AddHeader adds one response header from the worker. Names that are not HTTP tokens are
// dropped and CR/LF in values become spaces, as net/http writes them (NUL and the other control
// bytes too): a PHP app echoing user input into a header cannot split the response.
func (st *requestState) AddHeader(name, value string) {
	if !httpguts.ValidHeaderFieldName(name) {
		st.badHeader = true
		return
	}
	if strings.EqualFold(name, "Content-Type") {
		st.hasContentType = true
	} else if strings.EqualFold(name, "Trailer") {
		st.hasTrailer = true
		// a name that is not a token would be written as a malformed trailer line: dropped;
		// fasthttp skips the names forbidden as trailers (Content-Length, ...)
		for _, trailer := range strings.Split(value, ",") {
			if trailer = strings.TrimSpace(trailer); httpguts.ValidHeaderFieldName(trailer) {
				_ = st.c.Response.Header.AddTrailer(trailer)
			}
		}
		return
	}
	if !httpguts.ValidHeaderFieldValue(value) {
		value = ctlToSpace(value)
	}
	st.c.Response.Header.Add(name, value)
}

// DetachStream keeps a streamed response's worker past the handler: fasthttp writes the
// status line and headers when the handler returns, then pulls the body through Read.
func (st *requestState) DetachStream(c *pool.StreamCursor) bool {
	if st.headFailed || !st.wroteHead {
		return false // a 500 replaces the response (exec discards the stream), or only 1xx so far
	}
	st.stream = c
	return true
}

// Read hands fasthttp the next body of the stream, reading frames from the worker as needed.
func (st *requestState) Read(b []byte) (int, error) {
	for len(st.pending) == 0 {
		done, err := st.stream.Next(st)
		if err != nil {
			st.f.log.Error("stream interrupted by a worker error", zap.Error(err), requestID(st.c))
			return 0, err // the chunked body is cut: the client sees an incomplete response
		}
		if done && len(st.pending) == 0 {
			return 0, io.EOF
		}
	}
	n := copy(b, st.pending)
	st.pending = st.pending[n:]
	st.streamed += int64(n)
	return n, nil
}

// Close ends a stream: if the client went away before the last frame, the worker is told to
// stop; then the request's resources are released. fasthttp calls it once the response is
// written or abandoned.
func (st *requestState) Close() error {
	if st.closed {
		return nil
	}
	st.closed = true
	st.pending = nil
	if err := st.stream.Cancel(); err != nil {
		st.f.log.Debug("stream cancelled", zap.Error(err), requestID(st.c))
	}
	if obs := st.f.opts.Observer; obs != nil {
		obs.StreamEnded(st.c, st.streamed)
	}
	st.f.endRequest(st)
	return nil
}

// resetResponse drops what the worker's answer set, keeping what the server set for this
// request (no body for HEAD, no default Content-Type).
func resetResponse(c *fasthttp.RequestCtx) {
	c.Response.Reset()
	c.Response.SkipBody = c.IsHead()
	c.Response.Header.SetNoDefaultContentType(true)
}

func truncate(b []byte) []byte {
	if len(b) > 512 {
		return b[:512]
	}
	return b
}
