package amqp

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roadrunner-server/api/v4/plugins/v3/jobs"
	"github.com/roadrunner-server/config/v4"
	jobsImpl "github.com/roadrunner-server/jobs/v4"
	priorityqueue "github.com/roadrunner-server/sdk/v4/priority_queue"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// testLog is a Logger for the plugin: silent unless AMQP_TEST_LOG is a zap level (debug, info,
// warn, error), then on stderr.
type testLog struct{ l *zap.Logger }

func (t testLog) NamedLogger(name string) *zap.Logger { return t.l.Named(name) }

func newTestLog() testLog {
	lvl := os.Getenv("AMQP_TEST_LOG")
	if lvl == "" {
		return testLog{zap.NewNop()}
	}
	var level zapcore.Level
	if err := level.Set(lvl); err != nil {
		level = zapcore.DebugLevel
	}
	cfg := zap.NewDevelopmentConfig()
	cfg.Level = zap.NewAtomicLevelAt(level)
	l, _ := cfg.Build()
	return testLog{l}
}

// newConfig is RoadRunner's config plugin on an in-memory .rr.yaml.
func newConfig(t *testing.T, yaml string) *config.Plugin {
	t.Helper()
	cfg := &config.Plugin{ReadInCfg: []byte(yaml), Type: "yaml", Version: "2023.3.12"}
	if err := cfg.Init(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// pipelines reads jobs.pipelines the way the jobs plugin does (Config.InitDefaults).
func pipelines(t *testing.T, cfg *config.Plugin) map[string]jobsImpl.Pipeline {
	t.Helper()
	var out map[string]jobsImpl.Pipeline
	if err := cfg.UnmarshalKey("jobs.pipelines", &out); err != nil {
		t.Fatal(err)
	}
	for name, p := range out {
		p.With("name", name)
		p.With("priority", int64(p.Int("priority", 10)))
	}
	return out
}

func newPlugin(t *testing.T, cfg *config.Plugin) *Plugin {
	t.Helper()
	p := &Plugin{}
	if err := p.Init(cfg, newTestLog()); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return p
}

// instance is one "rr instance" in a test: the plugin, rr's priority queue and a driver per
// pipeline, built from a .rr.yaml through DriverFromConfig as the jobs plugin does.
type instance struct {
	t       *testing.T
	plugin  *Plugin
	pq      *priorityqueue.BinHeap[jobs.Job]
	drivers map[string]*Driver
}

func newInstance(t *testing.T, yaml string) *instance {
	t.Helper()
	cfg := newConfig(t, yaml)
	in := &instance{
		t:       t,
		plugin:  newPlugin(t, cfg),
		pq:      priorityqueue.NewBinHeap[jobs.Job](1_000_000),
		drivers: map[string]*Driver{},
	}
	for name, p := range pipelines(t, cfg) {
		d, err := in.plugin.DriverFromConfig("jobs.pipelines."+name+".config", in.pq, p, nil)
		if err != nil {
			t.Fatalf("DriverFromConfig(%s): %v", name, err)
		}
		in.drivers[name] = d.(*Driver)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = d.Stop(ctx)
		})
	}
	return in
}

func (in *instance) driver(name string) *Driver {
	d, ok := in.drivers[name]
	if !ok {
		in.t.Fatalf("no pipeline %s", name)
	}
	return d
}

func (in *instance) run(name string) {
	in.t.Helper()
	if err := in.driver(name).Run(context.Background(), jobsImpl.Pipeline{"name": name, "driver": "amqp"}); err != nil {
		in.t.Fatalf("Run(%s): %v", name, err)
	}
}

// job is a jobs.Message as the jobs plugin hands it to Push.
func job(pipeline, id string, opts ...func(*jobsImpl.Job)) *jobsImpl.Job {
	j := &jobsImpl.Job{
		Job:     "App\\Jobs\\Test",
		Ident:   id,
		Pld:     []byte("payload-" + id),
		Hdr:     map[string][]string{"x-test": {"yes"}},
		Options: &jobsImpl.Options{Priority: 10, Pipeline: pipeline},
	}
	for _, o := range opts {
		o(j)
	}
	return j
}

func withDelay(s int64) func(*jobsImpl.Job) { return func(j *jobsImpl.Job) { j.Options.Delay = s } }

func (in *instance) push(name string, jobs ...*jobsImpl.Job) {
	in.t.Helper()
	for _, j := range jobs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := in.driver(name).Push(ctx, j)
		cancel()
		if err != nil {
			in.t.Fatalf("Push(%s): %v", j.ID(), err)
		}
	}
}

// stopItem ends a worker loop.
type stopItem struct{}

func (stopItem) ID() string                               { return "__stop__" }
func (stopItem) GroupID() string                          { return "__stop__" }
func (stopItem) Priority() int64                          { return -1 << 62 }
func (stopItem) Ack() error                               { return nil }
func (stopItem) Nack() error                              { return nil }
func (stopItem) Requeue(map[string][]string, int64) error { return nil }
func (stopItem) Body() []byte                             { return nil }
func (stopItem) Context() ([]byte, error)                 { return nil, nil }
func (stopItem) Headers() map[string][]string             { return nil }

// worker is the jobs plugin's poller in small: take the job with the lowest priority value out
// of rr's queue, ask for its Context (as the jobs plugin does before a worker runs it), hand it
// to handle.
type worker struct {
	pq   *priorityqueue.BinHeap[jobs.Job]
	wg   sync.WaitGroup
	once sync.Once
}

func (in *instance) work(n int, handle func(*Item)) *worker {
	w := &worker{pq: in.pq}
	for i := 0; i < n; i++ {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for {
				j := w.pq.ExtractMin()
				if _, ok := j.(stopItem); ok {
					return
				}
				it := j.(*Item)
				if _, err := it.Context(); err != nil {
					in.t.Errorf("Context: %v", err)
				}
				handle(it)
			}
		}()
	}
	in.t.Cleanup(func() {
		if !w.stop(n, 10*time.Second) {
			in.t.Errorf("workers still busy 10s after the test")
		}
	})
	return w
}

// stop ends the workers; false if they did not finish their jobs within timeout.
func (w *worker) stop(n int, timeout time.Duration) bool {
	done := make(chan struct{})
	w.once.Do(func() {
		for i := 0; i < n; i++ {
			w.pq.Insert(stopItem{})
		}
		go func() { w.wg.Wait(); close(done) }()
	})
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// collector records the jobs a worker saw.
type collector struct {
	mu    sync.Mutex
	items []*Item
	ids   map[string]int
	ch    chan *Item
}

func newCollector() *collector {
	return &collector{ids: map[string]int{}, ch: make(chan *Item, 10_000)}
}

func (c *collector) add(it *Item) {
	c.mu.Lock()
	c.items = append(c.items, it)
	c.ids[it.ID()]++
	c.mu.Unlock()
	c.ch <- it
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// next waits for the next job.
func (c *collector) next(t *testing.T, timeout time.Duration) *Item {
	t.Helper()
	select {
	case it := <-c.ch:
		return it
	case <-time.After(timeout):
		t.Fatalf("no job within %s", timeout)
		return nil
	}
}

// none asserts no job arrives within d.
func (c *collector) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case it := <-c.ch:
		t.Fatalf("unexpected job %s (attempts %d)", it.ID(), it.Attempts())
	case <-time.After(d):
	}
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

func state(t *testing.T, d *Driver) *jobs.State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := d.State(ctx)
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	return st
}

// uniq makes queue names unique per test run (the broker is shared by the tests).
func uniq(t *testing.T) string {
	return strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())) + "-" + randomID()[:6]
}
