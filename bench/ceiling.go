package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/valyala/fasthttp"
)

// The ceilings: plain Go hello-world servers with no PHP behind them, driven by the same wrk in
// the same rounds as the servers under test. pivot cannot answer faster than its HTTP front
// alone (go fasthttp, the server pivot is built on; go net/http, the one the issue names), nor
// than its pool round trip alone (BenchmarkPoolRoundTrip): the two bound its req/s.
//
// A ceiling runs as the harness binary started again with ceilingEnv set to its kind and
// ceilingAddrEnv to its address, so its CPU time is measured apart from the harness's.
const (
	ceilingEnv     = "PIVOT_BENCH_CEILING"
	ceilingAddrEnv = "PIVOT_BENCH_CEILING_ADDR"

	kindGoNetHTTP  = "go net/http"
	kindGoFastHTTP = "go fasthttp"
	kindCeilings   = "ceilings" // the -servers token for both
)

var ceilingKinds = []string{kindGoFastHTTP, kindGoNetHTTP}

var helloBody = []byte("Hello, World!")

// runCeiling serves GET /hello until SIGTERM or SIGINT: 200, text/plain, 13 bytes, as
// examples/hello's route answers through pivot.
func runCeiling(kind, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return serveCeiling(ctx, kind, ln)
}

// serveCeiling serves on ln until ctx ends, then shuts the server down.
func serveCeiling(ctx context.Context, kind string, ln net.Listener) (err error) {
	errs := make(chan error, 1)
	switch kind {
	case kindGoFastHTTP:
		// the settings pivot's own server uses that change what goes on the wire
		srv := &fasthttp.Server{
			Handler: func(c *fasthttp.RequestCtx) {
				c.Response.Header.SetContentType("text/plain")
				c.Response.SetBodyRaw(helloBody)
			},
			NoDefaultServerHeader: true,
			NoDefaultContentType:  true,
		}
		go func() { errs <- srv.Serve(ln) }()
		select {
		case err = <-errs:
		case <-ctx.Done():
			err = srv.Shutdown()
		}
	case kindGoNetHTTP:
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = []string{"text/plain"}
			_, _ = w.Write(helloBody)
		})}
		go func() { errs <- srv.Serve(ln) }()
		select {
		case err = <-errs:
		case <-ctx.Done():
			err = srv.Shutdown(context.Background())
		}
	default:
		_ = ln.Close()
		return fmt.Errorf("unknown ceiling %q (want %q or %q)", kind, kindGoFastHTTP, kindGoNetHTTP)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// startCeiling starts a ceiling server as a child process; the caller waits for readiness.
func startCeiling(ps *procs, dir, kind string) (*server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	name := fileName(kind, 0)
	p, err := ps.start(name, filepath.Join(dir, name+".log"), []string{ceilingEnv + "=" + kind, ceilingAddrEnv + "=" + addr}, exe)
	if err != nil {
		return nil, err
	}
	return &server{kind: kind, url: "http://" + addr + "/hello", front: p, check: checkHello}, nil
}

// isCeiling tells the ceiling servers (no PHP, workers 0) from the servers under test.
func (s *server) isCeiling() bool { return s.workers == 0 }
