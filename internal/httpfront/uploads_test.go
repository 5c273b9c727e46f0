package httpfront

import (
	"bytes"
	"mime/multipart"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// noGenerations stands for the supervisor: a request that reaches it would run PHP; it gets a
// 503 here, which tells the test that it got through.
type noGenerations struct{ acquired int }

func (g *noGenerations) Acquire() Generation      { g.acquired++; return nil }
func (g *noGenerations) Unavailable() (int, bool) { return 1, false }

// multipartRequest is a POST of a multipart form with these fields and files of these sizes.
func multipartRequest(t *testing.T, fields map[string]string, files map[string]int) *fasthttp.RequestCtx {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	for name, size := range files {
		w, err := mw.CreateFormFile(name, name+".txt")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(bytes.Repeat([]byte("x"), size))
	}
	_ = mw.Close()
	c := &fasthttp.RequestCtx{}
	c.Request.Header.SetMethod("POST")
	c.Request.SetRequestURI("/upload")
	c.Request.Header.SetHost("x")
	c.Request.Header.SetContentType(mw.FormDataContentType())
	c.Request.SetBody(body.Bytes())
	return c
}

func TestUploadMaxSize(t *testing.T) {
	cases := []struct {
		name    string
		maxSize int64
		fields  map[string]string
		files   map[string]int // form name → size
		want    int            // 413, or 503 when the request went on to PHP
	}{
		{name: "at the limit", maxSize: 10, files: map[string]int{"a": 10}, want: 503},
		{name: "one byte over", maxSize: 10, files: map[string]int{"a": 11}, want: 413},
		{name: "one file of several over", maxSize: 10, files: map[string]int{"a": 1, "b": 5000, "c": 2}, want: 413},
		{name: "a large field is not a file", maxSize: 10, fields: map[string]string{"f": strings.Repeat("v", 5000)}, want: 503},
		{name: "no limit", files: map[string]int{"a": 100000}, want: 503},
		{name: "a file on disk over the limit", maxSize: 1 << 10, files: map[string]int{"big": 1 << 20}, want: 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			gens := &noGenerations{}
			f := New(Options{Uploads: Uploads{Dir: dir, MaxSize: tc.maxSize}}, gens, nopMetrics{}, zap.NewNop())
			c := multipartRequest(t, tc.fields, tc.files)
			f.Handler()(c)
			if got := c.Response.StatusCode(); got != tc.want {
				t.Fatalf("status %d (%s), want %d", got, c.Response.Body(), tc.want)
			}
			if tc.want == 413 {
				if gens.acquired != 0 {
					t.Fatal("PHP was asked for a request refused with 413")
				}
				if !strings.Contains(string(c.Response.Body()), "pivot.uploads.max_size") {
					t.Errorf("the 413 does not name the key: %q", c.Response.Body())
				}
				if c.Response.ConnectionClose() {
					t.Error("the 413 closes the connection: the body was read whole, it can stay")
				}
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) > 0 {
				t.Errorf("files left in the uploads dir: %v", left)
			}
		})
	}
}
