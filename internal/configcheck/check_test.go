package configcheck

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

type inner struct {
	TTL     time.Duration `mapstructure:"ttl"`
	Workers uint64        `mapstructure:"num_workers"`
}

type route struct {
	Prefix string `mapstructure:"prefix"`
	common `mapstructure:",squash"`
}

type common struct {
	Rate float64 `mapstructure:"rate"`
}

type sample struct {
	Address  string            `mapstructure:"address"`
	On       bool              `mapstructure:"on"`
	Size     int16             `mapstructure:"size"`
	Timeout  time.Duration     `mapstructure:"read_timeout"`
	Names    []string          `mapstructure:"names"`
	Headers  map[string]string `mapstructure:"headers"`
	Pool     *inner            `mapstructure:"pool"`
	Routes   []route           `mapstructure:"routes"`
	Debug    bool
	Anything any               `mapstructure:"anything"`
	Channels map[string]*inner `mapstructure:"channels"`
	hidden   int               //nolint:unused // unexported: not a key
}

func check(t *testing.T, doc string) []error {
	t.Helper()
	var raw map[string]any
	if err := yaml.Unmarshal([]byte(doc), &raw); err != nil {
		t.Fatal(err)
	}
	return Check("x", reflect.TypeOf(sample{}), raw, Options{Unsupported: map[string]string{"x.cors": "not yet"}})
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want []string // one substring per expected problem, in order
	}{
		{"all good", `{address: ":80", on: true, size: 12, read_timeout: 5s, names: [a, b], headers: {X-A: b},
			pool: {ttl: 1m, num_workers: 4}, routes: [{prefix: /a, rate: 2}], debug: false, anything: {a: [1]}}`, nil},
		{"quoted and empty values (substituted ${VAR}s)", `{on: "true", size: "12", pool: {num_workers: "4"}, names: "a,b", debug: ""}`, nil},
		{"integral float and a 0/1 boolean", `{size: 3.0, on: 1, read_timeout: 0}`, nil},
		{"nulls are defaults", `{address: , pool: , routes: }`, nil},
		{"unknown key with a near one", `{pool: {num_worker: 4}}`, []string{"x.pool.num_worker: unknown key, did you mean num_workers? (x.pool has: ttl, num_workers)"}},
		{"unknown key with nothing near", `{zzzzzzzz: 1}`, []string{"x.zzzzzzzz: unknown key (x has: address,"}},
		{"unsupported section", `{cors: {a: 1}}`, []string{"x.cors: not yet"}},
		{"unknown key in a list entry", `{routes: [{prefix: /a}, {prefx: /b}]}`, []string{"x.routes[1].prefx: unknown key, did you mean prefix? (each of x.routes has: prefix, rate)"}},
		{"every problem at once", `{adress: a, size: many, pool: {ttl: soon}, on: maybe}`,
			[]string{"x.adress: unknown key, did you mean address?", `x.on: "maybe" is not a boolean`, `x.pool.ttl: "soon" is not a duration`, `x.size: "many" is not a whole number: use one from -32768 to 32767`}},
		{"out of range", `{size: 40000, pool: {num_workers: -1}}`,
			[]string{"x.pool.num_workers: -1 is out of range: use a whole number from 0 to 18446744073709551615", "x.size: 40000 is out of range: use a whole number from -32768 to 32767"}},
		{"fraction for a whole number", `{size: 2.5}`, []string{"x.size: 2.5 is not a whole number"}},
		{"boolean for a number", `{size: true}`, []string{"x.size: true is not a number"}},
		{"number for a boolean", `{on: 5}`, []string{"x.on: 5 is not a boolean"}},
		{"section for a scalar", `{address: {a: 1}}`, []string{"x.address: want a single value, got a section"}},
		{"scalar for a section", `{pool: 4}`, []string{"x.pool: want a section of keys"}},
		{"list item of the wrong type", `{routes: [{rate: fast}]}`, []string{`x.routes[0].rate: "fast" is not a number`}},
		{"map for a list", `{names: {a: b}}`, []string{"x.names: want a list"}},
		{"list for a map", `{headers: [a]}`, []string{"x.headers: want a map"}},
		{"duration without a unit in text", `{read_timeout: "30"}`, []string{`x.read_timeout: "30" is not a duration`}},
		{"a map of sections", `{channels: {news: {ttl: 1s}, chat: , bad: 3, typo: {tl: 1s}}}`,
			[]string{"x.channels.bad: want a section of keys, got the number 3", "x.channels.typo.tl: unknown key, did you mean ttl?"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := check(t, tc.doc)
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d problems %v, want %d", len(errs), errs, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("problem %d %q does not contain %q", i, errs[i], w)
				}
			}
		})
	}
}

func TestKeys(t *testing.T) {
	var got []string
	for _, k := range Keys("x", reflect.TypeOf(sample{})) {
		got = append(got, k.Path+"="+string(k.Kind)+string(k.Elem))
	}
	want := []string{"x.address=string", "x.anything=any", "x.channels=map of sections", "x.channels.*.num_workers=uint",
		"x.channels.*.ttl=duration", "x.debug=bool", "x.headers=mapstring", "x.names=liststring",
		"x.on=bool", "x.pool=section", "x.pool.num_workers=uint", "x.pool.ttl=duration", "x.read_timeout=duration",
		"x.routes=list of sections", "x.routes[].prefix=string", "x.routes[].rate=float", "x.size=int"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("Keys:\n got %v\nwant %v", got, want)
	}
}

func TestPrune(t *testing.T) {
	var raw map[string]any
	doc := `{size: many, pool: {num_worker: 4, ttl: 1s}, routes: [{prefix: /a}, {prefx: /b, rate: x}], address: ":80"}`
	if err := yaml.Unmarshal([]byte(doc), &raw); err != nil {
		t.Fatal(err)
	}
	errs := Check("x", reflect.TypeOf(sample{}), raw, Options{})
	if len(errs) != 4 {
		t.Fatalf("want 4 problems, got %v", errs)
	}
	pruned := Prune("x", raw, errs)
	if again := Check("x", reflect.TypeOf(sample{}), pruned, Options{}); len(again) != 0 {
		t.Fatalf("the pruned section still has problems: %v (%v)", again, pruned)
	}
	want := map[string]any{"pool": map[string]any{"ttl": "1s"}, "routes": []any{map[string]any{"prefix": "/a"}, map[string]any{}}, "address": ":80"}
	if !reflect.DeepEqual(pruned, want) {
		t.Fatalf("pruned:\n got %#v\nwant %#v", pruned, want)
	}
	if _, ok := raw["size"]; !ok {
		t.Fatal("Prune changed its input")
	}
}

func TestDurationWithoutAUnitWarns(t *testing.T) {
	var raw map[string]any
	if err := yaml.Unmarshal([]byte(`{read_timeout: 30, pool: {ttl: 0}}`), &raw); err != nil {
		t.Fatal(err)
	}
	var warned []string
	errs := Check("x", reflect.TypeOf(sample{}), raw, Options{Warn: func(path, msg string) { warned = append(warned, path+": "+msg) }})
	if len(errs) != 0 || len(warned) != 1 || warned[0] != "x.read_timeout: 30 has no unit: it is read as 30ns (nanoseconds); write it with a unit, e.g. 30s" {
		t.Fatalf("errors %v, warnings %q", errs, warned)
	}
}

type withRemain struct {
	Name  string         `mapstructure:"name"`
	Extra map[string]any `mapstructure:",remain"`
}

func TestRemainTakesUnknownKeys(t *testing.T) {
	errs := Check("x", reflect.TypeOf(withRemain{}), map[string]any{"name": "a", "other": 1}, Options{})
	if len(errs) != 0 {
		t.Fatalf("a ,remain field takes the other keys: %v", errs)
	}
}
