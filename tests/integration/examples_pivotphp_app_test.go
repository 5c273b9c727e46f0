package integration

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// TestPivotPHPExampleApp serves examples/pivotphp with its own .rr.yaml through the real ./rr:
// routes, a JSON body, the middleware, the KV-cached report and the job dispatch (the jobs
// plugin runs worker.php's consumer). PivotPHP core cannot be installed here (no Packagist): with
// PIVOTPHP_AUTOLOAD it runs on a real core, else on php/tests/fixtures/fake-core5, the 5.x-shaped
// stand-in the adapter's own tests use (the runtime, rr, KV, jobs and the app's code are real).
func TestPivotPHPExampleApp(t *testing.T) {
	testsupport.RequirePHP(t)
	autoload, core := os.Getenv("PIVOTPHP_AUTOLOAD"), "a real pivotphp/core (PIVOTPHP_AUTOLOAD)"
	if autoload == "" {
		autoload, core = testsupport.RepoPath(t, "php/tests/fixtures/fake-core5/autoload.php"), "the fake-core5 stand-in"
		testsupport.RequireBinary(t, "php", "php-nyholm-psr7")
		if _, err := os.Stat("/usr/share/php/Nyholm/Psr7/autoload.php"); err != nil {
			t.Fatalf("fake-core5 needs nyholm/psr7: apt-get install php-nyholm-psr7 (scripts/install-deps.sh test)")
		}
	}
	t.Logf("PivotPHP: %s", core)

	yaml, err := os.ReadFile(testsupport.RepoPath(t, "examples/pivotphp/.rr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	addr := testsupport.FreeAddr(t)
	base := "http://" + addr
	rr := testsupport.StartRR(t, string(yaml), testsupport.RROptions{
		WorkDir: testsupport.RepoPath(t, "examples/pivotphp"),
		Env:     []string{"PIVOTPHP_AUTOLOAD=" + autoload},
		Args: []string{"-o", "pivot.address=" + addr, "-o", "rpc.listen=tcp://" + testsupport.FreeAddr(t),
			"-o", "status.address=" + testsupport.FreeAddr(t), "-o", "metrics.address=" + testsupport.FreeAddr(t),
			"-o", "pivot.pool.num_workers=2"},
	})
	rr.WaitReady(t, 30*time.Second, testsupport.HTTPAnswers(base+"/", 200))

	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	call := func(method, path, body string, want int) map[string]any {
		t.Helper()
		var rd *strings.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		var resp *http.Response
		var b []byte
		if rd != nil {
			resp, b = testsupport.Do(t, method, base+path, rd, jsonHeader)
		} else {
			resp, b = testsupport.Do(t, method, base+path, nil, nil)
		}
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s %s: Content-Type %q", method, path, resp.Header.Get("Content-Type"))
		}
		if want < 300 && resp.Header.Get("X-Powered-By-Runtime") != "pivotphp-roadrunner" {
			t.Fatalf("%s %s: the app's middleware did not run (X-Powered-By-Runtime %q)", method, path, resp.Header.Get("X-Powered-By-Runtime"))
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
		return m
	}

	t.Run("routes and JSON body", func(t *testing.T) {
		if m := call("GET", "/", "", 200); m["ok"] != true {
			t.Fatalf("/: %v", m)
		}
		if m := call("GET", "/hello/Ada?lang=pt", "", 200); m["hello"] != "Ada" || m["lang"] != "pt" {
			t.Fatalf("/hello: %v", m)
		}
		m := call("POST", "/echo", `{"a":[1,{"b":null}]}`, 201)
		if got, _ := json.Marshal(m["received"]); string(got) != `{"a":[1,{"b":null}]}` {
			t.Fatalf("/echo: %s", got)
		}
		call("GET", "/nope", "", 404)
	})

	t.Run("KV-cached report", func(t *testing.T) {
		first := call("GET", "/reports/q4-sales", "", 200)
		if first["cached"] != false {
			t.Fatalf("first report should be built: %v", first)
		}
		// every worker serves the cached copy now (2 workers, several requests)
		for i := 0; i < 10; i++ {
			again := call("GET", "/reports/q4-sales", "", 200)
			if again["cached"] != true || again["built_at"] != first["built_at"] || again["built_by"] != first["built_by"] {
				t.Fatalf("request %d was not served from KV: %v (first %v)", i, again, first)
			}
		}
		if other := call("GET", "/reports/q3-sales", "", 200); other["cached"] != false {
			t.Fatalf("another report came from the cache: %v", other)
		}
		call("GET", "/reports/Bad_Name", "", 400)
	})

	t.Run("job dispatch", func(t *testing.T) {
		m := call("POST", "/signup", `{"email":"ada@example.com","name":"Ada"}`, 202)
		id, _ := m["id"].(string)
		if id == "" || m["status"] != "/jobs/"+id {
			t.Fatalf("/signup: %v", m)
		}
		var done map[string]any
		testsupport.WaitFor(t, 15*time.Second, "the welcome job to run", func() bool {
			resp, b := testsupport.Do(t, "GET", base+"/jobs/"+id, nil, nil)
			if resp.StatusCode != 200 {
				return false
			}
			return json.Unmarshal(b, &done) == nil
		})
		if done["status"] != "done" || done["sent_to"] != "ada@example.com" || done["greeting"] != "Welcome, Ada!" {
			t.Fatalf("job result: %v", done)
		}
		call("POST", "/signup", `{"email":"not an address"}`, 422)
		if m := call("GET", "/jobs/no-such-job", "", 404); m["status"] != "pending" {
			t.Fatalf("unknown job: %v", m)
		}
	})
}
