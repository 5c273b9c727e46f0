package rpc

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/rpc"
	"strings"
	"testing"
	"time"

	goridgeRpc "github.com/roadrunner-server/goridge/v3/pkg/rpc"
	"github.com/vmihailenco/msgpack/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Svc is a service whose methods misbehave on purpose.
type Svc struct{}

func (Svc) Echo(in string, out *string) error { *out = in; return nil }

func (Svc) Panic(in string, _ *string) error { panic("boom: " + in) }

func (Svc) Sleep(ms int, out *int) error {
	time.Sleep(time.Duration(ms) * time.Millisecond)
	*out = ms
	return nil
}

// Chan answers a value neither msgpack nor gob can encode.
func (Svc) Chan(_ string, out *chan int) error { *out = make(chan int); return nil }

func (Svc) Proto(in *wrapperspb.StringValue, out *wrapperspb.StringValue) error {
	out.Value = "proto:" + in.GetValue()
	return nil
}

// goridge frame flags
const (
	codecRaw     byte = 0x04
	codecJSON    byte = 0x08
	codecMsgpack byte = 0x10
	codecGob     byte = 0x20
	flagError    byte = 0x40
	codecProto   byte = 0x80
)

type server struct {
	addr string
	logs *observer.ObservedLogs
}

func startServer(t *testing.T) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	srv := rpc.NewServer()
	if err = srv.RegisterName("Svc", Svc{}); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	log := zap.New(core)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveConn(srv, c, log)
		}
	}()
	return &server{addr: ln.Addr().String(), logs: logs}
}

func (s *server) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// frame encodes a goridge frame: hl header words (3 + options), flags, options, payload.
// crcDelta != 0 corrupts the header checksum.
func frame(hl, flags byte, opts []uint32, payload []byte, crcDelta uint32) []byte {
	h := make([]byte, 12, 12+4*len(opts)+len(payload))
	h[0] = 1<<4 | hl
	h[1] = flags
	binary.LittleEndian.PutUint32(h[2:6], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[6:10], crc32.ChecksumIEEE(h[:6])+crcDelta)
	for _, o := range opts {
		h = binary.LittleEndian.AppendUint32(h, o)
	}
	return append(h, payload...)
}

// request encodes an RPC request as goridge's clients do.
func req(seq uint32, flags byte, method string, body []byte) []byte {
	return frame(5, flags, []uint32{seq, uint32(len(method))}, append([]byte(method), body...), 0)
}

type answer struct {
	seq    uint32
	isErr  bool
	method string
	body   []byte
}

func readAnswer(c net.Conn) (answer, error) {
	h := make([]byte, 12)
	if _, err := io.ReadFull(c, h); err != nil {
		return answer{}, err
	}
	hl := h[0] & 0x0f
	opts := make([]byte, 4*int(hl-3))
	if _, err := io.ReadFull(c, opts); err != nil {
		return answer{}, err
	}
	payload := make([]byte, binary.LittleEndian.Uint32(h[2:6]))
	if _, err := io.ReadFull(c, payload); err != nil {
		return answer{}, err
	}
	seq, mlen := binary.LittleEndian.Uint32(opts[0:4]), binary.LittleEndian.Uint32(opts[4:8])
	return answer{seq: seq, isErr: h[1]&flagError != 0, method: string(payload[:mlen]), body: payload[mlen:]}, nil
}

func mustJSON(v any) []byte {
	var b bytes.Buffer
	_, _ = fmt.Fprintf(&b, "%q", v) // strings only here
	return b.Bytes()
}

func mustMsgpack(v any) []byte {
	b, err := msgpack.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func mustGob(v any) []byte {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(v); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// echoWorks checks the connection still serves a good request.
func echoWorks(t *testing.T, c net.Conn, seq uint32) {
	t.Helper()
	if _, err := c.Write(req(seq, codecJSON, "Svc.Echo", mustJSON("still here"))); err != nil {
		t.Fatalf("write after the bad request: %v", err)
	}
	a, err := readAnswer(c)
	if err != nil || a.isErr || a.seq != seq || string(a.body) != `"still here"` {
		t.Fatalf("good request after the bad one: %+v %q, %v", a, a.body, err)
	}
}

func closed(t *testing.T, c net.Conn) {
	t.Helper()
	a, err := readAnswer(c)
	if err == nil {
		t.Fatalf("connection still open, answered %+v %q", a, a.body)
	}
}

func TestConnHostileRequests(t *testing.T) {
	tests := []struct {
		name string
		send []byte
		// errAnswer: the request gets an error answer containing it and the connection goes
		// on; "" = the connection is closed (the frame cannot be read).
		errAnswer string
		panicLog  bool // a recovered panic is logged
	}{
		{name: "method panics", send: req(1, codecJSON, "Svc.Panic", mustJSON("x")), errAnswer: "rpc: Svc.Panic panicked: boom: x", panicLog: true},
		{name: "method name longer than the payload", send: frame(5, codecJSON, []uint32{1, 1000}, []byte("Svc.Echo"), 0)},
		{name: "header of 14 words", send: frame(14, codecJSON, make([]uint32, 11), []byte("Svc.Echo"), 0)},
		{name: "header of 15 words", send: frame(15, codecJSON, make([]uint32, 12), []byte("Svc.Echo"), 0)},
		{name: "one option", send: frame(4, codecJSON, []uint32{1}, []byte("Svc.Echo"), 0)},
		{name: "three options", send: frame(6, codecJSON, []uint32{1, 8, 0}, []byte("Svc.Echo"), 0)},
		{name: "bad header CRC", send: frame(5, codecJSON, []uint32{1, 8}, []byte("Svc.Echo"), 1)},
		{name: "not a frame", send: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{name: "proto flag, empty body, reply not proto", send: req(1, codecProto, "Svc.Echo", nil), errAnswer: "cannot encode the answer of Svc.Echo"},
		{name: "msgpack answer cannot be encoded", send: req(1, codecMsgpack, "Svc.Chan", mustMsgpack("x")), errAnswer: "cannot encode the answer of Svc.Chan"},
		{name: "gob answer cannot be encoded", send: req(1, codecGob, "Svc.Chan", mustGob("x")), errAnswer: "cannot encode the answer of Svc.Chan"},
		{name: "unknown method", send: req(1, codecJSON, "Svc.Nope", nil), errAnswer: "can't find method Svc.Nope"},
		{name: "unknown service", send: req(1, codecJSON, "Nope.Echo", nil), errAnswer: "can't find service Nope.Echo"},
		{name: "no service", send: req(1, codecJSON, "Echo", nil), errAnswer: "ill-formed"},
		{name: "empty method", send: req(1, codecJSON, "", nil), errAnswer: "ill-formed"},
		{name: "JSON of the wrong type", send: req(1, codecJSON, "Svc.Echo", []byte(`{"a":1}`)), errAnswer: "cannot unmarshal"},
		{name: "proto garbage", send: req(1, codecProto, "Svc.Proto", []byte{0xff, 0xff, 0xff}), errAnswer: "proto"},
		{name: "gob garbage", send: req(1, codecGob, "Svc.Echo", []byte{1, 2, 3, 4, 5}), errAnswer: "goridge_read_request_body"},
		{name: "msgpack garbage", send: req(1, codecMsgpack, "Svc.Echo", []byte{0xc1}), errAnswer: "msgpack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t)
			c := s.dial(t)
			if _, err := c.Write(tt.send); err != nil {
				t.Fatal(err)
			}
			if tt.errAnswer == "" {
				// no more bytes: a frame cut short ends the read at once instead of waiting
				_ = c.(*net.TCPConn).CloseWrite()
				closed(t, c)
			} else {
				a, err := readAnswer(c)
				if err != nil || !a.isErr || a.seq != 1 || !strings.Contains(string(a.body), tt.errAnswer) {
					t.Fatalf("answer %+v %q, %v; want an error containing %q", a, a.body, err, tt.errAnswer)
				}
				echoWorks(t, c, 2)
			}
			echoWorks(t, s.dial(t), 1) // and the server takes new connections
			if got := s.logs.FilterMessageSnippet("panicked").Len(); (got > 0) != tt.panicLog {
				t.Fatalf("%d panic logs, want any: %v", got, tt.panicLog)
			}
		})
	}
}

// Two requests in flight with one sequence number: goridge's codec keeps one entry per
// number, so the second answer would panic (nil interface conversion). The connection is
// closed after the first request answers.
func TestConnDuplicateSequence(t *testing.T) {
	s := startServer(t)
	c := s.dial(t)
	send := append(req(7, codecJSON, "Svc.Sleep", []byte("300")), req(7, codecJSON, "Svc.Echo", mustJSON("dup"))...)
	if _, err := c.Write(send); err != nil {
		t.Fatal(err)
	}
	a, err := readAnswer(c)
	if err != nil || a.isErr || a.seq != 7 || string(a.body) != "300" {
		t.Fatalf("first answer %+v %q, %v; want Sleep's", a, a.body, err)
	}
	closed(t, c)
	echoWorks(t, s.dial(t), 1)
}

// Requests on one connection still run concurrently (as with net/rpc's ServeCodec).
func TestConnConcurrentCalls(t *testing.T) {
	s := startServer(t)
	c := s.dial(t)
	client := rpc.NewClientWithCodec(goridgeRpc.NewClientCodec(c))
	slow := client.Go("Svc.Sleep", 400, new(int), nil)
	start := time.Now()
	var out string
	if err := client.Call("Svc.Echo", "fast", &out); err != nil || out != "fast" {
		t.Fatalf("Echo = %q, %v", out, err)
	}
	if took := time.Since(start); took > 300*time.Millisecond {
		t.Fatalf("Echo waited %s for the slow call before it", took)
	}
	<-slow.Done
	if slow.Error != nil || *slow.Reply.(*int) != 400 {
		t.Fatalf("Sleep: %v", slow.Error)
	}

	// goridge's Go client, proto codec
	var reply wrapperspb.StringValue
	if err := client.Call("Svc.Proto", wrapperspb.String("x"), &reply); err != nil || reply.GetValue() != "proto:x" {
		t.Fatalf("Proto = %q, %v", reply.GetValue(), err)
	}
	// a panic answers an error and the client keeps its connection
	err := client.Call("Svc.Panic", "y", &out)
	if err == nil || !strings.Contains(err.Error(), "Svc.Panic panicked: boom: y") {
		t.Fatalf("Panic = %v", err)
	}
	if err = client.Call("Svc.Echo", "after", &out); err != nil || out != "after" {
		t.Fatalf("Echo after a panic = %q, %v", out, err)
	}
}
