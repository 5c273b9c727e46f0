package supervisor

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/pool"
	"github.com/roadrunner-server/errors"
	sdkpool "github.com/roadrunner-server/sdk/v4/pool"
	"go.uber.org/zap"
)

const (
	envMode  = "RR_MODE"
	modeHTTP = "http"

	// MaxWorkers is the capacity of the sdk/v4 worker channel: a larger pool would block.
	MaxWorkers uint64 = 1000
)

// Options is what the supervisor needs to start generations of workers.
type Options struct {
	// Pool is the sdk/v4 pool configuration; every generation starts from a copy of it.
	Pool *sdkpool.Config
	// Restart is pivot.restart: how a pool that cannot start or keeps dying is restarted.
	Restart *RestartConfig
	// Pipeline is pivot.pipeline's settings; nil when pipelining is off.
	Pipeline *Pipeline
	// Command builds a worker command with RoadRunner's environment plus env (the server
	// plugin's CmdFactory).
	Command func(env map[string]string) func() *exec.Cmd
	Metrics Metrics
	// Stderr takes the workers' stderr (pivot.worker_logs); nil: sdk/v4 logs it.
	Stderr pool.StderrSink
}

// Pipeline is pivot.pipeline's settings and counters (internal/pool.NewPipeline).
type Pipeline struct {
	Window, PauseAfter, Pause time.Duration
	Queued, Pauses            pool.Counter
}

// Metrics counts what the supervisor does (the plugin's Prometheus counters).
type Metrics interface {
	// RestartFailed counts a pool that failed to start or was restarted because it kept failing.
	RestartFailed()
	// ResetDone counts a completed zero-downtime reset.
	ResetDone()
}

// Supervisor owns the serving generation of workers.
type Supervisor struct {
	opts Options
	log  *zap.Logger

	// current is the serving generation, read on every request without a lock; nil before the
	// first start and while a failed pool is restarted.
	current atomic.Pointer[Generation]
	// outage says why no generation serves (nil when one does).
	outage atomic.Pointer[outage]
	// mu serialises swaps of current (start, reset, crash recovery, stop).
	mu           sync.Mutex
	workerTarget atomic.Uint64
	resetting    atomic.Bool
	stopping     atomic.Bool

	// sockets accepts the workers' connections for a socket server.relay; nil for pipes.
	sockets  *pool.SocketFactory
	stopCh   chan struct{}
	stopOnce sync.Once
	done     sync.WaitGroup

	// mem is the workers' RSS timeline (observe.go)
	mem memoryTimeline
}

// New returns a supervisor that has started nothing yet: until Start's first generation
// serves, Acquire returns nil and Unavailable says "starting".
func New(opts Options, log *zap.Logger) *Supervisor {
	s := &Supervisor{opts: opts, log: log, stopCh: make(chan struct{})}
	s.workerTarget.Store(opts.Pool.NumWorkers)
	s.setOutage("starting", time.Now())
	return s
}

// Start starts the first generation and watches it from then on (restart.go). Workers connect
// over sockets when it is not nil (a socket server.relay), else over pipes. The channel gets
// an error when pivot.restart.max_consecutive_failures is reached.
func (s *Supervisor) Start(sockets *pool.SocketFactory) <-chan error {
	failed := make(chan error, 1)
	s.sockets = sockets
	s.done.Add(2)
	go s.sampleMemory()
	go func() {
		defer s.done.Done()
		if err := s.watch(); err != nil {
			failed <- err
		}
	}()
	return failed
}

// Acquire returns the serving generation with a request registered on it, or nil while none
// serves (the supervisor is restarting workers, or stopping). The caller releases it.
func (s *Supervisor) Acquire() *Generation {
	for {
		g := s.current.Load()
		if g == nil {
			return nil
		}
		if g.acquire() {
			return g
		}
		// retired between the load and the acquire: a reset swapped in a new generation
	}
}

// Unavailable is the Retry-After of a 503 while no generation serves, and whether the
// supervisor is stopping.
func (s *Supervisor) Unavailable() (retryAfter int, stopping bool) {
	retryAfter = 1
	if o := s.outage.Load(); o != nil {
		retryAfter = o.retryAfterSeconds()
	}
	return retryAfter, s.stopping.Load()
}

// Health is nil while at least one worker is alive, else why none is.
func (s *Supervisor) Health() error {
	if g := s.current.Load(); g != nil && g.activeWorkers() > 0 {
		return nil
	}
	if o := s.outage.Load(); o != nil {
		return errors.Str(fmt.Sprintf("pivot: not ready: %s; next attempt in %ds", o.reason, o.retryAfterSeconds()))
	}
	return errors.Str("pivot: not ready: no live worker")
}

// Stopping reports whether Drain was called.
func (s *Supervisor) Stopping() bool { return s.stopping.Load() }

// Drain says the plugin is stopping: no restart or reset starts from now on, and a 503 says so.
func (s *Supervisor) Drain() {
	s.stopping.Store(true)
	s.stopOnce.Do(func() { close(s.stopCh) })
}

// Stop retires the serving generation (its requests finish until ctx ends) and waits for the
// watch to end. Call Drain first, and Stop once the front no longer takes requests.
func (s *Supervisor) Stop(ctx context.Context) {
	s.Drain()
	s.mu.Lock()
	g := s.current.Swap(nil)
	s.mu.Unlock()
	if g != nil {
		g.retire(ctx)
	}
	s.done.Wait()
}

// startGeneration starts a new generation of workers.
func (s *Supervisor) startGeneration() (*Generation, error) {
	ctx, cancel := context.WithCancel(context.Background())
	pl, err := s.newPool(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	return newGeneration(pl, ctx, cancel), nil
}

// newPool starts an sdk/v4 static pool (internal/pool) over pipes, or over a socket for a
// socket server.relay. The pool spawns every later worker under ctx. The plugin builds its own
// pool rather than asking the server plugin for one: the server plugin destroys the pools it
// made in its own Stop, concurrently with pivot's drain, and resets swap whole generations.
func (s *Supervisor) newPool(ctx context.Context) (*pool.Pool, error) {
	const op = errors.Op("pivot_new_pool")
	env := map[string]string{envMode: modeHTTP}
	factory := pool.NewPipeFactory(s.log, s.opts.Stderr)
	if s.sockets != nil {
		// pivot's own listener (internal/pool/relay_socket.go); this env comes last, so it wins
		env[pool.EnvRelay] = s.sockets.Relay()
		factory = s.sockets
	}
	base := s.opts.Command(env)
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
	cfg := *s.opts.Pool
	if cfg.Supervisor != nil {
		sv := *cfg.Supervisor
		cfg.Supervisor = &sv
	}
	cfg.NumWorkers = s.workerTarget.Load()
	var pipeline *pool.Pipeline
	if pp := s.opts.Pipeline; pp != nil {
		pipeline = pool.NewPipeline(pp.Window, pp.PauseAfter, pp.Pause, pp.Queued, pp.Pauses)
	}
	pl, err := pool.New(ctx, command, factory, &cfg, pipeline, s.log)
	if err != nil {
		return nil, errors.E(op, err)
	}
	s.log.Debug("worker pool started", zap.Uint64("num_workers", cfg.NumWorkers))
	return pl, nil
}

// abandonNow destroys a failing generation within destroy_timeout (see Generation.abandon).
func (s *Supervisor) abandonNow(g *Generation) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Pool.DestroyTimeout)
	defer cancel()
	g.abandon(ctx)
}
