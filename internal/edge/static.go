package edge

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// The `static` middleware serves files of pivot.static.dir before PHP, as RoadRunner's static
// middleware does (roadrunner-server/static/v4), natively on fasthttp:
//
//   - only GET and HEAD, only a path with an extension (RoadRunner serves no file without
//     one): anything else goes to PHP untouched, with no file system call;
//   - the path is the one fasthttp decoded and normalized (%2e%2e, /../ resolved), cleaned
//     again as a rooted path: it cannot name a file outside the directory; a symlink in it may
//     lead anywhere inside the directory, never outside (such a request goes to PHP);
//   - a forbidden extension (forbid), one not allowed (allow, when set), a PHP source file
//     (phpSource: always, whatever forbid says), a directory, anything but a regular file, a
//     missing file: the request goes to PHP, as on RoadRunner;
//   - the file goes out through net/http's ServeContent (Content-Type by extension,
//     Last-Modified, If-None-Match / If-Modified-Since → 304, If-Match / If-Unmodified-Since →
//     412, a single Range → 206, a bad one → 416), with RoadRunner's ETag (etag.go) when
//     calculate_etag is on, `Cache-Control: max-age=<cache_duration>`, and the `response`
//     headers. A request for several ranges gets the whole file (RFC 9110 lets a server ignore
//     Range): a multipart/byteranges body would be built in memory.
//
// The file itself is not read into memory: ServeContent's copy is taken over (fileWriter's
// ReadFrom) and fasthttp streams the file with its Content-Length, closing it when done.

// phpSource are extensions never served as files: PHP's source must not leak.
var phpSource = map[string]struct{}{
	".php": {}, ".phtml": {}, ".phar": {}, ".phps": {}, ".php3": {}, ".php4": {}, ".php5": {},
	".php7": {}, ".php8": {},
}

// StaticConfig is `pivot.static`: the keys of RoadRunner's http.static, plus cache_duration.
type StaticConfig struct {
	// Dir is the directory files are served from (required; relative to rr's working
	// directory).
	Dir string `mapstructure:"dir"`
	// Forbid lists extensions (".htaccess") never served as files: such requests go to PHP.
	Forbid []string `mapstructure:"forbid"`
	// Allow, when set, lists the only extensions served as files.
	Allow []string `mapstructure:"allow"`
	// CalculateEtag sends RoadRunner's ETag; Weak makes it a weak one (W/).
	CalculateEtag bool `mapstructure:"calculate_etag"`
	Weak          bool `mapstructure:"weak"`
	// Request headers are added to the request before the file is served (they can only
	// affect its conditional headers), Response headers to every file's response, as on
	// RoadRunner.
	Request  map[string]string `mapstructure:"request"`
	Response map[string]string `mapstructure:"response"`
	// CacheDuration is sent as Cache-Control: max-age (a duration, 10m, or seconds, 600).
	CacheDuration string `mapstructure:"cache_duration"`

	root               string
	forbidden, allowed map[string]struct{}
	maxAge             int64 // seconds; -1: no Cache-Control
}

// InitDefaults builds the extension sets: lower case with their dot, and what is forbidden is
// not allowed (as on RoadRunner).
func (s *StaticConfig) InitDefaults() {
	s.forbidden = ExtensionSet(s.Forbid)
	s.allowed = ExtensionSet(s.Allow)
	for ext := range s.forbidden {
		delete(s.allowed, ext)
	}
	s.maxAge = -1
}

// Valid checks pivot.static after InitDefaults; every error names the key and the fix.
func (s *StaticConfig) Valid() error {
	if s.Dir == "" {
		return fmt.Errorf("pivot.static.dir is required: set it to the directory to serve files from, e.g. dir: public")
	}
	abs, err := filepath.Abs(s.Dir)
	if err != nil {
		return fmt.Errorf("pivot.static.dir %q: %v", s.Dir, err)
	}
	if st, errS := os.Stat(abs); errS != nil || !st.IsDir() {
		return fmt.Errorf("pivot.static.dir %q is not an existing directory: create it or fix the path (relative paths start at rr's working directory)", s.Dir)
	}
	s.root = abs
	if s.CacheDuration != "" {
		d, errD := parseDurationOrSeconds(s.CacheDuration)
		switch {
		case errD != nil:
			return fmt.Errorf("pivot.static.cache_duration %q is not a duration: use e.g. 10m, 1h or a number of seconds", s.CacheDuration)
		case d < 0:
			return fmt.Errorf("pivot.static.cache_duration is %s: use 0 (max-age=0) or a positive duration, e.g. 10m", d)
		case d > 0 && d < time.Second:
			return fmt.Errorf("pivot.static.cache_duration is %s: max-age counts whole seconds; use at least 1s", d)
		}
		s.maxAge = int64(d / time.Second)
	}
	for name := range s.Request {
		if !validHeaderName(name) {
			return fmt.Errorf("pivot.static.request: %q is not a valid header name", name)
		}
	}
	for name, value := range s.Response {
		if !validHeaderName(name) {
			return fmt.Errorf("pivot.static.response: %q is not a valid header name", name)
		}
		if strings.ContainsAny(value, "\r\n") {
			return fmt.Errorf("pivot.static.response.%s: a header value cannot hold a line break", name)
		}
	}
	return nil
}

// parseDurationOrSeconds reads a Go duration ("10m") or a bare number of seconds ("600", as
// RoadRunner's fileserver writes cache_duration).
func parseDurationOrSeconds(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > int64(1<<63-1)/int64(time.Second) {
			return 0, fmt.Errorf("too large")
		}
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// ExtensionSet turns a list of extensions (".php", "exe") into a set of lower-case ones with
// their dot: pivot.static's and pivot.uploads' forbid and allow lists.
func ExtensionSet(list []string) map[string]struct{} {
	set := make(map[string]struct{}, len(list))
	for _, ext := range list {
		ext = strings.ToLower(strings.TrimSpace(ext))
		if ext == "" {
			continue
		}
		if !strings.HasPrefix(ext, ".") {
			ext = "." + ext
		}
		set[ext] = struct{}{}
	}
	return set
}

// Static is the `static` middleware.
type Static struct {
	root               string
	forbidden, allowed map[string]struct{}
	etag, weak         bool
	cacheControl       []string
	request, response  []header
	etags              etagCache
	log                *zap.Logger
}

type header struct {
	name   string
	values []string // len == cap: an append to it copies
}

// NewStatic builds the middleware from a configuration that passed Valid.
func NewStatic(cfg *StaticConfig, log *zap.Logger) *Static {
	s := &Static{root: cfg.root, forbidden: cfg.forbidden, allowed: cfg.allowed,
		etag: cfg.CalculateEtag, weak: cfg.Weak, log: log}
	if cfg.maxAge >= 0 {
		s.cacheControl = []string{"max-age=" + strconv.FormatInt(cfg.maxAge, 10)}
	}
	s.request = headerList(cfg.Request)
	s.response = headerList(cfg.Response)
	return s
}

func headerList(m map[string]string) []header {
	out := make([]header, 0, len(m))
	for k, v := range m {
		out = append(out, header{name: http.CanonicalHeaderKey(k), values: []string{v}})
	}
	return out
}

// Middleware serves a file when the request names one, else calls next.
func (s *Static) Middleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(c *fasthttp.RequestCtx) {
		if !s.serve(c) {
			next(c)
		}
	}
}

// serve answers the request with a file of the directory, or reports that PHP must.
func (s *Static) serve(c *fasthttp.RequestCtx) bool {
	method := http.MethodGet
	switch {
	case c.IsGet():
	case c.IsHead():
		method = http.MethodHead
	default:
		return false
	}
	name, f, info, ok := s.find(c.Path())
	if !ok {
		return false
	}

	w := &fileWriter{h: make(http.Header, 8), file: f}
	if s.cacheControl != nil {
		w.h["Cache-Control"] = s.cacheControl
	}
	for _, h := range s.response {
		w.h[h.name] = h.values
	}
	if s.etag {
		tag, err := s.etags.get(f.Name(), info.Size(), info.ModTime().UnixNano(), f, s.weak)
		if err != nil {
			_ = f.Close()
			s.log.Debug("static file not readable", zap.String("file", f.Name()), zap.Error(err))
			return false
		}
		if tag != "" {
			w.h["Etag"] = []string{tag}
		}
	}
	r := &http.Request{Method: method, Header: make(http.Header, 4)}
	for _, k := range conditionalHeaders {
		if v := c.Request.Header.Peek(k); len(v) > 0 {
			if k == fasthttp.HeaderRange && bytes.IndexByte(v, ',') >= 0 {
				continue // several ranges: the whole file (see above)
			}
			r.Header[k] = []string{string(v)}
		}
	}
	for _, h := range s.request {
		r.Header[h.name] = append(r.Header[h.name], h.values...)
	}
	http.ServeContent(w, r, path.Base(name), info.ModTime(), f)
	w.finish(c)
	return true
}

// find opens the file a request path (fasthttp's, decoded and normalized) names, if it is one
// to serve; name is the path cleaned again as a rooted one, so that no path can leave the root
// whoever normalized it.
func (s *Static) find(p []byte) (name string, f *os.File, info fs.FileInfo, ok bool) {
	if !s.servable(extension(p)) {
		return "", nil, nil, false
	}
	name = path.Clean("/" + string(p))
	f, info, ok = s.open(name)
	return name, f, info, ok
}

// conditionalHeaders are the request headers ServeContent reads, canonical.
var conditionalHeaders = []string{"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
	fasthttp.HeaderRange, "If-Range"}

// servable reports whether a file with this extension may be served (ext is lower case).
func (s *Static) servable(ext []byte) bool {
	if len(ext) == 0 {
		return false // RoadRunner serves no file without an extension
	}
	if _, php := phpSource[string(ext)]; php {
		return false
	}
	if _, forbidden := s.forbidden[string(ext)]; forbidden {
		return false
	}
	if len(s.allowed) > 0 {
		if _, ok := s.allowed[string(ext)]; !ok {
			return false
		}
	}
	return true
}

// extension returns the lower-case extension of the last segment of p (nil for none), a copy
// only when p has upper-case letters in it.
func extension(p []byte) []byte {
	for i := len(p) - 1; i >= 0 && p[i] != '/'; i-- {
		if p[i] != '.' {
			continue
		}
		ext := p[i:]
		for _, b := range ext {
			if 'A' <= b && b <= 'Z' {
				return []byte(strings.ToLower(string(ext)))
			}
		}
		return ext
	}
	return nil
}

// open opens the regular file name (clean and rooted) names under the root. A symlink on the
// way is followed only if the file it leads to is inside the root (itself resolved, so the
// root may be a symlink, e.g. a `current` release) and may be served by its own extension.
func (s *Static) open(name string) (*os.File, fs.FileInfo, bool) {
	full := filepath.Join(s.root, filepath.FromSlash(name))
	var info fs.FileInfo
	linked := false
	for i := 1; i <= len(name); i++ {
		if i < len(name) && name[i] != '/' {
			continue
		}
		fi, err := os.Lstat(filepath.Join(s.root, filepath.FromSlash(name[:i])))
		if err != nil {
			return nil, nil, false
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			linked = true
			break
		}
		info = fi
	}
	target := full
	if linked {
		var ok bool
		if target, ok = s.resolve(full); !ok {
			return nil, nil, false
		}
		fi, err := os.Stat(target)
		if err != nil {
			return nil, nil, false
		}
		info = fi
	}
	if !info.Mode().IsRegular() {
		return nil, nil, false // a directory (PHP may answer it), a device, a FIFO
	}
	f, err := os.Open(target)
	if err != nil {
		return nil, nil, false
	}
	if info, err = f.Stat(); err != nil || !info.Mode().IsRegular() {
		_ = f.Close()
		return nil, nil, false
	}
	return f, info, true
}

// resolve follows the symlinks of full and returns the file it names if that is inside the
// root and may be served.
func (s *Static) resolve(full string) (string, bool) {
	real, err := filepath.EvalSymlinks(full)
	if err != nil {
		return "", false
	}
	root, err := filepath.EvalSymlinks(s.root)
	if err != nil {
		return "", false
	}
	if rel, errR := filepath.Rel(root, real); errR != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		s.log.Debug("static: a symlink leads outside pivot.static.dir; the request goes to PHP",
			zap.String("path", full), zap.String("target", real))
		return "", false
	}
	if !s.servable(extension([]byte(filepath.ToSlash(real)))) {
		return "", false
	}
	return real, true
}

// fileWriter is the http.ResponseWriter ServeContent writes to. It keeps the headers and the
// status, and takes over the copy of the file's bytes (ReadFrom) so that fasthttp streams them
// from the file.
type fileWriter struct {
	h      http.Header
	status int
	file   *os.File
	body   *io.LimitedReader // what ServeContent would have copied: the file, from the range's start
	text   []byte            // what ServeContent wrote itself (an error's text)
}

func (w *fileWriter) Header() http.Header { return w.h }

func (w *fileWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

// Write takes what ServeContent writes itself: error texts (416, 500).
func (w *fileWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.text = append(w.text, p...)
	return len(p), nil
}

// ReadFrom is ServeContent's io.CopyN of the file: it is kept for fasthttp to stream.
func (w *fileWriter) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok && lr.R == io.Reader(w.file) && w.body == nil {
		w.body = lr
		return lr.N, nil
	}
	var buf [4096]byte
	n, err := io.CopyBuffer(writerOnly{w}, r, buf[:])
	return n, err
}

// writerOnly hides fileWriter's ReadFrom from io.CopyBuffer.
type writerOnly struct{ io.Writer }

// finish writes the response ServeContent made into c.
func (w *fileWriter) finish(c *fasthttp.RequestCtx) {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	c.Response.SetStatusCode(status)
	length := int64(-1)
	for k, vv := range w.h {
		switch k {
		case "Content-Length":
			length, _ = strconv.ParseInt(vv[0], 10, 64)
		case "Content-Type":
			c.Response.Header.SetContentType(vv[0])
		default:
			for _, v := range vv {
				c.Response.Header.Add(k, v)
			}
		}
	}
	switch {
	case w.body != nil:
		c.Response.SetBodyStream(&fileBody{r: *w.body, f: w.file}, int(w.body.N))
		return
	case len(w.text) > 0:
		c.Response.SetBody(w.text)
	case c.IsHead() && length >= 0:
		c.Response.SkipBody = true
		c.Response.Header.SetContentLength(int(length))
	}
	_ = w.file.Close()
}

// fileBody is a static file's bytes as fasthttp streams them; Close closes the file.
type fileBody struct {
	r io.LimitedReader
	f *os.File
}

func (b *fileBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *fileBody) Close() error {
	if b.f == nil {
		return nil
	}
	err := b.f.Close()
	b.f = nil
	return err
}
