package pool

import (
	"bytes"
	"io"
	"testing"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/protocol"
)

type discardWriteCloser struct{ io.Writer }

func (discardWriteCloser) Close() error { return nil }

func fuzzRelay(data []byte) *pipeRelay {
	return newPipeRelay(io.NopCloser(bytes.NewReader(data)), discardWriteCloser{io.Discard})
}

// FuzzReadFrame: whatever a worker writes to its stdout, reading frames ends in frames or an
// error, never a panic, and a frame's payload is exactly the length its header gives.
func FuzzReadFrame(f *testing.F) {
	ctx := []byte(`{"status":200,"headers":{"A":["b"]}}`)
	frame := append(protocol.PutHeader(nil, 0x08, 0, len(ctx)+5, uint32(len(ctx))), append(ctx, "hello"...)...)
	f.Add(frame)
	f.Add(append(append([]byte{}, frame...), frame...))
	f.Add(protocol.PutHeader(nil, 0, 0x01, 0, 0))
	f.Add([]byte("Could not open input file: x.php\n"))
	f.Add([]byte("garbage garbage garbage"))
	f.Add(protocol.PutHeader(nil, 0x40, 0, 4)) // an error frame's header without its payload
	f.Fuzz(func(t *testing.T, data []byte) {
		rl := fuzzRelay(data)
		for i := 0; i < 8; i++ {
			fr, err := rl.readFrame()
			if err != nil {
				return
			}
			if fr.options > 0 && fr.options > 10 {
				t.Fatalf("%d options", fr.options)
			}
		}
	})
}

// FuzzFrameRoundTrip: a request frame written by writeRequest reads back as the same bytes.
func FuzzFrameRoundTrip(f *testing.F) {
	f.Add([]byte(`{"uri":"/"}`), []byte("body"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte("{}"), bytes.Repeat([]byte{0xff}, 70_000))
	f.Fuzz(func(t *testing.T, ctx, body []byte) {
		var wire bytes.Buffer
		w := newPipeRelay(io.NopCloser(&bytes.Buffer{}), discardWriteCloser{&wire})
		if err := w.writeRequest(0x08, ctx, body); err != nil {
			t.Fatal(err)
		}
		if wire.Len() != protocol.RequestFrameLen(ctx, body) {
			t.Fatalf("wrote %d bytes, RequestFrameLen says %d", wire.Len(), protocol.RequestFrameLen(ctx, body))
		}
		fr, err := fuzzRelay(wire.Bytes()).readFrame()
		if err != nil {
			t.Fatal(err)
		}
		if fr.options != 1 || int(fr.ctxLen) != len(ctx) || !bytes.Equal(fr.payload, append(append([]byte{}, ctx...), body...)) {
			t.Fatalf("read back options %d ctxLen %d payload %q", fr.options, fr.ctxLen, fr.payload)
		}
	})
}
