package edge

import (
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rrstatic "github.com/roadrunner-server/static/v4"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

const cssBody = "body { color: red; margin: 0 auto; padding: 1em; }\n"

// staticTree builds a served directory and a secret beside it:
//
//	out/secret.txt            outside the root
//	root/app.css, index.html, secret.php, page.phtml, .htaccess, empty.txt, sub/file.txt,
//	root/dir.d/               a directory with an extension
//	root/link-in.css          → root/app.css
//	root/link-out.txt         → out/secret.txt
//	root/link-php.css         → root/secret.php
//	root/linkdir              → out
//	root/abs-out.txt          → /…/out/secret.txt (absolute)
func staticTree(t *testing.T) (root, out string) {
	t.Helper()
	base := t.TempDir()
	root, out = filepath.Join(base, "root"), filepath.Join(base, "out")
	for _, d := range []string{root, out, filepath.Join(root, "sub"), filepath.Join(root, "dir.d")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(out, "secret.txt"):    "TOP SECRET",
		filepath.Join(root, "app.css"):      strings.Repeat(cssBody, 10),
		filepath.Join(root, "index.html"):   "<html><body>index</body></html>",
		filepath.Join(root, "secret.php"):   "<?php echo 'source';",
		filepath.Join(root, "page.phtml"):   "<?php echo 'source';",
		filepath.Join(root, ".htaccess"):    "Deny from all",
		filepath.Join(root, "empty.txt"):    "",
		filepath.Join(root, "sub/file.txt"): "sub file",
	}
	for name, body := range files {
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"link-in.css":  "app.css",
		"link-out.txt": "../out/secret.txt",
		"link-php.css": "secret.php",
		"linkdir":      "../out",
		"abs-out.txt":  filepath.Join(out, "secret.txt"),
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return root, out
}

// newStatic builds the middleware around php from a config, as the plugin does.
func newStatic(t *testing.T, cfg StaticConfig) fasthttp.RequestHandler {
	t.Helper()
	cfg.InitDefaults()
	if err := cfg.Valid(); err != nil {
		t.Fatal(err)
	}
	return NewStatic(&cfg, zap.NewNop()).Middleware(php)
}

func TestStaticServesOnlyFilesInsideTheDirectory(t *testing.T) {
	root, _ := staticTree(t)
	css := strings.Repeat(cssBody, 10)
	cases := []struct {
		name string
		cfg  StaticConfig // Dir is set to root
		raw  string
		want int    // status; 299 = went to PHP
		body string // when served
	}{
		{name: "a file", raw: get("/app.css"), want: 200, body: css},
		{name: "a file in a subdirectory", raw: get("/sub/file.txt"), want: 200, body: "sub file"},
		{name: "a query string is not part of the name", raw: get("/app.css?v=3"), want: 200, body: css},
		{name: "HEAD", raw: "HEAD /app.css HTTP/1.1\r\nHost: x\r\n\r\n", want: 200, body: ""},
		{name: "POST goes to PHP", raw: "POST /app.css HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", want: 299},
		{name: "no extension goes to PHP", raw: get("/sub"), want: 299},
		{name: "the root goes to PHP", raw: get("/"), want: 299},
		{name: "a missing file goes to PHP", raw: get("/missing.css"), want: 299},
		{name: "a directory goes to PHP (no listing)", raw: get("/dir.d"), want: 299},
		{name: "a directory with a slash goes to PHP", raw: get("/dir.d/"), want: 299},
		{name: "dot dot cannot leave the directory", raw: get("/../out/secret.txt"), want: 299},
		{name: "dot dot after a segment", raw: get("/sub/../../out/secret.txt"), want: 299},
		{name: "encoded dot dot", raw: get("/%2e%2e/out/secret.txt"), want: 299},
		{name: "encoded slashes and dots", raw: get("/sub%2f..%2f..%2fout%2fsecret.txt"), want: 299},
		{name: "dot dot that stays inside is resolved", raw: get("/sub/../app.css"), want: 200, body: css},
		{name: "a NUL byte", raw: get("/app.css%00.txt"), want: 299},
		{name: "a symlink inside the directory", raw: get("/link-in.css"), want: 200, body: css},
		{name: "a symlink to a file outside", raw: get("/link-out.txt"), want: 299},
		{name: "an absolute symlink outside", raw: get("/abs-out.txt"), want: 299},
		{name: "a symlinked directory outside", raw: get("/linkdir/secret.txt"), want: 299},
		{name: "a symlink to a PHP file", raw: get("/link-php.css"), want: 299},
		{name: ".php is never served", raw: get("/secret.php"), want: 299},
		{name: ".php in upper case", raw: get("/SECRET.PHP"), want: 299},
		{name: ".phtml is never served", raw: get("/page.phtml"), want: 299},
		{name: ".php even when allowed", cfg: StaticConfig{Allow: []string{".php"}}, raw: get("/secret.php"), want: 299},
		{name: "forbidden extension goes to PHP", cfg: StaticConfig{Forbid: []string{".htaccess"}}, raw: get("/.htaccess"), want: 299},
		{name: "forbid without a dot, any case", cfg: StaticConfig{Forbid: []string{"CSS"}}, raw: get("/app.css"), want: 299},
		{name: "not forbidden is served", cfg: StaticConfig{Forbid: []string{".htaccess"}}, raw: get("/index.html"), want: 200, body: "<html><body>index</body></html>"},
		{name: "allow lists what is served", cfg: StaticConfig{Allow: []string{".css"}}, raw: get("/app.css"), want: 200, body: css},
		{name: "not in allow goes to PHP", cfg: StaticConfig{Allow: []string{".css"}}, raw: get("/index.html"), want: 299},
		{name: "forbid wins over allow", cfg: StaticConfig{Allow: []string{".css"}, Forbid: []string{".css"}}, raw: get("/app.css"), want: 299},
		{name: "an empty file", raw: get("/empty.txt"), want: 200, body: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Dir = root
			resp, body := exchange(t, newStatic(t, cfg), tc.raw)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, tc.want)
			}
			if tc.want == 299 {
				return
			}
			if string(body) != tc.body {
				t.Fatalf("body %q, want %q", body, tc.body)
			}
			if strings.Contains(string(body), "SECRET") || strings.Contains(string(body), "<?php") {
				t.Fatalf("leaked %q", body)
			}
		})
	}
}

// fasthttp normalizes every path on the server side; a path it did not (an embedder's own
// request) is confined all the same: find cleans it again as a rooted path.
func TestStaticCleansPathsAgain(t *testing.T) {
	root, _ := staticTree(t)
	cfg := StaticConfig{Dir: root}
	cfg.InitDefaults()
	if err := cfg.Valid(); err != nil {
		t.Fatal(err)
	}
	s := NewStatic(&cfg, zap.NewNop())
	for _, p := range []string{"/../out/secret.txt", "/sub/../../out/secret.txt", "/./../../out/secret.txt", "../out/secret.txt",
		"//../out/secret.txt", "/sub/../../../../../../" + strings.TrimPrefix(filepath.Join(filepath.Dir(root), "out/secret.txt"), "/")} {
		if _, f, _, ok := s.find([]byte(p)); ok {
			_ = f.Close()
			t.Errorf("%q found %s", p, f.Name())
		}
	}
	if name, f, _, ok := s.find([]byte("/sub/../../app.css")); !ok || name != "/app.css" {
		t.Fatalf("/sub/../../app.css: %q %v", name, ok)
	} else {
		_ = f.Close()
	}
}

// The root itself may be a symlink (a `current` release): files through it are served, and a
// link inside it that stays inside is followed.
func TestStaticRootBehindASymlink(t *testing.T) {
	root, _ := staticTree(t)
	current := filepath.Join(t.TempDir(), "current")
	if err := os.Symlink(root, current); err != nil {
		t.Fatal(err)
	}
	h := newStatic(t, StaticConfig{Dir: current})
	for p, want := range map[string]int{"/app.css": 200, "/link-in.css": 200, "/link-out.txt": 299, "/linkdir/secret.txt": 299} {
		if resp, body := exchange(t, h, get(p)); resp.StatusCode != want {
			t.Errorf("%s: status %d (%q), want %d", p, resp.StatusCode, body, want)
		}
	}
}

func TestStaticHeadersETagsAndConditionalRequests(t *testing.T) {
	root, _ := staticTree(t)
	css := []byte(strings.Repeat(cssBody, 10))
	strong := `"` + strconv.Itoa(len(css)) + "-" + strconv.FormatUint(uint64(crc32.Checksum(css, crc32.MakeTable(0x48D90782))), 10) + `"`
	info, err := os.Stat(filepath.Join(root, "app.css"))
	if err != nil {
		t.Fatal(err)
	}
	lastMod := info.ModTime().UTC().Format(http.TimeFormat)

	etagged := StaticConfig{CalculateEtag: true}
	weak := StaticConfig{CalculateEtag: true, Weak: true}
	cases := []struct {
		name    string
		cfg     StaticConfig
		raw     string
		status  int
		headers map[string]string // "" = must be absent
		body    string
	}{
		{name: "type, length, last-modified, no ETag by default", raw: get("/app.css"), status: 200,
			headers: map[string]string{"Content-Type": "text/css; charset=utf-8", "Content-Length": strconv.Itoa(len(css)),
				"Last-Modified": lastMod, "Accept-Ranges": "bytes", "Etag": "", "Cache-Control": ""}, body: string(css)},
		{name: "RoadRunner's ETag", cfg: etagged, raw: get("/app.css"), status: 200,
			headers: map[string]string{"Etag": strong}, body: string(css)},
		{name: "weak ETag", cfg: weak, raw: get("/app.css"), status: 200, headers: map[string]string{"Etag": "W/" + strong}},
		{name: "If-None-Match → 304", cfg: etagged, raw: get("/app.css", "If-None-Match: "+strong+"\r\n"), status: 304,
			headers: map[string]string{"Etag": strong, "Content-Type": ""}},
		{name: "If-None-Match with a list → 304", cfg: etagged, raw: get("/app.css", `If-None-Match: "x", `+strong+"\r\n"), status: 304},
		{name: "weak If-None-Match → 304", cfg: weak, raw: get("/app.css", "If-None-Match: W/"+strong+"\r\n"), status: 304},
		{name: "another ETag → 200", cfg: etagged, raw: get("/app.css", "If-None-Match: \"1-2\"\r\n"), status: 200, body: string(css)},
		{name: "If-Match with another ETag → 412", cfg: etagged, raw: get("/app.css", "If-Match: \"1-2\"\r\n"), status: 412},
		{name: "If-Modified-Since → 304", raw: get("/app.css", "If-Modified-Since: "+lastMod+"\r\n"), status: 304},
		{name: "If-Modified-Since in the past → 200", raw: get("/app.css", "If-Modified-Since: Mon, 02 Jan 2006 15:04:05 GMT\r\n"), status: 200, body: string(css)},
		{name: "a range → 206", raw: get("/app.css", "Range: bytes=0-3\r\n"), status: 206,
			headers: map[string]string{"Content-Range": "bytes 0-3/" + strconv.Itoa(len(css)), "Content-Length": "4"}, body: string(css[:4])},
		{name: "an open range → 206", raw: get("/app.css", "Range: bytes=10-\r\n"), status: 206, body: string(css[10:])},
		{name: "a suffix range → 206", raw: get("/app.css", "Range: bytes=-5\r\n"), status: 206, body: string(css[len(css)-5:])},
		{name: "several ranges → the whole file", raw: get("/app.css", "Range: bytes=0-1,4-5\r\n"), status: 200, body: string(css)},
		{name: "a range past the end → 416", raw: get("/app.css", "Range: bytes=100000-\r\n"), status: 416,
			headers: map[string]string{"Content-Range": "bytes */" + strconv.Itoa(len(css))}},
		{name: "If-Range with the ETag → 206", cfg: etagged, raw: get("/app.css", "Range: bytes=0-3\r\nIf-Range: "+strong+"\r\n"), status: 206, body: string(css[:4])},
		{name: "If-Range with another ETag → 200", cfg: etagged, raw: get("/app.css", "Range: bytes=0-3\r\nIf-Range: \"1-2\"\r\n"), status: 200, body: string(css)},
		{name: "no ETag for an empty file", cfg: etagged, raw: get("/empty.txt"), status: 200, headers: map[string]string{"Etag": ""}},
		{name: "cache_duration and response headers", cfg: StaticConfig{CacheDuration: "10m", Response: map[string]string{"x-static": "1"}},
			raw: get("/app.css"), status: 200, headers: map[string]string{"Cache-Control": "max-age=600", "X-Static": "1"}},
		{name: "cache_duration in seconds", cfg: StaticConfig{CacheDuration: "3600"}, raw: get("/app.css"), status: 200,
			headers: map[string]string{"Cache-Control": "max-age=3600"}},
		{name: "a response header overrides cache_duration", cfg: StaticConfig{CacheDuration: "10m", Response: map[string]string{"Cache-Control": "no-cache"}},
			raw: get("/app.css"), status: 200, headers: map[string]string{"Cache-Control": "no-cache"}},
		{name: "a request header takes part in the conditions", cfg: StaticConfig{CalculateEtag: true, Request: map[string]string{"If-None-Match": "*"}},
			raw: get("/app.css"), status: 304},
		{name: "HEAD has the length and no body", raw: "HEAD /app.css HTTP/1.1\r\nHost: x\r\n\r\n", status: 200,
			headers: map[string]string{"Content-Length": strconv.Itoa(len(css))}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Dir = root
			resp, body := exchange(t, newStatic(t, cfg), tc.raw)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d (%q), want %d; headers %v", resp.StatusCode, body, tc.status, resp.Header)
			}
			for k, v := range tc.headers {
				got, present := resp.Header[http.CanonicalHeaderKey(k)]
				switch {
				case v == "" && present:
					t.Errorf("%s: %q, want none", k, got)
				case v != "" && (len(got) != 1 || got[0] != v):
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if tc.body != "" && string(body) != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			if tc.status == 304 && len(body) > 0 {
				t.Errorf("a 304 with a body: %q", body)
			}
		})
	}
}

// The strong ETag is byte for byte RoadRunner's (its own SetEtag on the same file).
func TestStaticETagIsRoadRunners(t *testing.T) {
	root, _ := staticTree(t)
	for _, name := range []string{"app.css", "index.html", "sub/file.txt"} {
		f, err := os.Open(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		rrstatic.SetEtag(false, f, filepath.Base(name), rec)
		_ = f.Close()
		resp, _ := exchange(t, newStatic(t, StaticConfig{Dir: root, CalculateEtag: true}), get("/"+name))
		if got, want := resp.Header.Get("Etag"), rec.Header().Get("Etag"); got != want || want == "" {
			t.Errorf("%s: ETag %q, RoadRunner's %q", name, got, want)
		}
	}
}

// A file's ETag is computed once per size and mtime: a rewrite that keeps both is not seen (the
// cache is hit, the file not read), one that changes the mtime is.
func TestETagCacheKeysOnSizeAndMtime(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "a.txt")
	write := func(body string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(name, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	var cache etagCache
	tag := func() string {
		t.Helper()
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = f.Close() }()
		info, _ := f.Stat()
		s, err := cache.get(name, info.Size(), info.ModTime().UnixNano(), f, false)
		if err != nil {
			t.Fatal(err)
		}
		if off, _ := f.Seek(0, 1); off != 0 {
			t.Fatalf("the file is left at offset %d", off)
		}
		return s
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	write("aaaa", t0)
	first := tag()
	write("bbbb", t0) // same size, same mtime: the cached tag
	if got := tag(); got != first {
		t.Fatalf("tag %q after a same-size same-mtime rewrite, want the cached %q", got, first)
	}
	write("bbbb", t0.Add(time.Second))
	if got := tag(); got == first {
		t.Fatalf("tag %q unchanged after the mtime changed", got)
	}
}

func TestStaticConfigErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  StaticConfig
		want string
	}{
		{"no dir", StaticConfig{}, "pivot.static.dir is required"},
		{"missing dir", StaticConfig{Dir: filepath.Join(dir, "nope")}, "pivot.static.dir"},
		{"a file as dir", StaticConfig{Dir: file}, "not an existing directory"},
		{"bad cache_duration", StaticConfig{Dir: dir, CacheDuration: "soon"}, "pivot.static.cache_duration \"soon\" is not a duration"},
		{"negative cache_duration", StaticConfig{Dir: dir, CacheDuration: "-1m"}, "pivot.static.cache_duration is -1m0s"},
		{"sub-second cache_duration", StaticConfig{Dir: dir, CacheDuration: "500ms"}, "whole seconds"},
		{"bad response header", StaticConfig{Dir: dir, Response: map[string]string{"bad name": "1"}}, "pivot.static.response"},
		{"line break in a value", StaticConfig{Dir: dir, Response: map[string]string{"x-a": "1\r\nx-b: 2"}}, "line break"},
		{"bad request header", StaticConfig{Dir: dir, Request: map[string]string{"a:b": "1"}}, "pivot.static.request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.InitDefaults()
			err := tc.cfg.Valid()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
