package edge

import (
	"bytes"
	"compress/gzip"
	"io"
	"sync"

	"github.com/valyala/fasthttp"
)

// The `gzip` middleware. A response is compressed when the client accepts an encoding
// (Accept-Encoding), it is a final response with a body (not 1xx, 204, 206 nor 304, not to a
// HEAD request), it is not encoded already (Content-Encoding), Cache-Control does not say
// no-transform, and its Content-Type is text that compresses well (compressibleType: text/*,
// JSON, JavaScript, XML, SVG, fonts that are not already compressed — never images, archives,
// woff2 or application/octet-stream). Such responses also get `Vary: Accept-Encoding`,
// compressed or not, so that a cache keeps the two apart.
//
// A buffered body (a PHP response, a static file up to maxBufferedFile) goes through fasthttp's
// own CompressHandlerBrotliLevel: br, else gzip, else deflate, as the client accepts them, not
// below 200 bytes. A streamed PHP response does not: fasthttp compresses a body stream in a
// goroutine of its own that closes the stream there, after the connection may already serve
// another request, and hides a worker's error mid-stream behind a complete gzip trailer.
// FilterStream compresses it in fasthttp's writing goroutine instead, gzip only, one flush per
// frame (server-sent events arrive as the worker sends them), and a worker's error cuts the
// compressed body as it cuts a plain one. A strong ETag of a compressed response becomes weak
// (the bytes differ from the file's), and Accept-Ranges is dropped (ranges are of the
// uncompressed bytes; a range request is answered 206 uncompressed).

// maxBufferedFile: a static file up to this size is read whole into the response and compressed
// like a PHP body; a larger one is sent as it is.
const maxBufferedFile = 1 << 20

// Compressor is the `gzip` middleware: Middleware for buffered bodies and static files,
// FilterStream (httpfront.StreamFilter) for streamed PHP responses.
type Compressor struct {
	// encode is fasthttp's CompressHandlerBrotliLevel around a handler that does nothing: it
	// compresses the response already in the context.
	encode fasthttp.RequestHandler
}

// NewCompressor returns the `gzip` middleware at fasthttp's default levels (brotli 4, gzip and
// deflate 6).
func NewCompressor() *Compressor {
	return &Compressor{encode: fasthttp.CompressHandlerBrotliLevel(func(*fasthttp.RequestCtx) {},
		fasthttp.CompressBrotliDefaultCompression, fasthttp.CompressDefaultCompression)}
}

// Middleware compresses the response next wrote.
func (z *Compressor) Middleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(c *fasthttp.RequestCtx) {
		next(c)
		z.compress(c)
	}
}

func (z *Compressor) compress(c *fasthttp.RequestCtx) {
	if !compressible(c) {
		return
	}
	addVary(&c.Response.Header)
	if !acceptsEncoding(c) {
		return
	}
	if c.Response.IsBodyStream() {
		// a streamed PHP response was FilterStream's to compress (the front asks it before it
		// hands the stream to fasthttp); only a static file's stream is buffered here
		fb, ok := c.Response.BodyStream().(*fileBody)
		if !ok || fb.r.N > maxBufferedFile || !bufferFile(c, fb) {
			return
		}
	}
	// fasthttp adds Accept-Encoding to Vary unless it finds it spelled so: keep the app's
	// spelling (accept-encoding) as it is
	var vary string
	if v := c.Response.Header.Peek(fasthttp.HeaderVary); !bytes.Contains(v, []byte(fasthttp.HeaderAcceptEncoding)) {
		vary = string(v)
	}
	z.encode(c)
	if len(c.Response.Header.ContentEncoding()) > 0 {
		encoded(&c.Response.Header)
		if vary != "" {
			c.Response.Header.Set(fasthttp.HeaderVary, vary)
		}
	}
}

// FilterStream compresses a streamed response with gzip when the client accepts it and the
// response is compressible, frame by frame; otherwise it returns body. The returned reader's
// Close closes body.
func (z *Compressor) FilterStream(c *fasthttp.RequestCtx, body io.ReadCloser) io.ReadCloser {
	if !compressible(c) {
		return body
	}
	addVary(&c.Response.Header)
	if !c.Request.Header.HasAcceptEncoding("gzip") {
		return body
	}
	c.Response.Header.SetContentEncoding("gzip")
	encoded(&c.Response.Header)
	return newGzipStream(body)
}

// compressible reports whether the response in c is one to compress, whatever the client
// accepts.
func compressible(c *fasthttp.RequestCtx) bool {
	h := &c.Response.Header
	switch status := h.StatusCode(); {
	case status < 200, status == fasthttp.StatusNoContent, status == fasthttp.StatusPartialContent,
		status == fasthttp.StatusNotModified:
		return false
	}
	if c.IsHead() || len(h.ContentEncoding()) > 0 || len(h.Peek(fasthttp.HeaderContentRange)) > 0 {
		return false
	}
	if cc := h.Peek(fasthttp.HeaderCacheControl); len(cc) > 0 && containsFold(cc, "no-transform") {
		return false
	}
	return compressibleType(h.ContentType())
}

// acceptsEncoding reports whether the client accepts an encoding fasthttp's CompressHandler
// produces (fasthttp reads a bare token: "gzip" and "gzip, br" do, "gzip;q=0" does not).
func acceptsEncoding(c *fasthttp.RequestCtx) bool {
	h := &c.Request.Header
	return h.HasAcceptEncoding("br") || h.HasAcceptEncoding("gzip") || h.HasAcceptEncoding("deflate")
}

// compressedWell are the media types, besides text/* and application/*+json|xml, worth
// compressing; all are types fasthttp's compressor accepts.
var compressedWell = [][]byte{
	[]byte("application/json"), []byte("application/javascript"), []byte("application/x-javascript"),
	[]byte("application/ecmascript"), []byte("application/xml"), []byte("application/x-ndjson"),
	[]byte("application/wasm"), []byte("application/yaml"), []byte("application/x-yaml"),
	[]byte("application/toml"), []byte("application/x-sh"), []byte("application/rtf"),
	[]byte("application/x-www-form-urlencoded"), []byte("application/vnd.ms-fontobject"),
	[]byte("application/x-font-ttf"), []byte("application/x-font-otf"), []byte("image/svg+xml"),
	[]byte("image/x-icon"), []byte("font/ttf"), []byte("font/otf"), []byte("font/collection"),
}

// fasthttpTypes are the prefixes fasthttp's compressor requires of a Content-Type (case
// sensitive: a type in upper case, which no one sends, is left alone by both).
var fasthttpTypes = [][]byte{[]byte("text/"), []byte("application/"), []byte("image/svg"),
	[]byte("image/x-icon"), []byte("font/"), []byte("multipart/")}

// compressibleType reports whether a Content-Type is text that compresses well. Anything not
// listed (images, audio, video, archives, woff/woff2, PDF, application/octet-stream) is either
// compressed already or unknown, and is sent as it is.
func compressibleType(ct []byte) bool {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct)
	fasthttpCompresses := false
	for _, p := range fasthttpTypes {
		fasthttpCompresses = fasthttpCompresses || bytes.HasPrefix(ct, p)
	}
	if !fasthttpCompresses {
		return false
	}
	if hasPrefixFold(ct, "text/") {
		return true
	}
	if hasPrefixFold(ct, "application/") && (hasSuffixFold(ct, "+json") || hasSuffixFold(ct, "+xml")) {
		return true
	}
	for _, t := range compressedWell {
		if bytes.EqualFold(ct, t) {
			return true
		}
	}
	return false
}

// addVary adds Accept-Encoding to Vary unless it is there (or Vary is *).
func addVary(h *fasthttp.ResponseHeader) {
	v := h.Peek(fasthttp.HeaderVary)
	switch {
	case len(v) == 0:
		h.Set(fasthttp.HeaderVary, fasthttp.HeaderAcceptEncoding)
	case containsFold(v, "accept-encoding"), bytes.Equal(bytes.TrimSpace(v), []byte("*")):
	default:
		h.Set(fasthttp.HeaderVary, string(v)+", "+fasthttp.HeaderAcceptEncoding)
	}
}

// encoded fixes the headers of a response that was just compressed: a strong ETag names the
// uncompressed bytes, so it becomes weak (nginx does the same); ranges are of the uncompressed
// bytes.
func encoded(h *fasthttp.ResponseHeader) {
	if tag := h.Peek(fasthttp.HeaderETag); len(tag) > 0 && tag[0] == '"' {
		h.Set(fasthttp.HeaderETag, "W/"+string(tag))
	}
	h.Del(fasthttp.HeaderAcceptRanges)
}

// fileBuffers holds the buffers static files are read into before they are compressed.
var fileBuffers sync.Pool // *[]byte

// bufferFile reads a static file's bytes from its stream into the response body (closing the
// file), so that it is compressed as a PHP body is. On a read error the stream is left as it
// is: fasthttp's write of it fails too, and the connection is closed.
func bufferFile(c *fasthttp.RequestCtx, fb *fileBody) bool {
	n := int(fb.r.N)
	bp, _ := fileBuffers.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	if cap(*bp) < n {
		*bp = make([]byte, n)
	}
	buf := (*bp)[:n]
	defer fileBuffers.Put(bp)
	if _, err := io.ReadFull(&fb.r, buf); err != nil {
		return false
	}
	c.Response.SetBody(buf) // copies; closes the file's stream
	return true
}

// gzipStream compresses a streamed body as fasthttp pulls it: each Read of the source (a frame
// of the worker's stream) is compressed and flushed, so the client gets it at once.
type gzipStream struct {
	src  io.ReadCloser
	zw   *gzip.Writer
	out  bytes.Buffer // compressed bytes not read yet
	in   []byte
	done bool  // the source ended and the gzip trailer is in out
	err  error // the source failed: no trailer, the body is cut
}

var gzipStreams sync.Pool // *gzipStream

func newGzipStream(src io.ReadCloser) *gzipStream {
	g, _ := gzipStreams.Get().(*gzipStream)
	if g == nil {
		g = &gzipStream{in: make([]byte, 16<<10)}
		g.zw, _ = gzip.NewWriterLevel(&g.out, gzip.DefaultCompression)
	} else {
		g.zw.Reset(&g.out)
	}
	g.src = src
	return g
}

// Read returns compressed bytes; the source's error once what was compressed before it is read.
func (g *gzipStream) Read(p []byte) (int, error) {
	for g.out.Len() == 0 {
		switch {
		case g.err != nil:
			return 0, g.err
		case g.done:
			return 0, io.EOF
		}
		n, err := g.src.Read(g.in)
		if n > 0 {
			_, _ = g.zw.Write(g.in[:n]) // a bytes.Buffer takes everything
			_ = g.zw.Flush()
		}
		switch {
		case err == io.EOF:
			_ = g.zw.Close()
			g.done = true
		case err != nil:
			g.err = err
		}
	}
	return g.out.Read(p)
}

// Close closes the source; the stream is reused.
func (g *gzipStream) Close() error {
	err := g.src.Close()
	g.src, g.done, g.err = nil, false, nil
	g.out.Reset()
	if g.out.Cap() > 1<<20 {
		g.out = bytes.Buffer{}
	}
	gzipStreams.Put(g)
	return err
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && bytes.EqualFold(b[:len(prefix)], []byte(prefix))
}

func hasSuffixFold(b []byte, suffix string) bool {
	return len(b) >= len(suffix) && bytes.EqualFold(b[len(b)-len(suffix):], []byte(suffix))
}

// containsFold reports whether b contains s, ASCII case-insensitively (s is lower case).
func containsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if bytes.EqualFold(b[i:i+len(s)], []byte(s)) {
			return true
		}
	}
	return false
}
