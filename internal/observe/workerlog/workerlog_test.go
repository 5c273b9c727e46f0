package workerlog

import (
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func newSink(t *testing.T, cfg Config) (*Sink, *observer.ObservedLogs) {
	t.Helper()
	cfg.InitDefaults()
	if err := cfg.Valid(); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	s := New(&cfg, zap.New(core))
	t.Cleanup(s.Close)
	return s, logs
}

func waitLogs(t *testing.T, logs *observer.ObservedLogs, n int) []observer.LoggedEntry {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for logs.Len() < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d log lines, want %d: %v", logs.Len(), n, logs.All())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return logs.All()
}

// Lines written while a request ran carry its id even when they are read after it ended; a line
// written once the worker is idle carries none.
func TestLinesCarryTheRequestTheyWereWrittenDuring(t *testing.T) {
	s, logs := newSink(t, Config{})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// the reader starts only after every mark, so every line is read after its request ended
	tap := newTap(s, 42, r)
	// (newTap: the reader is not started yet)
	_, _ = w.WriteString("before any request\n")
	tap.Begin([]byte("req-A"))
	_, _ = w.WriteString(`{"level":"warning","msg":"from A","user":7}` + "\n")
	tap.End()
	time.Sleep(5 * closeEvery) // the closer ends A's span: a line written now is no request's
	_, _ = w.WriteString("between\n")
	tap.Begin([]byte("req-B"))
	_, _ = w.WriteString("plain from B\npartial ")
	tap.End()
	_, _ = w.WriteString("line ends later\n")
	_ = w.Close()
	go tap.read()

	all := waitLogs(t, logs, 4)
	want := []struct {
		msg, id string
		lvl     zapcore.Level
	}{
		{"before any request", "", zapcore.InfoLevel},
		{"from A", "req-A", zapcore.WarnLevel},
		{"between", "", zapcore.InfoLevel},
		{"plain from B", "req-B", zapcore.InfoLevel},
		{"partial line ends later", "req-B", zapcore.InfoLevel},
	}
	all = waitLogs(t, logs, len(want))
	for i, w := range want {
		e := all[i]
		ctx := e.ContextMap()
		if e.Message != w.msg || e.Level != w.lvl || ctx["pid"] != int64(42) {
			t.Errorf("line %d: %q at %s %v, want %q at %s", i, e.Message, e.Level, ctx, w.msg, w.lvl)
		}
		if got, _ := ctx["request_id"].(string); got != w.id {
			t.Errorf("line %d (%q): request_id %q, want %q", i, e.Message, got, w.id)
		}
	}
	if ctx := all[1].ContextMap(); ctx["user"] != float64(7) || ctx["php_level"] != "warning" {
		t.Errorf("JSON line's fields: %v", ctx)
	}
}

func TestLongLinesAreCutAndFloodsDropped(t *testing.T) {
	s, logs := newSink(t, Config{MaxLine: 100, Buffer: 4, Level: "debug"})
	r, w, _ := os.Pipe()
	tap := s.Watch(1, r)
	_ = tap
	_, _ = w.WriteString(strings.Repeat("x", 1000) + "\nshort\n")
	all := waitLogs(t, logs, 2)
	if len(all[0].Message) != 100 || all[0].ContextMap()["truncated"] != true || all[0].Level != zapcore.DebugLevel {
		t.Errorf("long line: %d bytes, %v", len(all[0].Message), all[0].ContextMap())
	}
	if all[1].Message != "short" {
		t.Errorf("line after the long one: %q", all[1].Message)
	}

	// a flood: the writer never blocks on the log (the pipe is drained), extra lines are dropped
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200000; i++ {
			_, _ = w.WriteString("flood line\n")
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the writer blocked")
	}
	_ = w.Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.Dropped() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("dropped %d of 200000", s.Dropped())
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	for _, c := range []Config{{Level: "loud"}, {MaxLine: 10}, {Buffer: -1}} {
		c.InitDefaults()
		if err := c.Valid(); err == nil || !strings.Contains(err.Error(), "pivot.worker_logs.") {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// BenchmarkBeginEnd is what pivot.worker_logs.request_ids adds to a request (two ioctls).
func BenchmarkBeginEnd(b *testing.B) {
	cfg := Config{}
	cfg.InitDefaults()
	_ = cfg.Valid()
	s := New(&cfg, zap.NewNop())
	defer s.Close()
	r, w, _ := os.Pipe()
	defer w.Close()
	tap := s.Watch(1, r)
	id := []byte("0123456789abcdef")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		tap.Begin(id)
		tap.End()
	}
}

func TestPHPErrorLinesKeepTheirSeverity(t *testing.T) {
	s, logs := newSink(t, Config{Level: "debug"})
	r, w, _ := os.Pipe()
	s.Watch(7, r)
	_, _ = w.WriteString("PHP Fatal error:  Uncaught Error: x\nPHP Warning:  y\nDeprecated: z\nStack trace:\n")
	_ = w.Close()
	all := waitLogs(t, logs, 4)
	for i, want := range []zapcore.Level{zapcore.ErrorLevel, zapcore.WarnLevel, zapcore.InfoLevel, zapcore.DebugLevel} {
		if all[i].Level != want {
			t.Errorf("%q at %s, want %s", all[i].Message, all[i].Level, want)
		}
	}
}
