package pivot

import (
	"context"
	"os/exec"
	"strings"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/pool"
	"github.com/roadrunner-server/errors"
	"go.uber.org/zap"
)

const (
	envMode  = "RR_MODE"
	modeHTTP = "http"
)

// startGeneration starts a new generation of workers (see poolHandle).
func (p *Plugin) startGeneration() (*poolHandle, error) {
	ctx, cancel := context.WithCancel(context.Background())
	pl, err := p.newPool(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	return newPoolHandle(pl, ctx, cancel), nil
}

// newPool starts the plugin's own sdk/v4 static pool over pipes, or over a socket for a socket
// server.relay (see Server for why it is not created through the server plugin). The pool
// spawns every later worker under ctx.
func (p *Plugin) newPool(ctx context.Context) (*pool.Pool, error) {
	const op = errors.Op("pivot_new_pool")
	env := map[string]string{envMode: modeHTTP}
	factory := pool.NewPipeFactory(p.log)
	if p.sockets != nil {
		// pivot's own listener (internal/pool/relay_socket.go); this env comes last, so it wins
		env[pool.EnvRelay] = p.sockets.Relay()
		factory = p.sockets
	}
	base := p.server.CmdFactory(env)
	command := func(override []string) *exec.Cmd {
		cmd := base()
		if cmd == nil || len(override) == 0 {
			return cmd
		}
		// pivot.pool.command overrides server.command; keep the server's env, user and process group.
		args := override
		if len(args) == 1 {
			args = strings.Fields(args[0])
		}
		custom := exec.Command(args[0], args[1:]...) //nolint:gosec // the command comes from the operator's config
		custom.Env = cmd.Env
		custom.SysProcAttr = cmd.SysProcAttr
		custom.Dir = cmd.Dir
		return custom
	}

	// each generation gets its own copy: the sdk pool mutates its config, and the size may
	// have been changed at run time through the informer
	cfg := *p.cfg.Pool
	if cfg.Supervisor != nil {
		sv := *cfg.Supervisor
		cfg.Supervisor = &sv
	}
	cfg.NumWorkers = p.workerTarget.Load()
	var pipeline *pool.Pipeline
	if p.cfg.Pipeline {
		pipeline = pool.NewPipeline(p.cfg.PipelineWindow, p.cfg.PipelinePauseAfter, p.cfg.PipelinePause, p.metrics.pipelined, p.metrics.pipelinePauses)
	}
	pl, err := pool.New(ctx, command, factory, &cfg, pipeline, p.log)
	if err != nil {
		return nil, errors.E(op, err)
	}
	p.log.Debug("worker pool started", zap.Uint64("num_workers", cfg.NumWorkers))
	return pl, nil
}
