package main

import (
	"bytes"
	"strings"
	"testing"
)

// The jobs section's ratios and notes come from its rows; a failed row is shown as such.
func TestJobsReport(t *testing.T) {
	jb := &jobsBench{Count: 100, Broker: "RabbitMQ 3.10.8", Ratios: map[string]float64{}, Rows: []*jobsRow{
		{Driver: "memory", Phase: "rpc", Workers: 1, Jobs: 100, Seconds: 0.02, Rate: 5000},
		{Driver: "memory", Phase: "push", Workers: 1, Jobs: 100, Seconds: 0.025, Rate: 4000},
		{Driver: "memory", Phase: "consume", Workers: 1, Jobs: 100, Seconds: 0.01, Rate: 10000, CPUPHP: 30, CPURR: 80, PHPBusy: 30},
		{Driver: "memory", Phase: "push", Workers: 2, Jobs: 100, Seconds: 0.0125, Rate: 8000},
		{Driver: "memory", Phase: "consume", Workers: 2, Jobs: 100, Seconds: 0.005, Rate: 20000, CPUPHP: 30, CPURR: 50, PHPBusy: 25},
		{Driver: "amqp", Phase: "rpc", Workers: 1, Jobs: 100, Seconds: 0.02, Rate: 5000},
		{Driver: "amqp", Phase: "push", Workers: 1, Jobs: 100, Seconds: 0.05, Rate: 2000},
		{Driver: "amqp", Phase: "consume", Workers: 1, Failed: "broker gone"},
	}}
	jb.summarize()

	var out bytes.Buffer
	printJobs(&out, jb)
	got := out.String()
	for _, want := range []string{
		"amqp on RabbitMQ 3.10.8",
		"memory push: one PHP worker pushes 4000/s = 250 µs per push, against 200 µs for an RPC round trip (jobs.List, 5000/s): the driver's push adds 50 µs",
		"memory push: 2 PHP workers push 2.00× what one does",
		"memory consume, no-op handler: 1 jobs worker 10000/s, 2 workers 2.00× that; per job 30 µs of PHP CPU against 80 µs of rr's: the PHP workers are busy 30% / 25%",
		"amqp push: one PHP worker pushes 2000/s = 500 µs per push",
		"failed: broker gone",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if jb.Ratios["push w1"] != 0.5 || jb.Ratios["rpc w1"] != 1 {
		t.Errorf("ratios: %v", jb.Ratios)
	}
	if strings.Contains(got, "amqp consume") {
		t.Errorf("a note from a failed row:\n%s", got)
	}
}
