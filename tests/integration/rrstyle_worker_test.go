package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Tests against testdata/rr-style-worker.php, a worker that frames its answers as the official
// RoadRunner PHP libraries do (data in a stream's last frame, stdin polled between chunks,
// 1xx interim frames), not as this project's own PHP package does.

func rrStyleStack(t *testing.T, pivotYAML string) *stack {
	t.Helper()
	return startStack(t, stackOptions{worker: testsupport.RepoPath(t, "tests/integration/testdata/rr-style-worker.php"), pivot: pivotYAML})
}

// expectedRecords is what /stream?seed=S&size=N must return: 16-byte records
// "SSSSSSSS:OOOOOO\n" (seed and offset in hex).
func expectedRecords(seed, size int) []byte {
	var b bytes.Buffer
	for off := 0; off < size; off += 16 {
		fmt.Fprintf(&b, "%08x:%06x\n", seed, off)
	}
	return b.Bytes()[:size]
}

type streamCheck struct {
	ok, wrong atomic.Int64
	mu        sync.Mutex
	samples   []string
}

func (c *streamCheck) fail(format string, args ...any) {
	c.wrong.Add(1)
	c.mu.Lock()
	if len(c.samples) < 5 {
		c.samples = append(c.samples, fmt.Sprintf(format, args...))
	}
	c.mu.Unlock()
}

// streamLoad runs clients that each ask for streamed responses of random sizes and chunkings
// (the last chunk usually short, so data travels in the final frame) and checks every byte.
func streamLoad(t *testing.T, base string, clients, total int, maxDuration time.Duration, sizes []int) *streamCheck {
	t.Helper()
	chunks := []int{7, 100, 1000, 8192, 16_384}
	res := &streamCheck{}
	var next atomic.Int64
	deadline := time.Now().Add(maxDuration)
	var wg sync.WaitGroup
	for g := 0; g < clients; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(int64(g) + 1))
			for time.Now().Before(deadline) {
				i := next.Add(1)
				if i > int64(total) {
					return
				}
				size := sizes[rnd.Intn(len(sizes))]
				if rnd.Intn(8) != 0 && size > 10_000 {
					size = 1 + rnd.Intn(3000) // mostly small: many streams end soon after they start
				}
				chunk := chunks[rnd.Intn(len(chunks))]
				for size/chunk > 200 {
					chunk *= 4
				}
				seed := int(i)
				url := base + "/stream?size=" + strconv.Itoa(size) + "&chunk=" + strconv.Itoa(chunk) + "&seed=" + strconv.Itoa(seed)
				resp, err := testsupport.Client.Get(url) //nolint:noctx
				if err != nil {
					res.fail("GET %s: %v", url, err)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				want := expectedRecords(seed, size)
				switch {
				case err != nil:
					res.fail("GET %s: body: %v", url, err)
				case resp.StatusCode != 200:
					res.fail("GET %s: status %d %q", url, resp.StatusCode, body)
				case !bytes.Equal(body, want):
					at := 0
					for at < len(body) && at < len(want) && body[at] == want[at] {
						at++
					}
					end := min(at+48, len(body))
					res.fail("GET %s: %d bytes (want %d), first wrong byte at %d: %q", url, len(body), len(want), at, body[at:end])
				default:
					res.ok.Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	return res
}

// The last frame of a stream carries data: it must reach its own client, never another's.
func TestStreamedResponsesCarryOnlyTheirOwnBytes(t *testing.T) {
	s := rrStyleStack(t, "  pool:\n    num_workers: 2\n    allocate_timeout: 10s\n")
	total := 20_000
	if testing.Short() {
		total = 3000
	}
	res := streamLoad(t, s.base, 12, total, soak(90*time.Second), []int{1, 52, 700, 4096, 10_000, 65_537, 262_144})
	t.Logf("streamed responses: ok=%d wrong=%d", res.ok.Load(), res.wrong.Load())
	if res.wrong.Load() != 0 {
		t.Fatalf("%d of %d streamed responses were wrong: %q", res.wrong.Load(), res.wrong.Load()+res.ok.Load(), res.samples)
	}
	if res.ok.Load() < int64(total)/2 {
		t.Fatalf("only %d streamed responses completed in time: too few to prove anything", res.ok.Load())
	}
}

// With pivot.pipeline on, a worker that reads stdin while it streams and drops what it does not
// expect must never be handed a queued request: no wrong body, no wedged worker.
func TestPipelineNeverQueuesBehindAWorkerThatDropsFrames(t *testing.T) {
	// no pause: a request the race detector delays past pipeline_pause_after would stop queueing
	s := rrStyleStack(t, "  pipeline: true\n  pipeline_pause_after: 1h\n  pool:\n    num_workers: 2\n    allocate_timeout: 5s\n")
	// short streams among short requests: fast enough that pipelining never pauses
	hello := startLoad(t, loadOptions{url: s.base + "/hello", concurrency: 6, maxRequests: 200_000, maxDuration: 20 * time.Second})
	res := streamLoad(t, s.base, 6, 5000, 15*time.Second, []int{1, 52, 300, 700})
	h := hello()
	t.Logf("streams ok=%d wrong=%d; hello %s", res.ok.Load(), res.wrong.Load(), h)
	if res.wrong.Load() != 0 || h.failed.Load() != 0 {
		t.Fatalf("with pivot.pipeline, a frame-dropping worker lost or mixed requests: streams %q; hello %s", res.samples, h)
	}
	if n := pipelinedCount(t, s); n != 0 {
		t.Fatalf("%d requests were queued behind workers that did not announce in-order reads", n)
	}
	// every worker still answers
	for i := 0; i < 8; i++ {
		resp, err := testsupport.Client.Get(s.base + "/hello") //nolint:noctx
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("after the load: status %d", resp.StatusCode)
		}
	}
}

// A 1xx frame before the final one is an interim response: the client gets the 103 (Go's client
// and curl), then the final answer, on every request of a keep-alive connection.
func TestEarlyHintsReachTheClientBeforeTheFinalResponse(t *testing.T) {
	s := rrStyleStack(t, "")
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i := 0; i < 3; i++ { // the first request of the connection, then keep-alive ones
		var got []int
		var links []string
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			got = append(got, code)
			links = append(links, h.Get("Link"))
			return nil
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", s.base+"/hints", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "final" {
			t.Fatalf("request %d: final response %d %q", i, resp.StatusCode, body)
		}
		if len(got) != 1 || got[0] != 103 || links[0] != "</style.css>; rel=preload; as=style" {
			t.Fatalf("request %d: interim responses %v %q, want one 103 with the Link header", i, got, links)
		}
		if resp.Header.Get("Link") != "" {
			t.Fatalf("request %d: the 103's Link header leaked into the final response: %v", i, resp.Header)
		}
	}

	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is required (make test installs it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", "-sS", "-i", s.base+"/hints").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?s)^HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\nHTTP/1.1 200 OK\r\n.*\r\n\r\nfinal$`).Match(out) {
		t.Fatalf("curl -i got:\n%s", out)
	}
}

// Raw connections: an HTTP/1.0 client never gets a 1xx; pipelined requests get their answers
// in order, whole, with or without their interim responses; never a hang.
func TestInterimResponsesOnRawConnections(t *testing.T) {
	s := rrStyleStack(t, "")
	addr := strings.TrimPrefix(s.base, "http://")
	exchange := func(raw string, responses int) string {
		t.Helper()
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err = conn.Write([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		var all strings.Builder
		for i := 0; i < responses; i++ {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("response %d of %q: %v (so far: %.300q)", i, raw, err, all.String())
			}
			body, _ := io.ReadAll(resp.Body)
			fmt.Fprintf(&all, "%d %s|", resp.StatusCode, body)
		}
		return all.String()
	}
	if got := exchange("GET /hints HTTP/1.0\r\nHost: x\r\n\r\n", 1); got != "200 final|" {
		t.Fatalf("HTTP/1.0: %q (a 1xx must not be sent to an HTTP/1.0 client)", got)
	}
	// http.ReadResponse returns the final response and skips 1xx ones (as a client must)
	pipelined := "GET /stream?size=20000&chunk=3000&seed=7 HTTP/1.1\r\nHost: x\r\n\r\n" +
		"GET /hints HTTP/1.1\r\nHost: x\r\n\r\n" + "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
	got := exchange(pipelined, 3)
	want := "200 " + string(expectedRecords(7, 20000)) + "|200 final|200 hello /hello|"
	if got != want {
		t.Fatalf("pipelined requests: got %.200q…, want %.200q…", got, want)
	}
}

// A 1xx is never a final status: the client gets a 502, and the connection stays in step.
func TestInformationalFinalStatusIsABadGateway(t *testing.T) {
	s := rrStyleStack(t, "")
	for _, status := range []int{100, 101, 102, 103, 199} {
		resp, err := testsupport.Client.Get(s.base + "/interim-final?status=" + strconv.Itoa(status)) //nolint:noctx
		if err != nil {
			t.Fatalf("status %d: %v", status, err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "informational status") {
			t.Fatalf("worker status %d as final: got %d %q, want 502", status, resp.StatusCode, body)
		}
		// the same keep-alive connection answers the next request in step
		resp, err = testsupport.Client.Get(s.base + "/hello") //nolint:noctx
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "hello /hello" {
			t.Fatalf("after a %d: %d %q", status, resp.StatusCode, body)
		}
	}
}

// A worker that read a request and waits for the next one without answering is found, killed
// and replaced: its client gets a 502 within seconds, and the pool serves on.
func TestWorkerThatLosesARequestIsReplaced(t *testing.T) {
	s := rrStyleStack(t, "  pool:\n    num_workers: 1\n    allocate_timeout: 10s\n")
	before := getText(t, s.base+"/pid")
	start := time.Now()
	resp, err := testsupport.Client.Get(s.base + "/drop") //nolint:noctx
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("a lost request: %d %q after %s, want 502", resp.StatusCode, body, took)
	}
	if took > 5*time.Second {
		t.Fatalf("the lost request was answered after %s: too late", took)
	}
	// the only worker was killed: until its replacement is up (a spawn takes longer under -race
	// on a loaded box, and the supervisor may restart the pool meanwhile) pivot answers a fast 503
	var after string
	testsupport.WaitFor(t, 15*time.Second, "a replacement worker to serve /pid", func() bool {
		resp, body := testsupport.Do(t, "GET", s.base+"/pid", nil, nil)
		if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" {
			return false
		}
		if resp.StatusCode != 200 {
			t.Fatalf("GET /pid after the replacement: %d %q, want 200 (or a 503 with Retry-After meanwhile)", resp.StatusCode, body)
		}
		after = string(body)
		return true
	})
	if after == before {
		t.Fatalf("the worker that lost a request (pid %s) still serves", before)
	}
	t.Logf("lost request answered 502 after %s; worker %s replaced by %s", took.Round(time.Millisecond), before, after)
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := testsupport.Client.Get(url) //nolint:noctx
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %q", url, resp.StatusCode, b)
	}
	return string(b)
}
