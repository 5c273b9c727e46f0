package pool

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/protocol"
	"github.com/roadrunner-server/goridge/v3/pkg/frame"
	"go.uber.org/zap"
)

func TestParseRelay(t *testing.T) {
	for _, tc := range []struct {
		value, network, address string
	}{
		{"", "", ""},
		{"pipes", "", ""},
		{"pipe", "", ""},
		{"tcp://127.0.0.1:7000", "tcp", "127.0.0.1:7000"},
		{"tcp://:7000", "tcp", ":7000"},
		{"tcp://[::1]:7000", "tcp", "[::1]:7000"},
		{"unix:///run/rr.sock", "unix", "/run/rr.sock"},
		{"unix://rr.sock", "unix", "rr.sock"},
	} {
		rs, err := parseRelay(tc.value)
		if err != nil || rs.Network != tc.network || rs.Address != tc.address {
			t.Errorf("parseRelay(%q) = %+v, %v; want %s %s", tc.value, rs, err, tc.network, tc.address)
		}
	}
	for _, bad := range []string{"foo://x", "pipes2", "tcp://127.0.0.1", "tcp://127.0.0.1:99999", "unix://", "TCP://127.0.0.1:7000", "127.0.0.1:7000"} {
		_, err := parseRelay(bad)
		if err == nil || !strings.Contains(err.Error(), "server.relay") || !strings.Contains(err.Error(), "tcp://host:port") {
			t.Errorf("parseRelay(%q) must fail naming server.relay and the allowed forms: %v", bad, err)
		}
	}
}

func TestPivotAddress(t *testing.T) {
	for value, want := range map[string]string{
		"tcp://127.0.0.1:7000": "127.0.0.1:0",
		"tcp://:7000":          "127.0.0.1:0",
		"tcp://0.0.0.0:7000":   "127.0.0.1:0",
		"tcp://[::]:7000":      "[::1]:0",
		"tcp://localhost:7000": "localhost:0",
		"unix:///run/rr.sock":  "/run/rr.pivot.sock",
		"unix:///run/rr":       "/run/rr.pivot",
	} {
		rs, err := parseRelay(value)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := rs.pivotAddress(); err != nil || got != want {
			t.Errorf("%s: pivot's address %q, %v; want %q", value, got, err, want)
		}
	}
	long := "unix:///" + strings.Repeat("d", 100) + ".sock"
	rs, _ := parseRelay(long)
	if _, err := rs.pivotAddress(); err == nil || !strings.Contains(err.Error(), "server.relay") {
		t.Fatalf("a socket path too long once pivot's suffix is added must fail naming server.relay: %v", err)
	}
}

// fakeWorker connects to the factory as a worker would and answers the handshake with pid.
func fakeWorker(t *testing.T, f *SocketFactory, pid int) net.Conn {
	t.Helper()
	network, addr := "tcp", strings.TrimPrefix(f.relay, "tcp://")
	if strings.HasPrefix(f.relay, "unix://") {
		network, addr = "unix", strings.TrimPrefix(f.relay, "unix://")
	}
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	rl := newSocketRelay(c)
	hello, err := rl.readFrame()
	if err != nil || hello.flags&frame.CONTROL == 0 {
		t.Fatalf("the factory must send its pid first: %+v %v", hello, err)
	}
	var m pidMessage
	if err = json.Unmarshal(hello.payload, &m); err != nil || m.Pid != os.Getpid() {
		t.Fatalf("handshake %q: %v", hello.payload, err)
	}
	data, _ := json.Marshal(pidMessage{Pid: pid})
	if _, err = c.Write(append(protocol.PutHeader(nil, frame.CONTROL, 0, len(data)), data...)); err != nil {
		t.Fatal(err)
	}
	return c
}

func testFactory(t *testing.T, relay string, timeout time.Duration) *SocketFactory {
	t.Helper()
	rs, err := parseRelay(relay)
	if err != nil {
		t.Fatal(err)
	}
	rs.Timeout = timeout
	f, err := NewSocketFactory(rs, 0, 0, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func TestSocketFactoryPairsConnectionsByPid(t *testing.T) {
	f := testFactory(t, "tcp://127.0.0.1:1", 2*time.Second)
	// a connection that arrives before its spawn waits is kept for it
	fakeWorker(t, f, 4242)
	waitUntil(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.early[4242] != nil })
	rl, err := f.await(context.Background(), 4242)
	if err != nil || rl == nil {
		t.Fatalf("early connection: %v", err)
	}
	// and one that arrives while its spawn waits is handed to it
	got := make(chan error, 1)
	go func() { _, err := f.await(context.Background(), 4343); got <- err }()
	waitUntil(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.waiting[4343] != nil })
	fakeWorker(t, f, 4343)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

func TestSocketFactoryTimesOutNamingTheCause(t *testing.T) {
	f := testFactory(t, "tcp://127.0.0.1:1", 300*time.Millisecond)
	fakeWorker(t, f, 999999) // a pid pivot did not start: a wrapper script's PHP
	cmd := exec.Command("sleep", "30")
	start := time.Now()
	w, err := f.SpawnWorkerWithTimeout(context.Background(), cmd)
	if err == nil {
		_ = w.Kill()
		t.Fatal("a worker that never connects must fail to spawn")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the spawn failed after %s, not at server.relay_timeout", d)
	}
	for _, want := range []string{"server.relay_timeout (300ms)", "did not connect to " + f.relay, "999999", "wrapper"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error must say %q: %v", want, err)
		}
	}
	waitUntil(t, func() bool { return syscall.Kill(cmd.Process.Pid, 0) != nil }) // killed and reaped
}

func TestSocketFactoryNoticesAWorkerThatExitsBeforeConnecting(t *testing.T) {
	f := testFactory(t, "tcp://127.0.0.1:1", time.Minute)
	start := time.Now()
	_, err := f.SpawnWorkerWithTimeout(context.Background(), exec.Command("sh", "-c", "echo 'Could not open input file: nope.php'; exit 1"))
	if err == nil || !strings.Contains(err.Error(), "exited before it connected") {
		t.Fatalf("a worker that exits at once must fail the spawn saying so: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("noticed after %s; it must not wait for the relay timeout", d)
	}
}

func TestSocketFactoryAllocateTimeoutNamesTheCause(t *testing.T) {
	f := testFactory(t, "tcp://127.0.0.1:1", time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := f.SpawnWorkerWithTimeout(ctx, exec.Command("sleep", "30"))
	if err == nil || !strings.Contains(err.Error(), "pivot.pool.allocate_timeout") || !strings.Contains(err.Error(), "RR_RELAY") {
		t.Fatalf("the spawn must fail naming allocate_timeout and the relay: %v", err)
	}
}

func TestUnixRelaySocketFile(t *testing.T) {
	dir := t.TempDir()
	relay := "unix://" + filepath.Join(dir, "rr.sock")
	own := filepath.Join(dir, "rr.pivot.sock")

	// a stale socket (nothing listens) is replaced
	stale, err := net.Listen("unix", own)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = stale.Close()
	f := testFactory(t, relay, time.Second)
	if f.relay != "unix://"+own {
		t.Fatalf("RR_RELAY %s, want unix://%s", f.relay, own)
	}
	fakeWorker(t, f, 77)

	// a live one belongs to someone else: refused, naming server.relay
	rs, _ := parseRelay(relay)
	if _, err = NewSocketFactory(rs, 0, 0, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "server.relay") {
		t.Fatalf("a socket another process listens on must not be taken: %v", err)
	}
	if err = f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err = os.Lstat(own); !os.IsNotExist(err) {
		t.Fatalf("the socket file must be removed on close: %v", err)
	}

	// a file that is not a socket is never removed
	writeTestFile(t, own, "data")
	if _, err = NewSocketFactory(rs, 0, 0, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("a regular file at the socket path must be an error: %v", err)
	}
	if b, _ := os.ReadFile(own); string(b) != "data" {
		t.Fatal("the regular file was touched")
	}
}

// TestSocketRelayTellsAnUnreadRequest: a worker that closed its connection with the request
// unread (ECONNRESET) never ran it, so the pool may run it elsewhere; one that read it is
// unknown (-1), as for any relay without a probe.
func TestSocketRelayTellsAnUnreadRequest(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = filepath.Join(t.TempDir(), "s.sock")
			}
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = ln.Close() }()
			pair := func() (*pipeRelay, net.Conn) {
				peer, err := net.Dial(network, ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				c, err := ln.Accept()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close(); _ = peer.Close() })
				return newSocketRelay(c), peer
			}
			ctx, body := []byte(`{"a":1}`), []byte("hello")

			rl, peer := pair()
			if err := rl.writeRequest(frame.CodecJSON, ctx, body); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			_ = peer.Close() // exits without reading
			if _, err := rl.readFrame(); err == nil {
				t.Fatal("read from a closed worker must fail")
			}
			if n := rl.unreadInput(); n < protocol.RequestFrameLen(ctx, body) {
				t.Fatalf("unreadInput %d after the worker closed with the request unread", n)
			}

			rl, peer = pair()
			if err := rl.writeRequest(frame.CodecJSON, ctx, body); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, protocol.RequestFrameLen(ctx, body))
			if _, err := peer.Read(buf); err != nil {
				t.Fatal(err)
			}
			_ = peer.Close() // read it, then died
			if _, err := rl.readFrame(); err == nil {
				t.Fatal("read from a closed worker must fail")
			}
			if n := rl.unreadInput(); n != -1 {
				t.Fatalf("unreadInput %d for a request the worker read; want -1 (unknown)", n)
			}

			rl, peer = pair()
			rl.slot.state.Store(slotQueued) // a queued request's bytes may be the unread ones
			if err := rl.writeRequest(frame.CodecJSON, ctx, body); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			_ = peer.Close()
			_, _ = rl.readFrame()
			if n := rl.unreadInput(); n != -1 {
				t.Fatalf("unreadInput %d with a request queued behind; want -1", n)
			}
		})
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
