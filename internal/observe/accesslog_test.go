package observe

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	rrlogger "github.com/roadrunner-server/logger/v4"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// The access log is built from RoadRunner's logs configuration, its output buffered: nothing
// is written per line, everything by Shutdown; the lines are RoadRunner's (production: JSON,
// the logger pivot.access, durations in seconds).
func TestBufferedAccessLog(t *testing.T) {
	out := filepath.Join(t.TempDir(), "access.log")
	logs := &rrlogger.Config{Mode: "production", Level: "info", Output: []string{out}}
	logs.InitDefault()
	o, err := New(Options{AccessLog: true, Logs: logs}, zap.NewNop().Named("pivot"))
	if err != nil {
		t.Fatal(err)
	}
	h := o.Middleware(func(c *fasthttp.RequestCtx) { o.Executed(c, 9, 1, 2, 3, false) })
	c := &fasthttp.RequestCtx{}
	for i := 0; i < 3; i++ {
		request(t, c, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
		h(c)
	}
	if b, _ := os.ReadFile(out); len(b) != 0 {
		t.Fatalf("written before a flush: %q", b)
	}
	if err := o.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3: %q", len(lines), b)
	}
	var l map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &l); err != nil {
		t.Fatal(err)
	}
	if l["logger"] != "pivot.access" || l["msg"] != "request" || l["path"] != "/b" || l["worker_pid"] != 9.0 || l["php"] != 1e-9 {
		t.Fatalf("line %v", l)
	}

	// an output RoadRunner's logger would open as a URL, or lumberjack's file logger: not buffered
	for _, c := range []*rrlogger.Config{
		{Mode: "production", Output: []string{"file:///tmp/x.log"}},
		{Mode: "production", FileLogger: &rrlogger.FileLoggerConfig{LogOutput: out}},
	} {
		if l, _ := bufferedAccessLogger(c); l != nil {
			t.Errorf("%+v: buffered", c)
		}
	}
}

// fixedClock is zap's clock at one instant.
type fixedClock struct{ at time.Time }

func (c fixedClock) Now() time.Time                         { return c.at }
func (c fixedClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }

// TestFastLineMatchesZap: the observer's access line is byte for byte the one zap writes from
// RoadRunner's production config (lines needing JSON escaping are zap's own); in another mode
// zap writes every line.
func TestFastLineMatchesZap(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 12, 6, 20, 0, 0, 123456789, time.UTC)
	for _, lineEnding := range []string{"", "\r\n"} {
		ref, fast := filepath.Join(dir, "ref.log"), filepath.Join(dir, "fast.log")
		_ = os.Remove(ref)
		_ = os.Remove(fast)
		cfg := &rrlogger.Config{Mode: "production", Level: "debug", LineEnding: lineEnding}
		cfg.InitDefault()
		refCfg, fastCfg := *cfg, *cfg
		refCfg.Output, fastCfg.Output = []string{ref}, []string{fast}
		refLog, err := refCfg.BuildLogger()
		if err != nil {
			t.Fatal(err)
		}
		refLog = refLog.WithOptions(zap.WithClock(fixedClock{at}), zap.WithCaller(false)).Named("pivot").Named("access")
		o, err := New(Options{AccessLog: true, Logs: &fastCfg}, zap.NewNop().Named("pivot"))
		if err != nil {
			t.Fatal(err)
		}
		if o.fast == nil {
			t.Fatal("production JSON: no fast line")
		}
		o.access = o.access.WithOptions(zap.WithClock(fixedClock{at})) // for the lines zap writes
		for _, a := range []accessFields{
			{id: []byte("0123456789abcdef0123456789abcdef"), method: []byte("GET"), path: []byte("/hello"), status: 200, bytes: 13, pid: 4242,
				wait: 12345, php: 2*time.Millisecond + 7, total: 3 * time.Second},
			{id: []byte("x"), method: []byte("PROPFIND"), path: []byte("/a%20b/~!$&'()*+,;=:@\x7f"), status: 503},
			{id: []byte(""), method: []byte("GET"), path: []byte("/q\"uote"), status: 404, bytes: -1, total: 1}, // zap's
			{id: []byte("i"), method: []byte("GET"), path: []byte("/\xff\xfe\n"), status: 400, wait: time.Hour}, // zap's
			{id: []byte("i"), method: []byte("GET"), path: []byte("/caf\xc3\xa9"), total: 999999999999},         // zap's
		} {
			a.at = at
			refLog.Info("request", zap.ByteString("request_id", a.id), zap.ByteString("method", a.method), zap.ByteString("path", a.path),
				zap.Int("status", a.status), zap.Int64("bytes", a.bytes), zap.Duration("queue_wait", a.wait), zap.Duration("php", a.php),
				zap.Duration("total", a.total), zap.Int64("worker_pid", a.pid))
			if !o.fast.write(&a) {
				o.logAccess(&state{}, &a)
			}
		}
		_ = refLog.Sync()
		if err := o.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(ref)
		got, _ := os.ReadFile(fast)
		if len(want) == 0 || string(got) != string(want) {
			t.Fatalf("line ending %q:\n zap:  %s\n ours: %s", lineEnding, want, got)
		}
	}

	dev := &rrlogger.Config{Mode: "development", Output: []string{filepath.Join(dir, "dev.log")}}
	dev.InitDefault()
	o, err := New(Options{AccessLog: true, Logs: dev}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if o.fast != nil {
		t.Fatal("development mode (console encoding) got the JSON fast line")
	}
	_ = o.Shutdown(context.Background())
}

// TestAppendSeconds: our seconds are strconv's shortest float formatting of d/1e9, for edge
// values and a million random durations up to a day.
func TestAppendSeconds(t *testing.T) {
	check := func(d time.Duration) {
		want := strconv.AppendFloat(nil, float64(d)/float64(time.Second), 'f', -1, 64)
		if got := appendSeconds(nil, d); string(got) != string(want) {
			t.Fatalf("%d ns: %s, want %s", int64(d), got, want)
		}
	}
	for _, d := range []time.Duration{0, 1, 9, 10, 999, 1000, 12345, 100000000, 999999999, 1e9, 1e9 + 1, 3e9, 1e15 - 1, 1e15, 1<<62 + 12345, -1, -1e9} {
		check(d)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1_000_000; i++ {
		check(time.Duration(rng.Int64N(int64(24 * time.Hour))))
		check(time.Duration(rng.Int64N(int64(10 * time.Millisecond))))
	}
}

// slowOutput is an output whose writes wait for release; entered is signalled when one starts.
type slowOutput struct {
	mu      sync.Mutex
	got     []byte
	writes  int
	entered chan struct{}
	release chan struct{}
}

func (o *slowOutput) Write(p []byte) (int, error) {
	select {
	case o.entered <- struct{}{}:
	default:
	}
	<-o.release
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, p...)
	o.writes++
	return len(p), nil
}

func (o *slowOutput) Sync() error { return nil }

// TestBufferedSinkNeverWritesOnTheRequest: while the output is stuck in a write, lines still
// queue at once (up to accessBacklog); beyond it a line waits rather than being lost; every
// line arrives, in order.
func TestBufferedSinkNeverWritesOnTheRequest(t *testing.T) {
	out := &slowOutput{entered: make(chan struct{}, 1), release: make(chan struct{})}
	s := newBufferedSink(out, nil)
	line := []byte(strings.Repeat("x", 1023) + "\n")
	var want []byte
	write := func(i int) {
		l := append([]byte(strconv.Itoa(i)+":"), line...)
		want = append(want, l...)
		if _, err := s.Write(l); err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	for ; i*1030 < accessBuffer; i++ { // 64 KB kick the writer, which blocks in the output
		write(i)
	}
	select {
	case <-out.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("64 KB queued and the writer did not write")
	}
	start := time.Now()
	for n := i + accessBacklog/1030 - 1; i < n; i++ { // just under the backlog: none waits
		write(i)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("queueing %d lines behind a stuck output took %v", i, d)
	}
	blocked := make(chan struct{})
	go func() {
		for j := 0; j < 200; j++ { // past the backlog: waits for the output
			write(i + j)
		}
		close(blocked)
	}()
	select {
	case <-blocked:
		t.Fatal("the backlog is unbounded: no line waited for the stuck output")
	case <-time.After(200 * time.Millisecond):
	}
	close(out.release)
	<-blocked
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	if string(out.got) != string(want) {
		t.Fatalf("wrote %d bytes in %d writes, want %d in order", len(out.got), out.writes, len(want))
	}
}
