// Package rrconfig reads a RoadRunner configuration file for the rr CLI the
// same way the config plugin (github.com/roadrunner-server/config/v4) reads it
// inside `rr serve`: RR_* environment variables, ${ENV} / ${ENV:-default}
// substitution in every string value, then `-o key=value` overrides.
//
// The CLI needs this outside of the endure container: `serve` reads the
// `endure:` section before the container exists, and workers/reset/jobs/stop
// need `rpc.listen` to find a running server.
package rrconfig

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	configImpl "github.com/roadrunner-server/config/v4"
	"github.com/spf13/viper"
)

// EnvPrefix is the prefix of environment variables that override config keys
// (RR_RPC_LISTEN overrides rpc.listen), as in the config plugin.
const EnvPrefix = "rr"

// Load reads the config file at path, expands environment variables in every
// string value and applies the overrides (each "dot.key=value").
func Load(path string, overrides []string) (*viper.Viper, error) {
	if path == "" {
		return nil, errors.New("no configuration file provided")
	}

	v := viper.New()
	v.AutomaticEnv()
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.SetConfigFile(path)

	if err := readConfig(v, path); err != nil {
		return nil, fmt.Errorf("failed to read the configuration file %s: %w", path, err)
	}

	expandEnv(v)

	for _, o := range overrides {
		key, val, err := ParseOverride(o)
		if err != nil {
			return nil, err
		}

		v.Set(key, ExpandEnv(val))
	}

	return v, nil
}

// readConfig reads a YAML file through ReadYAML (RoadRunner 2.x's ${VAR} inside flow
// collections), any other file type as viper does.
func readConfig(v *viper.Viper, path string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		data, _, err := ReadYAML(path)
		if err != nil {
			return err
		}
		v.SetConfigType("yaml")
		return v.ReadConfig(bytes.NewReader(data))
	default:
		return v.ReadInConfig()
	}
}

// ExpandEnv substitutes ${VAR}, $VAR and ${VAR:-default} with the config
// plugin's own expansion function, so the CLI and the server agree.
func ExpandEnv(s string) string {
	return configImpl.ExpandVal(s, os.Getenv)
}

// expandEnv rewrites every key of v with its env-expanded value. Like the
// config plugin, it sets every key (not only strings): viper's Get of a parent
// key prefers the "override" layer, so a later Set("a.b") would otherwise
// hide the file's other keys under "a".
func expandEnv(v *viper.Viper) {
	for _, key := range v.AllKeys() {
		switch val := v.Get(key).(type) {
		case string:
			v.Set(key, ExpandEnv(val))
		case []any:
			strs := make([]string, 0, len(val))
			allStrings := true
			for _, item := range val {
				s, ok := item.(string)
				if !ok {
					allStrings = false
					break
				}
				strs = append(strs, ExpandEnv(s))
			}
			if allStrings && len(strs) > 0 {
				v.Set(key, strs)
			} else {
				v.Set(key, val)
			}
		default:
			v.Set(key, val)
		}
	}
}

// ParseOverride splits a `-o` flag value "dot.key=value" the way the config
// plugin does: leading spaces and quotes are trimmed from the flag, the key
// and value are trimmed of whitespace, and a value wrapped in ", ' or ` is
// unquoted (with \" etc. unescaped).
func ParseOverride(flag string) (key, value string, err error) {
	if !strings.Contains(flag, "=") {
		return "", "", fmt.Errorf("invalid override `%s`, usage: -o dot.notation.key=value", flag)
	}

	k, val, _ := strings.Cut(strings.TrimLeft(flag, " \"'`"), "=")
	k = strings.Trim(k, " \n\t")
	val = strings.Trim(val, " \n\t")

	switch {
	case k == "":
		return "", "", fmt.Errorf("invalid override `%s`: key should not be empty", flag)
	case val == "":
		return "", "", fmt.Errorf("invalid override `%s`: value should not be empty", flag)
	}

	if q := val[0]; q == '"' || q == '\'' || q == '`' {
		val = strings.Trim(val, string(q))
		val = strings.ReplaceAll(val, `\`+string(q), string(q))
	}

	return k, val, nil
}

// Endure is the `endure:` section that configures the plugin container.
type Endure struct {
	GracePeriod time.Duration `mapstructure:"grace_period"`
	LogLevel    string        `mapstructure:"log_level"`
	WatchdogSec int           `mapstructure:"watchdog_sec"`
	PrintGraph  bool          `mapstructure:"print_graph"`
}

// Defaults of the `endure:` section, as in RoadRunner v2023.3.12.
const (
	DefaultGracePeriod = 30 * time.Second
	DefaultLogLevel    = "error"
)

// EndureConfig decodes the `endure:` section of v, filling in the defaults.
func EndureConfig(v *viper.Viper) (*Endure, error) {
	cfg := &Endure{GracePeriod: DefaultGracePeriod, LogLevel: DefaultLogLevel}
	if !v.IsSet("endure") {
		return cfg, nil
	}

	if err := v.UnmarshalKey("endure", cfg); err != nil {
		return nil, fmt.Errorf("invalid `endure` section: %w", err)
	}

	if cfg.GracePeriod <= 0 {
		cfg.GracePeriod = DefaultGracePeriod
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = DefaultLogLevel
	}

	return cfg, nil
}

// ParseLogLevel maps endure.log_level to a slog level. An unknown value
// yields slog.LevelError and an error describing the allowed values.
func ParseLogLevel(s string) (slog.Leveler, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error", "":
		return slog.LevelError, nil
	default:
		return slog.LevelError, fmt.Errorf("unknown endure.log_level %q (allowed: debug, info, warn, error)", s)
	}
}
