package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/cmd/rr/internal/rrconfig"
	configImpl "github.com/roadrunner-server/config/v4"
	"github.com/roadrunner-server/endure/v2"
	"github.com/spf13/cobra"
)

// configPrefix is the env prefix of the config plugin (RR_HTTP_ADDRESS...).
const configPrefix = "rr"

// watchOverride is what `serve --watch` adds to the -o overrides: pivot.reload on, with the
// rest of pivot.reload as configured (or its defaults).
const watchOverride = "pivot.reload.enabled=true"

func newServeCommand(g *globalFlags) *cobra.Command {
	var watch bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Start RoadRunner server",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if watch {
				g.overrides = append(g.overrides, watchOverride)
				g.watch = true
			}
			return serve(g)
		},
	}
	cmd.Flags().BoolVar(&watch, "watch", false, "watch mode: serve edited PHP files without a restart (pivot.reload.enabled=true; a development tool)")
	return cmd
}

// serve runs the endure container until a stop signal or a plugin error.
func serve(g *globalFlags) error {
	// The endure section is read before the container exists, with the same
	// env expansion and overrides as the config plugin applies later.
	v, err := rrconfig.Load(g.cfgFile, g.overrides)
	if err != nil {
		return err
	}
	if g.watch && !v.IsSet("pivot.address") {
		return fmt.Errorf("--watch reloads the pivot plugin, but %s has no pivot section (pivot.address): add one, or use the reload section for other plugins", g.cfgFile)
	}

	ecfg, err := rrconfig.EndureConfig(v)
	if err != nil {
		return err
	}

	level, err := rrconfig.ParseLogLevel(ecfg.LogLevel)
	if err != nil && !g.silent {
		fmt.Printf("[WARN] %v, using the default (error)\n", err)
	}

	if g.pidFile {
		remove, err := writePidFile()
		if err != nil {
			return err
		}
		defer remove()
	}

	cfgPath, cleanup, err := configForPlugin(g.cfgFile)
	if err != nil {
		return err
	}
	defer cleanup()

	cfg := &configImpl.Plugin{
		Path:                 cfgPath,
		Prefix:               configPrefix,
		Timeout:              ecfg.GracePeriod,
		Flags:                g.overrides,
		Version:              pivot.RRVersion,
		ExperimentalFeatures: g.experimental,
	}

	opts := []endure.Options{endure.GracefulShutdownTimeout(ecfg.GracePeriod)}
	if ecfg.PrintGraph {
		opts = append(opts, endure.Visualize())
	}
	cont := endure.New(level, opts...)

	all := plugins()
	if err = cont.RegisterAll(append(all, newCompatConfig(cfg, all, os.Stdout))...); err != nil {
		return fmt.Errorf("failed to register the plugins: %w", err)
	}

	// Signals: the first one stops the container gracefully, a second one
	// forces the exit.
	stop := watchSignals()

	if err = cont.Init(); err != nil {
		return fmt.Errorf("failed to initialize the plugins (check the configuration): %w", err)
	}

	select {
	case <-stop: // stopped while initializing: nothing is served yet
		return nil
	default:
	}

	errCh, err := cont.Serve()
	if err != nil {
		return fmt.Errorf("failed to start the plugins: %w", err)
	}

	if !g.silent {
		fmt.Printf("[INFO] RoadRunner server started; version: %s, buildtime: %s\n", rrVersion(), buildTime)
	}

	stopWatchdog := notifyReady(ecfg.WatchdogSec, g.silent)
	defer stopWatchdog()

	select {
	case res := <-errCh:
		stopped := stopWithDeadline(cont, ecfg.GracePeriod+5*time.Second)
		err = fmt.Errorf("error: %w\nplugin: %s", res.Error, res.VertexID)
		if stopped != nil {
			err = fmt.Errorf("%w\nstop: %v", err, stopped)
		}

		return err

	case <-stop:
		leaveLoadBalancer(all)
		fmt.Printf("stop signal received, grace timeout is: %0.f seconds\n", ecfg.GracePeriod.Seconds())

		if err = cont.Stop(); err != nil {
			return fmt.Errorf("error while stopping the plugins: %w", err)
		}

		return nil
	}
}

// leaveLoadBalancer runs pivot.shutdown_delay before any plugin stops: /ready answers 503 (the
// status plugin still runs) while pivot keeps serving. A second signal exits at once.
func leaveLoadBalancer(plugins []any) {
	for _, p := range plugins {
		if pv, ok := p.(*pivot.Plugin); ok && pv.ShutdownDelay() > 0 {
			fmt.Printf("stop signal received: leaving the load balancer for %s (pivot.shutdown_delay)\n", pv.ShutdownDelay())
			pv.LeaveLoadBalancer(context.Background())
		}
	}
}

// watchSignals returns a channel closed on the first SIGINT/SIGTERM/SIGABRT;
// a second signal exits the process with status 1 right away.
func watchSignals() <-chan struct{} {
	sig := make(chan os.Signal, 5)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGABRT)

	stop := make(chan struct{})
	go func() {
		<-sig
		close(stop)
		_, _ = sdNotify(sdStopping)

		<-sig
		fmt.Println("exit forced")
		removeOwnPidFile()
		os.Exit(1)
	}()

	return stop
}

// stopWithDeadline stops the container after a plugin failure so that the
// workers of the other plugins are shut down, without waiting forever.
func stopWithDeadline(cont *endure.Endure, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cont.Stop() }()

	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return fmt.Errorf("plugins did not stop within %s", d)
	}
}

// notifyReady tells systemd the server is up (when run as a notify service)
// and starts the watchdog pings; the returned func stops them.
func notifyReady(watchdogSec int, silent bool) func() {
	notified, err := sdNotify(sdReady)
	if err != nil && !silent {
		fmt.Printf("[WARN] sdnotify: %v\n", err)
	}
	if !notified {
		return func() {}
	}

	if !silent {
		fmt.Println("[INFO] sdnotify: notified")
	}

	done := make(chan struct{})
	if watchdogSec > 0 {
		if !silent {
			fmt.Printf("[INFO] sdnotify: watchdog enabled, timeout: %d seconds\n", watchdogSec)
		}
		go sdWatchdogLoop(time.Duration(watchdogSec)*time.Second, done)
	}

	var once sync.Once

	return func() { once.Do(func() { close(done) }) }
}

// pidFilePath is the absolute path of the .pid file this process wrote.
var pidFilePath atomic.Pointer[string]

// writePidFile writes this process' pid to .pid in the working directory and
// returns a func removing it again.
func writePidFile() (func(), error) {
	path, err := filepath.Abs(pidFileName)
	if err != nil {
		return nil, err
	}

	if err = os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil { //nolint:gosec
		return nil, fmt.Errorf("failed to write the %s file: %w", pidFileName, err)
	}
	pidFilePath.Store(&path)

	return removeOwnPidFile, nil
}

// removeOwnPidFile deletes the .pid file written by writePidFile if it still
// holds this process' pid (another server may have replaced it since).
func removeOwnPidFile() {
	path := pidFilePath.Load()
	if path == nil {
		return
	}

	data, err := os.ReadFile(*path)
	if err != nil {
		return
	}
	if strings.TrimSpace(string(data)) == strconv.Itoa(os.Getpid()) {
		_ = os.Remove(*path)
	}
}
