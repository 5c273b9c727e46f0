// Command rr is the pivotphp RoadRunner distribution: the RoadRunner
// v2023.3.12 plugin set plus the pivot plugin, behind a CLI compatible with
// the official `rr` (serve, workers, reset, stop, jobs).
package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/fatih/color"
	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
	"go.uber.org/automaxprocs/maxprocs"
)

// Overridable at link time:
//
//	go build -ldflags "-X main.version=2023.3.12 -X main.buildTime=$(date -u +%FT%TZ)" ./cmd/rr
var (
	// version is the RoadRunner version reported by the binary; empty means
	// pivot.RRVersion (the RoadRunner release whose plugins are linked in).
	version   = ""
	buildTime = "development"
)

func init() {
	// GOMAXPROCS from the cgroup CPU quota, silently (as the official rr).
	_, _ = maxprocs.Set(maxprocs.Min(1), maxprocs.Logger(func(string, ...any) {}))
}

func main() { os.Exit(run(os.Args[1:])) }

// run executes the CLI and returns the process exit code.
func run(args []string) int {
	cmd := newRootCommand(filepath.Base(os.Args[0]))
	cmd.SetArgs(args)

	if err := cmd.Execute(); err != nil {
		printError(err)

		return 1
	}

	return 0
}

// printError prints err in bold red to stderr (plain when stderr is not a
// terminal or NO_COLOR is set).
func printError(err error) {
	c := color.New(color.FgHiRed, color.Bold)
	_, _ = c.Fprintln(os.Stderr, strings.TrimRight(err.Error(), "\n"))
}

// rrVersion is the RoadRunner version without a leading "v".
func rrVersion() string {
	v := strings.TrimSpace(version)
	if v == "" {
		v = pivot.RRVersion
	}
	if len(v) > 1 && (v[0] == 'v' || v[0] == 'V') && v[1] >= '0' && v[1] <= '9' {
		v = v[1:]
	}

	return v
}
