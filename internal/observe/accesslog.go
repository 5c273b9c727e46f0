package observe

import (
	"net/url"
	"os"
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
	return s, nil
}

// bufferedAccessLogger builds the access log's logger from RoadRunner's logs configuration
// (the section, or its channel for pivot): nil when it cannot be buffered (a lumberjack file
// logger, an output given as a URL), and the caller logs through RoadRunner's logger instead.
func bufferedAccessLogger(cfg *rrlogger.Config) *zap.Logger {
	if cfg.FileLogger != nil {
		return nil
	}
	outputs := cfg.Output
	if len(outputs) == 0 {
		outputs = []string{"stderr"}
	}
	c := *cfg
	c.Output = make([]string, 0, len(outputs))
	for _, o := range outputs {
		if strings.Contains(o, "://") {
			return nil
		}
		c.Output = append(c.Output, bufScheme+":"+o)
	}
	var errR error
	registerSink.Do(func() { errR = zap.RegisterSink(bufScheme, openBuffered) })
	if errR != nil {
		return nil
	}
	l, err := c.BuildLogger()
	if err != nil {
		return nil
	}
	return l
}
