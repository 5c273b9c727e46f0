package schema_test

import (
	"encoding/json"
	stderrors "errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/configcheck"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/schema"
	configImpl "github.com/roadrunner-server/config/v4"
	"gopkg.in/yaml.v3"
)

// goCheck runs what rr runs at startup on a whole file: the config plugin, then
// pivot.CheckConfig (unknown keys, types, ranges, cross-key rules).
// envRef is a ${VAR} or ${VAR:-default} reference in a config.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)

func goCheck(t *testing.T, text string) error {
	t.Helper()
	// rr substitutes ${VAR} and ${VAR:-default} before it reads a value (cmd/rr/config.go)
	text = envRef.ReplaceAllStringFunc(text, func(ref string) string {
		m := envRef.FindStringSubmatch(ref)
		if v, ok := os.LookupEnv(m[1]); ok {
			return v
		}
		return m[2]
	})
	cfg := &configImpl.Plugin{ReadInCfg: []byte(text), Type: "yaml", Version: pivot.RRVersion}
	if err := cfg.Init(); err != nil {
		t.Fatalf("the config plugin cannot read it: %v\n%s", err, text)
	}
	if !cfg.Has(pivot.PluginName) {
		return nil
	}
	_, err := pivot.CheckConfig(cfg)
	return err
}

// withPivot is a file whose pivot section is body (indented by two spaces per level).
func withPivot(body string) string {
	return "version: \"3\"\nserver:\n  command: \"php worker.php\"\npivot:\n" + body
}

// TestSchemaHasEveryGoKey fails when a config struct gains a key (a `mapstructure` tag) that
// schema/pivot.schema.json does not describe, or the schema describes a key Go does not have,
// or the two disagree on its kind.
func TestSchemaHasEveryGoKey(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(schema.JSON, &doc); err != nil {
		t.Fatalf("schema/pivot.schema.json: %v", err)
	}
	defs := doc["$defs"].(map[string]any)
	goKeys := map[string]configcheck.Key{}
	for _, k := range configcheck.Keys(pivot.PluginName, reflect.TypeOf(pivot.Config{})) {
		goKeys[k.Path] = k
	}
	schemaKeys := map[string]map[string]any{}
	var walk func(path string, section map[string]any)
	walk = func(path string, section map[string]any) {
		props, _ := section["properties"].(map[string]any)
		for name, p := range props {
			node := p.(map[string]any)
			schemaKeys[path+"."+name] = node
			if def := sectionDef(defs, node); def != nil {
				walk(path+"."+name, def)
			}
			if items, ok := node["items"].(map[string]any); ok {
				if def := sectionDef(defs, items); def != nil {
					walk(path+"."+name+"[]", def)
				}
			}
			if values, ok := node["additionalProperties"].(map[string]any); ok {
				if def := sectionDef(defs, values); def != nil {
					walk(path+"."+name+".*", def)
				}
			}
		}
	}
	walk(pivot.PluginName, defs["pivot"].(map[string]any))

	var problems []string
	for _, path := range sortedKeys(goKeys) {
		k := goKeys[path]
		node, ok := schemaKeys[path]
		if !ok {
			problems = append(problems, fmt.Sprintf("schema/pivot.schema.json has no %s (Go: %s, %s): add it to the properties of its section's $defs entry "+
				"with a $ref to %s", path, k.Type, k.Kind, wantDef(k)))
			continue
		}
		if got := refName(node); !kindMatches(k, got, defs, node) {
			problems = append(problems, fmt.Sprintf("schema/pivot.schema.json: %s is %q there but %s (%s) in Go: make its $ref %s", path, got, k.Kind, k.Type, wantDef(k)))
		}
	}
	for _, path := range sortedKeys(schemaKeys) {
		if _, ok := goKeys[path]; !ok {
			problems = append(problems, fmt.Sprintf("schema/pivot.schema.json describes %s, which no Go config struct has (a mapstructure tag): remove it or add the field", path))
		}
	}
	if len(problems) > 0 {
		t.Fatalf("the schema and the Go config structs disagree on %d keys:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
}

func sectionDef(defs map[string]any, node map[string]any) map[string]any {
	def, ok := defs[refName(node)].(map[string]any)
	if !ok {
		return nil
	}
	if _, isSection := def["properties"]; isSection {
		return def
	}
	return nil
}

func refName(node map[string]any) string {
	ref, _ := node["$ref"].(string)
	return strings.TrimPrefix(ref, "#/$defs/")
}

// wantDef is the $defs entry a key of this kind refers to.
func wantDef(k configcheck.Key) string {
	switch k.Kind {
	case configcheck.List, configcheck.Map:
		return fmt.Sprintf("#/$defs/%s_%s", k.Kind, k.Elem)
	case configcheck.Section:
		return "a section's $defs entry (type object, properties, additionalProperties: false)"
	case configcheck.SectionSet:
		return `nothing, with "type": ["array", "null"] and "items": {"$ref": a section's $defs entry}`
	case configcheck.SectionMap:
		return `nothing, with "type": ["object", "null"] and "additionalProperties": {"$ref": a section's $defs entry}`
	case configcheck.Any:
		return "nothing (any value)"
	}
	return "#/$defs/" + string(k.Kind) + " (or a $defs entry whose name starts with " + string(k.Kind) + ")"
}

func kindMatches(k configcheck.Key, ref string, defs map[string]any, node map[string]any) bool {
	switch k.Kind {
	case configcheck.Section:
		return sectionDef(defs, node) != nil
	case configcheck.SectionSet:
		items, ok := node["items"].(map[string]any)
		return ok && sectionDef(defs, items) != nil
	case configcheck.SectionMap:
		values, ok := node["additionalProperties"].(map[string]any)
		return ok && sectionDef(defs, values) != nil
	case configcheck.List, configcheck.Map:
		return ref == fmt.Sprintf("%s_%s", k.Kind, k.Elem)
	case configcheck.Any:
		return ref == ""
	case configcheck.Int: // "int" must not match "uint"
		return ref == "int" || strings.HasPrefix(ref, "int_")
	}
	return strings.HasPrefix(ref, string(k.Kind))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type configCase struct {
	name string
	body string // the pivot section's lines
}

// agreed are configs the schema and rr's startup check judge alike: each must be accepted by
// both (good) or rejected by both (bad).
var (
	good = []configCase{
		{"just an address", "  address: 127.0.0.1:8080\n"},
		{"an address on every interface", "  address: :8080\n"},
		{"an IPv6 address", "  address: \"[::1]:8080\"\n"},
		{"most keys", `  address: 0.0.0.0:8080
  max_request_size: 10
  max_header_bytes: 32768
  read_header_timeout: 10s
  read_timeout: 1m
  write_timeout: 1m30s
  idle_timeout: 2m
  shutdown_timeout: 30s
  shutdown_delay: 5s
  reset_signal: false
  pipeline: true
  pipeline_window: 2ms
  pipeline_pause: 500ms
  pipeline_pause_after: 20ms
  middleware: [gzip, static]
  static:
    dir: .
    forbid: [.htaccess]
    calculate_etag: true
    weak: false
    response: { X-Served-By: pivot }
    cache_duration: 600
  uploads:
    dir: /tmp
    forbid: [.php]
    max_size: 20MB
  restart:
    initial_backoff: 100ms
    max_backoff: 10s
    max_consecutive_failures: 5
  pool:
    num_workers: 4
    max_jobs: 1000
    allocate_timeout: 60s
    supervisor:
      max_worker_memory: 128
      exec_ttl: 30s
  limit:
    rate: 10
    burst: 20
    by: header:X-Api-Key
    trusted_proxies: [10.0.0.0/8]
    routes:
      - { prefix: /login, rate: 0.5, burst: 2 }
  breaker:
    failure_ratio: 0.5
    window: 10s
    routes:
      - prefix: /api/
        slow: 2s
  http2:
    h2c: true
    max_concurrent_streams: 250
`},
		{"numbers and booleans in quotes (as ${VAR} and -o leave them)", "  address: 127.0.0.1:8080\n  pipeline: \"true\"\n  pool:\n    num_workers: \"4\"\n"},
		{"a duration of 0 without a unit", "  address: 127.0.0.1:8080\n  shutdown_delay: 0\n"},
		{"middleware in capitals", "  address: 127.0.0.1:8080\n  middleware: [GZIP]\n"},
		{"a limit on routes only", "  address: 127.0.0.1:8080\n  limit:\n    routes:\n      - { prefix: /api, rate: 5 }\n"},
		{"a limit in Redis", "  address: 127.0.0.1:8080\n  limit:\n    rate: 10\n    store: redis\n    redis: { addrs: [\"127.0.0.1:6379\"], timeout: 50ms }\n"},
		{"HTTPS and HTTP/3", "  address: 127.0.0.1:8080\n  ssl: { address: \":8443\", cert: c.pem, key: k.pem }\n  http3: { address: \":8443\" }\n"},
		{"empty sections are defaults", "  address: 127.0.0.1:8080\n  pool:\n  restart:\n"},
		{"max_header_bytes 0 is the default", "  address: 127.0.0.1:8080\n  max_header_bytes: 0\n"},
	}
	bad = []configCase{
		{"no address", "  pool: { num_workers: 2 }\n"},
		{"a typo at the top", "  address: 127.0.0.1:8080\n  adress: 127.0.0.1:8081\n"},
		{"a typo in the pool", "  address: 127.0.0.1:8080\n  pool: { num_worker: 4 }\n"},
		{"a typo in the supervisor", "  address: 127.0.0.1:8080\n  pool: { supervisor: { tll: 10s } }\n"},
		{"a typo in a route", "  address: 127.0.0.1:8080\n  limit: { rate: 1, routes: [{ prefix: /a, rat: 5 }] }\n"},
		{"an unsupported section", "  address: 127.0.0.1:8080\n  nonsense: { a: 1 }\n"},
		{"a word for a number", "  address: 127.0.0.1:8080\n  pool: { num_workers: many }\n"},
		{"a word for a boolean", "  address: 127.0.0.1:8080\n  pipeline: maybe\n"},
		{"a word for a duration", "  address: 127.0.0.1:8080\n  read_timeout: soon\n"},
		{"a duration without its unit in quotes", "  address: 127.0.0.1:8080\n  read_timeout: \"30\"\n"},
		{"a number for a section", "  address: 127.0.0.1:8080\n  pool: 4\n"},
		{"a fraction for a whole number", "  address: 127.0.0.1:8080\n  pool: { max_jobs: 2.5 }\n"},
		{"a section for a string", "  address: { host: a }\n"},
		{"too many workers", "  address: 127.0.0.1:8080\n  pool: { num_workers: 5000 }\n"},
		{"negative workers", "  address: 127.0.0.1:8080\n  pool: { num_workers: -1 }\n"},
		{"header limit too small", "  address: 127.0.0.1:8080\n  max_header_bytes: 16\n"},
		{"header limit too large", "  address: 127.0.0.1:8080\n  max_header_bytes: 2000000\n"},
		{"request size too large", "  address: 127.0.0.1:8080\n  max_request_size: 2000000\n"},
		{"negative shutdown delay", "  address: 127.0.0.1:8080\n  shutdown_delay: -1s\n"},
		{"negative pipeline window", "  address: 127.0.0.1:8080\n  pipeline_window: -5ms\n"},
		{"negative restart count", "  address: 127.0.0.1:8080\n  restart: { max_consecutive_failures: -1 }\n"},
		{"streams over uint32", "  address: 127.0.0.1:8080\n  http2: { max_concurrent_streams: 5000000000 }\n"},
		{"an address without a port", "  address: localhost\n"},
		{"a port out of range", "  address: 127.0.0.1:99999\n"},
		{"the debug pool", "  address: 127.0.0.1:8080\n  pool: { debug: true }\n"},
		{"an unknown middleware", "  address: 127.0.0.1:8080\n  middleware: [gzip, cache]\n"},
		{"a middleware twice", "  address: 127.0.0.1:8080\n  middleware: [gzip, gzip]\n"},
		{"static middleware without its section", "  address: 127.0.0.1:8080\n  middleware: [static]\n"},
		{"static without a dir", "  address: 127.0.0.1:8080\n  static: { weak: true }\n"},
		{"a bad header name", "  address: 127.0.0.1:8080\n  static: { dir: ., response: { \"X Bad\": a } }\n"},
		{"a bad upload size", "  address: 127.0.0.1:8080\n  uploads: { max_size: 100XB }\n"},
		{"a negative upload size", "  address: 127.0.0.1:8080\n  uploads: { max_size: -1 }\n"},
		{"a limit without a rate", "  address: 127.0.0.1:8080\n  limit: { burst: 5 }\n"},
		{"a negative rate", "  address: 127.0.0.1:8080\n  limit: { rate: -1 }\n"},
		{"a limit by cookie", "  address: 127.0.0.1:8080\n  limit: { rate: 1, by: cookie }\n"},
		{"a limit on disk", "  address: 127.0.0.1:8080\n  limit: { rate: 1, store: disk }\n"},
		{"too few limit keys", "  address: 127.0.0.1:8080\n  limit: { rate: 1, max_keys: 10 }\n"},
		{"Redis without addrs", "  address: 127.0.0.1:8080\n  limit: { rate: 1, store: redis }\n"},
		{"Redis with the memory store", "  address: 127.0.0.1:8080\n  limit: { rate: 1, redis: { addrs: [\"127.0.0.1:6379\"] } }\n"},
		{"a route without a slash", "  address: 127.0.0.1:8080\n  breaker: { routes: [{ prefix: api }] }\n"},
		{"a failure ratio over 1", "  address: 127.0.0.1:8080\n  breaker: { failure_ratio: 50 }\n"},
		{"HTTPS without a cert", "  address: 127.0.0.1:8080\n  ssl: { address: \":8443\", key: k.pem }\n"},
		{"an unknown client auth type", "  address: 127.0.0.1:8080\n  ssl: { cert: c.pem, key: k.pem, client_auth_type: sometimes }\n"},
		{"HTTP/3 without HTTPS", "  address: 127.0.0.1:8080\n  http3: { address: \":8443\" }\n"},
		{"HTTP/3 without an address", "  address: 127.0.0.1:8080\n  ssl: { cert: c.pem, key: k.pem }\n  http3: { }\n"},
	}
	// goOnly are rules the schema cannot state (files, cross-key comparisons, CIDRs): rr
	// rejects these, the schema accepts them. A schema that learns one fails this test: move
	// the case to bad.
	goOnly = []configCase{
		{"an upload dir that does not exist", "  address: 127.0.0.1:8080\n  uploads: { dir: /nonexistent/pivot }\n"},
		{"a static dir that does not exist", "  address: 127.0.0.1:8080\n  static: { dir: /nonexistent/pivot }\n"},
		{"a first backoff over the last", "  address: 127.0.0.1:8080\n  restart: { initial_backoff: 1m, max_backoff: 1s }\n"},
		{"HTTPS on pivot.address", "  address: 127.0.0.1:8443\n  ssl: { address: 127.0.0.1:8443, cert: c.pem, key: k.pem }\n"},
		{"a breaker window under 10ms", "  address: 127.0.0.1:8080\n  breaker: { window: 1ms }\n"},
		{"a route prefix twice", "  address: 127.0.0.1:8080\n  breaker: { routes: [{ prefix: /a }, { prefix: /a }] }\n"},
		{"a trusted proxy that is not a CIDR", "  address: 127.0.0.1:8080\n  limit: { rate: 1, trusted_proxies: [nonsense] }\n"},
		{"client certificates without root_ca", "  address: 127.0.0.1:8080\n  ssl: { cert: c.pem, key: k.pem, client_auth_type: require_and_verify_client_cert }\n"},
	}
)

func TestSchemaAndGoAgree(t *testing.T) {
	for _, tc := range good {
		t.Run("good/"+tc.name, func(t *testing.T) {
			text := withPivot(tc.body)
			if err := goCheck(t, text); err != nil {
				t.Errorf("rr rejects it: %v", err)
			}
			if err := schema.ValidateYAML([]byte(text)); err != nil {
				t.Errorf("the schema rejects it: %v", err)
			}
		})
	}
	for _, tc := range bad {
		t.Run("bad/"+tc.name, func(t *testing.T) {
			text := withPivot(tc.body)
			if err := goCheck(t, text); err == nil {
				t.Errorf("rr accepts it")
			}
			if err := schema.ValidateYAML([]byte(text)); err == nil {
				t.Errorf("the schema accepts it")
			}
		})
	}
	for _, tc := range goOnly {
		t.Run("go-only/"+tc.name, func(t *testing.T) {
			text := withPivot(tc.body)
			if err := goCheck(t, text); err == nil {
				t.Errorf("rr accepts it")
			}
			if err := schema.ValidateYAML([]byte(text)); err != nil {
				t.Errorf("the schema rejects it now (%v): move the case to bad", err)
			}
		})
	}
}

// TestEveryConfigInTheRepo: every .rr.yaml of the repo (examples, tests' testdata, the
// Kubernetes ConfigMap's, the YAML blocks of the Markdown files that have a pivot section)
// passes the schema and has no key or type rr rejects.
func TestEveryConfigInTheRepo(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	configs := map[string]string{} // where -> text
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch d.Name() {
			case ".git", "vendor", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		data, errR := os.ReadFile(path)
		if errR != nil {
			return errR
		}
		switch ext := filepath.Ext(path); ext {
		case ".yaml", ".yml":
			configs[rel] = string(data)
			var k8s struct {
				Kind string            `yaml:"kind"`
				Data map[string]string `yaml:"data"`
			}
			if yaml.Unmarshal(data, &k8s) == nil && k8s.Kind == "ConfigMap" {
				for name, v := range k8s.Data {
					configs[rel+" data."+name] = v
				}
			}
		case ".md":
			for i, block := range yamlBlocks(string(data)) {
				configs[fmt.Sprintf("%s yaml block %d", rel, i+1)] = block
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, where := range sortedKeys(configs) {
		text := configs[where]
		var doc map[string]any
		if yaml.Unmarshal([]byte(text), &doc) != nil {
			continue // a fragment, or not YAML
		}
		if _, ok := doc[pivot.PluginName]; !ok {
			continue
		}
		checked++
		t.Run(where, func(t *testing.T) {
			goErr := goCheck(t, text)
			// Unknown keys and types, what this check adds at startup, are never excused.
			for _, e := range flatten(goErr) {
				var p *configcheck.Problem
				if stderrors.As(e, &p) {
					t.Errorf("rr rejects it: %v", p)
				}
			}
			if err := schema.Validate(doc); err != nil {
				if goErr == nil {
					t.Errorf("the schema rejects it, rr accepts it: %v", err)
					return
				}
				// A reference block of the docs that lists exclusive options together, or a
				// file that needs its own directory and environment: rr rejects it here too.
				t.Logf("neither the schema nor rr accepts it as written here:\n schema: %v\n rr: %v", err, goErr)
			}
		})
	}
	if checked < 5 {
		t.Fatalf("only %d configs with a pivot section found under %s: is the walk broken?", checked, root)
	}
	t.Logf("%d configs checked", checked)
}

var yamlBlock = regexp.MustCompile("(?ms)^```ya?ml\\s*\n(.*?)^```")

// yamlBlocks are the ```yaml blocks of a Markdown text; a block that is a pivot section on its
// own (it starts with "pivot:") counts too.
func yamlBlocks(md string) []string {
	var out []string
	for _, m := range yamlBlock.FindAllStringSubmatch(md, -1) {
		out = append(out, m[1])
	}
	return out
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}
