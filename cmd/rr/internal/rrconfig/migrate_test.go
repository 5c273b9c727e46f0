package rrconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestFindFlatSections(t *testing.T) {
	all := map[string]any{
		"jobs": map[string]any{"pipelines": map[string]any{
			"emails":  map[string]any{"driver": "memory", "priority": 10},
			"modern":  map[string]any{"driver": "memory", "config": map[string]any{"priority": 1}},
			"mixed":   map[string]any{"driver": "amqp", "queue": "q", "config": map[string]any{"queue": "explicit"}},
			"bare":    map[string]any{"driver": "memory"},
			"noDrive": map[string]any{"priority": 3},
		}},
		"kv": map[string]any{
			"local": map[string]any{"driver": "memory"},
			"redis": map[string]any{"driver": "redis", "config": map[string]any{"addrs": []any{"localhost:6379"}}},
		},
	}
	got := FindFlatSections(all)
	want := []FlatSection{
		{Path: "jobs.pipelines.bare", Config: map[string]any{}},
		{Path: "jobs.pipelines.emails", Config: map[string]any{"priority": 10}, Moved: []string{"priority"}},
		{Path: "jobs.pipelines.mixed", Config: map[string]any{"queue": "explicit"}, Moved: []string{"queue"}},
		{Path: "kv.local", Config: map[string]any{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if w := want[1].Warning("memory"); !strings.Contains(w, "jobs.pipelines.emails uses RoadRunner 2.x's flat layout") ||
		!strings.Contains(w, "emails:\n      driver: memory\n      config:\n        priority: 10") || !strings.Contains(w, "rr config migrate") {
		t.Fatalf("warning does not show the 2023 layout:\n%s", w)
	}
}

func TestMigrateYAMLKeepsCommentsAndOrder(t *testing.T) {
	src := `version: "3"
# the queues
jobs:
  pipelines:
    emails: { driver: memory, priority: 10 } # fast ones
    bolt:
      driver: boltdb
      config:
        file: x.db
kv:
  local: { driver: memory }
  mc:
    driver: memcached
    addr: ["127.0.0.1:11211"]
    config:
      addr: ["explicit:1"]
`
	out, changed, err := MigrateYAML([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"jobs.pipelines.emails", "kv.local", "kv.mc"}; !reflect.DeepEqual(changed, want) {
		t.Fatalf("changed %v, want %v", changed, want)
	}
	for _, s := range []string{"# the queues", "# fast ones", "file: x.db"} {
		if !strings.Contains(string(out), s) {
			t.Fatalf("%q lost:\n%s", s, out)
		}
	}
	var doc map[string]any
	if err = yaml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	flat := FindFlatSections(doc)
	if len(flat) != 0 {
		t.Fatalf("still flat after migrate: %+v\n%s", flat, out)
	}
	mc := doc["kv"].(map[string]any)["mc"].(map[string]any)["config"].(map[string]any)
	if !reflect.DeepEqual(mc["addr"], []any{"explicit:1"}) {
		t.Fatalf("an explicit config: value must win over the flat one: %v", mc)
	}
	if again, changedAgain, _ := MigrateYAML(out); len(changedAgain) != 0 || string(again) != string(out) {
		t.Fatalf("migrating twice changed %v", changedAgain)
	}
}

func TestReadYAMLSubstitutesEnvInFlowCollections(t *testing.T) {
	t.Setenv("PIVOT_TEST_WORKERS", "")
	cases := []struct {
		name, src string
		wantNote  bool
		want      string // substring of the returned bytes
	}{
		{"valid file unchanged", "version: \"3\"\nhttp:\n  pool:\n    num_workers: ${PIVOT_TEST_WORKERS:-4}\n", false, "${PIVOT_TEST_WORKERS:-4}"},
		{"flow mapping", "version: \"3\"\nhttp:\n  pool: { num_workers: ${PIVOT_TEST_WORKERS:-4}, max_jobs: 5 }\n", true, "num_workers: 4,"},
		{"a broken file stays broken", "version: \"3\"\nhttp: [ ${PIVOT_TEST_WORKERS:-4}\n", false, "[ ${"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".rr.yaml")
			if err := os.WriteFile(path, []byte(tc.src), 0o600); err != nil {
				t.Fatal(err)
			}
			data, note, err := ReadYAML(path)
			if err != nil {
				t.Fatal(err)
			}
			if (note != "") != tc.wantNote || !strings.Contains(string(data), tc.want) {
				t.Fatalf("note %q, data %s", note, data)
			}
			if tc.wantNote && !strings.Contains(note, `"${RR_HTTP_WORKERS:-4}"`) {
				t.Fatalf("the note must show how to quote: %s", note)
			}
		})
	}
	quoted, ok := QuoteFlowEnv([]byte(cases[1].src))
	if !ok || !strings.Contains(string(quoted), `{ num_workers: "${PIVOT_TEST_WORKERS:-4}", max_jobs: 5 }`) {
		t.Fatalf("QuoteFlowEnv: %v %s", ok, quoted)
	}
}
