package observe

import (
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	rrlogger "github.com/roadrunner-server/logger/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The access log writes a line per request. Through RoadRunner's logger every line is a
// write(2) of its own (its outputs are not buffered), which on a busy server costs more than
// the line itself; so the access log gets a logger of its own, built by RoadRunner's logger
// package from the same `logs` configuration (the same encoding, level, keys and outputs),
// whose outputs are buffered (bufferedSink): written when 64 KB have gathered or every
// accessFlush, and at stop (Observer.Shutdown).

const (
	accessBuffer = 64 << 10
	// accessBacklog bounds what may wait while the output is slow: beyond it, requests wait
	// for the writer (no line is dropped, memory stays bounded)
	accessBacklog = 1 << 20
	accessFlush   = time.Second
	bufScheme     = "pivot-buffered"
)

var registerSink sync.Once

// bufferedSink is a zap sink whose lines gather in memory and are written by a goroutine of
// its own. zapcore.BufferedWriteSyncer writes a full buffer inside the Write that filled it,
// holding its lock: every request logging meanwhile waited for a 64 KB write(2) to a file,
// which doubled p99 under load (bench/README); here a request only appends.
type bufferedSink struct {
	out  zapcore.WriteSyncer
	file *os.File // nil for stderr and stdout

	mu      sync.Mutex
	room    *sync.Cond // signalled when the writer has taken the lines
	lines   []byte
	closed  bool
	writeMu sync.Mutex // one writer at a time: the goroutine, Sync or Close
	spare   []byte     // the writer's buffer, swapped with lines under mu

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newBufferedSink(out zapcore.WriteSyncer, file *os.File) *bufferedSink {
	s := &bufferedSink{
		out: out, file: file,
		lines: make([]byte, 0, accessBuffer+4096),
		kick:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	s.room = sync.NewCond(&s.mu)
	go s.run()
	return s
}

// Write queues p (a whole line: zap writes each line with one Write).
func (s *bufferedSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	for len(s.lines)+len(p) > accessBacklog && len(s.lines) > 0 && !s.closed {
		s.room.Wait()
	}
	if s.closed {
		s.mu.Unlock()
		return s.out.Write(p) // after Close: unbuffered, never lost
	}
	s.lines = append(s.lines, p...)
	full := len(s.lines) >= accessBuffer
	s.mu.Unlock()
	if full {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func (s *bufferedSink) run() {
	defer close(s.done)
	t := time.NewTicker(accessFlush)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
		case <-t.C:
		}
		_ = s.writeQueued()
	}
}

// writeQueued writes the lines gathered so far.
func (s *bufferedSink) writeQueued() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	s.lines, s.spare = s.spare[:0], s.lines
	s.room.Broadcast()
	s.mu.Unlock()
	if len(s.spare) == 0 {
		return nil
	}
	_, err := s.out.Write(s.spare)
	return err
}

// Sync writes what is queued and syncs the output.
func (s *bufferedSink) Sync() error {
	err := s.writeQueued()
	if errS := s.out.Sync(); err == nil && s.file != nil {
		err = errS // stderr and stdout may not sync (a pipe, a terminal)
	}
	return err
}

func (s *bufferedSink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	err := s.writeQueued()
	s.mu.Lock()
	s.closed = true
	s.room.Broadcast()
	s.mu.Unlock()
	if s.file != nil {
		if errC := s.file.Close(); err == nil {
			err = errC
		}
	}
	return err
}

// opened collects the sinks openBuffered opens while buildMu is held (one logger's build).
var (
	buildMu sync.Mutex
	opened  []*bufferedSink
)

func openBuffered(u *url.URL) (zap.Sink, error) {
	target := u.Opaque
	if target == "" {
		target = u.Path
	}
	var out zapcore.WriteSyncer
	var file *os.File
	switch target {
	case "stderr":
		out = os.Stderr
	case "stdout":
		out = os.Stdout
	default:
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
		if err != nil {
			return nil, err
		}
		out, file = f, f
	}
	s := newBufferedSink(out, file)
	opened = append(opened, s)
	return s, nil
}

// bufferedAccessLogger builds the access log's logger from RoadRunner's logs configuration
// (the section, or its channel for pivot): nil when it cannot be buffered (a lumberjack file
// logger, an output given as a URL), and the caller logs through RoadRunner's logger instead.
// With the production mode's JSON it also returns the sinks, for fastLine.
func bufferedAccessLogger(cfg *rrlogger.Config) (*zap.Logger, []*bufferedSink) {
	if cfg.FileLogger != nil {
		return nil, nil
	}
	outputs := cfg.Output
	if len(outputs) == 0 {
		outputs = []string{"stderr"}
	}
	c := *cfg
	c.Output = make([]string, 0, len(outputs))
	for _, o := range outputs {
		if strings.Contains(o, "://") {
			return nil, nil
		}
		c.Output = append(c.Output, bufScheme+":"+o)
	}
	var errR error
	registerSink.Do(func() { errR = zap.RegisterSink(bufScheme, openBuffered) })
	if errR != nil {
		return nil, nil
	}
	buildMu.Lock()
	opened = opened[:0]
	l, err := c.BuildLogger()
	sinks := append([]*bufferedSink(nil), opened...)
	opened = opened[:0]
	buildMu.Unlock()
	if err != nil {
		return nil, nil
	}
	if !strings.EqualFold(string(c.Mode), "production") || c.Encoding != "" && c.Encoding != "json" {
		sinks = nil // another encoder: zap writes every line
	}
	return l, sinks
}

// fastLine writes the access line zap writes in RoadRunner's production mode (JSON; level,
// ts as epoch nanoseconds, logger, msg, then the fields; durations in seconds) straight into
// a pooled buffer and onto the logger's own buffered sinks. Through zap's encoder a line cost
// ~2.3 µs (nine fields through interfaces, escaping checks, a clone of the encoder), the
// largest share of the access log's cost; this is ~0.3 µs. It writes only lines whose strings
// need no JSON escaping — the usual ones — and leaves the others to zap (write returns
// false); TestFastLineMatchesZap checks the bytes against zap's.
type fastLine struct {
	head, name, end string
	out             []*bufferedSink
	bufs            sync.Pool
}

func newFastLine(logger string, lineEnding string, out []*bufferedSink) *fastLine {
	if lineEnding == "" {
		lineEnding = zapcore.DefaultLineEnding
	}
	f := &fastLine{
		head: `{"level":"info","ts":`,
		name: `,"logger":"` + logger + `","msg":"request"`,
		end:  "}" + lineEnding,
		out:  out,
	}
	if !plainJSON([]byte(logger)) {
		return nil
	}
	f.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	return f
}

// accessFields are one finished request's figures: its access line's values, and its span's.
type accessFields struct {
	at               time.Time
	id, method, path []byte
	status           int
	bytes, pid       int64
	wait, php, total time.Duration
}

func (f *fastLine) write(a *accessFields) bool {
	if !plainJSON(a.id) || !plainJSON(a.method) || !plainJSON(a.path) {
		return false
	}
	bp := f.bufs.Get().(*[]byte)
	b := append((*bp)[:0], f.head...)
	b = strconv.AppendInt(b, a.at.UnixNano(), 10)
	b = append(b, f.name...)
	b = append(append(b, `,"request_id":"`...), a.id...)
	b = append(append(b, `","method":"`...), a.method...)
	b = append(append(b, `","path":"`...), a.path...)
	b = strconv.AppendInt(append(b, `","status":`...), int64(a.status), 10)
	b = strconv.AppendInt(append(b, `,"bytes":`...), a.bytes, 10)
	b = appendSeconds(append(b, `,"queue_wait":`...), a.wait)
	b = appendSeconds(append(b, `,"php":`...), a.php)
	b = appendSeconds(append(b, `,"total":`...), a.total)
	b = strconv.AppendInt(append(b, `,"worker_pid":`...), a.pid, 10)
	b = append(b, f.end...)
	for _, w := range f.out {
		_, _ = w.Write(b)
	}
	*bp = b
	f.bufs.Put(bp)
	return true
}

// appendSeconds is zapcore.SecondsDurationEncoder in zap's JSON encoder: the shortest decimal
// of float64(d)/1e9. Below 10^15 ns (11 days) that is d's exact decimal in seconds — the
// division is correctly rounded and 15 digits fit a float64, so no shorter decimal rounds to
// the same float — written here without strconv's float formatting (TestAppendSeconds).
func appendSeconds(b []byte, d time.Duration) []byte {
	if d < 0 || d >= 1e15 {
		return strconv.AppendFloat(b, float64(d)/float64(time.Second), 'f', -1, 64)
	}
	b = strconv.AppendInt(b, int64(d/time.Second), 10)
	frac := int64(d % time.Second)
	if frac == 0 {
		return b
	}
	var digits [10]byte // '.' and nine digits
	digits[0] = '.'
	for i := 9; i >= 1; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 10
	for digits[n-1] == '0' {
		n--
	}
	return append(b, digits[:n]...)
}

// plainJSON says whether zap's JSON encoder writes b as it is: printable ASCII (and DEL),
// no quote, no backslash.
func plainJSON(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
