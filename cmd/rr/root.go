package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/joho/godotenv"
	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
	"github.com/spf13/cobra"
)

const (
	// envDotenv names the variable holding the path of a .env file.
	envDotenv = "DOTENV_PATH"
	// pidFileName is written by `serve -p` and read by `stop` (relative to
	// the working directory, i.e. the config's directory unless -w is set).
	pidFileName = ".pid"
	// debugAddr is where `-d` serves pprof (the official rr binds :6061).
	debugAddr = "127.0.0.1:6061"
)

// globalFlags are the root's persistent flags, shared by all subcommands.
type globalFlags struct {
	cfgFile      string
	workDir      string
	dotenv       string
	debug        bool
	overrides    []string
	silent       bool
	pidFile      bool
	force        bool
	experimental bool
	// watch is serve --watch (pivot.reload.enabled=true is among the overrides)
	watch bool
}

func versionString() string {
	return fmt.Sprintf("%s (build time: %s, %s), OS: %s, arch: %s",
		rrVersion(), buildTime, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func newRootCommand(name string) *cobra.Command {
	g := &globalFlags{}

	cmd := &cobra.Command{
		Use:           name,
		Short:         "RoadRunner " + pivot.RRVersion + " with the pivot plugin: PHP application server and process manager",
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       versionString(),
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return g.prepare()
		},
	}
	cmd.SetVersionTemplate(`{{.Name}} version {{.Version}}` + "\n" +
		"pivot plugin version " + pivot.Version + "\n")

	f := cmd.PersistentFlags()
	f.StringVarP(&g.cfgFile, "config", "c", ".rr.yaml", "config file")
	f.StringVarP(&g.workDir, "WorkDir", "w", "", "working directory (default: the config file's directory)")
	f.StringVar(&g.dotenv, "dotenv", "", fmt.Sprintf("dotenv file [$%s]", envDotenv))
	f.BoolVarP(&g.debug, "debug", "d", false, "debug mode: pprof server on "+debugAddr)
	f.StringArrayVarP(&g.overrides, "override", "o", nil, "override config value (dot.notation=value), repeatable")
	f.BoolVarP(&g.silent, "silent", "s", false, "do not print startup and progress messages")
	f.BoolVarP(&g.pidFile, "pid", "p", false, "serve: write the process id to "+pidFileName+" (removed on exit)")
	f.BoolVarP(&g.force, "force", "f", false, "stop: force stop (second SIGTERM)")
	f.BoolVarP(&g.experimental, "enable-experimental", "e", false, "enable experimental features of the config plugin")

	cmd.AddCommand(
		newServeCommand(g),
		newWorkersCommand(g),
		newResetCommand(g),
		newStopCommand(g),
		newJobsCommand(g),
		newConfigCommand(g),
	)

	return cmd
}

// prepare runs before every subcommand, as the official rr root does: change
// to -w (or to the config file's directory), make the config path absolute,
// load the dotenv file and start the debug server.
func (g *globalFlags) prepare() error {
	if g.cfgFile == "" {
		return errors.New("no configuration file provided (-c)")
	}

	if g.workDir != "" {
		if err := os.Chdir(g.workDir); err != nil {
			return fmt.Errorf("cannot change to the working directory (-w): %w", err)
		}
	}

	abs, err := filepath.Abs(g.cfgFile)
	if err != nil {
		return fmt.Errorf("config file %s: %w", g.cfgFile, err)
	}
	g.cfgFile = abs

	if g.workDir == "" {
		dir := filepath.Dir(abs)
		if err := os.Chdir(dir); err != nil {
			return fmt.Errorf("cannot change to the config file's directory %s: %w", dir, err)
		}
	}

	if v, ok := os.LookupEnv(envDotenv); ok && v != "" {
		g.dotenv = v
	}
	if g.dotenv != "" {
		if err := godotenv.Load(g.dotenv); err != nil {
			return fmt.Errorf("failed to load the dotenv file %s: %w", g.dotenv, err)
		}
	}

	if g.debug {
		startDebugServer(debugAddr)
	}

	return nil
}
