package reload

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	configImpl "github.com/roadrunner-server/config/v4"
	"github.com/roadrunner-server/errors"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// The configuration tests read YAML through RoadRunner's real config plugin (viper, with its
// decode hooks: "1s" → time.Duration, "a,b" → []string), as rr does.

// userConfig is the configuration users copy from RoadRunner 2.x (the task's example).
const userConfig = `
reload:
  enabled: true
  interval: 1s
  patterns: [".php"]
  services:
    http: { recursive: true, ignore: ["vendor/"], patterns: [".php", ".env"], dirs: ["app", "config", "routes"] }
    pivot: { recursive: true, dirs: ["."] }
`

func rrConfig(t testing.TB, yaml string) *configImpl.Plugin {
	t.Helper()
	c := &configImpl.Plugin{ReadInCfg: []byte(yaml), Type: "yaml", Version: "2023.3.12"}
	if err := c.Init(); err != nil {
		t.Fatalf("config plugin: %v", err)
	}
	return c
}

// obsLogger is the logger plugin's NamedLogger on a zap observer.
type obsLogger struct{ core zapcore.Core }

func (l obsLogger) NamedLogger(name string) *zap.Logger { return zap.New(l.core).Named(name) }

func newObsLogger() (obsLogger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return obsLogger{core}, logs
}

// decode is what Init does before it resolves the dirs.
func decode(t *testing.T, yaml string) (*Config, error) {
	t.Helper()
	c := rrConfig(t, yaml)
	conf := &Config{}
	if err := c.UnmarshalKey(PluginName, conf); err != nil {
		return conf, err
	}
	var raw map[string]any
	if err := c.UnmarshalKey(PluginName, &raw); err != nil {
		t.Fatal(err)
	}
	if err := checkUnknownKeys(raw); err != nil {
		return conf, err
	}
	conf.InitDefaults()
	return conf, conf.Valid()
}

func mkdirs(t *testing.T, root string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUserConfigFromRoadRunner2(t *testing.T) {
	conf, err := decode(t, userConfig)
	if err != nil {
		t.Fatal(err)
	}
	if !conf.IsEnabled() || conf.Interval != time.Second || !reflect.DeepEqual(conf.Patterns, []string{".php"}) {
		t.Fatalf("top level: %+v", conf)
	}
	if got := conf.ServiceNames(); !reflect.DeepEqual(got, []string{"http", "pivot"}) {
		t.Fatalf("services %v", got)
	}

	work := t.TempDir()
	mkdirs(t, work, "app", "config", "routes")
	httpM, err := conf.Resolve("http", work)
	if err != nil {
		t.Fatal(err)
	}
	wantDirs := []string{filepath.Join(work, "app"), filepath.Join(work, "config"), filepath.Join(work, "routes")}
	if !reflect.DeepEqual(httpM.dirs, wantDirs) || !httpM.recursive {
		t.Fatalf("http dirs %v recursive %v", httpM.dirs, httpM.recursive)
	}
	// the service's patterns extend the top-level ones (RoadRunner 2.x's rule), without duplicates
	if !reflect.DeepEqual(httpM.patterns, []string{".php", ".env"}) {
		t.Fatalf("http patterns %v", httpM.patterns)
	}
	if _, ok := httpM.ignoreNames["vendor"]; !ok {
		t.Fatalf("vendor/ is not ignored: %v", httpM.ignoreNames)
	}
	if _, ok := httpM.ignoreNames[".git"]; !ok {
		t.Fatal(".git is not always ignored")
	}

	pivotM, err := conf.Resolve("pivot", work)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pivotM.dirs, []string{work}) || !reflect.DeepEqual(pivotM.patterns, []string{".php"}) {
		t.Fatalf("pivot dirs %v patterns %v", pivotM.dirs, pivotM.patterns)
	}
}

func TestDefaults(t *testing.T) {
	conf, err := decode(t, "reload:\n  services:\n    http: {}\n    pivot:\n")
	if err != nil {
		t.Fatal(err)
	}
	if !conf.IsEnabled() {
		t.Fatal("a section without enabled must enable the plugin")
	}
	if conf.Interval != time.Second {
		t.Fatalf("interval %s, want 1s", conf.Interval)
	}
	if !reflect.DeepEqual(conf.Patterns, []string{".php"}) {
		t.Fatalf("patterns %v", conf.Patterns)
	}
	for _, name := range []string{"http", "pivot"} {
		s := conf.Services[name]
		if s == nil || !reflect.DeepEqual(s.Dirs, []string{"."}) || s.Recursive || len(s.Ignore) != 0 || len(s.Patterns) != 0 {
			t.Fatalf("%s: %+v", name, s)
		}
	}

	// dirs: [""] (RoadRunner 1.x's docs) is the working directory
	conf, err = decode(t, "reload:\n  services:\n    http:\n      dirs: [\"\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	m, err := conf.Resolve("http", work)
	if err != nil || !reflect.DeepEqual(m.dirs, []string{work}) {
		t.Fatalf("dirs [\"\"]: %v %v", m, err)
	}

	// a comma-separated string is a list (viper's hook), a plain interval a duration
	conf, err = decode(t, "reload:\n  interval: 250ms\n  patterns: \".php,.twig\"\n  services:\n    http: {}\n")
	if err != nil {
		t.Fatal(err)
	}
	if conf.Interval != 250*time.Millisecond || !reflect.DeepEqual(conf.Patterns, []string{".php", ".twig"}) {
		t.Fatalf("interval %s patterns %v", conf.Interval, conf.Patterns)
	}
}

func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"no services", "reload:\n  interval: 1s\n", "reload.services: no service to reload"},
		{"empty services", "reload:\n  services: {}\n", "reload.services: no service to reload"},
		{"interval too short", "reload:\n  interval: 10ms\n  services:\n    http: {}\n", "reload.interval: 10ms is too short"},
		{"interval without unit", "reload:\n  interval: 1\n  services:\n    http: {}\n", "reload.interval: 1ns is too short"},
		{"negative interval", "reload:\n  interval: -1s\n  services:\n    http: {}\n", "reload.interval: -1s is negative"},
		{"empty pattern", "reload:\n  patterns: [\".php\", \"\"]\n  services:\n    http: {}\n", "reload.patterns[1]: empty pattern"},
		{"bad glob", "reload:\n  services:\n    http:\n      patterns: [\"[a-\"]\n", `reload.services.http.patterns[0]: "[a-" is not a valid glob`},
		{"empty ignore", "reload:\n  services:\n    http:\n      ignore: [\"\"]\n", "reload.services.http.ignore[0]: empty entry"},
		{"unknown top-level key", "reload:\n  intervall: 1s\n  services:\n    http: {}\n", "reload.intervall is not a known key"},
		{"unknown service key", "reload:\n  services:\n    http:\n      recusive: true\n", "reload.services.http.recusive is not a known key"},
		{"service is not a map", "reload:\n  services:\n    http: yes\n", "expected a map"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode(t, tc.yaml)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDirsMustExist(t *testing.T) {
	work := t.TempDir()
	mkdirs(t, work, "app")
	writeFile(t, filepath.Join(work, "routes"), "not a directory")
	conf, err := decode(t, userConfig)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conf.Resolve("http", work)
	if err == nil || !strings.Contains(err.Error(), `reload.services.http.dirs: "config" does not exist`) ||
		!strings.Contains(err.Error(), filepath.Join(work, "config")) {
		t.Fatalf("missing dir: %v", err)
	}
	mkdirs(t, work, "config")
	_, err = conf.Resolve("http", work)
	if err == nil || !strings.Contains(err.Error(), `reload.services.http.dirs: "routes"`) || !strings.Contains(err.Error(), "is not a directory") {
		t.Fatalf("file as a dir: %v", err)
	}
}

// Init through the real config plugin: disabled without the section or with enabled: false,
// errors for a dir that does not exist, a warning when logs.mode is production.
func TestInit(t *testing.T) {
	log, logs := newObsLogger()

	p := &Plugin{}
	err := p.Init(rrConfig(t, "http:\n  address: 127.0.0.1:0\n"), log)
	if !errors.Is(errors.Disabled, err) {
		t.Fatalf("without the section: %v, want Disabled", err)
	}

	// disabled wins over everything else in the section (dirs are not even checked)
	err = p.Init(rrConfig(t, "reload:\n  enabled: false\n  services:\n    http:\n      dirs: [\"/does/not/exist\"]\n"), log)
	if !errors.Is(errors.Disabled, err) {
		t.Fatalf("enabled: false: %v, want Disabled", err)
	}

	missing := filepath.Join(t.TempDir(), "nope")
	err = p.Init(rrConfig(t, "reload:\n  services:\n    pivot:\n      dirs: [\""+missing+"\"]\n"), log)
	if err == nil || errors.Is(errors.Disabled, err) || !strings.Contains(err.Error(), "reload.services.pivot.dirs") {
		t.Fatalf("missing dir: %v", err)
	}

	err = p.Init(rrConfig(t, "reload:\n  interval: soon\n  services:\n    pivot: {}\n"), log)
	if err == nil || !strings.Contains(err.Error(), "reload: invalid configuration") {
		t.Fatalf("bad interval: %v", err)
	}

	dir := t.TempDir()
	if err = p.Init(rrConfig(t, "reload:\n  services:\n    pivot:\n      dirs: [\""+dir+"\"]\n"), log); err != nil {
		t.Fatal(err)
	}
	if n := logs.FilterMessageSnippet("development tool").Len(); n != 0 {
		t.Fatalf("production warning without logs.mode: production (%d)", n)
	}
	if err = p.Init(rrConfig(t, "logs:\n  mode: production\nreload:\n  services:\n    pivot:\n      dirs: [\""+dir+"\"]\n"), log); err != nil {
		t.Fatal(err)
	}
	warn := logs.FilterMessageSnippet("development tool").FilterLevelExact(zapcore.WarnLevel).All()
	if len(warn) != 1 || !strings.Contains(warn[0].Message, "logs.mode is production") || warn[0].LoggerName != "reload" {
		t.Fatalf("production warning: %+v", warn)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
