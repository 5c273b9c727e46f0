package integration

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
)

// pivot.middleware on the real plugin graph with real PHP workers, over real HTTP: static files
// before PHP, gzip of PHP responses (whole and streamed) and of static files, uploads over
// pivot.uploads.max_size, early hints with gzip on.

// publicDir is a pivot.static.dir with a stylesheet, a PHP file that must never be sent as
// text, and a forbidden .htaccess.
func publicDir(t *testing.T) (dir, css string) {
	t.Helper()
	dir = t.TempDir()
	css = strings.Repeat("body { color: #333; font-family: sans-serif; }\n", 20)
	testsupport.WriteFile(t, filepath.Join(dir, "style.css"), css)
	testsupport.WriteFile(t, filepath.Join(dir, "index.php"), "<?php echo 'source';")
	testsupport.WriteFile(t, filepath.Join(dir, ".htaccess"), "Deny from all")
	return dir, css
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v (%.80q)", err, b)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip body: %v", err)
	}
	return out
}

func TestMiddlewareStaticGzipUploads(t *testing.T) {
	dir, css := publicDir(t)
	s := startStack(t, stackOptions{pivot: fmt.Sprintf(`  middleware: ["static", "gzip"]
  static:
    dir: %s
    forbid: [".htaccess"]
    calculate_etag: true
    cache_duration: 10m
  uploads:
    max_size: 1KB
  pool:
    num_workers: 2
    allocate_timeout: 10s
    destroy_timeout: 10s
`, dir)})

	t.Run("a static file with its ETag, then 304", func(t *testing.T) {
		resp, body := testsupport.DoWith(t, testsupport.RawClient, "GET", s.base+"/style.css", nil, nil)
		if resp.StatusCode != 200 || string(body) != css {
			t.Fatalf("status %d, body %.80q", resp.StatusCode, body)
		}
		etag := resp.Header.Get("Etag")
		if !strings.HasPrefix(etag, `"`) || resp.Header.Get("Cache-Control") != "max-age=600" ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || resp.Header.Get("Last-Modified") == "" {
			t.Fatalf("headers %v", resp.Header)
		}
		resp, body = testsupport.DoWith(t, testsupport.RawClient, "GET", s.base+"/style.css", nil, http.Header{"If-None-Match": {etag}})
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("Etag") != etag {
			t.Fatalf("revalidation: status %d, %d bytes, headers %v", resp.StatusCode, len(body), resp.Header)
		}
		resp, body = testsupport.DoWith(t, testsupport.RawClient, "GET", s.base+"/style.css", nil, http.Header{"Range": {"bytes=0-3"}})
		if resp.StatusCode != http.StatusPartialContent || string(body) != css[:4] {
			t.Fatalf("range: status %d, body %q", resp.StatusCode, body)
		}
	})

	t.Run("a static file gzipped, its weak ETag revalidates", func(t *testing.T) {
		resp, body := testsupport.DoWith(t, testsupport.RawClient, "GET", s.base+"/style.css", nil, http.Header{"Accept-Encoding": {"gzip"}})
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || string(gunzip(t, body)) != css {
			t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
		}
		etag := resp.Header.Get("Etag")
		if !strings.HasPrefix(etag, `W/"`) {
			t.Fatalf("ETag %q of a gzipped file is not weak", etag)
		}
		resp, _ = testsupport.DoWith(t, testsupport.RawClient, "GET", s.base+"/style.css", nil, http.Header{"Accept-Encoding": {"gzip"}, "If-None-Match": {etag}})
		if resp.StatusCode != http.StatusNotModified {
			t.Fatalf("revalidation: status %d", resp.StatusCode)
		}
	})

	t.Run("PHP files, forbidden files and routes go to PHP", func(t *testing.T) {
		for path, want := range map[string]string{
			"/index.php": `"path":"/index.php"`, // the hello worker's 404 names the path
			"/.htaccess": `"path":"/.htaccess"`,
			"/nope.css":  `"path":"/nope.css"`,
			"/hello":     "Hello, World!",
		} {
			resp, body := testsupport.DoWith(t, testsupport.RawClient, "GET", s.base+path, nil, nil)
			if !strings.Contains(string(body), want) || strings.Contains(string(body), "<?php") || strings.Contains(string(body), "Deny") {
				t.Errorf("%s: status %d, body %q", path, resp.StatusCode, body)
			}
		}
	})

	t.Run("a PHP response gzipped, decoded by Go's client", func(t *testing.T) {
		long := strings.Repeat("abcdefgh", 100)
		resp, body := testsupport.DoWith(t, testsupport.Client, "GET", s.base+"/query?q="+long, nil, nil)
		if resp.StatusCode != 200 || !resp.Uncompressed {
			t.Fatalf("status %d, uncompressed by the client: %v, headers %v", resp.StatusCode, resp.Uncompressed, resp.Header)
		}
		if !strings.Contains(string(body), `"q":"`+long+`"`) {
			t.Fatalf("body %.100q", body)
		}
		// without Accept-Encoding: plain, with Vary
		resp, body = testsupport.DoWith(t, testsupport.RawClient, "GET", s.base+"/query?q="+long, nil, nil)
		if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Vary") != "Accept-Encoding" || !strings.Contains(string(body), long) {
			t.Fatalf("plain: headers %v", resp.Header)
		}
	})

	t.Run("a streamed PHP response gzipped frame by frame", func(t *testing.T) {
		var want strings.Builder
		for i := 0; i < 60; i++ {
			fmt.Fprintf(&want, "chunk %d\n", i)
		}
		resp, body := testsupport.DoWith(t, testsupport.RawClient, "GET", s.base+"/stream?chunks=60", nil, http.Header{"Accept-Encoding": {"gzip"}})
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || len(resp.TransferEncoding) == 0 {
			t.Fatalf("status %d, headers %v, transfer encoding %v", resp.StatusCode, resp.Header, resp.TransferEncoding)
		}
		if got := gunzip(t, body); string(got) != want.String() {
			t.Fatalf("decoded %q", got)
		}
		resp, body = testsupport.DoWith(t, testsupport.Client, "GET", s.base+"/stream?chunks=60", nil, nil)
		if !resp.Uncompressed || string(body) != want.String() {
			t.Fatalf("Go's client: uncompressed %v, body %q", resp.Uncompressed, body)
		}

		// each frame is flushed: the first chunk decodes while the worker still sleeps
		start := time.Now()
		r, err := testsupport.Client.Get(s.base + "/stream?chunks=3&delay_ms=400") //nolint:noctx
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = r.Body.Close() }()
		line, err := bufio.NewReader(r.Body).ReadString('\n')
		if err != nil || line != "chunk 0\n" || !r.Uncompressed {
			t.Fatalf("first chunk %q: %v (gzipped: %v)", line, err, r.Uncompressed)
		}
		if first := time.Since(start); first > 600*time.Millisecond {
			t.Fatalf("the first chunk took %s: the gzip stream buffered it", first)
		}
	})

	t.Run("a large binary response is not compressed", func(t *testing.T) {
		resp, body := testsupport.DoWith(t, testsupport.RawClient, "GET", s.base+"/bytes?size=100000", nil, http.Header{"Accept-Encoding": {"gzip"}})
		if resp.Header.Get("Content-Encoding") != "" || len(body) != 100000 {
			t.Fatalf("headers %v, %d bytes", resp.Header, len(body))
		}
	})

	t.Run("an upload over max_size is a 413, one at it reaches PHP", func(t *testing.T) {
		upload := func(size int) (*http.Response, []byte) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			_ = mw.WriteField("title", "x")
			fw, _ := mw.CreateFormFile("doc", "doc.txt")
			_, _ = fw.Write(bytes.Repeat([]byte("d"), size))
			_ = mw.Close()
			return testsupport.Do(t, "POST", s.base+"/upload", &buf, http.Header{"Content-Type": {mw.FormDataContentType()}})
		}
		resp, body := upload(1025)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "pivot.uploads.max_size") {
			t.Fatalf("status %d, body %q", resp.StatusCode, body)
		}
		resp, body = upload(1024)
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"size":1024`) {
			t.Fatalf("status %d, body %s", resp.StatusCode, body)
		}
	})

	t.Run("curl --compressed", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("curl is not on PATH")
		}
		for path, want := range map[string]string{"/style.css": css, "/query?q=" + strings.Repeat("z", 500): `"q":"` + strings.Repeat("z", 500)} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			out, err := exec.CommandContext(ctx, "curl", "-sS", "--compressed", "-D", "-", s.base+path).CombinedOutput()
			cancel()
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			head, body, _ := strings.Cut(string(out), "\r\n\r\n")
			if !strings.Contains(strings.ToLower(head), "content-encoding: ") || !strings.Contains(body, want) {
				t.Fatalf("%s: curl --compressed got\n%s", path, out)
			}
		}
	})
}

// Early hints, streams and pipelined requests with gzip on (the rr-style worker, as the
// official libraries frame them): the 103 still comes first, a stream is compressed whole, and
// pipelined answers stay in order.
func TestGzipWithInterimResponsesAndStreams(t *testing.T) {
	s := rrStyleStack(t, "  middleware: [gzip]\n  pool:\n    num_workers: 2\n    allocate_timeout: 10s\n    destroy_timeout: 10s\n")

	var got []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		got = append(got, code)
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", s.base+"/hints", nil)
	resp, err := testsupport.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "final" || len(got) != 1 || got[0] != 103 {
		t.Fatalf("final %d %q, interim %v", resp.StatusCode, body, got)
	}

	resp, body = testsupport.DoWith(t, testsupport.RawClient, "GET", s.base+"/stream?size=50000&chunk=3000&seed=9", nil, http.Header{"Accept-Encoding": {"gzip"}})
	if resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(gunzip(t, body), expectedRecords(9, 50000)) {
		t.Fatalf("stream: headers %v", resp.Header)
	}

	// pipelined: a gzipped stream, early hints, a plain answer, on one connection
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.base, "http://"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = conn.Write([]byte("GET /stream?size=20000&chunk=3000&seed=7 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n" +
		"GET /hints HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n" + "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var answers []string
	for i := 0; i < 3; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v (so far %q)", i, err, answers)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.Header.Get("Content-Encoding") == "gzip" {
			b = gunzip(t, b)
		}
		answers = append(answers, string(b))
	}
	if answers[0] != string(expectedRecords(7, 20000)) || answers[1] != "final" || answers[2] != "hello /hello" {
		t.Fatalf("pipelined answers: %.80q", answers)
	}
}
