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
// whose outputs are buffered: written when 64 KB have gathered or every accessFlush, and at
// stop (Observer.Shutdown).

const (
	accessBuffer = 64 << 10
	accessFlush  = time.Second
	bufScheme    = "pivot-buffered"
)

var registerSink sync.Once

// bufferedSink is a zap sink that buffers its output (zapcore.BufferedWriteSyncer).
type bufferedSink struct {
	*zapcore.BufferedWriteSyncer
	file *os.File // nil for stderr and stdout
}

func (s bufferedSink) Close() error {
	err := s.Stop() // flushes
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
	opened  []bufferedSink
)

func openBuffered(u *url.URL) (zap.Sink, error) {
	target := u.Opaque
	if target == "" {
		target = u.Path
	}
	s := bufferedSink{}
	var out zapcore.WriteSyncer
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
		out, s.file = f, f
	}
	s.BufferedWriteSyncer = &zapcore.BufferedWriteSyncer{WS: zapcore.Lock(out), Size: accessBuffer, FlushInterval: accessFlush}
	opened = append(opened, s)
	return s, nil
}

// bufferedAccessLogger builds the access log's logger from RoadRunner's logs configuration
// (the section, or its channel for pivot): nil when it cannot be buffered (a lumberjack file
// logger, an output given as a URL), and the caller logs through RoadRunner's logger instead.
// With the production mode's JSON it also returns the sinks, for fastLine.
func bufferedAccessLogger(cfg *rrlogger.Config) (*zap.Logger, []bufferedSink) {
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
	sinks := append([]bufferedSink(nil), opened...)
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
	out             []bufferedSink
	bufs            sync.Pool
}

func newFastLine(logger string, lineEnding string, out []bufferedSink) *fastLine {
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

// accessFields are one access line's values.
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
