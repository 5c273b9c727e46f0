package rpcclient

import (
	"errors"
	"net"
	"net/rpc"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/cmd/rr/internal/rrconfig"
	goridgeRpc "github.com/roadrunner-server/goridge/v3/pkg/rpc"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()

	path := filepath.Join(t.TempDir(), ".rr.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}

	return path
}

func TestListenAddress(t *testing.T) {
	t.Setenv("PIVOT_RPCCLIENT_PORT", "7001")

	tests := []struct {
		name      string
		yaml      string
		overrides []string
		want      string
		wantErr   error
	}{
		{name: "no rpc section", yaml: "version: \"3\"\n", wantErr: ErrNoRPC},
		// rr serve listens on the default when PHP workers run and no rpc section says where
		{name: "no rpc section, a server section", yaml: "version: \"3\"\nserver:\n  command: php w.php\n", want: DefaultListen},
		{name: "listen", yaml: "version: \"3\"\nrpc:\n  listen: tcp://127.0.0.1:6002\n", want: "tcp://127.0.0.1:6002"},
		{name: "empty section uses the plugin default", yaml: "version: \"3\"\nrpc: {}\n", want: DefaultListen},
		// the rpc plugin is disabled by a null section (cfg.Has is false), so is the client
		{name: "null section", yaml: "version: \"3\"\nrpc:\n", wantErr: ErrNoRPC},
		{name: "env expanded", yaml: "version: \"3\"\nrpc:\n  listen: tcp://127.0.0.1:${PIVOT_RPCCLIENT_PORT}\n", want: "tcp://127.0.0.1:7001"},
		{
			name:      "override",
			yaml:      "version: \"3\"\nrpc:\n  listen: tcp://127.0.0.1:6002\n",
			overrides: []string{"rpc.listen=unix:///tmp/rr.sock"},
			want:      "unix:///tmp/rr.sock",
		},
		{
			name:      "override creates the section",
			yaml:      "version: \"3\"\n",
			overrides: []string{"rpc.listen=tcp://127.0.0.1:${PIVOT_RPCCLIENT_PORT}"},
			want:      "tcp://127.0.0.1:7001",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := rrconfig.Load(writeConfig(t, tt.yaml), tt.overrides)
			if err != nil {
				t.Fatal(err)
			}

			got, err := ListenAddress(v)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}

				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestDialConnInvalidAddress(t *testing.T) {
	for _, addr := range []string{"", "127.0.0.1:6001", "tcp://", "udp://127.0.0.1:1", "tcp://a://b"} {
		if _, err := DialConn(addr); err == nil || !strings.Contains(err.Error(), "rpc.listen") {
			t.Errorf("DialConn(%q) error = %v, want an invalid rpc.listen error", addr, err)
		}
	}
}

func TestDialConnRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	_, err = DialConn("tcp://" + addr)
	if err == nil || !strings.Contains(err.Error(), "is `rr serve` running") {
		t.Fatalf("error = %v", err)
	}
}

// Echo is a tiny net/rpc service served with goridge's server codec, like the
// rpc plugin does.
type Echo struct{}

func (Echo) Upper(in string, out *string) error {
	*out = strings.ToUpper(in)

	return nil
}

func (Echo) Pid(_ bool, out *int) error {
	*out = 4242

	return nil
}

func serveEcho(t *testing.T, network, address string) string {
	t.Helper()

	ln, err := net.Listen(network, address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })

	srv := rpc.NewServer()
	if err = srv.RegisterName("echo", Echo{}); err != nil {
		t.Fatal(err)
	}

	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go srv.ServeCodec(goridgeRpc.NewCodec(conn))
		}
	}()

	return network + "://" + ln.Addr().String()
}

func TestNewRoundTrip(t *testing.T) {
	tests := []struct {
		network, address string
	}{
		{"tcp", "127.0.0.1:0"},
		{"unix", filepath.Join(t.TempDir(), "rpc.sock")},
	}

	for _, tt := range tests {
		t.Run(tt.network, func(t *testing.T) {
			addr := serveEcho(t, tt.network, tt.address)

			// the address only arrives through an -o override
			client, err := New(writeConfig(t, "version: \"3\"\nrpc:\n  listen: tcp://127.0.0.1:1\n"), []string{"rpc.listen=" + addr})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = client.Close() }()

			var out string
			if err = client.Call("echo.Upper", "pivot", &out); err != nil || out != "PIVOT" {
				t.Fatalf("echo.Upper = %q, %v", out, err)
			}

			var pid int
			if err = client.Call("echo.Pid", true, &pid); err != nil || pid != 4242 {
				t.Fatalf("echo.Pid = %d, %v", pid, err)
			}

			err = client.Call("echo.Nope", true, &pid)
			if err == nil || !strings.Contains(err.Error(), "can't find method") {
				t.Fatalf("unknown method error = %v", err)
			}
		})
	}
}

func TestNewWithoutRPCSection(t *testing.T) {
	_, err := New(writeConfig(t, "version: \"3\"\nhttp:\n  address: 127.0.0.1:8080\n"), nil)
	if !errors.Is(err, ErrNoRPC) {
		t.Fatalf("error = %v, want ErrNoRPC", err)
	}
}
