package main

import (
	"bytes"
	stderrors "errors"
	"fmt"
	"io"
	"os"
	"strings"

	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
	configImpl "github.com/roadrunner-server/config/v4"
	"github.com/spf13/cobra"
)

// rr config validate: the checks `rr serve` runs on the file before it starts anything, all
// of them at once, without starting anything.
func newConfigValidateCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the config file: every problem of the pivot section at once (exit code 1), and the warnings rr serve would log",
		Long: "Reads the file as rr serve does (${VAR} substitution, -o overrides, RoadRunner 2.x layouts) and checks the\n" +
			"pivot section: unknown keys (with the nearest known one), wrong types, values out of range, files and\n" +
			"directories that must exist (relative to the working directory, as for rr serve). Every problem is\n" +
			"printed, then the warnings rr serve would print (sections no plugin reads, 2.x layouts, harmless\n" +
			"oddities of the pivot section). Exit code 0: no problem; 1: problems (warnings alone do not count).\n" +
			"The other sections are checked by their plugins when rr serve starts them.",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			problems, warnings := validateConfig(g)
			out := cmd.OutOrStdout()
			for _, p := range problems {
				fmt.Fprintf(out, "ERROR %s\n", p)
			}
			for _, w := range warnings {
				fmt.Fprintf(out, "WARN  %s\n", strings.ReplaceAll(w, "\n", "\n      "))
			}
			if len(problems) > 0 {
				return fmt.Errorf("%s: %d problem(s), %d warning(s)", g.cfgFile, len(problems), len(warnings))
			}
			fmt.Fprintf(out, "%s: valid (%d warning(s))\n", g.cfgFile, len(warnings))
			return nil
		},
	}
}

// validateConfig returns the problems and the warnings of the file, one line each.
func validateConfig(g *globalFlags) (problems, warnings []string) {
	if _, err := os.Stat(g.cfgFile); err != nil {
		return []string{fmt.Sprintf("%s cannot be read: %v", g.cfgFile, err)}, nil
	}
	// configForPlugin prints its note on stdout, as for serve: catch it as a warning
	var notes bytes.Buffer
	cfgPath, cleanup, err := captureStdout(&notes, func() (string, func(), error) { return configForPlugin(g.cfgFile) })
	if err != nil {
		return []string{err.Error()}, nil
	}
	defer cleanup()
	warnings = append(warnings, warnLines(notes.String())...)

	cfg := &configImpl.Plugin{
		Path:                 cfgPath,
		Prefix:               configPrefix,
		Flags:                g.overrides,
		Version:              pivot.RRVersion,
		ExperimentalFeatures: g.experimental,
	}
	var compatWarnings bytes.Buffer
	compat := newCompatConfig(cfg, plugins(), &compatWarnings)
	if err = compat.Init(); err != nil {
		return []string{fmt.Sprintf("%s cannot be read: %v", g.cfgFile, err)}, warnLines(compatWarnings.String())
	}
	warnings = append(warnings, warnLines(compatWarnings.String())...)

	if !compat.Has(pivot.PluginName) {
		warnings = append(warnings, "there is no pivot section: pivot is off (rr serves only what the other sections configure)")
		return problems, warnings
	}
	c, err := pivot.CheckConfig(compat)
	for _, e := range flattenErrors(err) {
		problems = append(problems, e.Error())
	}
	if c != nil {
		warnings = append(warnings, c.Warnings()...)
	}
	return problems, warnings
}

// captureStdout runs f with os.Stdout sent to w.
func captureStdout[T any, U any](w io.Writer, f func() (T, U, error)) (T, U, error) {
	r, pw, err := os.Pipe()
	if err != nil {
		return f()
	}
	orig := os.Stdout
	os.Stdout = pw
	done := make(chan struct{})
	go func() { _, _ = io.Copy(w, r); close(done) }()
	a, b, errF := f()
	os.Stdout = orig
	_ = pw.Close()
	<-done
	_ = r.Close()
	return a, b, errF
}

// warnLines turns the "[WARN] ..." messages the config readers print into warnings (a message
// may span lines: the flat-layout one shows the section rewritten).
func warnLines(s string) []string {
	var out []string
	for _, msg := range strings.Split(s, "[WARN]") {
		if msg = strings.TrimSpace(msg); msg != "" {
			out = append(out, msg)
		}
	}
	return out
}

// flattenErrors lists the errors joined in err (errors.Join, nested), one per line.
func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	var out []error
	for _, line := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
		out = append(out, stderrors.New(line))
	}
	return out
}
