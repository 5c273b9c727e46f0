package compat

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/rpc"
	"net/textproto"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	goridgeRpc "github.com/roadrunner-server/goridge/v3/pkg/rpc"
	"github.com/roadrunner-server/informer/v4"
)

// loadStats counts a load's answers; wrong = an answer whose status, X-Seed or bytes are not what
// its request asked for; failed = no answer (transport error, timeout).
type loadStats struct {
	total, ok, wrong, failed atomic.Int64
	mu                       sync.Mutex
	examples                 []string
}

func (l *loadStats) note(kind string, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.examples) < 6 {
		l.examples = append(l.examples, kind+": "+fmt.Sprintf(format, args...))
	}
}

func (l *loadStats) String() string {
	return fmt.Sprintf("%d requests: %d right, %d wrong, %d failed %v", l.total.Load(), l.ok.Load(), l.wrong.Load(), l.failed.Load(), l.examples)
}

// streamRequest is one request of a load: the path and what its answer must be.
type streamRequest struct {
	path       string
	seed, size int
	pidOnly    bool // /pid: any pid
}

// runLoad sends requests from `clients` goroutines for `dur` (at most maxRequests), each checked
// byte for byte.
func runLoad(s *rrServer, clients int, dur time.Duration, maxRequests int64, next func(r *rand.Rand, seed int) streamRequest) *loadStats {
	st := &loadStats{}
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(c + 1)))
			for i := 0; time.Now().Before(deadline); i++ {
				if st.total.Add(1) > maxRequests {
					st.total.Add(-1)
					return
				}
				req := next(r, (c+1)*1_000_000+i)
				checkAnswer(s, st, req)
			}
		}(c)
	}
	wg.Wait()

	return st
}

func checkAnswer(s *rrServer, st *loadStats, req streamRequest) {
	resp, err := client.Get(s.url(req.path))
	if err != nil {
		st.failed.Add(1)
		st.note(s.kind, "%s: %v", req.path, err)
		return
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	switch {
	case err != nil:
		st.failed.Add(1)
		st.note(s.kind, "%s: reading the body: %v (%d bytes)", req.path, err, len(body))
	case resp.StatusCode != 200:
		st.wrong.Add(1)
		st.note(s.kind, "%s: status %d: %.200q", req.path, resp.StatusCode, body)
	case req.pidOnly:
		if _, err := strconv.Atoi(string(body)); err != nil {
			st.wrong.Add(1)
			st.note(s.kind, "%s: body %.200q", req.path, body)
		} else {
			st.ok.Add(1)
		}
	case resp.Header.Get("X-Seed") != strconv.Itoa(req.seed):
		st.wrong.Add(1)
		st.note(s.kind, "%s: X-Seed %q", req.path, resp.Header.Get("X-Seed"))
	default:
		if want := pattern(req.seed, req.size); string(body) != string(want) {
			st.wrong.Add(1)
			st.note(s.kind, "%s: %s", req.path, firstDiff(body, want))
		} else {
			st.ok.Add(1)
		}
	}
}

var streamSizes = []int{0, 1, 250, 251, 999, 4095, 4096, 8192, 65_536, 100_003, 262_144, 1 << 20}
var streamChunks = []int{1, 1000, 4096, 8191, 65_536}

// A mixed stream: mode gen (a Generator given to HttpWorker::respond) or chunked
// (PSR7Worker::$chunkSize), any size up to 1 MB, chunk sizes from 1000 to 64 KiB (1 byte for
// small bodies), sometimes with pauses between chunks so that streams interleave in time.
func nextStream(r *rand.Rand, seed int) streamRequest {
	size := streamSizes[r.Intn(len(streamSizes))]
	chunk := streamChunks[1+r.Intn(len(streamChunks)-1)]
	if size <= 4096 && r.Intn(3) == 0 {
		chunk = 1
	}
	mode := "gen"
	if r.Intn(2) == 0 {
		mode = "chunked"
	}
	pause := 0
	if mode == "gen" && r.Intn(4) == 0 {
		pause = 300
	}

	return streamRequest{
		path: fmt.Sprintf("/stream?mode=%s&seed=%d&size=%d&chunk=%d&pause=%d", mode, seed, size, chunk, pause),
		seed: seed, size: size,
	}
}

// Issue 24, item 1: streamed responses under 12+ concurrent clients; every byte of every answer
// is what its request asked for, on both servers.
func TestStreamedResponsesConcurrent(t *testing.T) {
	res, ok := forBoth(t, func(t *testing.T, kind string) *loadStats {
		s := startRR(t, kind, rrOptions{workers: 4})
		st := runLoad(s, 14, 6*time.Second, 20_000, nextStream)
		t.Logf("%s: streamed load: %s", kind, st)
		if st.wrong.Load() != 0 || st.failed.Load() != 0 {
			t.Errorf("%s: wrong or failed streamed answers: %s", kind, st)
		}
		if st.ok.Load() < 50 {
			t.Errorf("%s: too few answers to prove anything: %s", kind, st)
		}
		if !s.Alive() {
			t.Errorf("%s: rr exited during the load: %v", kind, s.Err())
		}
		return st
	})
	if ok {
		t.Logf("wrong answers: pivot %d, stock %d", res[kindPivot].wrong.Load(), res[kindStock].wrong.Load())
	}
}

// hintsResult is what the clients saw of /hints.
type hintsResult struct {
	goStatus    int
	goBody      string
	go103       bool
	go103Link   string
	curlStatus  string
	curl103     bool
	curlBody    string
	curlSkipped bool
}

// Issue 24, item 2: a 103 Early Hints frame (endOfStream: false) then the 200. Go's client (with
// httptrace's Got1xxResponse) and curl must get the final 200 within seconds; whether the 103
// arrived is recorded for each server.
func TestEarlyHints(t *testing.T) {
	res, ok := forBoth(t, func(t *testing.T, kind string) hintsResult {
		s := startRR(t, kind, rrOptions{workers: 1})
		var h hintsResult

		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		defer cancel()
		var mu sync.Mutex
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
			mu.Lock()
			defer mu.Unlock()
			if code == 103 {
				h.go103 = true
				h.go103Link = strings.Join(header["Link"], ", ")
			}
			return nil
		}}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, s.url("/hints"), nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			t.Errorf("%s: Go client: no final answer to /hints within 8s: %v", kind, err)
		} else {
			b, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			h.goStatus, h.goBody = resp.StatusCode, string(b)
			if err != nil || resp.StatusCode != 200 || string(b) != "final after hints" {
				t.Errorf("%s: Go client: status %d, body %q, err %v", kind, resp.StatusCode, b, err)
			}
			t.Logf("%s: Go client: final %d after %s; 103 seen: %v (Link %q); final Link header %q",
				kind, resp.StatusCode, time.Since(start).Round(time.Millisecond), h.go103, h.go103Link, resp.Header.Get("Link"))
		}

		curl, err := exec.LookPath("curl")
		if err != nil {
			h.curlSkipped = true
			t.Logf("%s: curl is not installed: the curl half of the case is skipped", kind)
			return h
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer ccancel()
		cmd := exec.CommandContext(cctx, curl, "-sv", "--max-time", "8", s.url("/hints"))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start = time.Now()
		out, err := cmd.Output()
		h.curlBody = string(out)
		h.curl103 = regexp.MustCompile(`(?m)^< HTTP/1\.1 103`).MatchString(stderr.String())
		if m := regexp.MustCompile(`(?m)^< HTTP/1\.1 ([2-5]\d\d)`).FindStringSubmatch(stderr.String()); m != nil {
			h.curlStatus = m[1]
		}
		if err != nil || h.curlStatus != "200" || h.curlBody != "final after hints" {
			t.Errorf("%s: curl: %v, final status %q, body %q\n%s", kind, err, h.curlStatus, h.curlBody, stderr.String())
		}
		t.Logf("%s: curl: final %s after %s; 103 seen: %v", kind, h.curlStatus, time.Since(start).Round(time.Millisecond), h.curl103)

		if o := s.get(t, "/pid"); o.Status != 200 {
			t.Errorf("%s: the worker must serve after /hints: %s", kind, o)
		}
		return h
	})
	if ok {
		p, st := res[kindPivot], res[kindStock]
		t.Logf("103 arrived: Go client pivot %v / stock %v; curl pivot %v / stock %v", p.go103, st.go103, p.curl103, st.curl103)
	}
}

// Issue 24, item 3: the official worker over socket relays (server.relay tcp:// and unix://).
func TestSocketRelays(t *testing.T) {
	for _, relay := range []string{"tcp", "unix"} {
		t.Run(relay, func(t *testing.T) {
			res, ok := forBoth(t, func(t *testing.T, kind string) []observed {
				var addr string
				if relay == "tcp" {
					addr = "tcp://" + testsupport.FreeAddr(t)
				} else {
					dir, err := os.MkdirTemp("", "rrc")
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = os.RemoveAll(dir) })
					addr = "unix://" + dir + "/relay.sock"
				}
				s := startRR(t, kind, rrOptions{workers: 2, serverExtra: "  relay: " + addr + "\n  relay_timeout: 20s\n"})
				var out []observed
				for _, p := range []string{"/hello", "/big?seed=5&size=1048576", "/stream?mode=gen&seed=6&size=300000&chunk=4096", "/stream?mode=chunked&seed=7&size=70000&chunk=1000"} {
					out = append(out, s.get(t, p, "Content-Type", "X-Seed"))
				}
				if out[0].Status != 200 || string(out[1].Body) != string(pattern(5, 1<<20)) ||
					string(out[2].Body) != string(pattern(6, 300000)) || string(out[3].Body) != string(pattern(7, 70000)) {
					t.Errorf("%s over %s: %v / %s / %s / %s", kind, addr, out[0], firstDiff(out[1].Body, pattern(5, 1<<20)),
						firstDiff(out[2].Body, pattern(6, 300000)), firstDiff(out[3].Body, pattern(7, 70000)))
				}
				st := runLoad(s, 8, 2*time.Second, 5_000, nextStream)
				t.Logf("%s over %s: %s", kind, relay, st)
				if st.wrong.Load() != 0 || st.failed.Load() != 0 {
					t.Errorf("%s over %s: wrong or failed answers: %s", kind, relay, st)
				}
				return out
			})
			if ok {
				for i := range res[kindPivot] {
					sameObserved(t, fmt.Sprintf("request %d", i), map[string]observed{kindPivot: res[kindPivot][i], kindStock: res[kindStock][i]})
				}
			}
		})
	}
}

// Issue 24, item 4: pivot.pipeline with a streaming worker under load: no wrong body, and no
// worker wedged afterwards (rr workers answers, every worker is ready, later requests are served).
// stock runs the same load without pipelining.
func TestPipelineStreamingUnderLoad(t *testing.T) {
	const workers = 2
	forBoth(t, func(t *testing.T, kind string) *loadStats {
		s := startRR(t, kind, rrOptions{workers: workers, metrics: true,
			// queue behind any request that started in the last 50 ms, and never pause
			pivotExtra: "  pipeline: true\n  pipeline_window: 50ms\n  pipeline_pause_after: 10s\n"})
		st := runLoad(s, 12, 5*time.Second, 30_000, func(r *rand.Rand, seed int) streamRequest {
			switch r.Intn(4) {
			case 0:
				return streamRequest{path: "/pid", pidOnly: true}
			case 1:
				size := 1 + r.Intn(20_000)
				return streamRequest{path: fmt.Sprintf("/big?seed=%d&size=%d", seed, size), seed: seed, size: size}
			default:
				size := 1 + r.Intn(40_000)
				chunk := []int{1, 100, 1000, 4096}[r.Intn(4)]
				if chunk == 1 {
					size %= 3000
				}
				mode := []string{"gen", "chunked"}[r.Intn(2)]
				return streamRequest{path: fmt.Sprintf("/stream?mode=%s&seed=%d&size=%d&chunk=%d", mode, seed, size, chunk), seed: seed, size: size}
			}
		})
		t.Logf("%s: pipelined streaming load: %s", kind, st)
		if kind == kindPivot {
			n := metricValue(t, s, "rr_pivot_pipelined_requests_total")
			t.Logf("pivot: rr_pivot_pipelined_requests_total %s", n)
			if n == "0" {
				t.Logf("pivot queued no request behind another with the official worker (it queues only behind workers whose handshake says {\"pipelining\":true})")
			}
		}
		if st.wrong.Load() != 0 || st.failed.Load() != 0 {
			t.Errorf("%s: wrong or failed answers: %s", kind, st)
		}
		checkNotWedged(t, s, workers)
		return st
	})
}

// checkNotWedged: `rr workers` answers within 10 s, every worker is ready once the load is over,
// and 4×workers requests in a row are each answered within 5 s.
func checkNotWedged(t *testing.T, s *rrServer, workers int) {
	t.Helper()
	out, err := s.CLI(10*time.Second, "workers", s.pluginName())
	if err != nil {
		t.Errorf("%s: rr workers: %v\n%s", s.kind, err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	var list []process
	for {
		list = workerList(t, s)
		ready := 0
		for _, w := range list {
			if w.StatusStr == "ready" {
				ready++
			}
		}
		if ready == workers && len(list) == workers {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: workers 5s after the load: %+v\n%s", s.kind, list, out)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < 4*workers; i++ {
		resp, err := c.Get(s.url("/pid"))
		if err != nil {
			t.Errorf("%s: request %d after the load: %v", s.kind, i, err)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: request %d after the load: status %d", s.kind, i, resp.StatusCode)
		}
	}
}

type process struct {
	Pid       int64  `json:"pid"`
	StatusStr string `json:"statusStr"`
	NumExecs  uint64 `json:"numExecs"`
}

// workerList asks the informer (RPC) for the kind's workers.
func workerList(t *testing.T, s *rrServer) []process {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.rpcAddr, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: rpc: %v", s.kind, err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := rpc.NewClientWithCodec(goridgeRpc.NewClientCodec(conn))
	defer c.Close()
	var list informer.WorkerList
	if err := c.Call("informer.Workers", s.pluginName(), &list); err != nil {
		t.Fatalf("%s: informer.Workers: %v", s.kind, err)
	}
	out := make([]process, 0, len(list.Workers))
	for _, w := range list.Workers {
		out = append(out, process{Pid: w.Pid, StatusStr: w.StatusStr, NumExecs: w.NumExecs})
	}

	return out
}

// metricValue reads one sample (the sum of its series) from the metrics endpoint.
func metricValue(t *testing.T, s *rrServer, name string) string {
	t.Helper()
	body := metricsText(t, s)
	var sum float64
	found := false
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			f := strings.Fields(line)
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				sum += v
				found = true
			}
		}
	}
	if !found {
		return "(absent)"
	}

	return strconv.FormatFloat(sum, 'f', -1, 64)
}

func metricsText(t *testing.T, s *rrServer) string {
	t.Helper()
	resp, err := testsupport.QuickClient.Get("http://" + s.metricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("%s: metrics endpoint: %v", s.kind, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}

	return string(b)
}
