package integration

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/roadrunner-server/informer/v4"
)

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("response is not JSON: %v: %q", err, b)
	}
	return m
}

func TestExampleRoutes(t *testing.T) {
	s := startStack(t, stackOptions{})

	var multipartBody bytes.Buffer
	mw := multipart.NewWriter(&multipartBody)
	_ = mw.WriteField("name", "value")
	_ = mw.WriteField("arr[k]", "v")
	_ = mw.Close()

	cases := []struct {
		name   string
		method string
		path   string
		body   string
		header http.Header
		status int
		check  func(t *testing.T, resp *http.Response, body []byte)
	}{
		{name: "root", method: "GET", path: "/", status: 200, check: func(t *testing.T, resp *http.Response, body []byte) {
			m := decodeJSON(t, body)
			if m["ok"] != true || m["runtime"] != "pivotphp-runtime-roadrunner" || m["pid"].(float64) <= 0 {
				t.Fatalf("unexpected body %s", body)
			}
			if resp.Header.Get("Content-Type") != "application/json" || resp.ContentLength != int64(len(body)) {
				t.Fatalf("headers %v, content-length %d", resp.Header, resp.ContentLength)
			}
		}},
		{name: "hello", method: "GET", path: "/hello", status: 200, check: func(t *testing.T, resp *http.Response, body []byte) {
			if string(body) != "Hello, World!" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Fatalf("got %q %v", body, resp.Header)
			}
		}},
		{name: "query", method: "GET", path: "/query?foo=bar&arr[]=1&arr[]=2&n[a][b]=c", status: 200, check: func(t *testing.T, _ *http.Response, body []byte) {
			m := decodeJSON(t, body)
			q := m["query"].(map[string]any)
			if q["foo"] != "bar" || len(q["arr"].([]any)) != 2 || q["n"].(map[string]any)["a"].(map[string]any)["b"] != "c" {
				t.Fatalf("query %v", q)
			}
			if m["rawQuery"] != "foo=bar&arr[]=1&arr[]=2&n[a][b]=c" {
				t.Fatalf("rawQuery %v", m["rawQuery"])
			}
		}},
		{name: "headers", method: "GET", path: "/headers", header: http.Header{"X-Multi": {"one", "two"}}, status: 200,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				m := decodeJSON(t, body)
				multi := m["headers"].(map[string]any)["X-Multi"].([]any)
				if len(multi) != 2 || multi[0] != "one" || multi[1] != "two" {
					t.Fatalf("X-Multi %v", multi)
				}
				if !strings.HasPrefix(m["host"].(string), "127.0.0.1") {
					t.Fatalf("host %v", m["host"])
				}
			}},
		{name: "cookies", method: "GET", path: "/cookies", header: http.Header{"Cookie": {"sess=abc%20def; other=1"}}, status: 200,
			check: func(t *testing.T, resp *http.Response, body []byte) {
				c := decodeJSON(t, body)["cookies"].(map[string]any)
				if c["sess"] != "abc def" || c["other"] != "1" {
					t.Fatalf("cookies %v", c)
				}
				set := resp.Header.Values("Set-Cookie")
				if len(set) != 2 || set[0] != "a=1; Path=/" || set[1] != "b=2; Path=/; HttpOnly" {
					t.Fatalf("Set-Cookie %q", set)
				}
			}},
		{name: "json", method: "POST", path: "/json", body: `{"a":[1,2],"u":"ünï"}`, header: http.Header{"Content-Type": {"application/json"}}, status: 200,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				j := decodeJSON(t, body)["json"].(map[string]any)
				if j["u"] != "ünï" || len(j["a"].([]any)) != 2 {
					t.Fatalf("json %v", j)
				}
			}},
		{name: "invalid json", method: "POST", path: "/json", body: `{"a":`, header: http.Header{"Content-Type": {"application/json"}}, status: 400,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				if !strings.HasPrefix(decodeJSON(t, body)["error"].(string), "invalid JSON") {
					t.Fatalf("body %s", body)
				}
			}},
		{name: "urlencoded form", method: "POST", path: "/form", body: "a=1&b[]=x&b[]=y&c[d]=e&sp=hello+world%21",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, status: 200,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				m := decodeJSON(t, body)
				f := m["form"].(map[string]any)
				if m["parsed"] != true || f["a"] != "1" || f["sp"] != "hello world!" || f["c"].(map[string]any)["d"] != "e" || len(f["b"].([]any)) != 2 {
					t.Fatalf("form %s", body)
				}
			}},
		{name: "multipart form", method: "POST", path: "/form", body: multipartBody.String(),
			header: http.Header{"Content-Type": {mw.FormDataContentType()}}, status: 200,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				f := decodeJSON(t, body)["form"].(map[string]any)
				if f["name"] != "value" || f["arr"].(map[string]any)["k"] != "v" {
					t.Fatalf("form %s", body)
				}
			}},
		{name: "status 418", method: "GET", path: "/status/418", status: 418, check: func(t *testing.T, _ *http.Response, body []byte) {
			if decodeJSON(t, body)["status"] != float64(418) {
				t.Fatalf("body %s", body)
			}
		}},
		{name: "status 204 has no body", method: "GET", path: "/status/204", status: 204, check: func(t *testing.T, _ *http.Response, body []byte) {
			if len(body) != 0 {
				t.Fatalf("body %q", body)
			}
		}},
		{name: "status 503 from the app", method: "GET", path: "/status/503", status: 503},
		{name: "stream", method: "GET", path: "/stream?chunks=4", status: 200, check: func(t *testing.T, resp *http.Response, body []byte) {
			if string(body) != "chunk 0\nchunk 1\nchunk 2\nchunk 3\n" {
				t.Fatalf("body %q", body)
			}
			if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
				t.Fatalf("a stream must be chunked, got %v", resp.TransferEncoding)
			}
		}},
		{name: "echo raw body", method: "POST", path: "/echo", body: "raw\x00bytes", status: 200, check: func(t *testing.T, resp *http.Response, body []byte) {
			sum := sha256.Sum256([]byte("raw\x00bytes"))
			if string(body) != "raw\x00bytes" || resp.Header.Get("X-Body-Sha256") != hex.EncodeToString(sum[:]) {
				t.Fatalf("body %q headers %v", body, resp.Header)
			}
		}},
		{name: "head has no body", method: "HEAD", path: "/", status: 200},
		{name: "not found", method: "GET", path: "/nope", status: 404, check: func(t *testing.T, _ *http.Response, body []byte) {
			if decodeJSON(t, body)["path"] != "/nope" {
				t.Fatalf("body %s", body)
			}
		}},
		{name: "echo output goes to stderr", method: "GET", path: "/echo-output", status: 200, check: func(t *testing.T, _ *http.Response, body []byte) {
			if decodeJSON(t, body)["ok"] != true {
				t.Fatalf("body %s", body)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			resp, b := testsupport.Do(t, tc.method, s.base+tc.path, body, tc.header)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, tc.status, b)
			}
			if tc.check != nil {
				tc.check(t, resp, b)
			}
		})
	}
}

func TestStreamedChunksArriveAsTheyAreWritten(t *testing.T) {
	s := startStack(t, stackOptions{})
	start := time.Now()
	resp, err := testsupport.Client.Get(s.base + "/stream?chunks=3&delay_ms=400") //nolint:noctx
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "chunk 0\n" {
		t.Fatalf("first chunk %q: %v", line, err)
	}
	if first := time.Since(start); first > 600*time.Millisecond {
		t.Fatalf("the first chunk took %s: it was buffered instead of streamed", first)
	}
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "" && !strings.HasSuffix(string(rest), "chunk 2\n") {
		t.Fatalf("rest %q", rest)
	}
	if total := time.Since(start); total < 700*time.Millisecond {
		t.Fatalf("the whole stream took %s; the delays were not honoured", total)
	}
}

func TestLargeUploadAndResponse(t *testing.T) {
	s := startStack(t, stackOptions{pivot: "  max_request_size: 50\n  pool:\n    num_workers: 2\n"})
	payload := make([]byte, 10<<20)
	if _, err := rand.Read(payload); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(payload)
	want := hex.EncodeToString(sum[:])

	t.Run("10 MB raw body echoed", func(t *testing.T) {
		resp, body := testsupport.Do(t, "POST", s.base+"/echo", bytes.NewReader(payload), http.Header{"Content-Type": {"application/octet-stream"}})
		if resp.StatusCode != 200 || resp.Header.Get("X-Body-Sha256") != want || !bytes.Equal(body, payload) {
			t.Fatalf("status %d, sha %s, %d bytes back", resp.StatusCode, resp.Header.Get("X-Body-Sha256"), len(body))
		}
	})

	t.Run("10 MB multipart upload, temp file removed after", func(t *testing.T) {
		dir := t.TempDir()
		s2 := startStack(t, stackOptions{pivot: fmt.Sprintf("  max_request_size: 50\n  uploads:\n    dir: %s\n  pool:\n    num_workers: 1\n", dir)})
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("title", "big")
		fw, _ := mw.CreateFormFile("doc", "big.bin")
		_, _ = fw.Write(payload)
		small, _ := mw.CreateFormFile("many[]", "a.txt")
		_, _ = small.Write([]byte("aaa"))
		small2, _ := mw.CreateFormFile("many[]", "b.txt")
		_, _ = small2.Write([]byte("bbbb"))
		evil, _ := mw.CreateFormFile("evil", "shell.php")
		_, _ = evil.Write([]byte("<?php"))
		_ = mw.Close()

		resp, body := testsupport.Do(t, "POST", s2.base+"/upload", &buf, http.Header{"Content-Type": {mw.FormDataContentType()}})
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		m := decodeJSON(t, body)
		doc := m["files"].(map[string]any)["doc"].(map[string]any)
		if doc["sha256"] != want || doc["size"] != float64(len(payload)) || doc["name"] != "big.bin" || doc["error"] != float64(0) {
			t.Fatalf("doc %v", doc)
		}
		many := m["files"].(map[string]any)["many"].([]any)
		if len(many) != 2 || many[1].(map[string]any)["size"] != float64(4) {
			t.Fatalf("many %v", many)
		}
		if e := m["files"].(map[string]any)["evil"].(map[string]any); e["error"] != float64(8) {
			t.Fatalf("a .php upload must be refused with UPLOAD_ERR_EXTENSION: %v", e)
		}
		if m["form"].(map[string]any)["title"] != "big" {
			t.Fatalf("form %v", m["form"])
		}
		testsupport.WaitFor(t, 5*time.Second, "upload temp files to be removed", func() bool {
			left, _ := filepath.Glob(filepath.Join(dir, "upload*"))
			return len(left) == 0
		})
	})

	t.Run("10 MB response", func(t *testing.T) {
		resp, body := testsupport.Do(t, "GET", s.base+fmt.Sprintf("/bytes?size=%d", 10<<20), nil, nil)
		if resp.StatusCode != 200 || len(body) != 10<<20 || resp.ContentLength != 10<<20 || bytes.Count(body, []byte("x")) != 10<<20 {
			t.Fatalf("status %d, %d bytes, content-length %d", resp.StatusCode, len(body), resp.ContentLength)
		}
	})
}

func TestRequestTooLargeGets413(t *testing.T) {
	s := startStack(t, stackOptions{pivot: "  max_request_size: 1\n  pool:\n    num_workers: 1\n"})
	big := bytes.Repeat([]byte("a"), 2<<20)
	cases := []struct {
		name   string
		body   func() io.Reader
		header http.Header
	}{
		{"declared content-length", func() io.Reader { return bytes.NewReader(big) }, nil},
		// io.MultiReader hides the length: the body arrives chunked and is cut while reading
		{"chunked raw body", func() io.Reader { return io.MultiReader(bytes.NewReader(big)) }, nil},
		{"chunked urlencoded form", func() io.Reader { return io.MultiReader(strings.NewReader("a="), bytes.NewReader(big)) },
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := testsupport.Do(t, "POST", s.base+"/echo", tc.body(), tc.header)
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d: %.100s", resp.StatusCode, body)
			}
		})
	}
	resp, _ := testsupport.Do(t, "POST", s.base+"/echo", strings.NewReader("small"), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("a small body after the refusals: %d", resp.StatusCode)
	}
}

// A request head over pivot.max_header_bytes gets 431 (not a reset connection), and the limit
// is the configured one: a head that fits is served, also through a large cookie.
func TestOversizedHeadGets431(t *testing.T) {
	s := startStack(t, stackOptions{pivot: "  max_header_bytes: 4096\n  pool:\n    num_workers: 1\n"})
	resp, body := testsupport.Do(t, "GET", s.base+"/headers", nil, http.Header{"X-Big": {strings.Repeat("b", 8000)}})
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("an 8 KB header with max_header_bytes 4096: status %d: %.100s", resp.StatusCode, body)
	}
	resp, body = testsupport.Do(t, "GET", s.base+"/cookies", nil, http.Header{"Cookie": {"big=" + strings.Repeat("c", 3000)}})
	if resp.StatusCode != 200 || !strings.Contains(string(body), strings.Repeat("c", 3000)) {
		t.Fatalf("a 3 KB cookie under the limit: status %d: %.100s", resp.StatusCode, body)
	}
}

func TestConcurrentRequestsUseEveryWorker(t *testing.T) {
	s := startStack(t, stackOptions{pivot: "  pool:\n    num_workers: 4\n    allocate_timeout: 20s\n"})
	testsupport.WaitFor(t, 10*time.Second, "4 workers", func() bool { return len(s.pids()) == 4 })
	want := map[int64]bool{}
	for _, pid := range s.pids() {
		want[pid] = true
	}

	// 4 requests that each hold a worker for 500 ms finish together only if they run in parallel
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := testsupport.Do(t, "GET", s.base+"/sleep?ms=500", nil, nil)
			if resp.StatusCode != 200 {
				t.Errorf("status %d: %s", resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	if elapsed := time.Since(start); elapsed > 1400*time.Millisecond {
		t.Fatalf("4 parallel 500 ms requests on 4 workers took %s", elapsed)
	}

	// 400 requests from 16 goroutines: all succeed and are spread over the pool's workers
	var mu sync.Mutex
	seen := map[int64]int{}
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				resp, body := testsupport.Do(t, "GET", s.base+"/", nil, nil)
				if resp.StatusCode != 200 {
					t.Errorf("status %d", resp.StatusCode)
					return
				}
				var m struct{ Pid int64 }
				_ = json.Unmarshal(body, &m)
				mu.Lock()
				seen[m.Pid]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	checkSpread(t, seen, want, 400)
	t.Logf("400 requests over %d workers: %v", len(seen), seen)
}

func TestWorkerErrorGives500AndTheWorkerStays(t *testing.T) {
	s := startStack(t, stackOptions{pivot: "  pool:\n    num_workers: 1\n"})
	before := s.pids()
	resp, body := testsupport.Do(t, "GET", s.base+"/error", nil, nil)
	if resp.StatusCode != 500 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "boom") {
		t.Fatalf("the application's error text leaked to the client: %s", body)
	}
	resp, _ = testsupport.Do(t, "GET", s.base+"/", nil, nil)
	if resp.StatusCode != 200 || fmt.Sprint(s.pids()) != fmt.Sprint(before) {
		t.Fatalf("after an application error: status %d, pids %v -> %v", resp.StatusCode, before, s.pids())
	}
}

// brokenWorkerCases: a worker that dies mid-request or corrupts its STDOUT is replaced and the
// client gets a 502, never a hang.
func TestBrokenWorkerGives502AndIsReplaced(t *testing.T) {
	for _, path := range []string{"/exit", "/garbage"} {
		t.Run(path, func(t *testing.T) {
			s := startStack(t, stackOptions{pivot: "  pool:\n    num_workers: 1\n    allocate_timeout: 20s\n"})
			before := s.pids()
			start := time.Now()
			resp, body := testsupport.Do(t, "GET", s.base+path, nil, nil)
			if resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			t.Logf("%s answered 502 in %s", path, time.Since(start))
			testsupport.WaitFor(t, 10*time.Second, "a replacement worker", func() bool {
				now := s.pids()
				return len(now) == 1 && now[0] != before[0]
			})
			resp, _ = testsupport.Do(t, "GET", s.base+"/", nil, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("the replacement worker answered %d", resp.StatusCode)
			}
		})
	}
}

func TestKilledWorkerIsReplaced(t *testing.T) {
	s := startStack(t, stackOptions{pivot: "  pool:\n    num_workers: 2\n    allocate_timeout: 20s\n"})
	testsupport.WaitFor(t, 10*time.Second, "2 workers", func() bool { return len(s.pids()) == 2 })
	before := s.pids()
	if err := syscall.Kill(int(before[0]), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, 10*time.Second, "the killed worker to be replaced", func() bool {
		now := s.pids()
		if len(now) != 2 {
			return false
		}
		for _, pid := range now {
			if pid == before[0] {
				return false
			}
		}
		return true
	})
	for i := 0; i < 20; i++ {
		if resp, _ := testsupport.Do(t, "GET", s.base+"/", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("request %d after the kill: %d", i, resp.StatusCode)
		}
	}
}

func TestNoFreeWorkerGives503Quickly(t *testing.T) {
	s := startStack(t, stackOptions{pivot: "  pool:\n    num_workers: 1\n    allocate_timeout: 300ms\n"})
	done := make(chan struct{})
	go func() {
		defer close(done)
		testsupport.Do(t, "GET", s.base+"/sleep?ms=2000", nil, nil)
	}()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	resp, body := testsupport.Do(t, "GET", s.base+"/", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d headers %v: %s", resp.StatusCode, resp.Header, body)
	}
	if elapsed := time.Since(start); elapsed > 1500*time.Millisecond {
		t.Fatalf("the 503 took %s", elapsed)
	}
	<-done
}

func TestInformerResetterStatusAndMetrics(t *testing.T) {
	s := startStack(t, stackOptions{pivot: "  pool:\n    num_workers: 3\n"})
	testsupport.WaitFor(t, 10*time.Second, "3 workers", func() bool { return len(s.pids()) == 3 })
	c := s.rpcClient()

	var list []string
	if err := c.Call("informer.List", true, &list); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(list, ","), "pivot") {
		t.Fatalf("informer.List %v lacks pivot", list)
	}
	var wl informer.WorkerList
	if err := c.Call("informer.Workers", "pivot", &wl); err != nil {
		t.Fatal(err)
	}
	if len(wl.Workers) != 3 {
		t.Fatalf("informer.Workers pivot: %+v", wl.Workers)
	}
	before := map[int64]bool{}
	for _, w := range wl.Workers {
		if w.Pid <= 0 || w.MemoryUsage == 0 || w.StatusStr != "ready" {
			t.Fatalf("worker state %+v", w)
		}
		before[w.Pid] = true
	}

	var ok bool
	if err := c.Call("resetter.Reset", "pivot", &ok); err != nil || !ok {
		t.Fatalf("resetter.Reset pivot: %v %v", ok, err)
	}
	if err := c.Call("informer.Workers", "pivot", &wl); err != nil {
		t.Fatal(err)
	}
	if len(wl.Workers) != 3 {
		t.Fatalf("after reset: %+v", wl.Workers)
	}
	for _, w := range wl.Workers {
		if before[w.Pid] {
			t.Fatalf("pid %d survived the reset", w.Pid)
		}
	}

	if err := c.Call("informer.AddWorker", "pivot", &ok); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, 10*time.Second, "4 workers after AddWorker", func() bool { return len(s.pids()) == 4 })

	resp, body := testsupport.Do(t, "GET", s.health+"/health?plugin=pivot", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "plugin: pivot, status: 200") {
		t.Fatalf("/health: %d %s", resp.StatusCode, body)
	}
	resp, body = testsupport.Do(t, "GET", s.health+"/ready?plugin=pivot", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/ready: %d %s", resp.StatusCode, body)
	}

	testsupport.Do(t, "GET", s.base+"/status/418", nil, nil)
	_, body = testsupport.Do(t, "GET", s.metrics+"/metrics", nil, nil)
	for _, want := range []string{`rr_pivot_requests_total{status="418"} 1`, "rr_pivot_total_workers 4", "rr_pivot_workers_memory_bytes"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	var pid int
	if err := c.Call("pivot.Pid", true, &pid); err != nil || pid != os.Getpid() {
		t.Fatalf("pivot.Pid = %d, %v; want %d", pid, err, os.Getpid())
	}
}
