package rrconfig

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	configImpl "github.com/roadrunner-server/config/v4"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()

	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}

	return path
}

const expandYAML = `version: "3"
custom:
  plain: file-value
  from_env: "${PIVOT_RRCFG_A}"
  dollar: "$PIVOT_RRCFG_A/x"
  with_default: "${PIVOT_RRCFG_UNSET:-fallback}"
  unset: "${PIVOT_RRCFG_UNSET}"
  list: ["${PIVOT_RRCFG_A}", "lit"]
  number: 42
  overridden: original
  sibling: kept
rpc:
  listen: "tcp://127.0.0.1:${PIVOT_RRCFG_PORT}"
`

// TestConfigPluginExpandsEnvAndOverrides checks that config/v4 itself (what
// `rr serve` registers) performs ${ENV} substitution and applies -o
// overrides, and that rrconfig.Load (used by the CLI before and outside the
// container) yields exactly the same values.
func TestConfigPluginExpandsEnvAndOverrides(t *testing.T) {
	t.Setenv("PIVOT_RRCFG_A", "alpha")
	t.Setenv("PIVOT_RRCFG_PORT", "6123")
	t.Setenv("PIVOT_RRCFG_B", "beta")
	t.Setenv("RR_CUSTOM_PLAIN", "from-RR-env")

	path := writeFile(t, ".rr.yaml", expandYAML)
	overrides := []string{
		"custom.overridden=from-cli",
		"custom.env_override=${PIVOT_RRCFG_B}-x",
		`custom.quoted="say \"hi\" now"`,
		`"custom.lead_quote=x"`,
		"custom.new.deep=added",
	}

	plugin := &configImpl.Plugin{Path: path, Prefix: "rr", Flags: overrides, Version: "2023.3.12"}
	if err := plugin.Init(); err != nil {
		t.Fatalf("config plugin Init: %v", err)
	}

	v, err := Load(path, overrides)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	tests := []struct {
		key  string
		want any
	}{
		{"custom.plain", "from-RR-env"}, // RR_ prefixed env var wins over the file
		{"custom.from_env", "alpha"},
		{"custom.dollar", "alpha/x"},
		{"custom.with_default", "fallback"},
		{"custom.unset", ""},
		{"custom.list", []string{"alpha", "lit"}},
		{"custom.number", 42},
		{"custom.overridden", "from-cli"},
		{"custom.env_override", "beta-x"},
		{"custom.quoted", `say "hi" now`},
		{"custom.lead_quote", `x"`}, // the plugin only trims quotes left of the flag
		{"custom.new.deep", "added"},
		{"custom.sibling", "kept"},
		{"rpc.listen", "tcp://127.0.0.1:6123"},
	}

	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := plugin.Get(tt.key); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("config plugin: %s = %#v, want %#v", tt.key, got, tt.want)
			}
			if got := v.Get(tt.key); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("rrconfig.Load: %s = %#v, want %#v", tt.key, got, tt.want)
			}
		})
	}

	// A section unmarshalled by a plugin keeps the siblings of an overridden key.
	var section struct {
		Overridden string `mapstructure:"overridden"`
		Sibling    string `mapstructure:"sibling"`
		FromEnv    string `mapstructure:"from_env"`
	}
	if err = plugin.UnmarshalKey("custom", &section); err != nil {
		t.Fatal(err)
	}
	if section.Overridden != "from-cli" || section.Sibling != "kept" || section.FromEnv != "alpha" {
		t.Errorf("config plugin UnmarshalKey(custom) = %+v", section)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	valid := writeFile(t, "ok.yaml", "version: \"3\"\n")
	invalid := writeFile(t, "bad.yaml", "version: \"3\"\nrpc: [unclosed\n")

	tests := []struct {
		name      string
		path      string
		overrides []string
		want      string
	}{
		{"empty path", "", nil, "no configuration file"},
		{"missing file", filepath.Join(dir, "missing.yaml"), nil, "no such file or directory"},
		{"invalid yaml", invalid, nil, "While parsing config"},
		{"override without =", valid, []string{"rpc.listen"}, "invalid override `rpc.listen`"},
		{"override without key", valid, []string{"=x"}, "key should not be empty"},
		{"override without value", valid, []string{"a.b="}, "value should not be empty"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.path, tt.overrides)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseOverride(t *testing.T) {
	tests := []struct {
		in, key, value string
		wantErr        bool
	}{
		{in: "http.address=127.0.0.1:8080", key: "http.address", value: "127.0.0.1:8080"},
		{in: "  a.b = c  ", key: "a.b", value: "c"},
		{in: "a=b=c", key: "a", value: "b=c"},
		{in: `a="quoted value"`, key: "a", value: "quoted value"},
		{in: `a='it\'s'`, key: "a", value: "it's"},
		{in: "a=`x`", key: "a", value: "x"},
		{in: `"a=b"`, key: "a", value: `b"`}, // as the config plugin: only leading quotes are trimmed
		{in: "a", wantErr: true},
		{in: "=b", wantErr: true},
		{in: "a=", wantErr: true},
		{in: "a=   ", wantErr: true},
	}

	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			key, value, err := ParseOverride(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("expected an error, got %q=%q", key, value)
				}

				return
			}
			if err != nil || key != tt.key || value != tt.value {
				t.Fatalf("got (%q, %q, %v), want (%q, %q)", key, value, err, tt.key, tt.value)
			}
		})
	}
}

func TestEndureConfig(t *testing.T) {
	tests := []struct {
		name      string
		yaml      string
		overrides []string
		want      Endure
		wantErr   string
	}{
		{name: "defaults", yaml: "version: \"3\"\n", want: Endure{GracePeriod: 30 * time.Second, LogLevel: "error"}},
		{
			name: "values",
			yaml: "version: \"3\"\nendure:\n  grace_period: 5s\n  log_level: debug\n  print_graph: true\n  watchdog_sec: 3\n",
			want: Endure{GracePeriod: 5 * time.Second, LogLevel: "debug", PrintGraph: true, WatchdogSec: 3},
		},
		{
			name: "env expanded",
			yaml: "version: \"3\"\nendure:\n  grace_period: ${PIVOT_RRCFG_GRACE}\n",
			want: Endure{GracePeriod: 7 * time.Second, LogLevel: "error"},
		},
		{
			name:      "override",
			yaml:      "version: \"3\"\nendure:\n  grace_period: 5s\n  log_level: info\n",
			overrides: []string{"endure.grace_period=2s"},
			want:      Endure{GracePeriod: 2 * time.Second, LogLevel: "info"},
		},
		{name: "invalid duration", yaml: "version: \"3\"\nendure:\n  grace_period: forever\n", wantErr: "endure"},
	}

	t.Setenv("PIVOT_RRCFG_GRACE", "7s")

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Load(writeFile(t, "rr.yaml", tt.yaml), tt.overrides)
			if err != nil {
				t.Fatal(err)
			}

			got, err := EndureConfig(v)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}

				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *got != tt.want {
				t.Fatalf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestParseLogLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"debug", slog.LevelDebug, false},
		{"info", slog.LevelInfo, false},
		{"warn", slog.LevelWarn, false},
		{"warning", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{"", slog.LevelError, false},
		{"verbose", slog.LevelError, true},
	}

	for _, tt := range tests {
		got, err := ParseLogLevel(tt.in)
		if (err != nil) != tt.wantErr || got.Level() != tt.want {
			t.Errorf("ParseLogLevel(%q) = %v, %v", tt.in, got, err)
		}
	}
}
