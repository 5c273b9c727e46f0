package httpfront

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/http1"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// newHTTPServer builds pivot's own HTTP/1.1 server around HandleRequest (in its middleware). fasthttp
// rather than net/http: it reuses its request and response objects and parses headers without
// a map, which halves the Go time per request (bench/README.md has the figures).
func (f *Front) newHTTPServer() *fasthttp.Server {
	srv := &fasthttp.Server{
		Handler:      f.plainHandler(),
		ErrorHandler: f.handleProtocolError,
		Logger:       fasthttpLogger{f.log},

		// the head must arrive within read_header_timeout; HeaderReceived gives the body
		// read_timeout (unbounded when 0, as net/http does)
		ReadTimeout:  f.opts.ReadHeaderTimeout,
		WriteTimeout: f.opts.WriteTimeout,
		IdleTimeout:  f.opts.IdleTimeout,

		ReadBufferSize:     f.opts.MaxHeaderBytes, // also the largest request head accepted
		MaxRequestBodySize: int(f.opts.MaxBody),
		// bodies are read as they arrive (requestBody), never into a buffer sized by the
		// Content-Length a client announces
		StreamRequestBody: true,

		NoDefaultServerHeader: true,
		NoDefaultContentType:  true, // an untyped body gets a sniffed type (handler.go)
		CloseOnShutdown:       true, // responses during the drain say Connection: close
	}
	bodyTimeout := f.opts.ReadTimeout
	if bodyTimeout == 0 {
		bodyTimeout = 100 * 365 * 24 * time.Hour
	}
	// every byte is checked before fasthttp parses it: see internal/http1
	f.ln.checkRequests(http1.Limits{MaxHead: f.opts.MaxHeaderBytes, MaxBody: f.opts.MaxBody})
	srv.HeaderReceived = func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		if h.ContentLength() == 0 {
			return fasthttp.RequestConfig{} // no body to read: keep the head's deadline
		}
		return fasthttp.RequestConfig{ReadTimeout: bodyTimeout}
	}
	return srv
}

// handleProtocolError answers a request fasthttp could not read: too large a body or head, a
// timeout, or a malformed request.
func (f *Front) handleProtocolError(c *fasthttp.RequestCtx, err error) {
	lc, _ := c.Conn().(*serverConn)
	if lc != nil {
		lc.linger.Store(true) // the rest of the request may still be arriving
	}
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	switch {
	case lc != nil && lc.refused() != nil:
		f.writeRefusal(c, lc.refused())
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		f.writeError(c, http.StatusRequestEntityTooLarge, "request body exceeds pivot.max_request_size")
	case errors.As(err, &small):
		f.writeError(c, http.StatusRequestHeaderFieldsTooLarge, "request head exceeds pivot.max_header_bytes")
	case errors.As(err, &netErr) && netErr.Timeout():
		f.writeError(c, http.StatusRequestTimeout, "request timeout")
	default:
		f.log.Debug("malformed request", zap.Error(err))
		f.writeError(c, http.StatusBadRequest, "malformed request")
	}
}

// fasthttpLogger sends fasthttp's own messages (connection-level errors) to the plugin's log.
type fasthttpLogger struct{ log *zap.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Warn(fmt.Sprintf(format, args...))
}

// writeRefusal answers a request the framing check refused (internal/http1), and closes.
func (f *Front) writeRefusal(c *fasthttp.RequestCtx, e *http1.Error) {
	f.log.Debug("request refused", zap.Int("status", e.Status), zap.String("reason", e.Reason))
	f.writeError(c, e.Status, e.Reason)
	c.SetConnectionClose()
}
