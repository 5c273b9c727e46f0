package compat

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
)

// Plain requests: a fixed answer, a few statuses (with and without a body), a 404 route, HEAD.
func TestPlainRequests(t *testing.T) {
	type reqCase struct{ method, path string }
	cases := []reqCase{
		{"GET", "/hello"},
		{"HEAD", "/hello"},
		{"GET", "/status?code=201&body=created"},
		{"GET", "/status?code=204"},
		{"GET", "/status?code=302&body=moved"},
		{"GET", "/status?code=418&body=teapot"},
		{"GET", "/status?code=503&body=down"},
		{"GET", "/nope"},
	}
	res, ok := forBoth(t, func(t *testing.T, kind string) []observed {
		s := startRR(t, kind, rrOptions{})
		var out []observed
		for _, c := range cases {
			req, err := http.NewRequest(c.method, s.url(c.path), nil)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s.do(t, req, "Content-Type", "X-Compat", "X-Powered-By", "X-Status"))
		}
		if o := out[0]; o.Status != 200 || string(o.Body) != "Hello from the official libraries\n" {
			t.Errorf("GET /hello: %s", o)
		}
		return out
	})
	if !ok {
		return
	}
	for i, c := range cases {
		sameObserved(t, c.method+" "+c.path, map[string]observed{kindPivot: res[kindPivot][i], kindStock: res[kindStock][i]})
	}
}

// Query strings, headers (repeated ones too), cookies, form and JSON bodies as PSR-7 sees them,
// and repeated response headers (X-Multi, Set-Cookie).
func TestQueryHeadersCookies(t *testing.T) {
	type reqCase struct {
		name, method, path, body string
		header                   http.Header
	}
	cases := []reqCase{
		{name: "query", method: "GET", path: "/echo?a=1&b[]=2&b[]=3&c=%20x%2By&d[k]=v&empty=&flag"},
		{name: "headers", method: "GET", path: "/echo", header: http.Header{
			"X-Multi":       {"a", "b"},
			"X-Single":      {"one, two"},
			"Accept":        {"text/html", "application/json;q=0.9"},
			"X-Lower-Later": {"v"},
			"User-Agent":    {"compat-suite/1"},
		}},
		{name: "cookies", method: "GET", path: "/echo", header: http.Header{
			"Cookie": {"a=1; b=two; c=%20sp", "d=4"},
		}},
		{name: "form", method: "POST", path: "/echo?q=1", body: "name=pivot&list[]=x&list[]=y&n[a]=1",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}},
		{name: "json", method: "POST", path: "/echo", body: `{"a":[1,2],"b":"c"}`,
			header: http.Header{"Content-Type": {"application/json"}}},
		{name: "put-raw", method: "PUT", path: "/echo", body: "raw body bytes \x00\x01",
			header: http.Header{"Content-Type": {"application/octet-stream"}}},
		{name: "delete", method: "DELETE", path: "/echo?id=7"},
	}
	res, ok := forBoth(t, func(t *testing.T, kind string) []observed {
		s := startRR(t, kind, rrOptions{})
		var out []observed
		for _, c := range cases {
			var body *strings.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			var req *http.Request
			var err error
			if body != nil {
				req, err = http.NewRequest(c.method, s.url(c.path), body)
			} else {
				req, err = http.NewRequest(c.method, s.url(c.path), nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range c.header {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			o := s.do(t, req, "Content-Type", "X-Multi", "Set-Cookie", "Cache-Control")
			if o.Status != 200 {
				t.Errorf("%s: %s", c.name, o)
			}
			out = append(out, o)
		}
		// spot checks of what PHP must see, on both servers
		seen := func(i int, key string) any {
			var m map[string]any
			if err := json.Unmarshal(out[i].Body, &m); err != nil {
				t.Fatalf("%s: %v: %s", cases[i].name, err, out[i].Body)
			}
			return m[key]
		}
		if q, _ := seen(0, "query").(map[string]any); q["c"] != " x+y" || fmt.Sprint(q["b"]) != "[2 3]" {
			t.Errorf("query params as PHP saw them: %v", q)
		}
		if h, _ := seen(1, "headers").(map[string]any); fmt.Sprint(h["X-Multi"]) != "[a b]" {
			t.Errorf("a repeated request header as PHP saw it: %v", h)
		}
		if c, _ := seen(2, "cookies").(map[string]any); c["a"] != "1" || c["b"] != "two" || c["d"] != "4" {
			t.Errorf("cookies as PHP saw them: %v", c)
		}
		if p, _ := seen(3, "parsed").(map[string]any); p["name"] != "pivot" {
			t.Errorf("form body as PHP saw it: %v", p)
		}
		if got := out[0].Headers["Set-Cookie"]; len(got) != 2 {
			t.Errorf("two Set-Cookie headers expected, got %q", got)
		}
		if got := out[0].Headers["X-Multi"]; fmt.Sprint(got) != "[first second]" {
			t.Errorf("repeated response header X-Multi: %q", got)
		}
		return out
	})
	if !ok {
		return
	}
	for i, c := range cases {
		sameObserved(t, c.name, map[string]observed{kindPivot: res[kindPivot][i], kindStock: res[kindStock][i]})
	}
}

// Multipart uploads: files (a nested array too, an empty one, a forbidden extension) as PSR-7
// UploadedFile objects, with their contents read by PHP, beside ordinary fields.
func TestUploads(t *testing.T) {
	type file struct {
		field, name, ctype string
		content            []byte
	}
	files := []file{
		{"avatar", "me.png", "image/png", pattern(11, 70_000)},
		{"docs[]", "a.txt", "text/plain", []byte("first document\n")},
		{"docs[]", "b.bin", "application/octet-stream", pattern(12, 1_234_567)},
		{"empty", "empty.txt", "text/plain", nil},
		{"script", "evil.php", "application/x-php", []byte("<?php echo 1;")},
	}
	body := &bytes.Buffer{}
	mw := multipart.NewWriter(body)
	_ = mw.SetBoundary("compat-boundary-7f3a9")
	_ = mw.WriteField("title", "uploads")
	_ = mw.WriteField("tags[]", "x")
	_ = mw.WriteField("tags[]", "y")
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, f.field, f.name))
		h.Set("Content-Type", f.ctype)
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(f.content)
	}
	_ = mw.Close()
	payload := body.Bytes()

	res, ok := forBoth(t, func(t *testing.T, kind string) observed {
		s := startRR(t, kind, rrOptions{})
		req, err := http.NewRequest("POST", s.url("/echo"), bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", mw.FormDataContentType())
		o := s.do(t, req, "Content-Type")
		if o.Status != 200 {
			t.Fatalf("upload: %s", o)
		}
		var seen struct {
			Parsed  map[string]any `json:"parsed"`
			Uploads map[string]any `json:"uploads"`
		}
		if err := json.Unmarshal(o.Body, &seen); err != nil {
			t.Fatalf("%v: %s", err, o.Body)
		}
		check := func(got any, f file, wantErr int) {
			m, _ := got.(map[string]any)
			if m == nil {
				t.Errorf("%s: no upload seen (uploads: %v)", f.name, seen.Uploads)
				return
			}
			sum := sha1.Sum(f.content)
			if wantErr == 0 && (m["name"] != f.name || m["sha1"] != hex.EncodeToString(sum[:]) || m["len"] != float64(len(f.content)) || m["error"] != float64(0)) {
				t.Errorf("%s as PHP saw it: %v", f.name, m)
			}
			if wantErr != 0 && m["error"] != float64(wantErr) {
				t.Errorf("%s: error %v, want %d (UPLOAD_ERR_EXTENSION)", f.name, m["error"], wantErr)
			}
		}
		check(seen.Uploads["avatar"], files[0], 0)
		docs, _ := seen.Uploads["docs"].([]any)
		if len(docs) != 2 {
			t.Errorf("docs[]: %v", seen.Uploads["docs"])
		} else {
			check(docs[0], files[1], 0)
			check(docs[1], files[2], 0)
		}
		check(seen.Uploads["empty"], files[3], 0)
		check(seen.Uploads["script"], files[4], 8)
		if seen.Parsed["title"] != "uploads" {
			t.Errorf("fields beside the files: %v", seen.Parsed)
		}
		return o
	})
	if ok {
		sameObserved(t, "multipart upload", res)
	}
}

// 1 MB (and a few other sizes) answered in one frame: every byte.
func TestLargeResponses(t *testing.T) {
	sizes := []int{0, 1, 65_535, 65_536, 1 << 20, 3<<20 + 17}
	res, ok := forBoth(t, func(t *testing.T, kind string) []observed {
		s := startRR(t, kind, rrOptions{})
		var out []observed
		for i, size := range sizes {
			o := s.get(t, fmt.Sprintf("/big?seed=%d&size=%d", 100+i, size), "Content-Type", "X-Seed")
			if o.Status != 200 || !bytes.Equal(o.Body, pattern(100+i, size)) {
				t.Errorf("%d bytes: status %d, %s", size, o.Status, firstDiff(o.Body, pattern(100+i, size)))
			}
			out = append(out, o)
		}
		return out
	})
	if !ok {
		return
	}
	for i, size := range sizes {
		sameObserved(t, fmt.Sprintf("%d bytes", size), map[string]observed{kindPivot: res[kindPivot][i], kindStock: res[kindStock][i]})
	}
}

// $psr7->getWorker()->error('boom'): both answer 500 (pivot with a text body, stock with an
// empty one unless pool.debug), and the worker keeps serving.
func TestWorkerError(t *testing.T) {
	res, ok := forBoth(t, func(t *testing.T, kind string) observed {
		s := startRR(t, kind, rrOptions{workers: 1})
		pid := s.get(t, "/pid")
		o := s.get(t, "/error", "Content-Type")
		t.Logf("%s answers a worker error with: %s", kind, o)
		if o.Status != 500 {
			t.Errorf("worker error: status %d, want 500", o.Status)
		}
		after := s.get(t, "/pid")
		if after.Status != 200 || !bytes.Equal(after.Body, pid.Body) {
			t.Errorf("the worker must keep serving after an error: pid %s before, %s after", pid.Body, after)
		}
		return o
	})
	if ok && res[kindPivot].Status != res[kindStock].Status {
		t.Errorf("worker error: pivot %d, stock %d", res[kindPivot].Status, res[kindStock].Status)
	}
}
