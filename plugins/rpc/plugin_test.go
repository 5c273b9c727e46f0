package rpc

import (
	"context"
	"fmt"
	"net"
	"net/rpc"
	"strings"
	"testing"
	"time"

	goridgeRpc "github.com/roadrunner-server/goridge/v3/pkg/rpc"
	upstream "github.com/roadrunner-server/rpc/v4"
	"go.uber.org/zap"
)

type testConfig struct{ listen string }

func (c testConfig) RRVersion() string { return "2023.3.12" }

func (c testConfig) Unmarshal(out any) error {
	*out.(*any) = map[string]any{"rpc": map[string]any{"listen": c.listen}}
	return nil
}

func (c testConfig) UnmarshalKey(name string, out any) error {
	cfg, ok := out.(*upstream.Config)
	if !ok || name != PluginName {
		return fmt.Errorf("unexpected UnmarshalKey(%q, %T)", name, out)
	}
	cfg.Listen = c.listen
	return nil
}

func (c testConfig) Has(name string) bool { return name == PluginName }

type testLogger struct{}

func (testLogger) NamedLogger(string) *zap.Logger { return zap.NewNop() }

// svcPlugin is a plugin with RPC methods, as kv or jobs.
type svcPlugin struct{}

func (svcPlugin) Name() string { return "svc" }
func (svcPlugin) RPC() any     { return Svc{} }

func TestPluginServesCollectedPlugins(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	p := &Plugin{}
	if err = p.Init(testConfig{listen: "tcp://" + addr}, testLogger{}); err != nil {
		t.Fatal(err)
	}
	if p.Name() != "rpc" || p.Weight() != 100 {
		t.Fatalf("Name %q Weight %d, want rpc 100", p.Name(), p.Weight())
	}
	for _, in := range p.Collects() {
		in.Callback(svcPlugin{})
	}
	if err = <-orNil(p.Serve()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })

	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	client := rpc.NewClientWithCodec(goridgeRpc.NewClientCodec(conn))
	defer func() { _ = client.Close() }()

	var version string
	if err = client.Call("rpc.Version", true, &version); err != nil || version != "2023.3.12" {
		t.Fatalf("rpc.Version = %q, %v", version, err)
	}
	var cfg []byte
	if err = client.Call("rpc.Config", true, &cfg); err != nil || !strings.Contains(string(cfg), addr) {
		t.Fatalf("rpc.Config = %s, %v", cfg, err)
	}
	var out string
	if err = client.Call("svc.Echo", "hi", &out); err != nil || out != "hi" {
		t.Fatalf("svc.Echo = %q, %v", out, err)
	}
	if err = client.Call("svc.Panic", "x", &out); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("svc.Panic = %v, want the panic as an error", err)
	}
	if err = client.Call("svc.Echo", "again", &out); err != nil || out != "again" {
		t.Fatalf("svc.Echo after a panic = %q, %v", out, err)
	}

	if err = p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = c.Close()
		t.Fatal("listener still open after Stop")
	}
}

func TestPluginDisabledWithoutSection(t *testing.T) {
	p := &Plugin{}
	err := p.Init(noSection{}, testLogger{})
	if err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Fatalf("Init without an rpc section = %v, want disabled", err)
	}
}

type noSection struct{ testConfig }

func (noSection) Has(string) bool { return false }

// orNil reads a Serve error channel without blocking.
func orNil(ch chan error) chan error {
	out := make(chan error, 1)
	select {
	case err := <-ch:
		out <- err
	default:
		out <- nil
	}
	return out
}
