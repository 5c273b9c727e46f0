package integration

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
	configImpl "github.com/roadrunner-server/config/v4"
	"github.com/roadrunner-server/endure/v2"
	"github.com/roadrunner-server/kv/v4"
	"github.com/roadrunner-server/logger/v4"
	"github.com/roadrunner-server/memory/v4"
	rpcPlugin "github.com/roadrunner-server/rpc/v4"
)

// rpcOnlyStack is a minimal RoadRunner (config, logger, rpc, kv with one memory storage)
// listening on a given RPC address, so a test can stop it and start another on the same
// address, as a RoadRunner restart looks to a PHP client.
type rpcOnlyStack struct {
	t    testing.TB
	cont *endure.Endure
}

func startRPCOnly(t testing.TB, listen string) *rpcOnlyStack {
	t.Helper()
	cfg := &configImpl.Plugin{
		ReadInCfg: []byte(fmt.Sprintf("version: \"3\"\nrpc:\n  listen: %s\nlogs:\n  level: error\n  mode: production\n"+
			"kv:\n  local:\n    driver: memory\n    config:\n      interval: 60\n", listen)),
		Type:    "yaml",
		Version: pivot.RRVersion,
	}
	c := endure.New(slog.LevelError, endure.GracefulShutdownTimeout(10*time.Second))
	if err := c.RegisterAll(cfg, &logger.Plugin{}, &rpcPlugin.Plugin{}, &kv.Plugin{}, &memory.Plugin{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Init(); err != nil {
		t.Fatalf("container init: %v", err)
	}
	if _, err := c.Serve(); err != nil {
		t.Fatalf("container serve: %v", err)
	}
	s := &rpcOnlyStack{t: t, cont: c}
	t.Cleanup(s.stop)
	return s
}

func (s *rpcOnlyStack) stop() {
	if s.cont == nil {
		return
	}
	if err := s.cont.Stop(); err != nil {
		s.t.Errorf("container stop: %v", err)
	}
	s.cont = nil
}

// socketFront is the address PHP dials for an in-process RoadRunner: it forwards to the rpc
// plugin and, on down(), closes its listener and every connection, which is what clients
// see when a RoadRunner process exits. (In-process, the rpc plugin's Stop only closes its
// listener; connections it accepted keep being served.)
type socketFront struct {
	t       testing.TB
	path    string
	backend string
	mu      sync.Mutex
	ln      net.Listener
	conns   []net.Conn
	wg      sync.WaitGroup
}

func newSocketFront(t testing.TB, path, backend string) *socketFront {
	f := &socketFront{t: t, path: path, backend: backend}
	f.up()
	t.Cleanup(f.down)
	return f
}

func (f *socketFront) up() {
	f.t.Helper()
	ln, err := net.Listen("unix", f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("unix", f.backend)
			if err != nil {
				_ = c.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, c, b)
			f.mu.Unlock()
			f.wg.Add(2)
			go func() { defer f.wg.Done(); _, _ = io.Copy(b, c); _ = b.Close() }()
			go func() { defer f.wg.Done(); _, _ = io.Copy(c, b); _ = c.Close() }()
		}
	}()
}

func (f *socketFront) down() {
	f.mu.Lock()
	if f.ln != nil {
		_ = f.ln.Close()
		f.ln = nil
	}
	for _, c := range f.conns {
		_ = c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}
