package integration

import (
	"bytes"
	"encoding/json"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestPivotPHPExampleSameAppUnderRoadRunnerAndAWebSAPI serves examples/pivotphp's application
// (app.php) twice: through its RoadRunner worker (worker.php, in the real plugin graph) and the
// classic way, its front controller (public/index.php, what `make bench` runs on php-fpm) under
// PHP's built-in web server, which like php-fpm runs the script once per request. Every route
// must answer the same on both. It needs an installed pivotphp/core: PIVOTPHP_AUTOLOAD.
func TestPivotPHPExampleSameAppUnderRoadRunnerAndAWebSAPI(t *testing.T) {
	autoload := requirePivotPHPCore(t, "to serve examples/pivotphp under RoadRunner and a web SAPI")
	rr := startStack(t, stackOptions{
		worker: testsupport.RepoPath(t, "examples/pivotphp/worker.php"),
		pivot:  adapterPool,
		env:    map[string]string{"PIVOTPHP_AUTOLOAD": autoload},
	})
	classic := startPHPServer(t, testsupport.RepoPath(t, "examples/pivotphp/public/index.php"), autoload)

	cases := []struct {
		name, method, path, body string
		header                   http.Header
		status                   int
		contentType              string
	}{
		{"root", "GET", "/", "", nil, 200, "application/json; charset=utf-8"},
		{"params, query, header", "GET", "/hello/Ada?lang=pt", "", http.Header{"User-Agent": {"example-test"}}, 200, "application/json; charset=utf-8"},
		{"JSON body", "POST", "/echo", `{"a":[1,{"b":null}]}`, http.Header{"Content-Type": {"application/json"}}, 201, "application/json; charset=utf-8"},
		{"text", "GET", "/text", "", nil, 200, "text/plain; charset=utf-8"},
		{"no route", "GET", "/nope", "", nil, 404, "application/json; charset=utf-8"},
		{"handler throws", "GET", "/boom", "", nil, 500, "application/json; charset=utf-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var bodies [2]map[string]any
			// whether the app's middleware ran (it names the runtime): which responses carry it
			// depends on the core line (404s and 500s differ between releases), so both runtimes
			// must only agree
			var middleware [2]bool
			for i, server := range []struct{ base, runtime string }{{rr.base, "pivotphp-roadrunner"}, {classic, "php-fpm"}} {
				resp, body, err := adapterDo(tc.method, server.base+tc.path, []byte(tc.body), tc.header)
				if err != nil {
					t.Fatalf("%s: %v", server.runtime, err)
				}
				if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != tc.contentType {
					t.Fatalf("%s: %d %q, want %d %q: %s", server.runtime, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.contentType, body)
				}
				if got := resp.Header.Get("X-Powered-By-Runtime"); got != "" {
					middleware[i] = true
					if got != server.runtime {
						t.Errorf("%s: X-Powered-By-Runtime %q, want %q", server.runtime, got, server.runtime)
					}
				}
				if tc.contentType == "text/plain; charset=utf-8" {
					bodies[i] = map[string]any{"text": string(body)}
					continue
				}
				if err := json.Unmarshal(body, &bodies[i]); err != nil {
					t.Fatalf("%s: %v: %s", server.runtime, err, body)
				}
				delete(bodies[i], "pid")      // each process its own
				delete(bodies[i], "error_id") // unique per error
			}
			if middleware[0] != middleware[1] || tc.status < 300 && !middleware[0] {
				t.Errorf("the app's middleware ran on RoadRunner: %v, on the web SAPI: %v (it runs on every matched route)", middleware[0], middleware[1])
			}
			a, _ := json.Marshal(bodies[0])
			b, _ := json.Marshal(bodies[1])
			if !bytes.Equal(a, b) {
				t.Errorf("the same app answered differently:\n  RoadRunner: %s\n  web SAPI:   %s", a, b)
			}
		})
	}
}

// startPHPServer runs `php -S` with script as the router for every path; it returns the base URL.
func startPHPServer(t *testing.T, script, autoload string) string {
	t.Helper()
	addr := testsupport.FreeAddr(t)
	cmd := exec.Command("php", "-S", addr, script)
	cmd.Env = append(os.Environ(), "PIVOTPHP_AUTOLOAD="+autoload)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	base := "http://" + addr
	testsupport.WaitFor(t, 10*time.Second, "php -S "+addr, func() bool {
		resp, err := http.Get(base + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return base
}
