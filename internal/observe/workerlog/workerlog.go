// Package workerlog turns what PHP workers write to stderr into log lines: each line is logged
// by zap with its worker's pid and, while the worker runs one, the request's id (X-Request-Id);
// a JSON line with `level` and `msg` (php/src/Log/StderrLogger.php writes them) is logged at
// its level with its other fields, a plain line at pivot.worker_logs.level. Lines are cut at
// max_line, and a worker that floods stderr is never blocked: the pipe is always drained, and
// lines the logger cannot keep up with are dropped and counted.
//
// internal/pool declares what it needs (StderrSink, StderrTap) and gives each worker's stderr
// pipe to Sink.Watch; the pool marks each request's start and end on the worker's Tap, and
// the tap tells by the pipe's byte offsets which request a line was written during (the
// ioctl FIONREAD at each mark says how much the worker had written by then), so a line read
// after its request ended still carries that request's id.
package workerlog

import (
	"bytes"
	"encoding/json"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// line is one stderr line on its way to the logger.
type line struct {
	pid       int64
	reqID     string
	text      []byte
	truncated bool
	at        time.Time
}

// Line is a logged line as the debug panel shows it.
type Line struct {
	Time      time.Time `json:"time"`
	Pid       int64     `json:"pid"`
	Level     string    `json:"level"`
	Text      string    `json:"text"`
	Truncated bool      `json:"truncated,omitempty"`
}

// Sink logs the stderr of every worker it watches; one per plugin.
type Sink struct {
	cfg     *Config
	log     *zap.Logger
	queue   chan line
	dropped atomic.Uint64
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup

	// recent keeps the last lines of recent requests for the debug panel (Lines), when Keep
	// was called.
	keep   atomic.Bool
	mu     sync.Mutex
	recent map[string][]Line
	order  []string

	// ends are the taps whose request ended and whose span the closer has to close
	endMu sync.Mutex
	ends  []*Tap
}

// closeEvery is how often the closer closes the spans of requests that ended on workers that
// took no other request since: a line written later than that after a response carries no id.
const closeEvery = 10 * time.Millisecond

const (
	keptRequests    = 512
	keptLinesPerReq = 32
)

// New starts the sink's logger goroutine; Close ends it.
func New(cfg *Config, log *zap.Logger) *Sink {
	s := &Sink{cfg: cfg, log: log, queue: make(chan line, cfg.Buffer), done: make(chan struct{}), recent: map[string][]Line{}}
	s.wg.Add(2)
	go s.run()
	go s.closer()
	return s
}

func (s *Sink) queueEnd(t *Tap) {
	s.endMu.Lock()
	s.ends = append(s.ends, t)
	s.endMu.Unlock()
}

// closer closes, off the request path, the spans End left open.
func (s *Sink) closer() {
	defer s.wg.Done()
	tick := time.NewTicker(closeEvery)
	defer tick.Stop()
	var batch []*Tap
	for {
		select {
		case <-s.done:
			return
		case <-tick.C:
		}
		s.endMu.Lock()
		batch, s.ends = s.ends, batch[:0]
		s.endMu.Unlock()
		for i, t := range batch {
			t.closeEnded()
			batch[i] = nil
		}
	}
}

// Keep makes the sink remember the last lines of recent requests (Lines).
func (s *Sink) Keep() { s.keep.Store(true) }

// Dropped is how many lines were dropped because the logger fell behind.
func (s *Sink) Dropped() uint64 { return s.dropped.Load() }

// Lines returns the stderr lines kept for a request id (Keep).
func (s *Sink) Lines(requestID string) []Line {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Line(nil), s.recent[requestID]...)
}

// Close logs what is queued and stops the logger goroutine; lines read later are dropped.
func (s *Sink) Close() {
	s.once.Do(func() { close(s.done) })
	s.wg.Wait()
}

// Watch reads a started worker's stderr (the read end of its pipe) until the worker and every
// process that inherited the pipe are gone, and returns the worker's tap.
func (s *Sink) Watch(pid int64, r *os.File) *Tap {
	t := newTap(s, pid, r)
	go t.read()
	return t
}

// enqueue never blocks: a full queue drops the line.
func (s *Sink) enqueue(l line) {
	select {
	case <-s.done:
		s.dropped.Add(1)
	case s.queue <- l:
	default:
		s.dropped.Add(1)
	}
}

func (s *Sink) run() {
	defer s.wg.Done()
	var reported uint64
	for {
		select {
		case l := <-s.queue:
			s.emit(l)
			if d := s.dropped.Load(); d != reported && len(s.queue) == 0 {
				s.log.Warn("worker stderr lines dropped: the log could not keep up (pivot.worker_logs.buffer)", zap.Uint64("dropped_total", d))
				reported = d
			}
		case <-s.done:
			for {
				select {
				case l := <-s.queue:
					s.emit(l)
				default:
					return
				}
			}
		}
	}
}

// reserved are the fields pivot sets itself; a JSON line's own are dropped for them.
var reserved = map[string]bool{"level": true, "msg": true, "message": true, "pid": true, "request_id": true}

// emit logs one line: a JSON object with level and msg keeps its fields, anything else is a
// plain line at the configured level.
func (s *Sink) emit(l line) {
	lvl, msg, fields := s.cfg.level, "", []zap.Field(nil)
	var obj map[string]any
	text := bytes.TrimRight(l.text, "\r")
	if !l.truncated && len(text) > 1 && text[0] == '{' && json.Unmarshal(text, &obj) == nil {
		m, okM := obj["msg"].(string)
		if !okM {
			m, okM = obj["message"].(string)
		}
		lv, okL := obj["level"].(string)
		if okM && okL {
			msg = m
			if parsed, ok := parseLevel(lv); ok {
				lvl = parsed
			}
			if l.reqID == "" {
				if id, ok := obj["request_id"].(string); ok {
					l.reqID = id
				}
			}
			keys := make([]string, 0, len(obj))
			for k := range obj {
				if !reserved[k] {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			fields = make([]zap.Field, 0, len(keys)+3)
			if lv != lvl.String() {
				fields = append(fields, zap.String("php_level", lv))
			}
			for _, k := range keys {
				fields = append(fields, zap.Any(k, obj[k]))
			}
		} else {
			obj = nil
		}
	}
	if obj == nil {
		msg = string(text)
		if l, ok := phpErrorLevel(text); ok {
			lvl = l
		}
	}
	shown := msg // the panel shows a JSON line's message, a plain line whole
	fields = append(fields, zap.Int64("pid", l.pid))
	if l.reqID != "" {
		fields = append(fields, zap.String("request_id", l.reqID))
	}
	if l.truncated {
		fields = append(fields, zap.Bool("truncated", true))
	}
	if ce := s.log.Check(lvl, msg); ce != nil {
		ce.Write(fields...)
	}
	if l.reqID != "" && s.keep.Load() {
		s.remember(l.reqID, Line{Time: l.at, Pid: l.pid, Level: lvl.String(), Text: shown, Truncated: l.truncated})
	}
}

// phpErrors are the prefixes of PHP's own error lines (log_errors to stderr, with "PHP ", or
// display_errors=stderr, without), logged at their severity rather than the plain level.
var phpErrors = []struct {
	prefix string
	level  zapcore.Level
}{
	{"Fatal error:", zapcore.ErrorLevel}, {"Parse error:", zapcore.ErrorLevel},
	{"Recoverable fatal error:", zapcore.ErrorLevel}, {"Warning:", zapcore.WarnLevel},
	{"Notice:", zapcore.InfoLevel}, {"Deprecated:", zapcore.InfoLevel},
}

func phpErrorLevel(text []byte) (zapcore.Level, bool) {
	text = bytes.TrimPrefix(text, []byte("PHP "))
	for _, e := range phpErrors {
		if bytes.HasPrefix(text, []byte(e.prefix)) {
			return e.level, true
		}
	}
	return 0, false
}

func (s *Sink) remember(id string, ln Line) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines, ok := s.recent[id]
	if !ok {
		if len(s.order) >= keptRequests {
			delete(s.recent, s.order[0])
			s.order = append(s.order[:0], s.order[1:]...)
		}
		s.order = append(s.order, id)
	}
	if len(lines) < keptLinesPerReq {
		s.recent[id] = append(lines, ln)
	}
}
