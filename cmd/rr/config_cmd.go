package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/cmd/rr/internal/rrconfig"
	"github.com/spf13/cobra"
)

func newConfigCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work on the configuration file",
	}
	cmd.AddCommand(newConfigMigrateCommand(g), newConfigValidateCommand(g))
	return cmd
}

// rr config migrate: rewrite a RoadRunner 2.x-style file to what RoadRunner 2023 reads as
// written, so the warnings of `rr serve` go away.
func newConfigMigrateCommand(g *globalFlags) *cobra.Command {
	var inPlace bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Rewrite the config file to RoadRunner 2023's layout (prints it; -i writes it, keeping FILE.bak)",
		Long: "Moves the driver options of jobs pipelines and kv storages written beside `driver:` (RoadRunner 2.x)\n" +
			"under `config:`, and quotes ${VAR} references inside { } or [ ] so the file is valid YAML.\n" +
			"Comments and everything else stay as written. Without -i the new file is printed on stdout.",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return migrateConfig(g.cfgFile, inPlace)
		},
	}
	cmd.Flags().BoolVarP(&inPlace, "in-place", "i", false, "rewrite the file (the original is kept as FILE.bak)")
	return cmd
}

func migrateConfig(path string, inPlace bool) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config migrate: %w", err)
	}
	var changes []string
	text, quoted := rrconfig.QuoteFlowEnv(src)
	if quoted {
		changes = append(changes, "${VAR} references inside { } or [ ] quoted")
	}
	out, moved, err := rrconfig.MigrateYAML(text)
	if err != nil {
		return fmt.Errorf("config migrate: %s: %w", path, err)
	}
	for _, m := range moved {
		changes = append(changes, m+": driver options moved under config:")
	}
	if len(changes) == 0 {
		fmt.Fprintf(os.Stderr, "%s already uses RoadRunner 2023's layout: nothing to change\n", path)
		if !inPlace {
			_, err = os.Stdout.Write(src)
		}
		return err
	}
	fmt.Fprintf(os.Stderr, "%s:\n  %s\n", path, strings.Join(changes, "\n  "))
	if !inPlace {
		_, err = os.Stdout.Write(out)
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if err = os.WriteFile(path+".bak", src, st.Mode().Perm()); err != nil {
		return fmt.Errorf("config migrate: keeping the original: %w", err)
	}
	if err = os.WriteFile(path, out, st.Mode().Perm()); err != nil {
		return fmt.Errorf("config migrate: %w", err)
	}
	fmt.Fprintf(os.Stderr, "rewritten; the original is %s.bak\n", path)
	return nil
}
