package pivot

import (
	"bufio"
	"bytes"
	"io"
	"time"

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
	return &pipeRelay{in: bufio.NewReaderSize(stdout, relayReadBuffer), src: stdout, out: stdin}
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

// Receive reads one frame, with goridge's checks: PHP's "Could not open input file" and the CRC
// of the header (anything else on STDOUT breaks it).
func (r *pipeRelay) Receive(f *frame.Frame) error {
	const op = errors.Op("pivot_relay_receive")
	var fixed [12]byte
	if _, err := io.ReadFull(r.in, fixed[:]); err != nil {
		return err
	}
	if bytes.Equal(fixed[:], couldNotOpen) {
		rest, _ := io.ReadAll(r.in)
		return errors.E(op, errors.FileNotFound, errors.Str(string(fixed[:])+string(rest)))
	}

	hl := int(fixed[0] & 0x0F)
	header := make([]byte, hl*frame.WORD)
	copy(header, fixed[:])
	if hl > 3 {
		if _, err := io.ReadFull(r.in, header[12:]); err != nil {
			if err == io.EOF { //nolint:errorlint // io.ReadFull returns io.EOF itself
				return err
			}
			return errors.E(op, err)
		}
	}

	if !f.VerifyCRC(header) {
		return errors.E(op, errors.Errorf(stdoutCRCError, string(header)+string(r.drainGarbage())))
	}

	n := f.ReadPayloadLen(header)
	var payload []byte
	if n > 0 {
		payload = make([]byte, n)
		if _, err := io.ReadFull(r.in, payload); err != nil {
			return errors.E(op, err)
		}
	}
	*f = *frame.From(header, payload)
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

// Close closes both pipes.
func (r *pipeRelay) Close() error {
	_ = r.out.Close()
	_ = r.src.Close()
	return nil
}
