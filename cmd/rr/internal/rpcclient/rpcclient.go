// Package rpcclient connects the rr CLI to a running server's rpc plugin:
// it finds `rpc.listen` in the configuration (with the same env expansion
// and `-o` overrides as `rr serve`) and speaks goridge's RPC codec over
// net/rpc, like RoadRunner's own CLI.
package rpcclient

import (
	"errors"
	"fmt"
	"net"
	"net/rpc"
	"strings"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/cmd/rr/internal/rrconfig"
	goridgeRpc "github.com/roadrunner-server/goridge/v3/pkg/rpc"
	"github.com/spf13/viper"
)

const (
	rpcKey    = "rpc"
	serverKey = "server"
	listenKey = "rpc.listen"
	// DefaultListen is what the rpc plugin listens on when `rpc:` is empty.
	DefaultListen = "tcp://127.0.0.1:6001"
	// DialTimeout bounds connecting to the RPC socket.
	DialTimeout = 5 * time.Second
)

// ErrNoRPC is returned when the configuration has no `rpc` section.
var ErrNoRPC = errors.New("rpc service not specified in the configuration. Tip: add\n  rpc:\n    listen: tcp://127.0.0.1:6001")

// New reads the configuration at cfgPath, applies overrides and connects to
// the server's RPC socket.
func New(cfgPath string, overrides []string) (*rpc.Client, error) {
	v, err := rrconfig.Load(cfgPath, overrides)
	if err != nil {
		return nil, err
	}

	addr, err := ListenAddress(v)
	if err != nil {
		return nil, err
	}

	return Dial(addr)
}

// ListenAddress returns rpc.listen from a loaded configuration, the rpc
// plugin's default when the section is present but has no `listen`, or when
// there is no `rpc` section but a `server` one (rr serve then listens on the
// default, so that PHP workers reach jobs, kv and metrics), and ErrNoRPC when
// there is neither (or a null `rpc` section), which disables the rpc plugin.
func ListenAddress(v *viper.Viper) (string, error) {
	if !v.IsSet(rpcKey) {
		if _, hasRPC := v.AllSettings()[rpcKey]; !hasRPC && v.IsSet(serverKey) {
			return DefaultListen, nil
		}
		return "", ErrNoRPC
	}

	addr := strings.TrimSpace(v.GetString(listenKey))
	if addr == "" {
		return DefaultListen, nil
	}

	return addr, nil
}

// Dial connects to addr ("tcp://host:port" or "unix:///path/to.sock") and
// returns a net/rpc client using goridge's codec.
func Dial(addr string) (*rpc.Client, error) {
	conn, err := DialConn(addr)
	if err != nil {
		return nil, err
	}

	return rpc.NewClientWithCodec(goridgeRpc.NewClientCodec(conn)), nil
}

// DialConn opens the raw connection to an RPC address.
func DialConn(addr string) (net.Conn, error) {
	network, address, ok := strings.Cut(addr, "://")
	if !ok || address == "" || strings.Contains(address, "://") {
		return nil, fmt.Errorf("invalid rpc.listen %q (expected tcp://host:port or unix:///path/to.sock)", addr)
	}

	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, fmt.Errorf("invalid rpc.listen %q: unsupported network %q (use tcp or unix)", addr, network)
	}

	conn, err := net.DialTimeout(network, address, DialTimeout)
	if err != nil {
		return nil, fmt.Errorf("failed to connect to the RoadRunner RPC at %s (is `rr serve` running with this configuration?): %w", addr, err)
	}

	return conn, nil
}
