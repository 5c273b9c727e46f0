package edge

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// decode undoes a Content-Encoding with fasthttp's own decoders.
func decode(t *testing.T, encoding string, body []byte) []byte {
	t.Helper()
	var out []byte
	var err error
	switch encoding {
	case "":
		return body
	case "gzip":
		out, err = fasthttp.AppendGunzipBytes(nil, body)
	case "br":
		out, err = fasthttp.AppendUnbrotliBytes(nil, body)
	case "deflate":
		out, err = fasthttp.AppendInflateBytes(nil, body)
	default:
		t.Fatalf("unknown encoding %q", encoding)
	}
	if err != nil {
		t.Fatalf("%s body does not decode: %v", encoding, err)
	}
	return out
}

func TestCompressChoosesWhatToCompress(t *testing.T) {
	html := strings.Repeat("<p>hello, compressible world</p>\n", 40)
	type resp struct {
		status  int
		ctype   string
		headers map[string]string
		body    string
	}
	page := resp{status: 200, ctype: "text/html; charset=utf-8", body: html}
	with := func(r resp, f func(*resp)) resp { f(&r); return r }
	cases := []struct {
		name     string
		method   string
		accept   string
		resp     resp
		encoding string // expected Content-Encoding
		vary     string // expected Vary
		etag     string // expected ETag, when the response set one
	}{
		{name: "gzip", accept: "gzip", resp: page, encoding: "gzip", vary: "Accept-Encoding"},
		{name: "brotli preferred", accept: "gzip, deflate, br", resp: page, encoding: "br", vary: "Accept-Encoding"},
		{name: "deflate", accept: "deflate", resp: page, encoding: "deflate", vary: "Accept-Encoding"},
		{name: "no Accept-Encoding: plain, with Vary", resp: page, vary: "Accept-Encoding"},
		{name: "identity only", accept: "identity", resp: page, vary: "Accept-Encoding"},
		{name: "gzip;q=0 is not gzip", accept: "gzip;q=0", resp: page, vary: "Accept-Encoding"},
		{name: "JSON", accept: "gzip", resp: with(page, func(r *resp) { r.ctype = "application/json" }), encoding: "gzip", vary: "Accept-Encoding"},
		{name: "problem+json", accept: "gzip", resp: with(page, func(r *resp) { r.ctype = "application/problem+json" }), encoding: "gzip", vary: "Accept-Encoding"},
		{name: "SVG", accept: "gzip", resp: with(page, func(r *resp) { r.ctype = "image/svg+xml" }), encoding: "gzip", vary: "Accept-Encoding"},
		{name: "JavaScript with its subtype in upper case", accept: "gzip", resp: with(page, func(r *resp) { r.ctype = "application/JavaScript" }), encoding: "gzip", vary: "Accept-Encoding"},
		{name: "a type in upper case is left alone (fasthttp's rule)", accept: "gzip", resp: with(page, func(r *resp) { r.ctype = "TEXT/HTML" })},
		{name: "PNG is compressed already", accept: "gzip", resp: with(page, func(r *resp) { r.ctype = "image/png" })},
		{name: "zip is compressed already", accept: "gzip", resp: with(page, func(r *resp) { r.ctype = "application/zip" })},
		{name: "woff2 is compressed already", accept: "gzip", resp: with(page, func(r *resp) { r.ctype = "font/woff2" })},
		{name: "octet-stream is left alone", accept: "gzip", resp: with(page, func(r *resp) { r.ctype = "application/octet-stream" })},
		{name: "no Content-Type", accept: "gzip", resp: with(page, func(r *resp) { r.ctype = "" })},
		{name: "a small body is not worth it", accept: "gzip", resp: with(page, func(r *resp) { r.body = "tiny" }), vary: "Accept-Encoding"},
		{name: "encoded by PHP already", accept: "gzip",
			resp: with(page, func(r *resp) { r.headers = map[string]string{"Content-Encoding": "br"} }), encoding: "br"},
		{name: "no-transform", accept: "gzip",
			resp: with(page, func(r *resp) { r.headers = map[string]string{"Cache-Control": "public, no-transform"} })},
		{name: "206", accept: "gzip", resp: with(page, func(r *resp) {
			r.status = 206
			r.headers = map[string]string{"Content-Range": "bytes 0-9/100"}
		})},
		{name: "204", accept: "gzip", resp: resp{status: 204, ctype: "text/plain"}},
		{name: "304", accept: "gzip", resp: resp{status: 304, ctype: "text/plain"}},
		{name: "an error page", accept: "gzip", resp: with(page, func(r *resp) { r.status = 404 }), encoding: "gzip", vary: "Accept-Encoding"},
		{name: "HEAD", method: "HEAD", accept: "gzip", resp: page},
		{name: "a strong ETag becomes weak", accept: "gzip",
			resp:     with(page, func(r *resp) { r.headers = map[string]string{"ETag": `"123-456"`} }),
			encoding: "gzip", vary: "Accept-Encoding", etag: `W/"123-456"`},
		{name: "a weak ETag stays", accept: "gzip",
			resp:     with(page, func(r *resp) { r.headers = map[string]string{"ETag": `W/"1"`} }),
			encoding: "gzip", vary: "Accept-Encoding", etag: `W/"1"`},
		{name: "a strong ETag stays when not compressed", resp: with(page, func(r *resp) { r.headers = map[string]string{"ETag": `"1"`} }),
			vary: "Accept-Encoding", etag: `"1"`},
		{name: "Vary is extended", accept: "gzip",
			resp: with(page, func(r *resp) { r.headers = map[string]string{"Vary": "Cookie"} }), encoding: "gzip", vary: "Cookie, Accept-Encoding"},
		{name: "Vary that has it already", accept: "gzip",
			resp: with(page, func(r *resp) { r.headers = map[string]string{"Vary": "accept-encoding"} }), encoding: "gzip", vary: "accept-encoding"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			next := func(c *fasthttp.RequestCtx) {
				c.SetStatusCode(tc.resp.status)
				if tc.resp.ctype != "" {
					c.Response.Header.SetContentType(tc.resp.ctype)
				}
				for k, v := range tc.resp.headers {
					c.Response.Header.Set(k, v)
				}
				c.SetBodyString(tc.resp.body)
			}
			method := tc.method
			if method == "" {
				method = "GET"
			}
			raw := method + " / HTTP/1.1\r\nHost: x\r\n"
			if tc.accept != "" {
				raw += "Accept-Encoding: " + tc.accept + "\r\n"
			}
			resp, body := exchange(t, NewCompressor().Middleware(next), raw+"\r\n")
			if got := resp.Header.Get("Content-Encoding"); got != tc.encoding {
				t.Fatalf("Content-Encoding %q, want %q", got, tc.encoding)
			}
			if got := resp.Header.Get("Vary"); got != tc.vary {
				t.Errorf("Vary %q, want %q", got, tc.vary)
			}
			if tc.etag != "" && resp.Header.Get("Etag") != tc.etag {
				t.Errorf("ETag %q, want %q", resp.Header.Get("Etag"), tc.etag)
			}
			if tc.encoding != "" && tc.resp.headers["Content-Encoding"] == "" {
				if got := decode(t, tc.encoding, body); string(got) != tc.resp.body {
					t.Fatalf("decoded body %.60q…, want %.60q…", got, tc.resp.body)
				}
				if len(body) >= len(tc.resp.body) {
					t.Errorf("compressed %d bytes into %d", len(tc.resp.body), len(body))
				}
			} else if method != "HEAD" && string(body) != tc.resp.body {
				t.Fatalf("body %.60q…, want it unchanged %.60q…", body, tc.resp.body)
			}
		})
	}
}

// Static files go through gzip when gzip wraps static (["static", "gzip"]): a small file is
// compressed whole, with Content-Length, its strong ETag made weak and no Accept-Ranges; a
// range of it is not compressed; with ["gzip", "static"] static answers first, as on
// RoadRunner.
func TestCompressStaticFiles(t *testing.T) {
	root, _ := staticTree(t)
	cfg := StaticConfig{Dir: root, CalculateEtag: true}
	cfg.InitDefaults()
	if err := cfg.Valid(); err != nil {
		t.Fatal(err)
	}
	static := NewStatic(&cfg, nil)
	css := strings.Repeat(cssBody, 10)

	gzipOutside := Chain(php, static.Middleware, NewCompressor().Middleware)
	resp, body := exchange(t, gzipOutside, get("/app.css", "Accept-Encoding: gzip\r\n"))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("status %d, Content-Encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	if got := decode(t, "gzip", body); string(got) != css {
		t.Fatalf("decoded %q", got)
	}
	if resp.ContentLength != int64(len(body)) {
		t.Errorf("Content-Length %d for %d bytes", resp.ContentLength, len(body))
	}
	if et := resp.Header.Get("Etag"); !strings.HasPrefix(et, `W/"`) {
		t.Errorf("ETag %q of a compressed file is not weak", et)
	}
	if resp.Header.Get("Accept-Ranges") != "" || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("headers %v", resp.Header)
	}
	// the weak tag revalidates: 304, not compressed
	resp, _ = exchange(t, gzipOutside, get("/app.css", "Accept-Encoding: gzip\r\nIf-None-Match: "+resp.Header.Get("Etag")+"\r\n"))
	if resp.StatusCode != 304 {
		t.Fatalf("revalidation with the weak ETag: %d", resp.StatusCode)
	}
	resp, body = exchange(t, gzipOutside, get("/app.css", "Accept-Encoding: gzip\r\nRange: bytes=0-3\r\n"))
	if resp.StatusCode != 206 || resp.Header.Get("Content-Encoding") != "" || string(body) != css[:4] {
		t.Fatalf("range: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Encoding"), body)
	}

	staticOutside := Chain(php, NewCompressor().Middleware, static.Middleware)
	resp, body = exchange(t, staticOutside, get("/app.css", "Accept-Encoding: gzip\r\n"))
	if resp.Header.Get("Content-Encoding") != "" || string(body) != css {
		t.Fatalf("static before gzip: %q %q", resp.Header.Get("Content-Encoding"), body)
	}
	resp, body = exchange(t, staticOutside, get("/missing", "Accept-Encoding: gzip\r\n"))
	if resp.StatusCode != 299 || string(body) != "php" {
		t.Fatalf("PHP behind both: %d %q", resp.StatusCode, body)
	}
}

// A static file larger than maxBufferedFile is streamed as it is, never read into memory.
func TestCompressLeavesLargeFilesAlone(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef\n"), maxBufferedFile/16)
	if err := writeFile(dir+"/big.txt", big); err != nil {
		t.Fatal(err)
	}
	cfg := StaticConfig{Dir: dir}
	cfg.InitDefaults()
	if err := cfg.Valid(); err != nil {
		t.Fatal(err)
	}
	h := Chain(php, NewStatic(&cfg, nil).Middleware, NewCompressor().Middleware)
	resp, body := exchange(t, h, get("/big.txt", "Accept-Encoding: gzip\r\n"))
	if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, big) || resp.ContentLength != int64(len(big)) {
		t.Fatalf("Content-Encoding %q, %d bytes (Content-Length %d) of %d", resp.Header.Get("Content-Encoding"), len(body), resp.ContentLength, len(big))
	}
}

// frames is a streamed body: it returns one frame per Read, then err (io.EOF: a complete
// stream).
type frames struct {
	list   []string
	err    error
	reads  int
	closed int
}

func (f *frames) Read(p []byte) (int, error) {
	if f.reads == len(f.list) {
		return 0, f.err
	}
	n := copy(p, f.list[f.reads])
	f.reads++
	return n, nil
}

func (f *frames) Close() error { f.closed++; return nil }

func streamResponse(t *testing.T, accept, ctype string) *fasthttp.RequestCtx {
	t.Helper()
	raw := "GET /stream HTTP/1.1\r\nHost: x\r\n"
	if accept != "" {
		raw += "Accept-Encoding: " + accept + "\r\n"
	}
	c := requestCtx(t, raw+"\r\n")
	c.SetStatusCode(200)
	c.Response.Header.SetContentType(ctype)
	return c
}

// A streamed response is gzipped frame by frame: each frame can be decoded as soon as it is
// read, the whole body decodes to the frames, Close closes the source once.
func TestFilterStreamCompressesFrameByFrame(t *testing.T) {
	src := &frames{list: []string{"data: one\n\n", "data: two\n\n", "data: three\n\n"}, err: io.EOF}
	c := streamResponse(t, "gzip, br", "text/event-stream")
	body := NewCompressor().FilterStream(c, src)
	if body == io.ReadCloser(src) {
		t.Fatal("the stream was not compressed")
	}
	if string(c.Response.Header.ContentEncoding()) != "gzip" || string(c.Response.Header.Peek("Vary")) != "Accept-Encoding" {
		t.Fatalf("headers: %s", c.Response.Header.String())
	}

	// what the client has after the first Read is enough to decode the first frame
	buf := make([]byte, 64<<10)
	n, err := body.Read(buf)
	if err != nil || src.reads != 1 {
		t.Fatalf("first read: %d %v (source reads %d)", n, err, src.reads)
	}
	zr, err := gzip.NewReader(bytes.NewReader(buf[:n]))
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len(src.list[0]))
	if _, err = io.ReadFull(zr, first); err != nil || string(first) != src.list[0] {
		t.Fatalf("first frame decoded to %q, %v", first, err)
	}

	rest, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	all := decode(t, "gzip", append(buf[:n:n], rest...))
	if string(all) != strings.Join(src.list, "") {
		t.Fatalf("decoded %q", all)
	}
	if err = body.Close(); err != nil || src.closed != 1 {
		t.Fatalf("close: %v, source closed %d times", err, src.closed)
	}
}

// A worker's error mid-stream cuts the compressed body: what was sent decodes, but the gzip
// stream has no end, so the client sees an incomplete response as it does without gzip.
func TestFilterStreamKeepsAnErrorMidStream(t *testing.T) {
	boom := errors.New("worker died")
	src := &frames{list: []string{"chunk 1\n", "chunk 2\n"}, err: boom}
	c := streamResponse(t, "gzip", "text/plain")
	body := NewCompressor().FilterStream(c, src)
	got, err := io.ReadAll(body)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want the worker's", err)
	}
	zr, errZ := gzip.NewReader(bytes.NewReader(got))
	if errZ != nil {
		t.Fatal(errZ)
	}
	plain, errR := io.ReadAll(zr)
	if string(plain) != "chunk 1\nchunk 2\n" || !errors.Is(errR, io.ErrUnexpectedEOF) {
		t.Fatalf("decoded %q with %v: the cut must show (unexpected EOF)", plain, errR)
	}
	_ = body.Close()
}

func TestFilterStreamLeavesWhatItMustNotCompress(t *testing.T) {
	cases := []struct {
		name, accept, ctype string
		vary                string
	}{
		{"client without gzip", "", "text/plain", "Accept-Encoding"},
		{"client with brotli only", "br", "text/plain", "Accept-Encoding"},
		{"binary stream", "gzip", "application/octet-stream", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := &frames{list: []string{"x"}, err: io.EOF}
			c := streamResponse(t, tc.accept, tc.ctype)
			if body := NewCompressor().FilterStream(c, src); body != io.ReadCloser(src) {
				t.Fatal("the stream was wrapped")
			}
			if len(c.Response.Header.ContentEncoding()) > 0 || string(c.Response.Header.Peek("Vary")) != tc.vary {
				t.Fatalf("headers: %s", c.Response.Header.String())
			}
		})
	}
}

// Through a real fasthttp server: a streamed body filtered by FilterStream (as the front does)
// reaches net/http's client whole and decoded, and the compress middleware after it leaves it
// be.
func TestCompressedStreamOverTheWire(t *testing.T) {
	z := NewCompressor()
	src := func() *frames {
		return &frames{list: []string{strings.Repeat("a", 300), strings.Repeat("b", 300), "end\n"}, err: io.EOF}
	}
	h := z.Middleware(func(c *fasthttp.RequestCtx) {
		c.Response.Header.SetContentType("text/plain")
		c.Response.SetBodyStream(z.FilterStream(c, src()), -1)
	})
	resp, body := exchange(t, h, get("/", "Accept-Encoding: gzip\r\n"))
	if resp.Header.Get("Content-Encoding") != "gzip" || len(resp.TransferEncoding) == 0 {
		t.Fatalf("headers %v, transfer encoding %v", resp.Header, resp.TransferEncoding)
	}
	want := strings.Repeat("a", 300) + strings.Repeat("b", 300) + "end\n"
	if got := decode(t, "gzip", body); string(got) != want {
		t.Fatalf("decoded %q", got)
	}
}
