// Package conformance is the raw-socket HTTP/1.1 conformance suite: every probe sends bytes an
// attacker would send to pivot's own server (`pivot:`) and, as a reference, to RoadRunner's
// stock `http:` plugin (Go net/http) running in the same rr process, and judges pivot's answer
// by RFC 9110/9112 (and, where the RFC leaves room, by what net/http and nginx both do).
// Stock's result is logged beside pivot's; only pivot's is asserted. See README.md.
package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	serverPivot = "pivot"
	serverStock = "stock"

	// pivot's read_header_timeout in every config the suite writes. Stock's http plugin has
	// no such setting: http/v4 v4.5.3 hard-codes ReadHeaderTimeout (and ReadTimeout) to 5 min.
	readHeaderTimeout = 2 * time.Second

	// envBinary names the rr binary to test (default: ./rr at the repository root).
	envBinary = "CONFORMANCE_RR"
)

var servers = []string{serverPivot, serverStock}

var (
	repoRoot string

	staleOnce sync.Once

	mainOnce sync.Once
	mainRR   *rrInstance
	mainErr  error

	// every rr the suite started, stopped at the end even when a test panics
	startedMu sync.Mutex
	started   []*rrInstance
)

func TestMain(m *testing.M) {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	repoRoot = filepath.Dir(filepath.Dir(wd)) // tests/conformance -> repository root
	code := m.Run()
	startedMu.Lock()
	for _, r := range started {
		r.stop()
		if code != 0 {
			r.dumpLog(os.Stdout)
		}
		_ = os.RemoveAll(r.dir)
	}
	startedMu.Unlock()
	printSummary(os.Stdout)
	os.Exit(code)
}

// rrBinary is the binary under test: $CONFORMANCE_RR or ./rr at the repository root.
func rrBinary() (string, error) {
	if p := os.Getenv(envBinary); p != "" {
		return filepath.Abs(p)
	}
	p := filepath.Join(repoRoot, "rr")
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("%s is missing: build it first with `make build` (or `go build -o rr ./cmd/rr` "+
			"at the repository root, ~2 min), or set %s to an rr binary", p, envBinary)
	}
	staleOnce.Do(func() {
		if newer := newerSource(st.ModTime()); newer != "" {
			fmt.Fprintf(os.Stderr, "conformance: warning: %s is older than %s: the suite tests the binary, "+
				"not the sources (run `make build`)\n", p, newer)
		}
	})
	return p, nil
}

// newerSource names a Go source of the binary changed after t ("" when none).
func newerSource(t time.Time) string {
	found := ""
	_ = filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found != "" {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(repoRoot, p)
		if d.IsDir() {
			if rel == "php" || rel == "tests" || rel == "bench" || (strings.HasPrefix(d.Name(), ".") && rel != ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			if info, err := d.Info(); err == nil && info.ModTime().After(t) {
				found = rel
			}
		}
		return nil
	})
	return found
}

// rrOptions shape the one config: both servers, always.
type rrOptions struct {
	// pivot's max_header_bytes (0: pivot's default, 16 KB)
	maxHeaderBytes int
	workers        int
}

// rrInstance is one `rr serve` holding both `pivot:` and stock `http:`.
type rrInstance struct {
	name    string
	dir     string
	cfgPath string
	logPath string
	phpLog  string
	addr    map[string]string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	stopped sync.Once
}

// mainInstance is the rr the probe tables share (started once).
func mainInstance(t *testing.T) *rrInstance {
	t.Helper()
	mainOnce.Do(func() { mainRR, mainErr = startRR("main", rrOptions{}) })
	if mainErr != nil {
		t.Fatal(mainErr)
	}
	if !mainRR.alive() {
		t.Fatalf("rr (main) has exited: %v", mainRR.waitErr)
	}
	return mainRR
}

// startInstance starts a dedicated rr for one test and stops it when the test ends.
func startInstance(t *testing.T, name string, o rrOptions) *rrInstance {
	t.Helper()
	r, err := startRR(name, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			var b strings.Builder
			r.dumpLog(&b)
			t.Log(b.String())
		}
	})
	return r
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startRR writes the one config (pivot and stock http on two free 127.0.0.1 ports, the same
// worker for both) and runs `rr serve` on it until both servers answer.
func startRR(name string, o rrOptions) (*rrInstance, error) {
	bin, err := rrBinary()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("php"); err != nil {
		return nil, errors.New("php is not in PATH (apt-get install php-cli)")
	}
	if o.workers == 0 {
		o.workers = 4
	}
	dir, err := os.MkdirTemp("", "rr-conformance-"+name+"-")
	if err != nil {
		return nil, err
	}
	r := &rrInstance{
		name:    name,
		dir:     dir,
		cfgPath: filepath.Join(dir, ".rr.yaml"),
		logPath: filepath.Join(dir, "rr.log"),
		phpLog:  filepath.Join(dir, "php.log"),
		addr:    map[string]string{},
		exited:  make(chan struct{}),
	}
	for _, s := range servers {
		if r.addr[s], err = freePort(); err != nil {
			return nil, err
		}
	}
	worker := filepath.Join(repoRoot, "tests", "conformance", "testdata", "worker.php")
	if strings.ContainsAny(worker, " \t") {
		return nil, fmt.Errorf("the worker path %q holds a space: RoadRunner splits commands on spaces", worker)
	}
	pool := func(server string) string {
		return fmt.Sprintf("  pool:\n    command: %s\n    num_workers: %d\n    max_jobs: 0\n"+
			"    allocate_timeout: 10s\n    destroy_timeout: 5s\n", strconv.Quote("php "+worker+" "+server), o.workers)
	}
	var c strings.Builder
	c.WriteString("version: \"3\"\n")
	fmt.Fprintf(&c, "server:\n  command: %s\n  env:\n    CONFORMANCE_LOG: %s\n",
		strconv.Quote("php "+worker+" unknown"), strconv.Quote(r.phpLog))
	c.WriteString("logs:\n  level: info\n  mode: production\n")
	fmt.Fprintf(&c, "pivot:\n  address: %s\n  max_request_size: 100\n  read_header_timeout: %s\n  idle_timeout: 60s\n",
		r.addr[serverPivot], readHeaderTimeout)
	if o.maxHeaderBytes > 0 {
		fmt.Fprintf(&c, "  max_header_bytes: %d\n", o.maxHeaderBytes)
	}
	c.WriteString(pool(serverPivot))
	fmt.Fprintf(&c, "http:\n  address: %s\n  max_request_size: 100\n", r.addr[serverStock])
	c.WriteString(pool(serverStock))
	if err := os.WriteFile(r.cfgPath, []byte(c.String()), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(r.logPath)
	if err != nil {
		return nil, err
	}
	r.cmd = exec.Command(bin, "serve", "-c", r.cfgPath, "-w", repoRoot)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	r.cmd.Env = rrEnv()
	// its own process group (the PHP workers join it), killed with the test binary
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, err
	}
	go func() {
		r.waitErr = r.cmd.Wait()
		_ = logf.Close()
		close(r.exited)
	}()
	startedMu.Lock()
	started = append(started, r)
	startedMu.Unlock()

	deadline := time.Now().Add(45 * time.Second)
	for _, s := range servers {
		for {
			if !r.alive() {
				var b strings.Builder
				r.dumpLog(&b)
				return nil, fmt.Errorf("rr (%s) exited during startup: %v\n%s", name, r.waitErr, b.String())
			}
			st, err := simpleGet(r.addr[s], "/_/ready", 2*time.Second)
			if err == nil && st == 200 {
				break
			}
			if time.Now().After(deadline) {
				r.stop()
				var b strings.Builder
				r.dumpLog(&b)
				return nil, fmt.Errorf("rr (%s): %s on %s did not answer within 45s (last: %d %v)\n%s",
					name, s, r.addr[s], st, err, b.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return r, nil
}

func (r *rrInstance) alive() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// stop ends rr: SIGTERM, then SIGKILL to its whole process group.
func (r *rrInstance) stop() {
	r.stopped.Do(func() {
		pgid := r.cmd.Process.Pid
		if r.alive() {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.exited:
			case <-time.After(10 * time.Second):
			}
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-r.exited
	})
}

func (r *rrInstance) dumpLog(w io.Writer) {
	b, err := os.ReadFile(r.logPath)
	if err != nil {
		fmt.Fprintf(w, "rr (%s): no log: %v\n", r.name, err)
		return
	}
	const max = 32 << 10
	if len(b) > max {
		b = append([]byte("...\n"), b[len(b)-max:]...)
	}
	cfg, _ := os.ReadFile(r.cfgPath)
	fmt.Fprintf(w, "---- rr (%s) config %s:\n%s---- rr (%s) log %s:\n%s\n----\n", r.name, r.cfgPath, cfg, r.name, r.logPath, b)
}

// rss is rr's resident set (VmRSS) in bytes.
func (r *rrInstance) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, errors.New("no VmRSS in /proc/<pid>/status")
}

// phpRecord is one line of the worker's log.
type phpRecord struct {
	Event          string `json:"event"`
	Server         string `json:"server"`
	PID            int    `json:"pid"`
	N              int    `json:"n"`
	Method         string `json:"method"`
	URI            string `json:"uri"`
	Path           string `json:"path"`
	Protocol       string `json:"protocol"`
	Probe          string `json:"probe"`
	Host           string `json:"host"`
	HeaderCount    int    `json:"headerCount"`
	BadHeaderBytes bool   `json:"badHeaderBytes"`
	BodyLen        int    `json:"bodyLen"`
}

func (r *rrInstance) phpRecords() ([]phpRecord, error) {
	f, err := os.Open(r.phpLog)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []phpRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var rec phpRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("php log line %q: %w", sc.Text(), err)
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}

// workerStarts counts the PHP workers each server has started so far.
func (r *rrInstance) workerStarts() (map[string][]int, error) {
	recs, err := r.phpRecords()
	if err != nil {
		return nil, err
	}
	out := map[string][]int{}
	for _, rec := range recs {
		if rec.Event == "start" {
			out[rec.Server] = append(out[rec.Server], rec.PID)
		}
	}
	for _, pids := range out {
		sort.Ints(pids)
	}
	return out, nil
}

// rrEnv is this process's environment without variables that change rr's behaviour.
func rrEnv() []string {
	env := []string{"NO_COLOR=1"}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "RR_") || name == "NOTIFY_SOCKET" || name == "DOTENV_PATH" || name == "CONFORMANCE_LOG" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// simpleGet sends one well-formed GET on a fresh connection and returns its status.
func simpleGet(addr, path string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, addr); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0, err
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	return strconv.Atoi(f[1])
}

// summary rows, printed as one table at the end of the run
type summaryRow struct {
	class, name, pivot, stock, verdict string
}

var (
	summaryMu sync.Mutex
	summary   []summaryRow
)

func addSummary(row summaryRow) {
	summaryMu.Lock()
	summary = append(summary, row)
	summaryMu.Unlock()
}

func printSummary(w io.Writer) {
	summaryMu.Lock()
	defer summaryMu.Unlock()
	if len(summary) == 0 {
		return
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "\n==== conformance summary: pivot judged against the expectation, stock http (net/http) as reference ====\n")
	fmt.Fprintf(&b, "| class | probe | pivot | stock (reference) | pivot verdict |\n|---|---|---|---|---|\n")
	pass, fail := 0, 0
	for _, r := range summary {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.class, r.name, mdCell(r.pivot), mdCell(r.stock), r.verdict)
		if r.verdict == "PASS" {
			pass++
		} else {
			fail++
		}
	}
	fmt.Fprintf(&b, "pivot: %d pass, %d fail\n", pass, fail)
	_, _ = w.Write(b.Bytes())
}

func mdCell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}
