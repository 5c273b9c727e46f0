// Package compat is the compatibility suite: the official RoadRunner PHP libraries
// (spiral/roadrunner-http, -worker, -kv, -jobs, -metrics, spiral/goridge) drive one PHP worker
// (workers/worker.php) against two configs of the same rr binary, pivot's own server (`pivot:`)
// and RoadRunner's stock http plugin (`http:`), and every case compares what a client observes.
//
// It needs the libraries themselves: RR_PHP_LIBS_AUTOLOAD names an autoloader that loads them
// (README.md, "Compatibility with the official RoadRunner PHP libraries"). Without it every test
// is skipped.
package compat

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// envAutoload names the autoloader of the official libraries.
const envAutoload = "RR_PHP_LIBS_AUTOLOAD"

var (
	libsOnce sync.Once
	libsErr  error
)

// TestMain removes the rr that testsupport built for the suite, if it built one. The binary
// under test is testsupport.RRBinary's: $PIVOT_RR_BIN, else ./rr at the repository root when no
// Go source changed after it was built, else a fresh build of ./cmd/rr.
func TestMain(m *testing.M) { testsupport.Main(m) }

// requireLibs skips the test when RR_PHP_LIBS_AUTOLOAD is unset and fails it when the autoloader
// cannot load the official libraries; it returns the autoloader's absolute path.
func requireLibs(t *testing.T) string {
	t.Helper()
	p := os.Getenv(envAutoload)
	if p == "" {
		t.Skipf("%s is not set: set it to an autoloader that loads the official RoadRunner PHP libraries "+
			"(spiral/roadrunner-http, -worker, -kv, -jobs, -metrics, spiral/goridge, nyholm/psr7), e.g. "+
			"the vendor/autoload.php of a Composer project that requires them; see README.md, "+
			"\"Compatibility with the official RoadRunner PHP libraries\"", envAutoload)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	libsOnce.Do(func() { libsErr = checkLibs(abs) })
	if libsErr != nil {
		t.Fatalf("%s=%s: %v", envAutoload, p, libsErr)
	}

	return abs
}

// checkLibs loads every class the worker uses through the autoloader.
func checkLibs(autoload string) error {
	if _, err := os.Stat(autoload); err != nil {
		return err
	}
	php, err := exec.LookPath("php")
	if err != nil {
		return errors.New("php is not in PATH (apt-get install php-cli)")
	}
	const script = `require getenv('RR_PHP_LIBS_AUTOLOAD');
$missing = [];
foreach (['Spiral\RoadRunner\Http\PSR7Worker', 'Spiral\RoadRunner\Worker', 'Spiral\Goridge\RPC\RPC',
  'Spiral\RoadRunner\KeyValue\Factory', 'Spiral\RoadRunner\Jobs\Jobs', 'Spiral\RoadRunner\Jobs\Consumer',
  'Spiral\RoadRunner\Metrics\Metrics', 'Nyholm\Psr7\Factory\Psr17Factory', 'RoadRunner\KV\DTO\V1\Request',
  'RoadRunner\Jobs\DTO\V1\PushRequest', 'Ramsey\Uuid\Uuid', 'Psr\SimpleCache\CacheInterface',
  'Psr\Log\LoggerInterface'] as $c) {
  if (!class_exists($c) && !interface_exists($c)) { $missing[] = $c; }
}
if ($missing) { fwrite(STDERR, 'cannot load: ' . implode(', ', $missing) . "\n"); exit(1); }`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, php, "-r", script)
	cmd.Env = append(os.Environ(), envAutoload+"="+autoload)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("the autoloader does not load the official libraries: %v\n%s", err, out)
	}

	return nil
}

// kinds are the two servers every case runs on.
const (
	kindPivot = "pivot"
	kindStock = "stock"
)

var kinds = []string{kindPivot, kindStock}

// rrOptions shape one server's config.
type rrOptions struct {
	workers     int
	maxJobs     int
	pivotExtra  string // YAML lines under `pivot:`, indented by 2 (pivot only)
	serverExtra string // YAML lines under `server:`, indented by 2
	topExtra    string // top-level YAML (kv, jobs, metrics)
	metrics     bool   // a metrics endpoint on a free port
	env         map[string]string
}

// rrServer is one `rr serve` (testsupport.RR) running one kind's config.
type rrServer struct {
	*testsupport.RR
	kind        string
	addr        string // the HTTP server, host:port
	rpcAddr     string
	metricsAddr string
	compatOut   string // COMPAT_OUT of the worker
}

func (s *rrServer) url(path string) string { return "http://" + s.addr + path }

// startRR writes the config for one kind and runs `rr serve` on it (in the repository root);
// the server answers /ping when it returns. Cleanup stops it (and its whole process group) and
// logs its output on failure.
func startRR(t *testing.T, kind string, o rrOptions) *rrServer {
	t.Helper()
	autoload := requireLibs(t)
	if o.workers == 0 {
		o.workers = 2
	}
	s := &rrServer{
		kind:      kind,
		addr:      testsupport.FreeAddr(t),
		rpcAddr:   testsupport.FreeAddr(t),
		compatOut: t.TempDir(),
	}
	worker, err := filepath.Abs("workers/worker.php")
	if err != nil {
		t.Fatal(err)
	}

	var c strings.Builder
	fmt.Fprintf(&c, "version: \"3\"\nrpc:\n  listen: tcp://%s\n", s.rpcAddr)
	fmt.Fprintf(&c, "server:\n  command: %s\n", strconv.Quote("php "+worker))
	c.WriteString(o.serverExtra)
	fmt.Fprintf(&c, "  env:\n    RR_PHP_LIBS_AUTOLOAD: %s\n    COMPAT_OUT: %s\n", strconv.Quote(autoload), strconv.Quote(s.compatOut))
	for k, v := range o.env {
		fmt.Fprintf(&c, "    %s: %s\n", k, strconv.Quote(v))
	}
	c.WriteString("logs:\n  level: info\n  mode: production\n")
	if o.metrics {
		s.metricsAddr = testsupport.FreeAddr(t)
		fmt.Fprintf(&c, "metrics:\n  address: %s\n", s.metricsAddr)
	}
	c.WriteString(o.topExtra)
	switch kind {
	case kindPivot:
		fmt.Fprintf(&c, "pivot:\n  address: %s\n%s", s.addr, o.pivotExtra)
	case kindStock:
		fmt.Fprintf(&c, "http:\n  address: %s\n", s.addr)
	default:
		t.Fatalf("unknown kind %q", kind)
	}
	fmt.Fprintf(&c, "  pool:\n    num_workers: %d\n    max_jobs: %d\n    allocate_timeout: 30s\n    destroy_timeout: 10s\n",
		o.workers, o.maxJobs)

	// testsupport.Env drops every RR_* variable; the autoloader's stays.
	s.RR = testsupport.StartRR(t, c.String(), testsupport.RROptions{
		WorkDir: testsupport.RepoRoot(t),
		Env:     []string{envAutoload + "=" + autoload},
	})
	s.WaitReady(t, 30*time.Second, func() (bool, string) {
		resp, err := testsupport.QuickClient.Get(s.url("/ping"))
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode == 200 && string(b) == "pong", fmt.Sprintf("%s: status %d, body %.300q", kind, resp.StatusCode, b)
	})

	return s
}

// pluginName is the informer's and resetter's name for the kind's HTTP plugin.
func (s *rrServer) pluginName() string {
	if s.kind == kindPivot {
		return "pivot"
	}
	return "http"
}

// client serves the cases (bounded: no request waits longer than 30 s).
var client = &http.Client{
	Timeout: 30 * time.Second,
	Transport: &http.Transport{
		MaxIdleConns:        128,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     10 * time.Second,
		DisableCompression:  true,
	},
}

// observed is what a client sees of one answer.
type observed struct {
	Status  int
	Headers map[string][]string // only the headers a case compares
	Body    []byte
}

func (o observed) String() string {
	body := o.Body
	if len(body) > 600 {
		body = append(append([]byte{}, body[:600]...), fmt.Sprintf("... (%d bytes)", len(o.Body))...)
	}
	return fmt.Sprintf("status %d, headers %v, body %q", o.Status, o.Headers, body)
}

// do sends req and returns status, the named headers and the body, with the server's own address
// replaced by ADDR so that answers of the two servers compare.
func (s *rrServer) do(t *testing.T, req *http.Request, headers ...string) observed {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", s.kind, req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: %s %s: reading the body: %v", s.kind, req.Method, req.URL, err)
	}
	o := observed{Status: resp.StatusCode, Headers: map[string][]string{}, Body: bytes.ReplaceAll(body, []byte(s.addr), []byte("ADDR"))}
	for _, h := range headers {
		if v := resp.Header.Values(h); len(v) > 0 {
			o.Headers[http.CanonicalHeaderKey(h)] = v
		}
	}

	return o
}

func (s *rrServer) get(t *testing.T, path string, headers ...string) observed {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url(path), nil)
	if err != nil {
		t.Fatal(err)
	}

	return s.do(t, req, headers...)
}

// forBoth runs fn as the subtests "pivot" and "stock" (one after the other, each on its own rr)
// and returns their results by kind; ok is false when either subtest failed.
func forBoth[R any](t *testing.T, fn func(t *testing.T, kind string) R) (res map[string]R, ok bool) {
	t.Helper()
	requireLibs(t)
	res = map[string]R{}
	ok = true
	for _, kind := range kinds {
		done := false
		passed := t.Run(kind, func(t *testing.T) {
			res[kind] = fn(t, kind)
			done = !t.Failed()
		})
		if !passed || !done {
			ok = false
		}
	}

	return res, ok
}

// sameObserved fails t when the two servers' answers differ.
func sameObserved(t *testing.T, what string, res map[string]observed) {
	t.Helper()
	p, s := res[kindPivot], res[kindStock]
	if p.Status != s.Status || !bytes.Equal(p.Body, s.Body) || fmt.Sprint(p.Headers) != fmt.Sprint(s.Headers) {
		t.Errorf("%s: pivot and stock differ\npivot: %s\nstock: %s", what, p, s)
	}
}

// pattern is the worker's compat_pattern: a 251-byte block of md5("seed:j") for j = 0..15,
// repeated and cut to size.
func pattern(seed, size int) []byte {
	var block []byte
	for j := 0; j < 16; j++ {
		sum := md5.Sum([]byte(fmt.Sprintf("%d:%d", seed, j)))
		block = append(block, sum[:]...)
	}
	block = block[:251]
	out := bytes.Repeat(block, size/251+1)

	return out[:size]
}

// firstDiff describes where got departs from want.
func firstDiff(got, want []byte) string {
	n := min(len(got), len(want))
	for i := 0; i < n; i++ {
		if got[i] != want[i] {
			return fmt.Sprintf("first differing byte at %d of %d (got %d bytes)", i, len(want), len(got))
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("got %d bytes, want %d", len(got), len(want))
	}

	return "equal"
}
