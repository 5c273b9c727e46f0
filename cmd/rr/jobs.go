package main

import (
	"errors"
	"fmt"
	"io"
	"net/rpc"
	"os"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/cmd/rr/internal/rpcclient"
	jobsv1 "github.com/roadrunner-server/api/v4/build/jobs/v1"
	"github.com/spf13/cobra"
)

const (
	jobsList    = "jobs.List"
	jobsPause   = "jobs.Pause"
	jobsResume  = "jobs.Resume"
	jobsDestroy = "jobs.Destroy"
)

// newJobsCommand builds `rr jobs`. It accepts the official v2023.3.12 form
// (`rr jobs --list`, `rr jobs --pause p1,p2`, ...) and subcommands
// (`rr jobs list`, `rr jobs pause p1 p2`, pipelines comma- or space-separated).
func newJobsCommand(g *globalFlags) *cobra.Command {
	var list, pause, resume, destroy bool

	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "Jobs pipelines manipulation (list, pause, resume, destroy)",
		RunE: func(_ *cobra.Command, args []string) error {
			var action string
			for _, f := range []struct {
				set  bool
				name string
			}{{pause, "pause"}, {destroy, "destroy"}, {resume, "resume"}, {list, "list"}} {
				if f.set {
					action = f.name

					break
				}
			}

			if action == "" {
				return errors.New("command should be in the form of: `rr jobs list` or `rr jobs <pause|resume|destroy> pipe1,pipe2` (or `rr jobs --<list|pause|resume|destroy> ...`)")
			}

			return runJobs(g, action, args)
		},
	}

	cmd.Flags().BoolVar(&list, "list", false, "list pipelines")
	cmd.Flags().BoolVar(&pause, "pause", false, "pause pipelines")
	cmd.Flags().BoolVar(&resume, "resume", false, "resume pipelines")
	cmd.Flags().BoolVar(&destroy, "destroy", false, "destroy pipelines")

	cmd.AddCommand(
		&cobra.Command{
			Use:   "list",
			Short: "List jobs pipelines",
			Args:  cobra.NoArgs,
			RunE:  func(_ *cobra.Command, args []string) error { return runJobs(g, "list", args) },
		},
		&cobra.Command{
			Use:   "pause pipeline...",
			Short: "Pause consuming of jobs pipelines",
			RunE:  func(_ *cobra.Command, args []string) error { return runJobs(g, "pause", args) },
		},
		&cobra.Command{
			Use:   "resume pipeline...",
			Short: "Resume consuming of jobs pipelines",
			RunE:  func(_ *cobra.Command, args []string) error { return runJobs(g, "resume", args) },
		},
		&cobra.Command{
			Use:   "destroy pipeline...",
			Short: "Stop and destroy jobs pipelines",
			RunE:  func(_ *cobra.Command, args []string) error { return runJobs(g, "destroy", args) },
		},
	)

	return cmd
}

// splitPipelines accepts "p1,p2", "p1 p2" and mixtures of both.
func splitPipelines(args []string) []string {
	var out []string
	for _, a := range args {
		for _, p := range strings.Split(a, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}

	return out
}

func runJobs(g *globalFlags, action string, args []string) error {
	pipelines := splitPipelines(args)
	if action != "list" && len(pipelines) == 0 {
		return fmt.Errorf("incorrect command usage, should be: rr jobs %s pipe1,pipe2", action)
	}

	client, err := rpcclient.New(g.cfgFile, g.overrides)
	if err != nil {
		return err
	}
	defer func() { _ = client.Close() }()

	return jobsAction(os.Stdout, client, action, pipelines, g.silent)
}

func jobsAction(w io.Writer, client *rpc.Client, action string, pipelines []string, silent bool) error {
	var shown []string

	switch action {
	case "list":
		resp := &jobsv1.Pipelines{}
		if err := client.Call(jobsList, &jobsv1.Empty{}, resp); err != nil {
			return fmt.Errorf("%s: %w", jobsList, err)
		}
		pipelinesNamesTable(w, resp.GetPipelines()).Render()

		return nil

	case "destroy":
		resp := &jobsv1.Pipelines{}
		if err := client.Call(jobsDestroy, &jobsv1.Pipelines{Pipelines: pipelines}, resp); err != nil {
			return fmt.Errorf("%s: %w", jobsDestroy, err)
		}
		shown = resp.GetPipelines()

	case "pause", "resume":
		method := jobsPause
		if action == "resume" {
			method = jobsResume
		}
		if err := client.Call(method, &jobsv1.Pipelines{Pipelines: pipelines}, &jobsv1.Empty{}); err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
		shown = pipelines

	default:
		return fmt.Errorf("unknown jobs action %q", action)
	}

	if !silent {
		pipelinesNamesTable(w, shown).Render()
	}

	return nil
}

func pipelinesNamesTable(w io.Writer, pipelines []string) *tablewriter.Table {
	tw := tablewriter.NewWriter(w)
	tw.SetAutoWrapText(false)
	tw.SetHeader([]string{"Pipeline(s)"})
	tw.SetColWidth(50)
	tw.SetAlignment(tablewriter.ALIGN_LEFT)

	for _, p := range pipelines {
		tw.Append([]string{p})
	}

	return tw
}
