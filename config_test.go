package pivot_test

import (
	"log/slog"
	"strings"
	"testing"

	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
	configImpl "github.com/roadrunner-server/config/v4"
	"github.com/roadrunner-server/endure/v2"
	"github.com/roadrunner-server/logger/v4"
	"github.com/roadrunner-server/server/v4"
)

// initWith runs the real config, logger, server and pivot plugins' Init on a YAML config.
func initWith(t *testing.T, yaml string) (*endure.Endure, error) {
	t.Helper()
	cont := endure.New(slog.LevelError)
	cfg := &configImpl.Plugin{ReadInCfg: []byte(yaml), Type: "yaml", Version: pivot.RRVersion}
	if err := cont.RegisterAll(cfg, &logger.Plugin{}, &server.Plugin{}, &pivot.Plugin{}); err != nil {
		t.Fatal(err)
	}
	return cont, cont.Init()
}

func TestBadConfigNamesTheKeyAndTheFix(t *testing.T) {
	const head = "version: \"3\"\nserver:\n  command: \"php worker.php\"\npivot:\n"
	cases := []struct {
		name string
		body string
		want []string
	}{
		{"missing address", "  pool:\n    num_workers: 1\n", []string{"pivot.address is required", "127.0.0.1:8080"}},
		{"typo in a top-level key", "  adress: 127.0.0.1:8080\n", []string{"pivot.adress: unknown key, did you mean address?"}},
		{"typo in a supervisor key", "  address: 127.0.0.1:8080\n  pool:\n    supervisor:\n      tll: 10s\n",
			[]string{"pivot.pool.supervisor.tll: unknown key, did you mean ttl?"}},
		{"address without a port", "  address: localhost\n", []string{"pivot.address \"localhost\" is not a host:port"}},
		{"port out of range", "  address: 127.0.0.1:99999\n", []string{"invalid port", "1 to 65535"}},
		{"wrong type", "  address: 127.0.0.1:8080\n  pool:\n    num_workers: many\n", []string{`pivot.pool.num_workers: "many" is not a whole number: use one from 0 to 18446744073709551615`}},
		{"negative shutdown delay", "  address: 127.0.0.1:8080\n  shutdown_delay: -1s\n", []string{"pivot.shutdown_delay is -1s", "e.g. 10s"}},
		{"too many workers", "  address: 127.0.0.1:8080\n  pool:\n    num_workers: 5000\n", []string{"pivot.pool.num_workers", "maximum is 1000"}},
		{"missing uploads dir", "  address: 127.0.0.1:8080\n  uploads:\n    dir: /nonexistent/pivot\n", []string{"pivot.uploads.dir", "not an existing directory"}},
		{"header limit too small", "  address: 127.0.0.1:8080\n  max_header_bytes: 16\n", []string{"pivot.max_header_bytes is 16", "in bytes, from 1024"}},
		{"negative pipeline window", "  address: 127.0.0.1:8080\n  pipeline: true\n  pipeline_window: -5ms\n", []string{"pivot.pipeline_window is -5ms", "must be positive"}},
		{"negative pipeline pause", "  address: 127.0.0.1:8080\n  pipeline: true\n  pipeline_pause: -1s\n", []string{"pivot.pipeline_pause is -1s", "must be positive"}},
		{"negative pipeline pause_after", "  address: 127.0.0.1:8080\n  pipeline: true\n  pipeline_pause_after: -10ms\n", []string{"pivot.pipeline_pause_after is -10ms", "must be positive"}},
		{"debug pool", "  address: 127.0.0.1:8080\n  pool:\n    debug: true\n", []string{"pivot.pool.debug is not supported", "max_jobs: 1"}},
		{"unknown middleware", "  address: 127.0.0.1:8080\n  middleware: [\"gzip\", \"cache\"]\n",
			[]string{`pivot.middleware[1] "cache" is not a middleware pivot has`, "gzip, static, headers"}},
		{"middleware twice", "  address: 127.0.0.1:8080\n  middleware: [gzip, gzip]\n", []string{`pivot.middleware[1] "gzip" is listed already`}},
		{"static without its section", "  address: 127.0.0.1:8080\n  middleware: [gzip, static]\n",
			[]string{`pivot.middleware[1] is "static" but there is no pivot.static section`, "dir: public"}},
		{"static without a dir", "  address: 127.0.0.1:8080\n  middleware: [static]\n  static:\n    weak: true\n", []string{"pivot.static.dir is required"}},
		{"static dir missing", "  address: 127.0.0.1:8080\n  static:\n    dir: /nonexistent/pivot\n", []string{`pivot.static.dir "/nonexistent/pivot" is not an existing directory`}},
		{"typo in a static key", "  address: 127.0.0.1:8080\n  static:\n    dri: public\n", []string{"pivot.static.dri: unknown key, did you mean dir?"}},
		{"bad cache_duration", "  address: 127.0.0.1:8080\n  static:\n    dir: /tmp\n    cache_duration: soon\n", []string{`pivot.static.cache_duration "soon"`}},
		{"bad upload size", "  address: 127.0.0.1:8080\n  uploads:\n    max_size: 100XB\n", []string{`pivot.uploads.max_size "100XB" is not a size`, "100MB"}},
		{"trace sample above 1", "  address: 127.0.0.1:8080\n  trace:\n    sample: 2\n", []string{"pivot.trace.sample is 2", "from 0"}},
		{"typo in a trace key", "  address: 127.0.0.1:8080\n  trace:\n    sampel: 0.1\n", []string{"pivot.trace.sampel: unknown key", "did you mean sample?"}},
		{"unknown trace exporter", "  address: 127.0.0.1:8080\n  trace:\n    exporter: jaeger\n", []string{`pivot.trace.exporter "jaeger"`, "otlp, stdout"}},
		{"limit by cookie", "  address: 127.0.0.1:8080\n  limit:\n    rate: 10\n    by: cookie\n",
			[]string{`pivot.limit.by: "cookie" is not ip or header:NAME`, "header:X-Api-Key"}},
		{"typo in a limit key", "  address: 127.0.0.1:8080\n  limit:\n    rate: 10\n    brust: 5\n", []string{"pivot.limit.brust: unknown key, did you mean burst?"}},
		{"typo in a limit route", "  address: 127.0.0.1:8080\n  limit:\n    rate: 10\n    routes:\n      - { prefix: /api, rat: 5 }\n",
			[]string{"pivot.limit.routes[0].rat: unknown key, did you mean rate?"}},
		{"limit redis without addrs", "  address: 127.0.0.1:8080\n  limit:\n    rate: 10\n    store: redis\n", []string{"pivot.limit.redis.addrs is empty"}},
		{"typo in a redis key", "  address: 127.0.0.1:8080\n  limit:\n    rate: 10\n    store: redis\n    redis:\n      addr: [\"127.0.0.1:6379\"]\n",
			[]string{"pivot.limit.redis.addr: unknown key, did you mean addrs?"}},
		{"bad breaker ratio", "  address: 127.0.0.1:8080\n  breaker:\n    failure_ratio: 50\n", []string{"pivot.breaker.failure_ratio is 50", "from 0 to 1"}},
		{"typo in a breaker key", "  address: 127.0.0.1:8080\n  breaker:\n    open_fro: 5s\n", []string{"pivot.breaker.open_fro: unknown key, did you mean open_for?"}},
		{"typo in a breaker route", "  address: 127.0.0.1:8080\n  breaker:\n    routes:\n      - prefix: /api\n        slw: 1s\n",
			[]string{"pivot.breaker.routes[0].slw: unknown key, did you mean slow?"}},
		{"negative upload size", "  address: 127.0.0.1:8080\n  uploads:\n    max_size: -1\n", []string{`pivot.uploads.max_size "-1" is not a size`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := initWith(t, head+tc.body)
			if err == nil {
				t.Fatal("Init accepted a bad config")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err.Error(), w)
				}
			}
		})
	}
}

func TestPluginDisabledWithoutSection(t *testing.T) {
	cont, err := initWith(t, "version: \"3\"\nserver:\n  command: \"php worker.php\"\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range cont.Plugins() {
		if name == pivot.PluginName {
			t.Fatalf("pivot is active without a pivot section: %v", cont.Plugins())
		}
	}
}

func TestValidConfigInits(t *testing.T) {
	cont, err := initWith(t, "version: \"3\"\nserver:\n  command: \"php worker.php\"\npivot:\n  address: 127.0.0.1:0\n  max_request_size: 10\n  pool:\n    num_workers: 2\n    supervisor:\n      max_worker_memory: 128\n")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, name := range cont.Plugins() {
		found = found || name == pivot.PluginName
	}
	if !found {
		t.Fatalf("pivot missing from the active plugins: %v", cont.Plugins())
	}
}

// pivot.limit and pivot.breaker with every key.
func TestLimitAndBreakerConfigInits(t *testing.T) {
	yaml := "version: \"3\"\nserver:\n  command: \"php worker.php\"\npivot:\n  address: 127.0.0.1:0\n" +
		"  limit:\n    rate: 10\n    burst: 20\n    by: header:X-Api-Key\n    trusted_proxies: [10.0.0.0/8, \"::1\"]\n    store: redis\n" +
		"    redis: { addrs: [\"127.0.0.1:6379\"], timeout: 50ms, prefix: \"app:\" }\n    max_keys: 1000\n" +
		"    routes:\n      - { prefix: /api/login, rate: 0.2, burst: 3 }\n      - { prefix: /api/ }\n" +
		"  breaker:\n    failure_ratio: 0.3\n    min_requests: 10\n    window: 30s\n    open_for: 15s\n    slow: 2s\n    half_open_requests: 2\n" +
		"    routes:\n      - { prefix: /reports/, slow: 10s, open_for: 1m }\n"
	if _, err := initWith(t, yaml); err != nil {
		t.Fatal(err)
	}
}

// A RoadRunner `http:` section renamed `pivot:` starts: middleware, static, uploads with max_size.
func TestRoadRunnerHTTPConfigRenamedInits(t *testing.T) {
	public := t.TempDir()
	yaml := "version: \"3\"\nserver:\n  command: \"php worker.php\"\npivot:\n" +
		"  address: 127.0.0.1:0\n" +
		"  pool: { num_workers: 4, max_jobs: 500, allocate_timeout: 60s, destroy_timeout: 60s }\n" +
		"  middleware: [\"gzip\", \"headers\", \"static\"]\n" +
		"  uploads: { forbid: [\".php\", \".exe\", \".bat\"], max_size: 100MB }\n" +
		"  static: { dir: \"" + public + "\", forbid: [\".php\", \".htaccess\"], calculate_etag: true, weak: true, cache_duration: 10m, " +
		"response: { X-Powered-By: pivot }, request: { X-Static: \"1\" } }\n"
	if _, err := initWith(t, yaml); err != nil {
		t.Fatal(err)
	}
}

// Init reports every problem of the section at once, one per line: unknown keys, wrong types
// and the range rules.
func TestBadConfigReportsEveryProblem(t *testing.T) {
	const yaml = "version: \"3\"\nserver:\n  command: \"php worker.php\"\npivot:\n" +
		"  address: 127.0.0.1:8080\n  max_header_bytes: 16\n  pool:\n    num_worker: 4\n    max_jobs: lots\n" +
		"  breaker:\n    failure_ratio: 2\n"
	_, err := initWith(t, yaml)
	if err == nil {
		t.Fatal("Init accepted a bad config")
	}
	for _, w := range []string{
		"pivot.pool.num_worker: unknown key, did you mean num_workers?",
		`pivot.pool.max_jobs: "lots" is not a whole number: use one from 0 to 18446744073709551615`,
		// the rest is decoded without the bad keys and checked too
		"pivot.max_header_bytes is 16: it is in bytes, from 1024 to 1048576",
		"pivot.breaker.failure_ratio is 2: use a share of the requests from 0 to 1",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err.Error(), w)
		}
	}
	// a section that decodes: the range rules of every section are reported together
	const yaml2 = "version: \"3\"\nserver:\n  command: \"php worker.php\"\npivot:\n" +
		"  address: 127.0.0.1:8080\n  max_header_bytes: 16\n  pool:\n    num_worker: 4\n  breaker:\n    failure_ratio: 2\n"
	_, err = initWith(t, yaml2)
	if err == nil {
		t.Fatal("Init accepted a bad config")
	}
	for _, w := range []string{
		"pivot.pool.num_worker: unknown key, did you mean num_workers?",
		"pivot.max_header_bytes is 16: it is in bytes, from 1024 to 1048576",
		"pivot.breaker.failure_ratio is 2: use a share of the requests from 0 to 1",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err.Error(), w)
		}
	}
}
