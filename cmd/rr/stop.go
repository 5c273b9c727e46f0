package main

import (
	"errors"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/cmd/rr/internal/rpcclient"
	"github.com/spf13/cobra"
)

// pivotPid is the pivot plugin's RPC method returning the server's pid.
const pivotPid = "pivot.Pid"

func newStopCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "stop",
		Short: "Stop RoadRunner server",
		Long: "Stop RoadRunner server: send SIGTERM to the pid in " + pidFileName + " (written by `serve -p`),\n" +
			"or, without that file, to the pid the running server reports over RPC (" + pivotPid + ").\n" +
			"With -f a second SIGTERM follows after one second, forcing the exit.",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, _ = sdNotify(sdStopping)

			pid, source, err := findServerPid(g)
			if err != nil {
				return err
			}

			if !g.silent {
				log.New(os.Stderr, "", log.LstdFlags).Printf("stopping process with PID: %d (from %s)", pid, source)
			}

			proc, err := os.FindProcess(pid)
			if err != nil {
				return fmt.Errorf("failed to find process %d: %w", pid, err)
			}

			if err = proc.Signal(syscall.SIGTERM); err != nil {
				return fmt.Errorf("failed to signal process %d: %w", pid, err)
			}

			if g.force {
				// a signal sent right after the first may be coalesced with it
				time.Sleep(time.Second)
				if err = proc.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
					return fmt.Errorf("failed to signal process %d: %w", pid, err)
				}
			}

			return nil
		},
	}
}

// findServerPid reads .pid; when it is missing or names a process that no
// longer exists, it asks the running server over RPC.
func findServerPid(g *globalFlags) (int, string, error) {
	pid, fileErr := readPidFile(pidFileName)
	if fileErr == nil {
		return pid, pidFileName, nil
	}

	pid, rpcErr := pidOverRPC(g)
	if rpcErr == nil {
		return pid, "RPC " + pivotPid, nil
	}

	return 0, "", fmt.Errorf("cannot find the RoadRunner server to stop:\n  %v (run `rr serve -p` to create it)\n  %v", fileErr, rpcErr)
}

func readPidFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			wd, _ := os.Getwd()

			return 0, fmt.Errorf("no %s file in %s", path, wd)
		}

		return 0, err
	}

	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("invalid pid %q in %s", strings.TrimSpace(string(data)), path)
	}

	if !processAlive(pid) {
		return 0, fmt.Errorf("stale %s file: process %d is not running", path, pid)
	}

	return pid, nil
}

func pidOverRPC(g *globalFlags) (int, error) {
	client, err := rpcclient.New(g.cfgFile, g.overrides)
	if err != nil {
		return 0, fmt.Errorf("RPC: %w", err)
	}
	defer func() { _ = client.Close() }()

	var pid int
	if err = client.Call(pivotPid, true, &pid); err != nil {
		return 0, fmt.Errorf("RPC %s: %w", pivotPid, err)
	}
	if pid <= 0 {
		return 0, fmt.Errorf("RPC %s returned an invalid pid %d", pivotPid, pid)
	}

	return pid, nil
}

// processAlive reports whether a process with this pid exists (signal 0).
func processAlive(pid int) bool {
	proc, err := os.FindProcess(pid)
	if err != nil {
		return false
	}

	return !errors.Is(proc.Signal(syscall.Signal(0)), os.ErrProcessDone)
}
