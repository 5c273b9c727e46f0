package pivot

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/roadrunner-server/api/v4/plugins/v1/status"
	"github.com/roadrunner-server/sdk/v4/state/process"
)

// The contracts other RoadRunner plugins collect pivot through. They are matched structurally
// by endure, so these guards make a signature drift a compile error instead of a plugin that
// silently disappears from `rr workers`, `rr reset`, /health or /metrics.
var (
	_ interface {
		Serve() chan error
		Stop(context.Context) error
		Name() string
	} = (*Plugin)(nil)
	_ interface{ Workers() []*process.State } = (*Plugin)(nil) // informer
	_ interface {
		AddWorker() error
		RemoveWorker(context.Context) error
	} = (*Plugin)(nil) // informer worker management
	_ interface{ Reset() error } = (*Plugin)(nil) // resetter
	_ interface {
		Status() (*status.Status, error)
		Ready() (*status.Status, error)
	} = (*Plugin)(nil) // status
	_ interface{ MetricsCollector() []prometheus.Collector } = (*Plugin)(nil) // metrics
	_ interface{ RPC() any }                                 = (*Plugin)(nil) // rpc
)
