package reload_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// pivot.reload (watch mode) through the real ./rr binary and `rr serve --watch`: the files of
// the application are watched by plugins/reload's watcher, the changed PHP files are linted,
// and pivot's workers are replaced with its rolling reset.

type watchApp struct {
	t    *testing.T
	app  string
	base string
	rr   *testsupport.RR
}

func startWatch(t *testing.T, logsMode string) *watchApp {
	t.Helper()
	return startWatchWith(t, logsMode, "<?php return 'v1';\n")
}

// startWatchWith starts rr with app/version.php holding version; it waits for v1 to be served
// when version is exactly v1's.
func startWatchWith(t *testing.T, logsMode, version string) *watchApp {
	t.Helper()
	testsupport.RequirePHP(t)
	a := &watchApp{t: t, app: t.TempDir()}
	addr := testsupport.FreeAddr(t)
	a.base = "http://" + addr
	for _, d := range []string{"app", "vendor/acme"} {
		if err := os.MkdirAll(filepath.Join(a.app, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	testsupport.WriteFile(t, filepath.Join(a.app, "app", "version.php"), version)
	testsupport.WriteFile(t, filepath.Join(a.app, "app", "lazy.php"), "<?php // loaded by no worker at boot\n")
	worker, err := filepath.Abs(filepath.Join("testdata", "worker.php"))
	if err != nil {
		t.Fatal(err)
	}
	// pivot.reload names only dirs and debounce: enabled comes from --watch, patterns and
	// ignore are the defaults ([".php", ".env"], ["vendor", ".git"])
	yaml := fmt.Sprintf(`version: "3"
server:
  command: "php %s"
  env:
    APP_DIR: %q
logs:
  mode: %s
  level: info
pivot:
  address: %s
  pool:
    num_workers: 2
    allocate_timeout: 10s
    destroy_timeout: 10s
    reset_timeout: 20s
  reload:
    dirs: [%q]
    debounce: 300ms
`, worker, a.app, logsMode, addr, a.app)
	a.rr = testsupport.StartRR(t, yaml, testsupport.RROptions{Args: []string{"--watch"}})
	if version != "<?php return 'v1';\n" {
		return a
	}
	a.rr.WaitReady(t, 30*time.Second, func() (bool, string) {
		v, _, err := get(testsupport.QuickClient, a.base)
		return err == nil && v == "v1", fmt.Sprintf("%q %v", v, err)
	})
	return a
}

func (a *watchApp) write(rel, content string) {
	a.t.Helper()
	testsupport.WriteFile(a.t, filepath.Join(a.app, rel), content)
}

func (a *watchApp) version(v string) {
	a.write("app/version.php", fmt.Sprintf("<?php return '%s';\n", v))
}

// count is how many lines of rr's output contain s.
func (a *watchApp) count(s string) int { return strings.Count(a.rr.Out.String(), s) }

// 20 saves under load, single ones and bursts: no request fails, each new version is served
// within a second of its last save, and a burst is one reset.
func TestWatchEditsUnderLoad(t *testing.T) {
	a := startWatch(t, "production")
	if a.count("pivot.reload is a development tool, but logs.mode is production") != 1 {
		t.Fatalf("no startup warning for watch mode with logs.mode: production:\n%s", a.rr.Out.String())
	}

	l := startLoad(a.base, 4)
	defer l.end()
	time.Sleep(300 * time.Millisecond)

	var lat []time.Duration
	saves, n := 0, 1
	step := func(burst int) {
		var last time.Time
		for i := 0; i < burst; i++ {
			n++
			a.version(fmt.Sprintf("v%d", n))
			saves++
			last = time.Now()
			if i < burst-1 {
				time.Sleep(40 * time.Millisecond)
			}
		}
		want := fmt.Sprintf("v%d", n)
		testsupport.WaitFor(t, 15*time.Second, want+" to be served", func() bool { _, ok := l.seen(want); return ok })
		at, _ := l.seen(want)
		lat = append(lat, at.Sub(last))
		time.Sleep(150 * time.Millisecond)
	}
	for _, burst := range []int{1, 1, 5, 1, 1, 1, 5, 1, 1, 1, 1, 1} {
		step(burst)
	}
	if saves != 20 {
		t.Fatalf("%d saves, want 20", saves)
	}
	time.Sleep(500 * time.Millisecond) // the last old workers retire under load
	l.end()

	sorted := append([]time.Duration(nil), lat...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	resets := a.count(`"msg":"reloaded"`)
	t.Logf("%s; %d saves, %d resets; new code served after the last save: median %s, max %s (all: %v)",
		l, saves, resets, sorted[len(sorted)/2].Round(time.Millisecond), sorted[len(sorted)-1].Round(time.Millisecond), lat)
	if l.failed.Load() != 0 {
		t.Errorf("requests failed during the reloads: %s", l)
	}
	if l.ok.Load() < 200 {
		t.Errorf("too few requests to mean anything: %s", l)
	}
	if max := sorted[len(sorted)-1]; max > time.Second {
		t.Errorf("the new code was served %s after the last save (want within 1s)", max)
	}
	// each burst of 5 saves 40ms apart is one reset: 12 in all (a loaded box may split one)
	if resets < 12 || resets > 14 {
		t.Errorf("%d resets for 10 single saves and 2 bursts, want 12", resets)
	}
	var inside []string // versions saved in the middle of a burst that were served anyway
	for _, v := range []string{"v4", "v5", "v6", "v7", "v12", "v13", "v14", "v15"} {
		if _, ok := l.seen(v); ok {
			inside = append(inside, v)
		}
	}
	if len(inside) > resets-12 {
		t.Errorf("%v, saved in the middle of a burst, were served with %d resets: the bursts were not debounced", inside, resets)
	}
	// vendor/ is ignored by default
	before := a.count(`"msg":"reloading"`)
	a.write("vendor/acme/lib.php", "<?php // updated\n")
	time.Sleep(time.Second)
	if after := a.count(`"msg":"reloading"`); after != before {
		t.Errorf("a change in vendor/ reloaded (%d → %d)", before, after)
	}
}

// A syntax error (production mode): the file is linted before any worker is replaced, the error
// is logged with the file and line, the old workers keep serving without a failed request, and
// the next good save is served. A file no worker loads at boot is checked too (a reset would
// have put it in service).
func TestWatchSyntaxErrorKeepsServing(t *testing.T) {
	a := startWatch(t, "production")
	l := startLoad(a.base, 4)
	defer l.end()
	time.Sleep(300 * time.Millisecond)
	pids := workerPIDs(t, a.base)

	for i, rel := range []string{"app/version.php", "app/lazy.php"} {
		a.write(rel, "<?php return 'broken'\n// the ; is missing\n")
		testsupport.WaitFor(t, 15*time.Second, "the syntax error to be logged", func() bool {
			return a.count("PHP syntax error, the current workers keep serving") > i
		})
		out := a.rr.Out.String()
		if !strings.Contains(out, "syntax error, unexpected") || !strings.Contains(out, filepath.Join(a.app, rel)+" on line") {
			t.Fatalf("the log does not show php's error with the file and line:\n%s", testsupport.Tail(out, 4000))
		}
		time.Sleep(300 * time.Millisecond)
		if got := workerPIDs(t, a.base); !sameSet(got, pids) {
			t.Fatalf("the workers were replaced (%v → %v) although %s does not parse", pids, got, rel)
		}
		a.write(rel, "<?php return 'v1';\n") // fixed: served again
	}
	fixed := time.Now()
	a.version("v3")
	testsupport.WaitFor(t, 15*time.Second, "v3 to be served", func() bool { _, ok := l.seen("v3"); return ok })
	at, _ := l.seen("v3")
	time.Sleep(300 * time.Millisecond)
	l.end()
	t.Logf("%s; v3 served %s after the fix", l, at.Sub(fixed).Round(time.Millisecond))
	if l.failed.Load() != 0 {
		t.Fatalf("requests failed: %s", l)
	}
	if _, ok := l.seen("broken"); ok {
		t.Fatal("the broken version was served")
	}
}

// Development mode (logs.mode: development, RoadRunner's default): while the last reload failed,
// requests get a 500 page with the error, the workers stay up, and the next good save serves
// the new code without a restart. An error that php -l cannot see (an exception at boot) is
// shown the same way, from the failed reset.
func TestWatchDevModeErrorPage(t *testing.T) {
	a := startWatch(t, "development")
	if a.count("logs.mode is production") != 0 {
		t.Fatal("the production warning was printed in development mode")
	}
	cases := []struct {
		name, code, want string
	}{
		{"syntax error", "<?php return 'v2'\n", "syntax error, unexpected end of file"},
		{"exception at boot", "<?php throw new RuntimeException('boom at boot');\n", "boom at boot"},
	}
	for i, c := range cases {
		a.write("app/version.php", c.code)
		var body string
		testsupport.WaitFor(t, 20*time.Second, c.name+": the error page", func() bool {
			resp, b := testsupport.Do(t, http.MethodGet, a.base+"/", nil, http.Header{"Accept": {"text/html"}})
			body = string(b)
			return resp.StatusCode == http.StatusInternalServerError && resp.Header.Get("X-Pivot-Reload") == "failed"
		})
		if !strings.Contains(body, "<h1>Reload failed</h1>") || !strings.Contains(body, c.want) {
			t.Fatalf("%s: the page does not show the error %q:\n%s", c.name, c.want, body)
		}
		resp, b := testsupport.Do(t, http.MethodGet, a.base+"/", nil, nil)
		if resp.StatusCode != 500 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !strings.Contains(string(b), c.want) {
			t.Fatalf("%s: without Accept: text/html: %d %s %q", c.name, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}

		fixed := time.Now()
		want := fmt.Sprintf("v%d", 3+i)
		a.version(want)
		testsupport.WaitFor(t, 15*time.Second, want+" after the fix", func() bool {
			v, _, err := get(testsupport.QuickClient, a.base)
			return err == nil && v == want
		})
		t.Logf("%s: %s served %s after the fix", c.name, want, time.Since(fixed).Round(time.Millisecond))
	}
	if !a.rr.Alive() {
		t.Fatal("rr exited")
	}
}

// workerPIDs are the pids that answer a few requests.
func workerPIDs(t *testing.T, base string) map[string]bool {
	t.Helper()
	pids := map[string]bool{}
	for i := 0; i < 20; i++ {
		_, b := testsupport.Do(t, http.MethodGet, base+"/", nil, nil)
		if f := strings.Fields(string(b)); len(f) == 2 {
			pids[f[1]] = true
		}
	}
	return pids
}

func sameSet(a, b map[string]bool) bool {
	for k := range b {
		if !a[k] {
			return false
		}
	}
	return len(b) > 0
}

// --watch reloads pivot: a config without a pivot section is refused with the reason.
func TestWatchFlagNeedsPivot(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, ".rr.yaml")
	testsupport.WriteFile(t, cfg, "version: \"3\"\nserver:\n  command: \"php worker.php\"\n")
	cmd := exec.Command(testsupport.RRBinary(t), "serve", "--watch", "-c", cfg)
	cmd.Env = testsupport.Env()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--watch reloads the pivot plugin, but") || !strings.Contains(string(out), "has no pivot section") {
		t.Fatalf("rr serve --watch without pivot: %v\n%s", err, out)
	}
}

// rr started on code that does not boot (pivot answers 503 while it retries): the fix is served
// at its save, without a restart.
func TestWatchRecoversABrokenStart(t *testing.T) {
	a := startWatchWith(t, "development", "<?php return 'v1'\n")
	a.rr.WaitReady(t, 30*time.Second, testsupport.HTTPAnswers(a.base+"/", http.StatusServiceUnavailable))
	fixed := time.Now()
	a.version("v2")
	testsupport.WaitFor(t, 15*time.Second, "v2 after the fix", func() bool {
		v, _, err := get(testsupport.QuickClient, a.base)
		return err == nil && v == "v2"
	})
	t.Logf("v2 served %s after the fix", time.Since(fixed).Round(time.Millisecond))
}
