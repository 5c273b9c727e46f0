package main

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for the harness binary when the harness re-runs
// itself: as the watchdog and as a ceiling server.
func TestMain(m *testing.M) {
	if os.Getenv(watchdogEnv) == "1" || os.Getenv(ceilingEnv) != "" {
		main()
		return
	}
	os.Exit(m.Run())
}

// A fresh instance replaces the server between rounds: the old processes are gone, the new
// instance answers and can itself be replaced again.
func TestFreshInstanceReplacesTheServer(t *testing.T) {
	ps, err := newProcs()
	if err != nil {
		t.Fatal(err)
	}
	defer ps.close(stopGrace)
	dir := t.TempDir()
	ctx := context.Background()
	start := func() (*server, error) { return startCeiling(ps, dir, kindGoNetHTTP) }
	s, err := start()
	if err != nil {
		t.Fatal(err)
	}
	if err = s.waitReady(ctx, readyTimeout); err != nil {
		t.Fatal(err)
	}
	s.start = start
	// no wrk needed: a failed warm-up is left to the measurement that follows
	cfg := &config{wrk: "/nonexistent/wrk", threads: 1, conns: []int{1}}
	for i := 0; i < 2; i++ {
		ns, err := freshInstance(ctx, cfg, s)
		if err != nil {
			t.Fatal(err)
		}
		if !s.front.exited() {
			t.Fatal("the old instance still runs")
		}
		if ns.front.pid() == s.front.pid() || ns.start == nil {
			t.Fatalf("the fresh instance must be a new process with a way to start again: pid %d, %d", s.front.pid(), ns.front.pid())
		}
		if err := ns.get(ctx, &http.Client{Timeout: 5 * time.Second}); err != nil {
			t.Fatalf("the fresh instance does not answer: %v", err)
		}
		s = ns
	}
}
