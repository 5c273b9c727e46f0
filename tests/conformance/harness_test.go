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
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

const (
	serverPivot = "pivot"
	serverStock = "stock"

	// pivot's read_header_timeout in every config the suite writes. Stock's http plugin has
	// no such setting: http/v4 v4.5.3 hard-codes ReadHeaderTimeout (and ReadTimeout) to 5 min.
	readHeaderTimeout = 2 * time.Second
)

var servers = []string{serverPivot, serverStock}

// TestMain prints the summary table after the tests. The binary under test is
// testsupport.RRBinary's: $PIVOT_RR_BIN, else ./rr at the repository root when no Go source
// changed after it was built, else ./cmd/rr built once (and removed at the end).
func TestMain(m *testing.M) {
	code := testsupport.Run(m)
	printSummary(os.Stdout)
	os.Exit(code)
}

// rrOptions shape the one config: both servers, always.
type rrOptions struct {
	// pivot's max_header_bytes (0: pivot's default, 16 KB)
	maxHeaderBytes int
	workers        int
}

// rrInstance is one `rr serve` (testsupport.RR) holding both `pivot:` and stock `http:`.
type rrInstance struct {
	*testsupport.RR
	name   string
	phpLog string
	addr   map[string]string
}

// startInstance starts a dedicated rr for one test (the probe table's "main", each memory probe
// its own, ...) and returns when both servers answer; it is stopped when the test ends, and its
// config and output are logged if the test failed.
func startInstance(t *testing.T, name string, o rrOptions) *rrInstance {
	t.Helper()
	if o.workers == 0 {
		o.workers = 4
	}
	r := &rrInstance{
		name:   name,
		phpLog: filepath.Join(t.TempDir(), "php.log"),
		addr:   map[string]string{},
	}
	for _, s := range servers {
		r.addr[s] = testsupport.FreeAddr(t)
	}
	worker := testsupport.RepoPath(t, "tests/conformance/testdata/worker.php")
	if strings.ContainsAny(worker, " \t") {
		t.Fatalf("the worker path %q holds a space: RoadRunner splits commands on spaces", worker)
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
	yaml := c.String()

	t.Cleanup(func() { // runs after testsupport's, which logs rr's output
		if t.Failed() {
			t.Logf("rr (%s) config:\n%s", name, yaml)
		}
	})
	r.RR = testsupport.StartRR(t, yaml, testsupport.RROptions{
		WorkDir:     testsupport.RepoRoot(t),
		Env:         []string{"CONFORMANCE_LOG=" + r.phpLog}, // not one from our own environment
		StopTimeout: 10 * time.Second,
	})
	r.WaitReady(t, 45*time.Second, func() (bool, string) {
		for _, s := range servers {
			if st, err := simpleGet(r.addr[s], "/_/ready", 2*time.Second); err != nil || st != 200 {
				return false, fmt.Sprintf("rr (%s): %s on %s: %d %v", name, s, r.addr[s], st, err)
			}
		}
		return true, ""
	})
	return r
}

// rss is rr's resident set (VmRSS) in bytes.
func (r *rrInstance) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.Cmd.Process.Pid))
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
