package e2e

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/rpc"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	kvv1 "github.com/roadrunner-server/api/v4/build/kv/v1"
	goridgeRpc "github.com/roadrunner-server/goridge/v3/pkg/rpc"
)

// TestMain removes the rr that testsupport built for the suite, if it built one.
func TestMain(m *testing.M) { testsupport.Main(m) }

// rrProc is a running `rr serve` (testsupport.RR) with kv (memory, boltdb), jobs (memory
// pipeline "mem" consumed, boltdb pipeline "bolt"), metrics, status, informer/resetter and
// pivot serving testdata/worker.php.
type rrProc struct {
	*testsupport.RR
	rpc  string // host:port of rpc.listen
	http string // pivot's base URL
}

// envOutput names a file that keeps the output of every rr the tests start (e.g. of a -race
// build).
const envOutput = "PIVOT_E2E_RR_OUTPUT"

func startRR(t *testing.T) *rrProc {
	t.Helper()
	r := &rrProc{rpc: testsupport.FreeAddr(t)}
	httpAddr := testsupport.FreeAddr(t)
	r.http = "http://" + httpAddr
	dbDir := t.TempDir()
	worker, err := filepath.Abs("testdata/worker.php")
	if err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`version: "3"
rpc:
  listen: tcp://%s
server:
  command: "php %s"
logs:
  level: error
  mode: production
status:
  address: %s
metrics:
  address: %s
pivot:
  address: %s
  pool:
    num_workers: 2
    allocate_timeout: 10s
    destroy_timeout: 10s
jobs:
  num_pollers: 2
  pool:
    num_workers: 1
    allocate_timeout: 10s
    destroy_timeout: 10s
  consume: ["mem"]
  pipelines:
    mem:
      driver: memory
      config:
        priority: 10
        prefetch: 1000
    bolt:
      driver: boltdb
      config:
        file: %s
        priority: 10
kv:
  memory:
    driver: memory
    config:
      interval: 60
  bolt:
    driver: boltdb
    config:
      file: %s
      interval: 1
`, r.rpc, worker, testsupport.FreeAddr(t), testsupport.FreeAddr(t), httpAddr, filepath.Join(dbDir, "jobs.db"), filepath.Join(dbDir, "kv.db"))

	var o testsupport.RROptions
	if path := os.Getenv(envOutput); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close() }) // after rr has stopped (cleanups run last-in first-out)
		o.Output = f
	}
	r.RR = testsupport.StartRR(t, yaml, o)
	r.WaitReady(t, 30*time.Second, func() (bool, string) {
		if err := r.httpOK(); err != nil {
			return false, err.Error()
		}
		if _, err := r.version(); err != nil {
			return false, "rpc.Version: " + err.Error()
		}
		return true, ""
	})
	return r
}

// crash describes how rr died: the panic and the first lines of its stack.
func (r *rrProc) crash() string {
	out := r.Out.String()
	i := strings.Index(out, "panic: ")
	if j := strings.Index(out, "fatal error: "); i < 0 || (j >= 0 && j < i) {
		i = j
	}
	if i < 0 {
		return fmt.Sprintf("rr exited (%v), no panic in its output:\n%s", r.Err(), out)
	}
	lines := strings.SplitN(out[i:], "\n", 12)
	if len(lines) > 11 {
		lines = lines[:11]
	}
	return fmt.Sprintf("rr exited (%v):\n%s", r.Err(), strings.Join(lines, "\n"))
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func (r *rrProc) httpOK() error {
	resp, err := httpClient.Get(r.http + "/") //nolint:noctx
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		return fmt.Errorf("pivot answered %d %q", resp.StatusCode, body)
	}
	return nil
}

func (r *rrProc) dial(t testing.TB) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", r.rpc, 5*time.Second)
	if err != nil {
		t.Fatalf("dial rpc: %v", err)
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// client is goridge's Go RPC client (proto codec for protobuf arguments, gob otherwise).
func (r *rrProc) client(t testing.TB) *rpc.Client {
	t.Helper()
	c := rpc.NewClientWithCodec(goridgeRpc.NewClientCodec(r.dial(t)))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (r *rrProc) version() (string, error) {
	c, err := net.DialTimeout("tcp", r.rpc, 2*time.Second)
	if err != nil {
		return "", err
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	client := rpc.NewClientWithCodec(goridgeRpc.NewClientCodec(c))
	defer func() { _ = client.Close() }()
	var v string
	err = client.Call("rpc.Version", true, &v)
	return v, err
}

// checkAlive: rr runs, answers RPC (rpc.Version, kv.Set + kv.MGet on both storages) and
// pivot answers HTTP. It returns what is wrong (and how rr died, if it did).
func (r *rrProc) checkAlive() error {
	time.Sleep(150 * time.Millisecond) // a panic in a goroutine the request started
	if !r.Alive() {
		return fmt.Errorf("rr died: %s", r.crash())
	}
	if v, err := r.version(); err != nil || v == "" {
		if !r.Alive() {
			return fmt.Errorf("rr died: %s", r.crash())
		}
		return fmt.Errorf("rpc.Version after the request: %q, %v", v, err)
	}
	conn, err := net.DialTimeout("tcp", r.rpc, 5*time.Second)
	if err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	c := rpc.NewClientWithCodec(goridgeRpc.NewClientCodec(conn))
	defer func() { _ = c.Close() }()
	for _, storage := range []string{"memory", "bolt"} {
		key := fmt.Sprintf("alive-%d", time.Now().UnixNano())
		set := &kvv1.Request{Storage: storage, Items: []*kvv1.Item{{Key: key, Value: []byte("yes")}}}
		if err = c.Call("kv.Set", set, &kvv1.Response{}); err != nil {
			return fmt.Errorf("kv.Set on %s after the request: %v", storage, err)
		}
		var got kvv1.Response
		if err = c.Call("kv.MGet", &kvv1.Request{Storage: storage, Items: []*kvv1.Item{{Key: key}}}, &got); err != nil ||
			len(got.GetItems()) != 1 || string(got.GetItems()[0].GetValue()) != "yes" {
			return fmt.Errorf("kv.MGet on %s after the request: %v, %v", storage, got.GetItems(), err)
		}
	}
	if err = r.httpOK(); err != nil {
		return fmt.Errorf("pivot after the request: %v", err)
	}
	return nil
}

// ----- goridge frames, written by hand so that they can be malformed -----

const (
	codecNone    byte = 0x00 // goridge falls back to gob
	codecRaw     byte = 0x04
	codecJSON    byte = 0x08
	codecMsgpack byte = 0x10
	codecGob     byte = 0x20
	flagError    byte = 0x40
	codecProto   byte = 0x80
)

// frame encodes a goridge frame: hl header words (3 + options), flags, options, payload.
// crcDelta != 0 corrupts the header checksum; payloadLen < 0 means len(payload).
func frame(hl, flags byte, opts []uint32, payload []byte, payloadLen int64, crcDelta uint32) []byte {
	if payloadLen < 0 {
		payloadLen = int64(len(payload))
	}
	h := make([]byte, 12, 12+4*len(opts)+len(payload))
	h[0] = 1<<4 | hl
	h[1] = flags
	binary.LittleEndian.PutUint32(h[2:6], uint32(payloadLen))
	binary.LittleEndian.PutUint32(h[6:10], crc32.ChecksumIEEE(h[:6])+crcDelta)
	for _, o := range opts {
		h = binary.LittleEndian.AppendUint32(h, o)
	}
	return append(h, payload...)
}

// request encodes an RPC request as goridge's clients do: options [seq, len(method)],
// payload method + body.
func request(seq uint32, flags byte, method string, body []byte) []byte {
	return frame(5, flags, []uint32{seq, uint32(len(method))}, append([]byte(method), body...), -1, 0)
}

type answer struct {
	seq    uint32
	isErr  bool
	method string
	body   []byte
}

func (a answer) String() string {
	return fmt.Sprintf("seq %d %s error=%v %q", a.seq, a.method, a.isErr, a.body)
}

func readAnswer(c net.Conn) (answer, error) {
	h := make([]byte, 12)
	if _, err := io.ReadFull(c, h); err != nil {
		return answer{}, err
	}
	hl := int(h[0] & 0x0f)
	if hl < 5 {
		return answer{}, fmt.Errorf("answer with %d header words", hl)
	}
	opts := make([]byte, 4*(hl-3))
	if _, err := io.ReadFull(c, opts); err != nil {
		return answer{}, err
	}
	payload := make([]byte, binary.LittleEndian.Uint32(h[2:6]))
	if _, err := io.ReadFull(c, payload); err != nil {
		return answer{}, err
	}
	seq, mlen := binary.LittleEndian.Uint32(opts[0:4]), binary.LittleEndian.Uint32(opts[4:8])
	if int(mlen) > len(payload) {
		return answer{}, fmt.Errorf("answer's method length %d > payload %d", mlen, len(payload))
	}
	return answer{seq: seq, isErr: h[1]&flagError != 0, method: string(payload[:mlen]), body: payload[mlen:]}, nil
}

// call sends one request on c and reads its answer.
func call(t *testing.T, c net.Conn, seq uint32, flags byte, method string, body []byte) answer {
	t.Helper()
	if _, err := c.Write(request(seq, flags, method, body)); err != nil {
		t.Fatalf("%s (flags 0x%02x, body %q): write: %v", method, flags, body, err)
	}
	a, err := readAnswer(c)
	if err != nil {
		t.Fatalf("%s (flags 0x%02x, body %q): no answer: %v", method, flags, body, err)
	}
	if a.seq != seq {
		t.Fatalf("%s (flags 0x%02x, body %q): answer for seq %d, want %d", method, flags, body, a.seq, seq)
	}
	return a
}

// callJSON is call with the JSON codec (what PHP clients use).
func callJSON(t *testing.T, c net.Conn, seq uint32, method, body string) answer {
	t.Helper()
	return call(t, c, seq, codecJSON, method, []byte(body))
}

// wantError: the answer is an error mentioning each of parts.
func wantError(t *testing.T, a answer, parts ...string) {
	t.Helper()
	if !a.isErr {
		t.Fatalf("%s: want an error answer", a)
	}
	for _, p := range parts {
		if !strings.Contains(string(a.body), p) {
			t.Fatalf("%s: want an error containing %q", a, p)
		}
	}
}

func wantOK(t *testing.T, a answer) {
	t.Helper()
	if a.isErr {
		t.Fatalf("%s: want a successful answer", a)
	}
}

// wantClosed: rr closes the connection without answering.
func wantClosed(t *testing.T, c net.Conn) {
	t.Helper()
	if a, err := readAnswer(c); err == nil {
		t.Fatalf("connection still open, answered %s", a)
	}
}
