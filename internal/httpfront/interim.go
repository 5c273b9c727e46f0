package httpfront

import (
	"net/http"
	"strconv"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/pool"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// Interim (1xx) answers from PHP, e.g. 103 Early Hints: a frame whose status is 1xx, sent with
// more frames to come, precedes the final response. fasthttp has no API for them (its
// EarlyHints writes past its own buffered writer, see below), so pivot writes the interim
// response on the connection itself when that cannot put bytes out of order, and otherwise
// drops it: the client then gets the final response alone, which RFC 9110 §15.2 allows
// (1xx answers are advisory), and never a hang.

// interimWriteTimeout bounds the write of an interim response to a client that reads nothing.
const interimWriteTimeout = 10 * time.Second

// interim handles a frame whose status is 1xx; its headers are in the response already
// (protocol.ApplyResponseContext) and are removed again, since they are not the final response's.
func (st *requestState) interim(status int, body []byte, kind pool.FrameKind) headResult {
	f, c := st.f, st.c
	if kind != pool.FrameStreamPart || status == http.StatusSwitchingProtocols {
		// a 1xx cannot be the final answer, and pivot does not switch protocols for PHP
		f.log.Error("worker answered with an informational status as its final response", zap.Int("status", status), requestID(c))
		resetResponse(c)
		f.writeError(c, http.StatusBadGateway, "the application answered with an informational status ("+
			strconv.Itoa(status)+") as its final response")
		return headFailed
	}
	if len(body) > 0 {
		f.log.Warn("worker sent a body with an informational status; the body was dropped", zap.Int("status", status), requestID(c))
	}
	// 100 Continue is the server's to send (Expect: 100-continue), before the body is read
	if iw, ok := c.Conn().(interimWriter); ok && status != http.StatusContinue {
		_ = iw.writeInterim(c, status) // net/http's request (nethttp.go)
	} else if status != http.StatusContinue && canSendInterim(c) {
		if err := writeInterim(c, status); err != nil {
			f.log.Debug("interim response not sent", zap.Int("status", status), zap.Error(err), requestID(c))
		}
	}
	resetResponse(c)
	st.hasContentType, st.hasTrailer, st.badHeader = false, false, false
	return headInterim
}

// canSendInterim reports whether an interim response can go on the connection now. Never to an
// HTTP/1.0 client (RFC 9110 §15.2). Otherwise only when nothing fasthttp wrote for an earlier
// request can still sit in its buffered writer, which it does not flush while pipelined requests
// wait in its read buffer: the request is the connection's first, or it has no body and the
// connection was read from since the previous response (fasthttp flushes its writer before it
// blocks on a read for a request's head; a request with a body might have been read for its body
// alone).
func canSendInterim(c *fasthttp.RequestCtx) bool {
	if !c.Request.Header.IsHTTP11() {
		return false
	}
	sc, ok := c.Conn().(*serverConn)
	if !ok {
		return false
	}
	if c.ConnRequestNum() == 1 {
		return true
	}
	// fasthttp's -2: no Content-Length and not chunked, i.e. no body for a request (Body() is
	// not asked: it would read the body stream)
	cl := c.Request.Header.ContentLength()
	return sc.reads > sc.readsAtResponse && (cl == 0 || cl == -2)
}

// writeInterim writes "HTTP/1.1 1xx" and the headers the worker set on the connection.
func writeInterim(c *fasthttp.RequestCtx, status int) error {
	sc := c.Conn().(*serverConn)
	reason := http.StatusText(status)
	if reason == "" {
		reason = "Informational"
	}
	b := make([]byte, 0, 256)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(append(append(b, ' '), reason...), "\r\n"...)
	c.Response.Header.VisitAll(func(k, v []byte) {
		switch string(k) {
		case fasthttp.HeaderContentLength, fasthttp.HeaderContentType, fasthttp.HeaderConnection,
			fasthttp.HeaderTransferEncoding, fasthttp.HeaderTrailer:
			return // framing headers belong to the final response
		}
		b = append(append(append(append(b, k...), ": "...), v...), "\r\n"...)
	})
	b = append(b, "\r\n"...)
	if err := sc.Conn.SetWriteDeadline(time.Now().Add(interimWriteTimeout)); err != nil {
		return err
	}
	_, err := sc.Conn.Write(b)
	// fasthttp sets its own deadline before it writes, when pivot.write_timeout is set
	_ = sc.Conn.SetWriteDeadline(time.Time{})
	return err
}

// noteResponse marks the end of a request's handler on its connection: fasthttp writes the
// response next, and a later read of the connection is for another request (canSendInterim).
func noteResponse(c *fasthttp.RequestCtx) {
	if sc, ok := c.Conn().(*serverConn); ok {
		sc.readsAtResponse = sc.reads
	}
}
