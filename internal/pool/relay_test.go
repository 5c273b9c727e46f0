package pool

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/roadrunner-server/goridge/v3/pkg/frame"
)

// phpFrame builds a response frame as a PHP worker writes it: one option (context length).
func phpFrame(ctx, body string, byte10 byte) []byte {
	f := frame.NewFrame()
	f.WriteVersion(f.Header(), frame.Version1)
	f.WriteOptions(f.HeaderPtr(), uint32(len(ctx)))
	f.WritePayloadLen(f.Header(), uint32(len(ctx)+len(body)))
	f.WritePayload([]byte(ctx + body))
	f.WriteCRC(f.Header())
	out := append(f.Header(), f.Payload()...)
	out[10] = byte10
	return out
}

func pipePair(t *testing.T) (*pipeRelay, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	sinkR, sinkW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(); _ = w.Close(); _ = sinkR.Close(); _ = sinkW.Close() })
	return newPipeRelay(r, sinkW), w
}

func TestPipeRelayReceivesFrames(t *testing.T) {
	big := strings.Repeat("x", 10<<20)
	cases := []struct {
		name, ctx, body string
		byte10          byte
	}{
		{"small", `{"status":200,"headers":{}}`, "OK", 0},
		{"empty context", "", "chunk", frame.STREAM},
		{"10 MB body", `{"status":200}`, big, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rl, w := pipePair(t)
			go func() { _, _ = w.Write(phpFrame(tc.ctx, tc.body, tc.byte10)) }()
			f := frame.NewFrame()
			if err := rl.Receive(f); err != nil {
				t.Fatal(err)
			}
			opts := f.ReadOptions(f.Header())
			if len(opts) != 1 || int(opts[0]) != len(tc.ctx) || string(f.Payload()) != tc.ctx+tc.body || f.Header()[10] != tc.byte10 {
				t.Fatalf("options %v, %d payload bytes, byte10 %x", opts, len(f.Payload()), f.Header()[10])
			}
		})
	}
}

func TestPipeRelayTwoFramesInOneRead(t *testing.T) {
	rl, w := pipePair(t)
	both := append(phpFrame("", "one", frame.STREAM), phpFrame("", "two", 0)...)
	go func() { _, _ = w.Write(both) }()
	for _, want := range []string{"one", "two"} {
		f := frame.NewFrame()
		if err := rl.Receive(f); err != nil {
			t.Fatal(err)
		}
		if string(f.Payload()) != want {
			t.Fatalf("got %q, want %q", f.Payload(), want)
		}
	}
}

func TestPipeRelayRejectsGarbage(t *testing.T) {
	rl, w := pipePair(t)
	go func() {
		_, _ = w.Write([]byte("this is not a goridge frame\n"))
		_ = w.Close()
	}()
	err := rl.Receive(frame.NewFrame())
	if err == nil || !strings.Contains(err.Error(), "validation failed on the message sent to STDOUT") || !strings.Contains(err.Error(), "not a goridge frame") {
		t.Fatalf("garbage must fail the CRC check and be shown: %v", err)
	}
}

func TestPipeRelayReportsMissingScript(t *testing.T) {
	rl, w := pipePair(t)
	go func() {
		_, _ = w.Write([]byte("Could not open input file: nope.php\n"))
		_ = w.Close()
	}()
	err := rl.Receive(frame.NewFrame())
	if err == nil || !strings.Contains(err.Error(), "Could not open input file: nope.php") {
		t.Fatalf("got %v", err)
	}
}

func TestPipeRelaySendsOneFrame(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	rl := newPipeRelay(r, w)
	f := frame.NewFrame()
	f.WriteVersion(f.Header(), frame.Version1)
	f.WriteFlags(f.Header(), frame.CodecJSON)
	f.WriteOptions(f.HeaderPtr(), 7)
	f.WritePayloadLen(f.Header(), 12)
	f.WritePayload([]byte(`{"a":1}hello`))
	f.WriteCRC(f.Header())
	if err := rl.Send(f); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	got := make([]byte, 64)
	n, _ := r.Read(got)
	// the worked example of wire-protocol.md §1.5
	want := []byte{0x14, 0x08, 0x0c, 0, 0, 0, 0x57, 0x15, 0x23, 0x53, 0, 0, 7, 0, 0, 0}
	want = append(want, []byte(`{"a":1}hello`)...)
	if !bytes.Equal(got[:n], want) {
		t.Fatalf("got % x\nwant % x", got[:n], want)
	}
}
