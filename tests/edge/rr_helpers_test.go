// Package edge runs the edge features of issue 19 (pivot.ssl, pivot.http2, pivot.http3,
// pivot.middleware, pivot.static, pivot.limit, pivot.breaker) against the real ./rr binary with
// real clients: curl, Go's HTTP/1.1, HTTP/2 and h2c clients, quic-go's HTTP/3 client, a real
// redis-server. tests/integration runs the same features in an in-process endure graph, in
// depth; this suite proves the shipped binary wires them.
package edge

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

func TestMain(m *testing.M) { testsupport.Main(m) }

// edgeRR is one real `rr serve` with pivot, the status and the metrics plugins.
type edgeRR struct {
	*testsupport.RR
	base, health, metrics string
}

// edgeOptions shape an edgeRR's .rr.yaml.
type edgeOptions struct {
	worker string            // PHP script, relative to the repository (default examples/hello/worker.php)
	env    map[string]string // server.env
	pivot  string            // the pivot section after address (indented by 2)
}

// startEdgeRR runs rr and waits until /ready?plugin=pivot says 200 (a redirecting plain
// listener answers 308 to everything, so the status plugin is the one question that works for
// every config here).
func startEdgeRR(t *testing.T, o edgeOptions) *edgeRR {
	t.Helper()
	addr, rpcAddr, statusAddr, metricsAddr := testsupport.FreeAddr(t), testsupport.FreeAddr(t), testsupport.FreeAddr(t), testsupport.FreeAddr(t)
	worker := o.worker
	if worker == "" {
		worker = "examples/hello/worker.php"
	}
	var env strings.Builder
	if len(o.env) > 0 {
		env.WriteString("  env:\n")
		keys := make([]string, 0, len(o.env))
		for k := range o.env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&env, "    %s: %q\n", k, o.env[k])
		}
	}
	yaml := fmt.Sprintf(`version: "3"
rpc:
  listen: tcp://%s
server:
  command: "php %s"
%slogs:
  level: error
  mode: production
status:
  address: %s
metrics:
  address: %s
pivot:
  address: %s
%s  pool:
    num_workers: 2
    allocate_timeout: 10s
    destroy_timeout: 10s
`, rpcAddr, testsupport.RepoPath(t, worker), env.String(), statusAddr, metricsAddr, addr, o.pivot)
	r := &edgeRR{RR: testsupport.StartRR(t, yaml, testsupport.RROptions{StopTimeout: 10 * time.Second}),
		base: "http://" + addr, health: "http://" + statusAddr, metrics: "http://" + metricsAddr}
	r.WaitReady(t, 30*time.Second, testsupport.HTTPAnswers(r.health+"/ready?plugin=pivot", 200))
	return r
}

// metric is one series' value from rr's metrics plugin, -1 when it is absent.
func (r *edgeRR) metric(t *testing.T, series string) float64 {
	t.Helper()
	_, body := testsupport.Do(t, "GET", r.metrics+"/metrics", nil, nil)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if _, err := fmt.Sscanf(v, "%g", &f); err == nil {
				return f
			}
		}
	}
	return -1
}

// curlResult is one curl run: the response head (-D), the body and curl's -w line.
type curlResult struct {
	status  int
	header  map[string]string // lower-case names, the last value
	body    string
	version string // %{http_version}: 1.1, 2, 3
}

// curl runs curl -sS with args against url; its exit status must be 0.
func curl(t *testing.T, url string, args ...string) curlResult {
	t.Helper()
	r, err := curlErr(t, url, args...)
	if err != nil {
		t.Fatalf("curl %v %s: %v", args, url, err)
	}
	return r
}

// curlErr is curl that returns curl's failure (e.g. a refused handshake) instead of failing.
func curlErr(t *testing.T, url string, args ...string) (curlResult, error) {
	t.Helper()
	bin := testsupport.RequireBinary(t, "curl", "curl")
	headFile := t.TempDir() + "/head"
	const sep = "\n--curl-w--"
	all := append([]string{"-sS", "--max-time", "20", "-D", headFile, "-w", sep + "%{http_version}"}, args...)
	out, err := exec.Command(bin, append(all, url)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return curlResult{}, fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return curlResult{}, err
	}
	body, version, _ := strings.Cut(string(out), sep)
	res := curlResult{body: body, version: version, header: map[string]string{}}
	head := string(mustRead(t, headFile))
	// with -L several heads follow each other: the last one is the answer's
	for _, line := range strings.Split(strings.ReplaceAll(head, "\r\n", "\n"), "\n") {
		if strings.HasPrefix(line, "HTTP/") {
			res.header = map[string]string{}
			f := strings.Fields(line)
			if len(f) >= 2 {
				_, _ = fmt.Sscanf(f[1], "%d", &res.status)
			}
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			res.header[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return res, nil
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
