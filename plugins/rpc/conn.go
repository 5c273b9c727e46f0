package rpc

import (
	stderrors "errors"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"sync"

	goridgeRpc "github.com/roadrunner-server/goridge/v3/pkg/rpc"
	"go.uber.org/zap"
)

// conn serves one connection. Like net/rpc's ServeCodec it reads requests one after the
// other and runs each in a goroutine of its own, so calls on one connection still run
// concurrently; unlike ServeCodec, each request goroutine goes through net/rpc's
// ServeRequest (read, call, respond, synchronously), so a panic anywhere in the request —
// goridge's codec reading it, the service method, the codec writing the answer — stops in
// a recover of that goroutine instead of killing rr:
//
//   - a panic while reading a frame (a malformed header): the read fails, the connection is
//     closed once its calls in flight have answered (as for any unreadable frame);
//   - a panic while decoding a body: the client gets an error answer, the connection goes on;
//   - a panic in the method: logged with its stack; the client gets an error answer
//     "rpc: <method> panicked: …"; the connection goes on;
//   - a panic or an error while encoding the answer that left nothing on the wire (goridge
//     writes nothing when msgpack or gob fail): the client gets an error answer instead of
//     waiting forever.
//
// A second request with the sequence number of one still in flight closes the connection
// (goridge keys its per-request state by it; answers would be mixed up).
//
// The read turn: exactly one goroutine reads at a time. It is the one in serve() that has
// not yet passed the turn on; ReadRequestBody (which net/rpc calls once per request whose
// header was read, also to skip the body of an unknown method) passes it to a new goroutine
// once the frame is fully consumed, just before the method runs.
type conn struct {
	server *rpc.Server
	codec  rpc.ServerCodec // goridge's, over out
	out    *countingConn
	log    *zap.Logger

	cur *request // touched only by the goroutine holding the read turn

	wmu sync.Mutex // one answer at a time; guards out.writes

	mu       sync.Mutex
	inFlight map[uint64]struct{} // read, not yet answered

	requests sync.WaitGroup
}

type request struct {
	seq      uint64
	method   string
	header   bool // the header was read: seq and method are set
	passedOn bool // the read turn went to the next goroutine
}

func serveConn(server *rpc.Server, nc net.Conn, log *zap.Logger) {
	out := &countingConn{Conn: nc}
	c := &conn{
		server:   server,
		codec:    goridgeRpc.NewCodec(out),
		out:      out,
		log:      log,
		inFlight: make(map[uint64]struct{}),
	}
	c.cur = &request{}
	c.requests.Add(1)
	go c.serve(c.cur)
}

// serve handles one request, from reading its header to writing its answer.
func (c *conn) serve(r *request) {
	defer c.requests.Done()
	var err error
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("rpc: request panicked (recovered, rr keeps running)",
				zap.String("method", r.method), zap.Any("panic", v), zap.Stack("stack"))
			if r.header && c.pending(r.seq) {
				c.answerError(r.seq, r.method, fmt.Sprintf("rpc: %s panicked: %v", r.method, v))
			}
		}
		if !r.passedOn {
			// the read failed: no more requests on this connection
			if err != nil && !isClosedErr(err) {
				c.log.Warn("rpc: closing a connection after an unreadable request",
					zap.String("remote", c.out.RemoteAddr().String()), zap.Error(err))
			}
			go func() {
				c.requests.Wait()
				_ = c.codec.Close()
			}()
		}
	}()
	err = c.server.ServeRequest(c)
}

func isClosedErr(err error) bool {
	return stderrors.Is(err, io.EOF) || stderrors.Is(err, io.ErrUnexpectedEOF) || stderrors.Is(err, net.ErrClosed)
}

// ReadRequestHeader reads the next frame with goridge's codec, turning its panics into an
// error (net/rpc then stops reading: the stream cannot be trusted any more).
func (c *conn) ReadRequestHeader(req *rpc.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("malformed request frame: %v", v)
		}
	}()
	if err = c.codec.ReadRequestHeader(req); err != nil {
		return err
	}

	c.mu.Lock()
	_, dup := c.inFlight[req.Seq]
	if !dup {
		c.inFlight[req.Seq] = struct{}{}
	}
	c.mu.Unlock()
	if dup {
		return fmt.Errorf("sequence number %d is already in use by a request in flight", req.Seq)
	}
	r := c.cur
	r.seq, r.method, r.header = req.Seq, req.ServiceMethod, true

	return nil
}

// ReadRequestBody decodes the body with goridge's codec (a panic becomes an error answer),
// then passes the read turn on.
func (c *conn) ReadRequestBody(body any) (err error) {
	defer c.passOn()
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("cannot decode the request body: %v", v)
		}
	}()

	return c.codec.ReadRequestBody(body)
}

func (c *conn) passOn() {
	c.cur.passedOn = true
	next := &request{}
	c.cur = next
	c.requests.Add(1)
	go c.serve(next)
}

// WriteResponse writes an answer with goridge's codec. When that panics, or fails without
// writing anything, the client gets an error answer for the request instead.
func (c *conn) WriteResponse(resp *rpc.Response, body any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	defer c.answered(resp.Seq)

	before := c.out.writes
	err := c.write(resp, body)
	if err == nil || c.out.writes != before || resp.Error != "" {
		return err
	}
	c.log.Warn("rpc: cannot encode an answer, the client gets an error instead",
		zap.String("method", resp.ServiceMethod), zap.Error(err))
	failed := &rpc.Response{ServiceMethod: resp.ServiceMethod, Seq: resp.Seq,
		Error: fmt.Sprintf("rpc: cannot encode the answer of %s: %v", resp.ServiceMethod, err)}
	_ = c.write(failed, nil)

	return err
}

func (c *conn) write(resp *rpc.Response, body any) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()

	return c.codec.WriteResponse(resp, body)
}

// answerError answers a request whose method panicked before net/rpc could answer it.
func (c *conn) answerError(seq uint64, method, msg string) {
	_ = c.WriteResponse(&rpc.Response{ServiceMethod: method, Seq: seq, Error: msg}, nil)
}

func (c *conn) pending(seq uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.inFlight[seq]
	return ok
}

func (c *conn) answered(seq uint64) {
	c.mu.Lock()
	delete(c.inFlight, seq)
	c.mu.Unlock()
}

func (c *conn) Close() error { return c.codec.Close() }

// countingConn counts the writes goridge makes (one per frame), to tell whether an answer
// reached the wire. Written under conn.wmu only.
type countingConn struct {
	net.Conn
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes++
	return c.Conn.Write(p)
}
