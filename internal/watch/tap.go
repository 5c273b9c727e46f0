package watch

import (
	"strings"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// maxTapped bounds the worker output a failed reload shows.
const maxTapped = 20

// tap records what the workers print on stderr while a reload runs (internal/observe/workerlog
// logs each line through the logger Wrap gives), so that a reset that fails because the new
// workers die at boot shows PHP's own message ("PHP Fatal error: Uncaught ...") rather than the
// pool's "EOF".
type tap struct {
	mu    sync.Mutex
	on    bool
	lines []string
}

var _ zapcore.Core = (*tap)(nil)

// Wrap tees log into the tap; the supervisor's pool logs through the result.
func (r *Reloader) Wrap(log *zap.Logger) *zap.Logger {
	return zap.New(zapcore.NewTee(log.Core(), r.tap))
}

func (t *tap) start() {
	t.mu.Lock()
	t.on, t.lines = true, nil
	t.mu.Unlock()
}

// stop ends the recording and returns what was recorded.
func (t *tap) stop() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.on = false
	out := t.lines
	t.lines = nil
	return out
}

func (t *tap) Enabled(zapcore.Level) bool        { return true }
func (t *tap) With([]zapcore.Field) zapcore.Core { return t }
func (t *tap) Sync() error                       { return nil }

func (t *tap) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	return ce.AddCore(e, t)
}

func (t *tap) Write(e zapcore.Entry, _ []zapcore.Field) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.on || len(t.lines) >= maxTapped {
		return nil
	}
	msg := strings.TrimSpace(e.Message)
	low := strings.ToLower(msg)
	// the workers' stderr, not pivot's own messages
	if strings.HasPrefix(low, "reset") || strings.HasPrefix(low, "reload") || strings.HasPrefix(low, "pivot") {
		return nil
	}
	if strings.Contains(low, "error") || strings.Contains(low, "exception") || strings.Contains(low, "php ") {
		t.lines = append(t.lines, msg)
	}
	return nil
}
