package pivot

import (
	"bytes"
	stderr "errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/roadrunner-server/goridge/v3/pkg/frame"
	"github.com/roadrunner-server/sdk/v4/payload"
	staticPool "github.com/roadrunner-server/sdk/v4/pool/static_pool"
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
	pld     payload.Payload
	stopCh  chan struct{}
	form    dataTree
	files   dataTree
	uploads []*fileUpload
}

func newRequestState() *requestState {
	return &requestState{ctx: make([]byte, 0, 1024), stopCh: make(chan struct{}, 1)}
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
	st.pld = payload.Payload{}
	st.form, st.files = nil, nil
	clear(st.uploads)
	st.uploads = st.uploads[:0]
	select {
	case <-st.stopCh:
	default:
	}
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
	st.pld.Context = st.ctx
	st.pld.Codec = frame.CodecJSON
	if parsed {
		// the form tree travels as JSON in the body, as http/v4 sends it
		st.pld.Body = appendJSONObject(st.body.AvailableBuffer(), st.form)
	} else {
		st.pld.Body = st.body.Bytes()
	}

	// The generation's context, not the request's: a client that goes away must not kill the
	// PHP worker mid-request.
	res, err := h.pool.Exec(h.ctx, &st.pld, st.stopCh)
	if err != nil {
		if h.retired.Load() {
			p.writeUnavailable(w) // the generation was abandoned while this request waited
			return
		}
		p.writeExecError(w, err)
		return
	}
	h.served.Add(1)
	p.writeResponse(w, res, st.stopCh)
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

// writeResponse writes the first frame's status and headers, then the body; further frames
// (a stream) are written and flushed as they arrive.
func (p *Plugin) writeResponse(w http.ResponseWriter, res chan *staticPool.PExec, stopCh chan struct{}) {
	first, writeFailed, aborted := true, false, false
	streaming := false
	for recv := range res {
		if err := recv.Error(); err != nil {
			if first {
				p.writeExecError(w, err)
				first = false
				continue
			}
			// headers are gone: cut the connection so the client sees an incomplete response
			p.log.Error("stream interrupted by a worker error", zap.Error(err))
			aborted = true
			continue
		}
		pld := recv.Payload()
		if first {
			first = false
			streaming = pld.Flags&frame.STREAM != 0
			if !p.writeHead(w, pld, streaming) {
				// the status was invalid: drain the rest of a stream, tell the worker to stop
				writeFailed = true
				signalStop(stopCh)
				continue
			}
		}
		if writeFailed || len(pld.Body) == 0 {
			continue
		}
		if _, err := w.Write(pld.Body); err != nil {
			writeFailed = true
			signalStop(stopCh) // the client is gone: ask the worker to end its stream
			continue
		}
		if streaming {
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
		}
	}
	if aborted && !writeFailed {
		panic(http.ErrAbortHandler)
	}
}

// writeHead applies the response context and writes the status line. It returns false when
// the worker's status is invalid (a 500 has been written instead).
func (p *Plugin) writeHead(w http.ResponseWriter, pld *payload.Payload, streaming bool) bool {
	h := w.Header()
	status := http.StatusOK
	if len(pld.Context) > 0 {
		s, err := applyResponseContext(pld.Context, h)
		if err != nil {
			clear(h)
			p.log.Error("worker sent a malformed response context", zap.ByteString("context", truncate(pld.Context)))
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
		h["Content-Length"] = []string{strconv.Itoa(len(pld.Body))}
	}
	p.metrics.countStatus(status)
	w.WriteHeader(status)
	return true
}

func signalStop(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func truncate(b []byte) []byte {
	if len(b) > 512 {
		return b[:512]
	}
	return b
}
