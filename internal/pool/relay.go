package pool

import (
	"bufio"
	"bytes"
	"hash/crc32"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/protocol"
	"github.com/roadrunner-server/errors"
	"github.com/roadrunner-server/goridge/v3/pkg/frame"
	"github.com/roadrunner-server/goridge/v3/pkg/relay"
)

// pipeRelay is a goridge relay over a worker's stdin/stdout, like goridge's pipe relay but
// cheaper per request: a response frame is read through a buffer (one read syscall instead of
// three: header, options, payload), the payload is read straight into its final slice, and a
// request frame is written from a reused buffer in one write.
type pipeRelay struct {
	in   *bufio.Reader
	src  io.ReadCloser
	out  io.WriteCloser
	wbuf []byte
	rbuf []byte
	// slot is where one request may wait behind the running one (pivot.pipeline), if the
	// worker said in its handshake that it reads frames in order (inOrder).
	slot    pipelineSlot
	inOrder bool
	// awaiting is when the pool started to wait for the first frame of an answer (unix ns; 0
	// when it does not wait); lost is set when the worker was killed for losing that request,
	// suspect is the lost-request watch's own (lost_request.go).
	awaiting atomic.Int64
	lost     atomic.Bool
	suspect  int64
	closed   atomic.Bool
	// probe is a duplicate of stdin's write end (relay_probe_linux.go): whether a worker that
	// ended read the request written to it, so that one it never read can run elsewhere.
	probe *os.File
	// tap is the worker's stderr tap (stderr.go); nil without a StderrSink.
	tap StderrTap
}

var _ relay.Relay = (*pipeRelay)(nil)

const (
	relayReadBuffer = 32 << 10
	// relayMaxKeptWrite is the largest write buffer kept between requests.
	relayMaxKeptWrite = 1 << 20
	// garbageReadWindow is how long a worker that broke the protocol gets to flush what it
	// wrote, so the log shows it (goridge waits the same).
	garbageReadWindow = 2 * time.Second
	stdoutCRCError    = "validation failed on the message sent to STDOUT, see: https://roadrunner.dev/docs/known-issues-stdout-crc/current/en, invalid message: %s"
)

var couldNotOpen = []byte("Could not op") // PHP CLI's "Could not open input file: ..."

func newPipeRelay(stdout io.ReadCloser, stdin io.WriteCloser) *pipeRelay {
	rl := &pipeRelay{in: bufio.NewReaderSize(stdout, relayReadBuffer), src: stdout, out: stdin}
	rl.slot.handoffs = make(chan handoff, 1)
	return rl
}

// Send writes the frame (header and payload) with a single write.
func (r *pipeRelay) Send(f *frame.Frame) error {
	const op = errors.Op("pivot_relay_send")
	r.wbuf = append(append(r.wbuf[:0], f.Header()...), f.Payload()...)
	_, err := r.out.Write(r.wbuf)
	if cap(r.wbuf) > relayMaxKeptWrite {
		r.wbuf = nil
	}
	if err != nil {
		return errors.E(op, err)
	}
	return nil
}

// Receive reads one frame into f (the goridge relay interface; pivot's own paths use
// readFrame). The payload is copied out of the reused read buffer.
func (r *pipeRelay) Receive(f *frame.Frame) error {
	wf, err := r.readFrame()
	if err != nil {
		return err
	}
	var opts []uint32
	if wf.options > 0 {
		opts = []uint32{wf.ctxLen}
	}
	*f = *frame.From(protocol.PutHeader(nil, wf.flags, wf.byte10, len(wf.payload), opts...), bytes.Clone(wf.payload))
	return nil
}

// drainGarbage returns what the worker wrote after a broken frame, within a short window.
func (r *pipeRelay) drainGarbage() []byte {
	if d, ok := r.src.(interface{ SetReadDeadline(time.Time) error }); ok {
		if d.SetReadDeadline(time.Now().Add(garbageReadWindow)) != nil {
			return nil
		}
		rest, _ := io.ReadAll(r.in)
		return rest
	}
	rest := make([]byte, r.in.Buffered())
	_, _ = r.in.Read(rest)
	return rest
}

// closeGrace keeps the worker's stdout and the probe open a little after the relay closes:
// the watcher closes it as soon as the worker exits, while a request may still be reading the
// last answer the worker wrote (its read ends at the pipe's EOF) or checking the probe.
const closeGrace = 2 * time.Second

// Close closes stdin now, stdout and the probe shortly after.
func (r *pipeRelay) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	_ = r.out.Close()
	src, probe := r.src, r.probe
	time.AfterFunc(closeGrace, func() {
		_ = src.Close()
		if probe != nil {
			_ = probe.Close()
		}
	})
	return nil
}

// Direct frame I/O for pivot's own exec path: no frame objects, no copies of the response.

// largeRequest: above this, a request body is written on its own instead of being copied
// behind the header.
const largeRequest = 1 << 20

// writeRequest sends a worker request frame: one option (the context length), payload
// context‖body, in one write (two for a large body, to avoid copying it).
func (r *pipeRelay) writeRequest(codec byte, ctx, body []byte) error {
	r.wbuf = protocol.PutHeader(r.wbuf[:0], codec, 0, len(ctx)+len(body), uint32(len(ctx)))
	r.wbuf = append(r.wbuf, ctx...)
	if len(body) > largeRequest {
		if _, err := r.out.Write(r.wbuf); err != nil {
			return err
		}
		_, err := r.out.Write(body)
		return err
	}
	r.wbuf = append(r.wbuf, body...)
	_, err := r.out.Write(r.wbuf)
	if cap(r.wbuf) > relayMaxKeptWrite {
		r.wbuf = nil
	}
	return err
}

// writeQueuedRequest writes a request queued behind the running one (pipeline.go) from the
// slot's own buffer: the relay's is the running request's. Queued requests are small
// (pipelineMaxRequest), so this is one write that does not block.
func (r *pipeRelay) writeQueuedRequest(codec byte, ctx, body []byte) error {
	b := protocol.PutHeader(r.slot.buf[:0], codec, 0, len(ctx)+len(body), uint32(len(ctx)))
	b = append(append(b, ctx...), body...)
	r.slot.buf = b
	_, err := r.out.Write(b)
	if err == nil {
		r.slot.queuedLen.Store(int64(len(b)))
	}
	return err
}

// writeControl sends a header-only frame with byte10 set (PONG, or STOP to end a stream).
func (r *pipeRelay) writeControl(byte10 byte) error {
	var b [12]byte
	_, err := r.out.Write(protocol.PutHeader(b[:0], 0, byte10, 0))
	return err
}

// workerFrame is a response frame; payload points into the relay's read buffer and is valid
// until the next read on this relay.
type workerFrame struct {
	flags   byte
	byte10  byte
	options int
	ctxLen  uint32
	payload []byte
}

// readFrame reads one frame into the relay's reusable buffer.
func (r *pipeRelay) readFrame() (workerFrame, error) {
	const op = errors.Op("pivot_relay_receive")
	var f workerFrame
	var hdr [12 + 4*10]byte
	if _, err := io.ReadFull(r.in, hdr[:12]); err != nil {
		return f, err
	}
	if bytes.Equal(hdr[:12], couldNotOpen) {
		rest, _ := io.ReadAll(r.in)
		return f, errors.E(op, errors.FileNotFound, errors.Str(string(hdr[:12])+string(rest)))
	}
	hl := int(hdr[0] & 0x0F)
	if hl < 3 || hl > 13 {
		return f, errors.E(op, errors.Errorf(stdoutCRCError, string(hdr[:12])+string(r.drainGarbage())))
	}
	f.options = hl - 3
	if f.options > 0 {
		if _, err := io.ReadFull(r.in, hdr[12:12+4*f.options]); err != nil {
			return f, errors.E(op, err)
		}
		f.ctxLen = uint32(hdr[12]) | uint32(hdr[13])<<8 | uint32(hdr[14])<<16 | uint32(hdr[15])<<24
	}
	if crc32.ChecksumIEEE(hdr[:6]) != uint32(hdr[6])|uint32(hdr[7])<<8|uint32(hdr[8])<<16|uint32(hdr[9])<<24 {
		return f, errors.E(op, errors.Errorf(stdoutCRCError, string(hdr[:12+4*f.options])+string(r.drainGarbage())))
	}
	f.flags, f.byte10 = hdr[1], hdr[10]
	n := int(uint32(hdr[2]) | uint32(hdr[3])<<8 | uint32(hdr[4])<<16 | uint32(hdr[5])<<24)
	if cap(r.rbuf) < n && n > eagerPayload {
		// a large payload grows the buffer as its bytes arrive: a header that announces 4 GB
		// does not allocate 4 GB before a byte of it has come
		if err := r.readLargePayload(n); err != nil {
			return f, errors.E(op, err)
		}
		f.payload = r.rbuf[:n]
		return f, nil
	}
	if cap(r.rbuf) < n {
		r.rbuf = make([]byte, n)
	}
	f.payload = r.rbuf[:n]
	if _, err := io.ReadFull(r.in, f.payload); err != nil {
		return f, errors.E(op, err)
	}
	return f, nil
}

// eagerPayload is the largest payload whose buffer is allocated before it is read.
const eagerPayload = 4 << 20

// readLargePayload reads an n-byte payload into r.rbuf, doubling the buffer as data arrives.
func (r *pipeRelay) readLargePayload(n int) error {
	b := r.rbuf[:0]
	for len(b) < n {
		if len(b) == cap(b) {
			next := min(max(2*cap(b), eagerPayload), n)
			b = append(b[:cap(b)], make([]byte, next-cap(b))...)[:len(b)]
		}
		k, err := r.in.Read(b[len(b):min(cap(b), n)])
		b = b[:len(b)+k]
		if err != nil && len(b) < n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			r.rbuf = b[:0]
			return err
		}
	}
	r.rbuf = b
	return nil
}

// trimReadBuffer drops a read buffer grown by a large response.
func (r *pipeRelay) trimReadBuffer() {
	if cap(r.rbuf) > relayMaxKeptWrite {
		r.rbuf = nil
	}
}
