package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// A RoadRunner 2.x-style file: flat pipeline and storage, ${VAR} in a flow mapping, a comment.
const flatConfig = `version: "3"
# the queues
jobs:
  pool: { num_workers: ${PIVOT_MIGRATE_WORKERS:-2} }
  pipelines:
    emails: { driver: memory, priority: 10 } # fast
kv:
  local: { driver: memory }
`

func TestConfigMigrate(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, flatConfig)

	printed := runRR(t, dir, nil, "config", "migrate")
	if printed.code != 0 {
		t.Fatal(printed)
	}
	for _, want := range []string{"# the queues", "# fast", "    emails:\n      driver: memory\n      config:\n        priority: 10",
		"  local:\n    driver: memory\n    config: {}", `num_workers: "${PIVOT_MIGRATE_WORKERS:-2}"`} {
		if !strings.Contains(printed.stdout, want) {
			t.Errorf("the migrated file lacks %q\n%s", want, printed)
		}
	}
	for _, want := range []string{"jobs.pipelines.emails: driver options moved under config:", "kv.local", "quoted"} {
		if !strings.Contains(printed.stderr, want) {
			t.Errorf("stderr does not say %q\n%s", want, printed)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != flatConfig {
		t.Fatal("without -i the file must stay as it is")
	}

	inPlace := runRR(t, dir, nil, "config", "migrate", "-i")
	if inPlace.code != 0 {
		t.Fatal(inPlace)
	}
	if b, _ := os.ReadFile(path + ".bak"); string(b) != flatConfig {
		t.Fatalf("the original must be kept as .rr.yaml.bak:\n%s", b)
	}
	if b, _ := os.ReadFile(path); string(b) != printed.stdout {
		t.Fatalf("-i wrote something else than what was printed:\n%s", b)
	}

	again := runRR(t, dir, nil, "config", "migrate")
	if again.code != 0 || !strings.Contains(again.stderr, "nothing to change") {
		t.Fatalf("a migrated file needs nothing more:\n%s", again)
	}
}

func TestConfigMigrateRefusesInvalidYAML(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, "version: \"3\"\njobs: [ unclosed\n")
	res := runRR(t, dir, nil, "config", "migrate")
	if res.code != 1 || !strings.Contains(res.stderr, "not valid YAML") {
		t.Fatalf("want exit 1 and a YAML error\n%s", res)
	}
	if _, err := os.Stat(filepath.Join(dir, ".rr.yaml.bak")); err == nil {
		t.Fatal("nothing may be written for a file that cannot be migrated")
	}
}

// rr serve says which sections nobody reads, and keeps /metrics when metrics.collect has an
// entry that is not a collector.
func TestServeWarnsAboutWhatNoPluginReads(t *testing.T) {
	dir := t.TempDir()
	rpcAddr, metricsAddr := testsupport.FreeAddr(t), testsupport.FreeAddr(t)
	writeConfig(t, dir, fmt.Sprintf(`version: "3"
rpc:
  listen: tcp://%s
logs:
  level: error
metrics:
  address: %s
  collect: { app_metric_*: true }
reloadd:
  enabled: true
`, rpcAddr, metricsAddr))
	s := startServe(t, dir, nil)
	testsupport.WaitFor(t, 20*time.Second, "/metrics to answer", func() bool {
		resp, err := testsupport.QuickClient.Get("http://" + metricsAddr + "/metrics") //nolint:noctx
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == 200
	})
	out := s.stdout.String()
	for _, want := range []string{`the "reloadd" section is not read by any plugin of this rr`, "reload,",
		"metrics.collect.app_metric_*: true is not a collector definition"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve's output lacks %q\n%s", want, s.output())
		}
	}
	if strings.Contains(out, `"rpc" section`) || strings.Contains(out, `"logs" section`) || strings.Contains(out, `"metrics" section`) {
		t.Errorf("a section a plugin reads was reported as unread\n%s", s.output())
	}
}
