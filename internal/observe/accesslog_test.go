package observe

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
		if bufferedAccessLogger(c) != nil {
			t.Errorf("%+v: buffered", c)
		}
	}
}
