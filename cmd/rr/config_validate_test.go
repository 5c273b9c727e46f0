package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// A file with a problem of every kind in the pivot section, in a 2.x layout with an unread
// section: rr config validate prints all of them and exits 1.
const badConfig = `version: "3"
server:
  command: "php worker.php"
rpc:
  listen: tcp://127.0.0.1:6001
jobs:
  pipelines:
    emails: { driver: memory, priority: 10 }
  consume: [emails]
htttp:
  address: 127.0.0.1:8081
pivot:
  address: 127.0.0.1:${PIVOT_VALIDATE_PORT:-8080}
  max_header_bytes: 16
  pool:
    num_worker: 4
    max_jobs: lots
  static:
    dir: no-such-dir
  breaker:
    failure_ratio: 2
    routes:
      - { prefix: /api, slw: 1s }
`

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, badConfig)
	res := runRR(t, dir, nil, "config", "validate")
	if res.code != 1 {
		t.Fatalf("want exit code 1\n%s", res)
	}
	for _, want := range []string{
		"ERROR pivot.pool.num_worker: unknown key, did you mean num_workers?",
		`ERROR pivot.pool.max_jobs: "lots" is not a whole number: use one from 0 to 18446744073709551615`,
		"ERROR pivot.breaker.routes[0].slw: unknown key, did you mean slow?",
		"ERROR pivot.max_header_bytes is 16: it is in bytes, from 1024 to 1048576",
		`ERROR pivot.static.dir "no-such-dir" is not an existing directory`,
		"ERROR pivot.breaker.failure_ratio is 2: use a share of the requests from 0 to 1",
		`WARN  the "htttp" section is not read by any plugin of this rr`,
		"WARN  jobs.pipelines.emails",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("the output lacks %q\n%s", want, res)
		}
	}
	if !strings.Contains(res.stderr, "6 problem(s)") {
		t.Errorf("stderr does not count 6 problems\n%s", res)
	}

	// -o overrides are read as rr serve reads them: what they fix is no longer reported, the
	// unknown keys still are
	fixed := runRR(t, dir, nil, "config", "validate",
		"-o", "pivot.max_header_bytes=32768", "-o", "pivot.breaker.failure_ratio=0.5", "-o", "pivot.static.dir=.",
		"-o", "pivot.pool.max_jobs=10")
	if fixed.code != 1 || strings.Contains(fixed.stdout, "ERROR pivot.max_header_bytes") || strings.Contains(fixed.stdout, "ERROR pivot.breaker.failure_ratio") ||
		strings.Contains(fixed.stdout, "ERROR pivot.pool.max_jobs") || strings.Contains(fixed.stdout, "ERROR pivot.static") || !strings.Contains(fixed.stderr, "2 problem(s)") {
		t.Fatalf("the overrides were not applied\n%s", fixed)
	}
}

func TestConfigValidateAcceptsAGoodFile(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, `version: "3"
server:
  command: "php worker.php"
rpc:
  listen: tcp://127.0.0.1:6001
pivot:
  address: 127.0.0.1:${PIVOT_VALIDATE_PORT:-8080}
  pool: { num_workers: "${PIVOT_VALIDATE_WORKERS:-2}" }
  static: { dir: . }
`)
	res := runRR(t, dir, []string{"PIVOT_VALIDATE_WORKERS=3"}, "config", "validate")
	if res.code != 0 || strings.Contains(res.stdout, "ERROR") {
		t.Fatalf("want exit code 0 and no error\n%s", res)
	}
	if !strings.Contains(res.stdout, `WARN  pivot.static is set but pivot.middleware does not list "static"`) ||
		!strings.Contains(res.stdout, "valid (1 warning(s))") {
		t.Fatalf("the warning of rr serve is not reported\n%s", res)
	}
}

// Every config of the repo that rr serves as it is validates with exit code 0 from its own
// directory (as `rr serve -c` runs it).
func TestConfigValidateRepoConfigs(t *testing.T) {
	root := testsupport.RepoRoot(t)
	for _, rel := range []string{".rr.yaml", "examples/pivotphp/.rr.yaml", "examples/jobs/.rr.yaml"} {
		t.Run(rel, func(t *testing.T) {
			res := runRR(t, root, nil, "config", "validate", "-c", filepath.Join(root, rel))
			if res.code != 0 {
				t.Fatalf("rr config validate -c %s\n%s", rel, res)
			}
		})
	}
}
