package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Server kinds, in the order each round visits them.
const (
	kindPivot = "pivot" // our plugin, examples/hello/worker.php
	// the same with pivot.pipeline: true (a request may wait in a busy worker's pipe; README)
	kindPivotPipeline = "pivot-pipeline"
	// the same with issue 20's observability at full cost: pivot.access_log on (written, logs at
	// info) and every request traced (pivot.trace.sample 1) to an OTLP receiver (otlp.go)
	kindPivotObserve = "pivot-observe"
	kindStock        = "stock"    // RoadRunner's http plugin in the same binary, same script
	kindFPM          = "fpm"      // nginx + php-fpm, bench/fpm/hello.php
	kindPivotPHP     = "pivotphp" // our plugin, a PivotPHP app's JSON route through the adapter
	// the same PivotPHP app the classic way: nginx + php-fpm running its front controller
	// (examples/pivotphp/public/index.php), the framework loaded and the app built per request
	kindPivotPHPFPM = "pivotphp-fpm"
	// RSS-only variants of pivot (see php_variants.go): workers started with just the extensions
	// Debian's php-cli loads by default, and as `php -n` (no php.ini, no shared extensions).
	kindPivotCLIExt = "pivot php-cli ext"
	kindPivotNoIni  = "pivot php -n"
)

// server is one running server under test: a kind at a worker count.
type server struct {
	kind    string
	workers int
	url     string // what wrk drives
	// rpc is the rr RPC address and plugin the informer plugin name (rr servers only).
	rpc    string
	plugin string
	// front is the process that accepts HTTP (rr, nginx master); php is the PHP parent for fpm
	// (the php-fpm master), nil for rr, whose PHP workers are rr's children.
	front *proc
	php   *proc
	// check validates one response in the preflight.
	check func(*http.Response, []byte) error
	// start starts another instance of the same server (new ports), for a fresh one per round.
	start func() (*server, error)
}

// fileName names a server's config and log files under the temp dir: "pivot-php-cli-ext-w2",
// "go-net-http" (a ceiling has no worker count).
func fileName(kind string, workers int) string {
	name := strings.NewReplacer(" ", "-", "/", "-").Replace(kind)
	if workers == 0 {
		return name
	}
	return fmt.Sprintf("%s-w%d", name, workers)
}

func (s *server) label() string { return serverLabel(s.kind, s.workers) }

// serverLabel is "pivot w2", or the kind alone for a ceiling (no workers).
func serverLabel(kind string, workers int) string {
	if workers == 0 {
		return kind
	}
	return fmt.Sprintf("%s w%d", kind, workers)
}

// workerPids are the PHP processes that serve requests.
func (s *server) workerPids() []int {
	if s.php != nil {
		return children(s.php.pid())
	}
	return children(s.front.pid())
}

// frontCPU is the CPU time used so far by the processes in front of PHP: rr itself, or nginx's
// master and workers.
func (s *server) frontCPU() time.Duration {
	if s.php != nil {
		return treeCPU(s.front.pid())
	}
	self, _ := cpuTime(s.front.pid())
	return self
}

// frontUserCPU is the user-mode part of frontCPU for rr (0 for nginx, not shown).
func (s *server) frontUserCPU() time.Duration {
	if s.php != nil {
		return 0
	}
	return userTime(s.front.pid())
}

// phpCPU is the CPU time used so far by every PHP process, live or replaced: rr's children, or
// php-fpm's master and children.
func (s *server) phpCPU() time.Duration {
	if s.php != nil {
		return treeCPU(s.php.pid())
	}
	_, reaped := cpuTime(s.front.pid())
	return reaped + childrenCPU(s.front.pid())
}

// procs are the processes the harness started for this server.
func (s *server) procs() []*proc {
	if s.php != nil {
		return []*proc{s.front, s.php}
	}
	return []*proc{s.front}
}

// stop stops every process the harness started for this server.
func (s *server) stop() {
	for _, p := range s.procs() {
		p.stop(stopGrace)
	}
}

// startReady starts a server and waits until it answers; if it does not, whatever started is
// stopped.
func startReady(ctx context.Context, start func() (*server, error)) (*server, error) {
	s, err := start()
	if err == nil {
		err = s.waitReady(ctx, readyTimeout)
	}
	if err != nil {
		if s != nil {
			s.stop()
		}
		return nil, err
	}
	return s, nil
}

// waitReady polls the URL until check passes, a process exits or the timeout passes.
func (s *server) waitReady(ctx context.Context, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last error
	for {
		for _, p := range s.procs() {
			if p.exited() {
				return p.exitError()
			}
		}
		last = s.get(ctx, client)
		if last == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("%s not ready after %s: %v", s.label(), timeout, last)
			for _, p := range s.procs() {
				if tail := p.logTail(10); tail != "" {
					msg += fmt.Sprintf("\n  %s log (%s):\n%s", p.name, p.log, indent(tail, "    "))
				}
			}
			return errors.New(msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) get(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return s.check(resp, body)
}

// checkHello accepts the hello-world response: 200, text/plain, "Hello, World!".
func checkHello(resp *http.Response, body []byte) error {
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode != http.StatusOK || string(body) != "Hello, World!" || !strings.HasPrefix(ct, "text/plain") {
		return fmt.Errorf("want 200 text/plain %q, got %d %q %q", "Hello, World!", resp.StatusCode, ct, truncate(string(body), 200))
	}
	return nil
}

// checkJSON accepts any 200 JSON response.
func checkJSON(resp *http.Response, body []byte) error {
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode != http.StatusOK || !strings.Contains(ct, "json") || len(body) == 0 {
		return fmt.Errorf("want 200 JSON, got %d %q %q", resp.StatusCode, ct, truncate(string(body), 200))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
