package main

import (
	"bytes"
	"fmt"
	"io"
	"net/rpc"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"syscall"
	"time"

	tm "github.com/buger/goterm"
	"github.com/dustin/go-humanize"
	"github.com/fatih/color"
	"github.com/olekukonko/tablewriter"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/cmd/rr/internal/rpcclient"
	jobsApi "github.com/roadrunner-server/api/v4/plugins/v3/jobs"
	"github.com/roadrunner-server/informer/v4"
	"github.com/roadrunner-server/sdk/v4/state/process"
	"github.com/spf13/cobra"
)

const (
	informerList    = "informer.List"
	informerWorkers = "informer.Workers"
	informerJobs    = "informer.Jobs"
	// the service plugin's workers are raw processes: shown with their command
	servicePluginName = "service"
)

func newWorkersCommand(g *globalFlags) *cobra.Command {
	var interactive bool

	cmd := &cobra.Command{
		Use:   "workers [plugin...]",
		Short: "Show information about active RoadRunner workers",
		RunE: func(_ *cobra.Command, args []string) error {
			client, err := rpcclient.New(g.cfgFile, g.overrides)
			if err != nil {
				return err
			}
			defer func() { _ = client.Close() }()

			names, err := pluginNames(client, args, informerList)
			if err != nil {
				return err
			}

			if !interactive {
				return showWorkers(os.Stdout, client, names)
			}

			return showWorkersInteractive(client, names)
		},
	}

	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "render the workers table every second until Ctrl-C")

	return cmd
}

// showWorkersInteractive redraws the tables every second until SIGINT/SIGTERM.
func showWorkersInteractive(client *rpc.Client, names []string) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)

	tm.Clear()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()

	for {
		var frame bytes.Buffer
		if err := showWorkers(&frame, client, names); err != nil {
			return err
		}

		// cursor home, the frame, then clear whatever the previous frame left below
		tm.MoveCursor(1, 1)
		_, _ = tm.Output.WriteString(tm.Screen.String())
		tm.Screen.Reset()
		_, _ = tm.Output.Write(frame.Bytes())
		_, _ = tm.Output.WriteString("\033[J")
		_ = tm.Output.Flush()

		select {
		case <-sig:
			return nil
		case <-tick.C:
		}
	}
}

// showWorkers prints one workers table per plugin with workers, then one
// jobs pipelines table per plugin reporting pipelines.
func showWorkers(w io.Writer, client *rpc.Client, names []string) error {
	for _, name := range names {
		list := &informer.WorkerList{}
		if err := client.Call(informerWorkers, name, list); err != nil {
			return fmt.Errorf("%s %s: %w", informerWorkers, name, err)
		}

		if len(list.Workers) == 0 {
			continue
		}

		_, _ = fmt.Fprintf(w, "Workers of [%s]:\n", color.HiYellowString(name))
		if name == servicePluginName {
			serviceTable(w, list.Workers).Render()
		} else {
			workersTable(w, list.Workers).Render()
		}
	}

	for _, name := range names {
		var states []*jobsApi.State
		if err := client.Call(informerJobs, name, &states); err != nil {
			return fmt.Errorf("%s %s: %w", informerJobs, name, err)
		}

		if len(states) == 0 {
			continue
		}

		_, _ = fmt.Fprintf(w, "Jobs of [%s]:\n", color.HiYellowString(name))
		pipelinesTable(w, states).Render()
	}

	return nil
}

func workersTable(w io.Writer, workers []*process.State) *tablewriter.Table {
	sort.Slice(workers, func(i, j int) bool { return workers[i].Pid < workers[j].Pid })

	tw := tablewriter.NewWriter(w)
	tw.SetHeader([]string{"PID", "Status", "Execs", "Memory", "CPU%", "Created"})
	for i, width := range []int{7, 9, 7, 7, 7, 18} {
		tw.SetColMinWidth(i, width)
	}

	now := time.Now()
	for _, s := range workers {
		tw.Append([]string{
			strconv.FormatInt(s.Pid, 10),
			renderStatus(s.StatusStr),
			humanize.Comma(int64(s.NumExecs)), //nolint:gosec
			humanize.Bytes(s.MemoryUsage),
			renderCPU(s.CPUPercent),
			humanize.RelTime(time.Unix(0, s.Created), now, "ago", ""),
		})
	}

	return tw
}

func serviceTable(w io.Writer, workers []*process.State) *tablewriter.Table {
	sort.Slice(workers, func(i, j int) bool { return workers[i].Pid < workers[j].Pid })

	tw := tablewriter.NewWriter(w)
	tw.SetAutoWrapText(false)
	tw.SetAlignment(tablewriter.ALIGN_LEFT)
	tw.SetHeader([]string{"PID", "Memory", "CPU%", "Command"})
	for i, width := range []int{7, 7, 7, 18} {
		tw.SetColMinWidth(i, width)
	}

	for _, s := range workers {
		tw.Append([]string{
			strconv.FormatInt(s.Pid, 10),
			humanize.Bytes(s.MemoryUsage),
			renderCPU(s.CPUPercent),
			s.Command,
		})
	}

	return tw
}

func pipelinesTable(w io.Writer, states []*jobsApi.State) *tablewriter.Table {
	sort.Slice(states, func(i, j int) bool { return states[i].Pipeline < states[j].Pipeline })

	tw := tablewriter.NewWriter(w)
	tw.SetAutoWrapText(false)
	tw.SetAlignment(tablewriter.ALIGN_LEFT)
	tw.SetHeader([]string{"Status", "Pipeline", "Driver", "Queue", "Active", "Delayed", "Reserved"})

	for _, s := range states {
		status := "READY"
		if !s.Ready {
			status = "PAUSED/STOPPED"
		}

		tw.Append([]string{
			status,
			s.Pipeline,
			s.Driver,
			s.Queue,
			strconv.FormatInt(s.Active, 10),
			strconv.FormatInt(s.Delayed, 10),
			strconv.FormatInt(s.Reserved, 10),
		})
	}

	return tw
}

func renderCPU(cpu float64) string { return strconv.FormatFloat(cpu, 'f', 2, 64) }

func renderStatus(status string) string {
	switch status {
	case "ready":
		return color.CyanString(status)
	case "working":
		return color.GreenString(status)
	case "inactive", "invalid":
		return color.YellowString(status)
	case "stopped", "errored":
		return color.RedString(status)
	default:
		return status
	}
}

// pluginNames returns the plugins named on the command line, or, when none is, every plugin
// listMethod (informer.List, resetter.List) reports, sorted.
func pluginNames(client *rpc.Client, args []string, listMethod string) ([]string, error) {
	if len(args) > 0 {
		return args, nil
	}
	var names []string
	if err := client.Call(listMethod, true, &names); err != nil {
		return nil, fmt.Errorf("%s: %w", listMethod, err)
	}
	sort.Strings(names)
	return names, nil
}
