package workerlog

import (
	"fmt"
	"strings"

	"go.uber.org/zap/zapcore"
)

const (
	defaultMaxLine = 16 << 10
	defaultBuffer  = 1024
	maxMaxLine     = 1 << 20
)

// Config is `pivot.worker_logs`: what happens to the lines PHP workers write to stderr.
type Config struct {
	// Level is the level of a plain (non-JSON) line: debug, info, warn or error (default info,
	// as RoadRunner logs worker output).
	Level string `mapstructure:"level"`
	// MaxLine is the longest line kept, in bytes (default 16384): a longer one is cut and
	// logged with truncated: true.
	MaxLine int `mapstructure:"max_line"`
	// Buffer is how many lines may wait for the logger (default 1024); beyond it lines are
	// dropped and counted, so a worker that floods stderr is never blocked by the log.
	Buffer int `mapstructure:"buffer"`
	// RequestIDs ties each line to the request its worker runs (default true): two ioctls per
	// request tell which bytes of the pipe were written while it ran.
	RequestIDs *bool `mapstructure:"request_ids"`

	level zapcore.Level
}

// InitDefaults fills the unset values.
func (c *Config) InitDefaults() {
	if c.Level == "" {
		c.Level = "info"
	}
	c.Level = strings.ToLower(strings.TrimSpace(c.Level))
	if c.MaxLine == 0 {
		c.MaxLine = defaultMaxLine
	}
	if c.Buffer == 0 {
		c.Buffer = defaultBuffer
	}
	if c.RequestIDs == nil {
		on := true
		c.RequestIDs = &on
	}
}

// Valid checks the section after InitDefaults; errors name the key and the fix.
func (c *Config) Valid() error {
	lvl, ok := parseLevel(c.Level)
	if !ok {
		return fmt.Errorf("pivot.worker_logs.level %q is not a level: use debug, info, warn or error", c.Level)
	}
	c.level = lvl
	if c.MaxLine < 80 || c.MaxLine > maxMaxLine {
		return fmt.Errorf("pivot.worker_logs.max_line is %d: use a number of bytes from 80 to %d (default %d)", c.MaxLine, maxMaxLine, defaultMaxLine)
	}
	if c.Buffer < 1 || c.Buffer > 1<<20 {
		return fmt.Errorf("pivot.worker_logs.buffer is %d: use a number of lines from 1 to %d (default %d)", c.Buffer, 1<<20, defaultBuffer)
	}
	return nil
}

// parseLevel reads zap's names and PSR-3's (RFC 5424) ones. PSR-3's levels above error
// (critical, alert, emergency) are logged as error: zap's dpanic/panic/fatal would stop rr.
func parseLevel(s string) (zapcore.Level, bool) {
	switch strings.ToLower(s) {
	case "debug", "trace":
		return zapcore.DebugLevel, true
	case "info", "notice", "informational":
		return zapcore.InfoLevel, true
	case "warn", "warning":
		return zapcore.WarnLevel, true
	case "error", "err", "critical", "crit", "alert", "emergency", "emerg", "fatal", "panic":
		return zapcore.ErrorLevel, true
	}
	return 0, false
}
