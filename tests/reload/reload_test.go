package reload_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/reload"
	configImpl "github.com/roadrunner-server/config/v4"
	"github.com/roadrunner-server/endure/v2"
	httpPlugin "github.com/roadrunner-server/http/v4"
	"github.com/roadrunner-server/logger/v4"
	"github.com/roadrunner-server/resetter/v4"
	rpcPlugin "github.com/roadrunner-server/rpc/v4"
	"github.com/roadrunner-server/server/v4"
)

// End to end: the endure container `rr serve` builds, with the real plugins (config, logger,
// server, rpc, resetter, RoadRunner's http v4.5.3, this repository's pivot) and this plugin,
// serving testdata/worker.php with real PHP workers. The test edits the application's files
// while clients loop requests.

type e2e struct {
	t       *testing.T
	app     string // APP_DIR: the watched application
	logFile string
	http    string // base URL of the stock http plugin ("" when not configured)
	pivot   string // base URL of pivot
	cont    *endure.Endure
}

type e2eOptions struct {
	withHTTP bool
	// services is the YAML of reload.services (indented by 4), with %[1]s for the app dir.
	services string
}

func startE2E(t *testing.T, o e2eOptions) *e2e {
	t.Helper()
	testsupport.RequirePHP(t)
	e := &e2e{t: t, app: t.TempDir(), pivot: "http://" + testsupport.FreeAddr(t)}
	e.logFile = filepath.Join(t.TempDir(), "rr.log")
	for _, d := range []string{"app", "vendor/acme"} {
		if err := os.MkdirAll(filepath.Join(e.app, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	testsupport.WriteFile(t, filepath.Join(e.app, "app", "version.php"), "<?php return 'v1';\n")
	testsupport.WriteFile(t, filepath.Join(e.app, "vendor", "acme", "lib.php"), "<?php\n")

	worker, err := filepath.Abs(filepath.Join("testdata", "worker.php"))
	if err != nil {
		t.Fatal(err)
	}
	pool := "  pool:\n    num_workers: 2\n    allocate_timeout: 10s\n    destroy_timeout: 10s\n    reset_timeout: 20s\n"
	httpSection := ""
	if o.withHTTP {
		addr := testsupport.FreeAddr(t)
		e.http = "http://" + addr
		httpSection = fmt.Sprintf("http:\n  address: %s\n%s", addr, pool)
	}
	yaml := fmt.Sprintf(`version: "3"
rpc:
  listen: tcp://%s
server:
  command: "php %s"
  env:
    APP_DIR: %q
logs:
  mode: production
  level: debug
  output: [%q]
%spivot:
  address: %s
%sreload:
  interval: 300ms
  patterns: [".php"]
  services:
%s`, testsupport.FreeAddr(t), worker, e.app, e.logFile, httpSection, strings.TrimPrefix(e.pivot, "http://"), pool,
		fmt.Sprintf(o.services, e.app))

	e.cont = endure.New(slog.LevelError, endure.GracefulShutdownTimeout(30*time.Second))
	cfg := &configImpl.Plugin{ReadInCfg: []byte(yaml), Type: "yaml", Version: pivot.RRVersion}
	if err = e.cont.RegisterAll(cfg, &logger.Plugin{}, &server.Plugin{}, &rpcPlugin.Plugin{}, &resetter.Plugin{},
		&httpPlugin.Plugin{}, &pivot.Plugin{}, &reload.Plugin{}); err != nil {
		t.Fatal(err)
	}
	if err = e.cont.Init(); err != nil {
		t.Fatalf("container init: %v", err)
	}
	errs, err := e.cont.Serve()
	if err != nil {
		t.Fatalf("container serve: %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			stopped = true
			if errS := e.cont.Stop(); errS != nil {
				t.Errorf("container stop: %v", errS)
			}
		}
		b, _ := os.ReadFile(e.logFile)
		switch {
		case t.Failed():
			t.Logf("rr log:\n%s", testsupport.Tail(string(b), 32<<10))
		case testing.Verbose(): // what the reload plugin said
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, `"logger":"reload"`) {
					t.Log(line)
				}
			}
		}
	})
	go func() {
		for r := range errs {
			if r != nil && r.Error != nil {
				t.Errorf("plugin %s failed: %v", r.VertexID, r.Error)
			}
		}
	}()

	for _, base := range e.bases() {
		base := base
		testsupport.WaitFor(t, 30*time.Second, base+" to serve v1", func() bool {
			v, _, err := get(testsupport.QuickClient, base)
			return err == nil && v == "v1"
		})
	}
	return e
}

func (e *e2e) bases() []string {
	if e.http == "" {
		return []string{e.pivot}
	}
	return []string{e.pivot, e.http}
}

func (e *e2e) writeVersion(content string) {
	e.t.Helper()
	testsupport.WriteFile(e.t, filepath.Join(e.app, "app", "version.php"), content)
}

// get answers the version a worker serves ("v1 <pid>" → "v1").
func get(c *http.Client, base string) (string, int, error) {
	resp, err := c.Get(base + "/") //nolint:noctx
	if err != nil {
		return "", 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", resp.StatusCode, fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	}
	version, _, _ := strings.Cut(string(b), " ")
	return version, resp.StatusCode, nil
}

// load loops requests on one server from a few clients until stop, and remembers when each
// version was first served.
type load struct {
	base     string
	ok       atomic.Int64
	failed   atomic.Int64
	mu       sync.Mutex
	firstErr error
	firstAt  map[string]time.Time
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

func startLoad(base string, clients int) *load {
	l := &load{base: base, firstAt: make(map[string]time.Time), stop: make(chan struct{})}
	for i := 0; i < clients; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer c.CloseIdleConnections()
			for n := 0; n < 200000; n++ { // bounded: stop ends it long before
				select {
				case <-l.stop:
					return
				default:
				}
				v, _, err := get(c, base)
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if l.firstErr == nil {
						l.firstErr = err
					}
					l.mu.Unlock()
					time.Sleep(10 * time.Millisecond)
					continue
				}
				l.ok.Add(1)
				l.mu.Lock()
				if _, seen := l.firstAt[v]; !seen {
					l.firstAt[v] = time.Now()
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *load) seen(version string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.firstAt[version]
	return at, ok
}

func (l *load) end() {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
}

func (l *load) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%s: %d ok, %d failed (first: %v)", l.base, l.ok.Load(), l.failed.Load(), l.firstErr)
}

// logLine is one JSON line of the logger plugin (logs.mode: production).
type logLine map[string]any

func (e *e2e) logs() []logLine {
	f, err := os.Open(e.logFile)
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }()
	var out []logLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// reloadLogs are the reload plugin's lines whose message contains msg (and service, if set).
func (e *e2e) reloadLogs(msg, service string) []logLine {
	var out []logLine
	for _, l := range e.logs() {
		if l["logger"] != reload.PluginName || !strings.Contains(fmt.Sprint(l["msg"]), msg) {
			continue
		}
		if service != "" && l["service"] != service {
			continue
		}
		out = append(out, l)
	}
	return out
}

// An edit of the application is served within seconds by both pivot (rolling reset) and the
// stock http plugin (pool reset), and no request fails meanwhile; vendor/ is ignored.
func TestE2EEditIsServedWithoutFailedRequests(t *testing.T) {
	e := startE2E(t, e2eOptions{withHTTP: true, services: `    http: { recursive: true, ignore: ["vendor/"], dirs: [%[1]q] }
    pivot: { recursive: true, ignore: ["vendor/"], dirs: [%[1]q] }
`})
	if w := e.reloadLogs("development tool", ""); len(w) != 1 || w[0]["level"] != "warn" {
		t.Fatalf("no warning that reload runs with logs.mode: production: %v", w)
	}

	loads := map[string]*load{"pivot": startLoad(e.pivot, 4), "http": startLoad(e.http, 4)}
	time.Sleep(500 * time.Millisecond)
	edited := time.Now()
	e.writeVersion("<?php return 'v2';\n")
	for name, l := range loads {
		name, l := name, l
		testsupport.WaitFor(t, 15*time.Second, name+" to serve v2", func() bool { _, ok := l.seen("v2"); return ok })
	}
	time.Sleep(time.Second) // the old workers retire under load
	for name, l := range loads {
		l.end()
		at, _ := l.seen("v2")
		t.Logf("%s: %s; v2 served %s after the edit", name, l, at.Sub(edited).Round(time.Millisecond))
		if at.Sub(edited) > 5*time.Second {
			t.Errorf("%s served the edit only after %s", name, at.Sub(edited))
		}
		if l.ok.Load() < 20 {
			t.Errorf("%s: too few requests to mean anything: %s", name, l)
		}
		if l.failed.Load() != 0 {
			t.Errorf("%s: requests failed during the reset: %s", name, l)
		}
	}

	for _, svc := range []string{"pivot", "http"} {
		r := e.reloadLogs("reloading", svc)
		if len(r) != 1 || r[0]["level"] != "info" || !strings.HasSuffix(fmt.Sprint(r[0]["file"]), filepath.Join("app", "version.php")) {
			t.Fatalf("%s: one info 'reloading' log naming app/version.php expected: %v", svc, r)
		}
		if len(e.reloadLogs("reloaded", svc)) != 1 {
			t.Fatalf("%s: no 'reloaded' log", svc)
		}
	}

	// vendor/ is ignored: no reset
	testsupport.WriteFile(t, filepath.Join(e.app, "vendor", "acme", "lib.php"), "<?php // updated\n")
	time.Sleep(1500 * time.Millisecond)
	if n := len(e.reloadLogs("reloading", "")); n != 2 {
		t.Fatalf("%d resets after a change in vendor/, want none (2 in all)", n)
	}
}

// A syntax error: pivot's reset fails (the new workers cannot start), the error is logged, the
// old workers keep serving without a failed request; the fix is served at the next save. A
// configured service that is not running (http here) is a startup warning, not an error.
func TestE2ESyntaxErrorKeepsOldWorkersServing(t *testing.T) {
	e := startE2E(t, e2eOptions{services: `    pivot: { recursive: true, dirs: [%[1]q] }
    http: { recursive: true, dirs: [%[1]q] }
`})
	w := e.reloadLogs(`reload.services.http: no running plugin named "http" can be reset`, "")
	if len(w) != 1 || w[0]["level"] != "warn" {
		t.Fatalf("no startup warning naming http: %v", w)
	}

	l := startLoad(e.pivot, 4)
	defer l.end()
	time.Sleep(300 * time.Millisecond)
	e.writeVersion("<?php return 'v2'\n// the ; is missing\n")
	testsupport.WaitFor(t, 30*time.Second, "the failed reset to be logged", func() bool {
		return len(e.reloadLogs("reload failed", "pivot")) > 0
	})
	failed := e.reloadLogs("reload failed", "pivot")[0]
	if failed["level"] != "error" || !strings.Contains(fmt.Sprint(failed["error"]), "the current workers keep serving") ||
		!strings.HasSuffix(fmt.Sprint(failed["file"]), filepath.Join("app", "version.php")) {
		t.Fatalf("failed reset log: %v", failed)
	}
	time.Sleep(500 * time.Millisecond)
	if v, _, err := get(testsupport.Client, e.pivot); err != nil || v != "v1" {
		t.Fatalf("after the failed reset: %q %v, want the old workers' v1", v, err)
	}
	if _, ok := l.seen("v2"); ok {
		t.Fatal("the broken version was served")
	}

	fixed := time.Now()
	e.writeVersion("<?php return 'v3';\n")
	testsupport.WaitFor(t, 15*time.Second, "v3 to be served", func() bool { _, ok := l.seen("v3"); return ok })
	at, _ := l.seen("v3")
	time.Sleep(500 * time.Millisecond)
	l.end()
	t.Logf("%s; v3 served %s after the fix", l, at.Sub(fixed).Round(time.Millisecond))
	if l.failed.Load() != 0 {
		t.Fatalf("requests failed: %s", l)
	}
	if len(e.reloadLogs("reloaded", "pivot")) != 1 {
		t.Fatal("the fix was not logged as reloaded")
	}
}
