package pivot

import (
	"bytes"
	stderr "errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/roadrunner-server/errors"
	"go.uber.org/zap"
)

var _ http.Handler = (*Plugin)(nil)

// maxPooledBuffer is the largest buffer kept for reuse; a bigger one (a large upload) is dropped
// so that one request does not pin its memory for the life of the process.
const maxPooledBuffer = 1 << 20

var errBodyTooLarge = stderr.New("request body too large")

// requestState is everything one request needs, reused across requests through a sync.Pool.
type requestState struct {
	ctx     []byte
	body    bytes.Buffer
	limited io.LimitedReader
	form    dataTree
	files   dataTree
	uploads []*fileUpload

	// response side: the state is the pool's frameSink for this request
	p           *Plugin
	w           http.ResponseWriter
	wroteHead   bool
	streaming   bool
	writeFailed bool
}

var _ frameSink = (*requestState)(nil)

func newRequestState() *requestState {
	return &requestState{ctx: make([]byte, 0, 1024)}
}

func (st *requestState) reset() {
	if cap(st.ctx) > maxPooledBuffer {
		st.ctx = make([]byte, 0, 1024)
	}
	st.ctx = st.ctx[:0]
	if st.body.Cap() > maxPooledBuffer {
		st.body = bytes.Buffer{}
	}
	st.body.Reset()
	st.limited = io.LimitedReader{}
	st.form, st.files = nil, nil
	clear(st.uploads)
	st.uploads = st.uploads[:0]
	st.p, st.w = nil, nil
	st.wroteHead, st.streaming, st.writeFailed = false, false, false
}

// ServeHTTP is the request path: body → context → worker → response.
func (p *Plugin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := p.acquire()
	if h == nil {
		p.writeUnavailable(w)
		return
	}
	defer h.release()
	if r.ContentLength > p.maxBody {
		p.writeError(w, http.StatusRequestEntityTooLarge, "request body exceeds pivot.max_request_size")
		return
	}

	st := p.states.Get().(*requestState)
	defer func() {
		st.reset()
		p.states.Put(st)
	}()

	parsed, err := p.readBody(w, r, st)
	if len(st.uploads) > 0 {
		defer st.removeUploads(p.log)
	}
	if r.MultipartForm != nil {
		defer func() { _ = r.MultipartForm.RemoveAll() }()
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if stderr.Is(err, errBodyTooLarge) || stderr.As(err, &tooLarge) {
			p.writeError(w, http.StatusRequestEntityTooLarge, "request body exceeds pivot.max_request_size")
			return
		}
		p.log.Debug("bad request body", zap.Error(err))
		p.writeError(w, http.StatusBadRequest, "malformed request body: "+err.Error())
		return
	}

	st.ctx = appendRequestContext(st.ctx, r, parsed, st.files)
	body := st.body.Bytes()
	if parsed {
		// the form tree travels as JSON in the body, as http/v4 sends it
		body = appendJSONObject(st.body.AvailableBuffer(), st.form)
	}

	// The worker runs on the generation's context, not the request's: a client that goes away
	// must not kill the PHP worker mid-request.
	st.p, st.w = p, w
	err = h.pool.exec(st.ctx, body, st)
	switch {
	case err == nil:
		h.served.Add(1)
	case !st.wroteHead && h.retired.Load() && (errors.Is(errors.NoFreeWorkers, err) || errors.Is(errors.WatcherStopped, err)):
		p.writeUnavailable(w) // the generation was abandoned while this request waited
	case !st.wroteHead:
		p.writeExecError(w, err)
	default:
		// the status line is gone: cut the connection so the client sees an incomplete response
		p.log.Error("stream interrupted by a worker error", zap.Error(err))
		panic(http.ErrAbortHandler)
	}
}

// acquire returns the serving generation with this request registered on it, or nil while no
// generation serves (the supervisor is restarting workers, or the plugin is stopping).
func (p *Plugin) acquire() *poolHandle {
	for {
		h := p.current.Load()
		if h == nil {
			return nil
		}
		if h.acquire() {
			return h
		}
		// retired between the load and the acquire: a reset swapped in a new generation
	}
}

// readBody reads the body as http/v4 does: none for HEAD/OPTIONS, a parsed tree for forms, raw
// bytes otherwise. It reports whether the body is a parsed form.
func (p *Plugin) readBody(w http.ResponseWriter, r *http.Request, st *requestState) (bool, error) {
	if r.Method == http.MethodHead || r.Method == http.MethodOptions {
		return false, nil
	}
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.Contains(ct, "application/x-www-form-urlencoded"):
		r.Body = http.MaxBytesReader(w, r.Body, p.maxBody)
		if err := r.ParseForm(); err != nil {
			return false, err
		}
		st.form = make(dataTree, len(r.PostForm))
		for k, v := range r.PostForm {
			if err := st.form.pushValues(k, v); err != nil {
				return false, err
			}
		}
		return true, nil
	case strings.Contains(ct, "multipart/form-data"):
		r.Body = http.MaxBytesReader(w, r.Body, p.maxBody)
		if err := r.ParseMultipartForm(multipartMemory); err != nil {
			return false, err
		}
		return true, st.parseMultipart(r, p.cfg.Uploads, p.uid, p.gid, p.log)
	}

	if r.Body == nil || r.Body == http.NoBody {
		return false, nil
	}
	if r.ContentLength > 0 {
		st.body.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	st.limited.R, st.limited.N = r.Body, p.maxBody+1
	if _, err := st.body.ReadFrom(&st.limited); err != nil {
		return false, err
	}
	if int64(st.body.Len()) > p.maxBody {
		return false, errBodyTooLarge
	}
	return false, nil
}

// onFrame writes a response frame: the first one's status and headers, then every body;
// a streamed response is flushed frame by frame. It returns false once the client is gone.
func (st *requestState) onFrame(ctx, body []byte, stream bool) bool {
	if st.writeFailed {
		return false
	}
	if !st.wroteHead {
		st.wroteHead, st.streaming = true, stream
		if !st.p.writeHead(st.w, ctx, len(body), stream) {
			st.writeFailed = true
			return false
		}
	}
	if len(body) > 0 {
		if _, err := st.w.Write(body); err != nil {
			st.writeFailed = true
			return false
		}
	}
	if st.streaming {
		if f, ok := st.w.(http.Flusher); ok {
			f.Flush()
		}
	}
	return true
}

// writeHead applies the response context and writes the status line. It returns false when
// the worker's status is invalid (a 500 has been written instead).
func (p *Plugin) writeHead(w http.ResponseWriter, ctx []byte, bodyLen int, streaming bool) bool {
	h := w.Header()
	status := http.StatusOK
	if len(ctx) > 0 {
		// ctx lives in the worker's read buffer, but net/http writes the headers after the
		// handler returns: the header strings must point into a copy the GC keeps alive.
		ctx = bytes.Clone(ctx)
		s, err := applyResponseContext(ctx, h)
		if err != nil {
			clear(h)
			p.log.Error("worker sent a malformed response context", zap.ByteString("context", truncate(ctx)))
			p.writeError(w, http.StatusInternalServerError, "malformed response from worker")
			return false
		}
		if s != 0 {
			status = s
		}
		if status < 100 || status > 599 {
			clear(h)
			p.log.Error("worker sent an invalid status code", zap.Int("status", status))
			p.writeError(w, http.StatusInternalServerError, "unknown status code from worker: "+strconv.Itoa(status))
			return false
		}
		if _, ok := h["Trailer"]; ok {
			moveTrailers(h)
		}
	}
	// A complete response gets a Content-Length: no chunked encoding, no extra flush.
	if !streaming && bodyAllowed(status) && h["Content-Length"] == nil {
		h["Content-Length"] = []string{strconv.Itoa(bodyLen)}
	}
	p.metrics.countStatus(status)
	w.WriteHeader(status)
	return true
}

func truncate(b []byte) []byte {
	if len(b) > 512 {
		return b[:512]
	}
	return b
}
