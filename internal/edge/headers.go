package edge

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// The `headers` middleware (pivot.headers) does what RoadRunner's http `headers` middleware
// (roadrunner-server/headers/v4, on rs/cors) does, with its keys, natively on fasthttp:
//
//   - cors: a preflight (OPTIONS with Access-Control-Request-Method) is answered here with
//     options_success_status (200, RoadRunner's default) and never reaches PHP, allowed or
//     not (a refused one gets no Access-Control-Allow-* headers, as with rs/cors); a real
//     request goes on, and its response gets Access-Control-Allow-Origin, -Credentials,
//     -Expose-Headers and `Vary: Origin` on the way back: PHP's responses, streamed ones, and
//     whatever the middleware inside answers (pivot.limit's 429, pivot.breaker's 503, static
//     files when "static" is listed before "headers"), so a browser's script can read them;
//   - request: headers added to the request before PHP (addRequestHeaders), beside a client's
//     own value as RoadRunner's Header.Add leaves it;
//   - response: headers set on every response after PHP (Set: the configured value replaces
//     PHP's; RoadRunner sets it before PHP runs and PHP's own value is added beside it).
//
// Why the CORS decision is written here rather than taken from rs/cors (the library
// RoadRunner's middleware runs): rs/cors exports only net/http handlers (Handler, HandlerFunc,
// OriginAllowed take an *http.Request and an http.ResponseWriter); its origin, method and
// header checks are unexported. Reusing it would mean building an http.Request and a header
// map for every request on pivot's fasthttp path. The decision is small: it follows rs/cors
// v1.10.1 (the version RoadRunner v2023.3.12's headers plugin is built with, in this rr) rule
// for rule, and tests/edge compares the answers of both on the same ./rr. Where pivot differs,
// on purpose: list entries are trimmed ("GET, POST" means GET and POST; RoadRunner splits on
// the comma only, so " POST" never matches), methods are upper-cased, an invalid regex or
// status is a start-up error, and ACAO set by the edge replaces one PHP set (RoadRunner sends
// both, which browsers refuse).

// HeadersConfig is `pivot.headers`: RoadRunner's http.headers keys.
type HeadersConfig struct {
	// CORS answers preflights and adds CORS headers to responses.
	CORS *CORSConfig `mapstructure:"cors"`
	// Request headers are added to every request before PHP.
	Request map[string]string `mapstructure:"request"`
	// Response headers are set on every response after PHP.
	Response map[string]string `mapstructure:"response"`

	request, response []headerKV
}

// CORSConfig is `pivot.headers.cors`: RoadRunner's keys, lists as comma-separated strings.
type CORSConfig struct {
	// AllowedOrigin: "*" (the default), or origins (https://app.example), each with at most
	// one "*" wildcard (https://*.example.com).
	AllowedOrigin string `mapstructure:"allowed_origin"`
	// AllowedOriginRegex, when set, replaces allowed_origin: an origin is allowed when the
	// regular expression matches it (Go syntax; anchor it: ^https://[a-z]+\.example\.com$).
	AllowedOriginRegex string `mapstructure:"allowed_origin_regex"`
	// AllowedHeaders a preflight may ask for ("*": any; default Accept, Content-Type,
	// X-Requested-With).
	AllowedHeaders string `mapstructure:"allowed_headers"`
	// AllowedMethods (default GET, POST, HEAD).
	AllowedMethods string `mapstructure:"allowed_methods"`
	// AllowCredentials sends Access-Control-Allow-Credentials: true.
	AllowCredentials bool `mapstructure:"allow_credentials"`
	// ExposedHeaders are the response headers a script may read (Access-Control-Expose-Headers).
	ExposedHeaders string `mapstructure:"exposed_headers"`
	// MaxAge is how long, in seconds, a browser may cache a preflight's answer (0: no header).
	MaxAge int `mapstructure:"max_age"`
	// OptionsSuccessStatus is a preflight's status (default 200, RoadRunner's).
	OptionsSuccessStatus int `mapstructure:"options_success_status"`
	// Debug logs every CORS decision (pivot's logger, info level).
	Debug bool `mapstructure:"debug"`

	origins          []string // lower case
	wildcards        []wildcard
	originsAll       bool
	originRegex      *regexp.Regexp
	headers          map[string]struct{} // lower case
	headersAll       bool
	methods          []string
	exposed          string
	maxAge           string
	allowedOriginSet bool
	// starOrigin: Access-Control-Allow-Origin is "*", not the request's origin: allowed_origin
	// lists "*" (even beside a regex, as rs/cors v1.10.1) or is empty without a regex
	starOrigin bool
	starListed bool
}

type headerKV struct{ name, value string }

// wildcard is an allowed origin with one "*": a prefix and a suffix (lower case).
type wildcard struct{ prefix, suffix string }

func (w wildcard) match(origin []byte) bool {
	return len(origin) >= len(w.prefix)+len(w.suffix) && hasPrefixFold(origin, w.prefix) && hasSuffixFold(origin, w.suffix)
}

const (
	defaultOptionsSuccessStatus = http.StatusOK // RoadRunner's ("BC"); rs/cors' own is 204
	preflightVary               = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
)

// splitList splits a RoadRunner list (a comma-separated string), trimming each entry.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// InitDefaults fills RoadRunner's (rs/cors') defaults and builds the lookups.
func (h *HeadersConfig) InitDefaults() {
	h.request = sortedHeaders(h.Request)
	h.response = sortedHeaders(h.Response)
	if h.CORS != nil {
		h.CORS.initDefaults()
	}
}

// sortedHeaders canonicalizes the names (the config plugin lower-cases map keys) in a stable
// order.
func sortedHeaders(m map[string]string) []headerKV {
	out := make([]headerKV, 0, len(m))
	for k, v := range m {
		out = append(out, headerKV{name: http.CanonicalHeaderKey(strings.TrimSpace(k)), value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (c *CORSConfig) initDefaults() {
	if c.OptionsSuccessStatus == 0 {
		c.OptionsSuccessStatus = defaultOptionsSuccessStatus
	}
	c.origins, c.wildcards, c.originsAll, c.starListed = nil, nil, false, false
	list := splitList(c.AllowedOrigin)
	c.allowedOriginSet = len(list) > 0
	if len(list) == 0 {
		c.originsAll = true
	}
	for _, o := range list {
		o = strings.ToLower(o)
		switch i := strings.IndexByte(o, '*'); {
		case o == "*":
			c.originsAll, c.starListed, c.origins, c.wildcards = true, true, nil, nil
		case c.originsAll:
		case i >= 0:
			c.wildcards = append(c.wildcards, wildcard{prefix: o[:i], suffix: o[i+1:]})
		default:
			c.origins = append(c.origins, o)
		}
	}
	c.headers, c.headersAll = map[string]struct{}{}, false
	hs := splitList(c.AllowedHeaders)
	if len(hs) == 0 {
		hs = []string{"Accept", "Content-Type", "X-Requested-With"}
	}
	for _, name := range hs {
		if name == "*" {
			c.headersAll = true
		}
		c.headers[strings.ToLower(name)] = struct{}{}
	}
	c.methods = nil
	for _, m := range splitList(c.AllowedMethods) {
		c.methods = append(c.methods, strings.ToUpper(m))
	}
	if len(c.methods) == 0 {
		c.methods = []string{http.MethodGet, http.MethodPost, http.MethodHead}
	}
	exposed := splitList(c.ExposedHeaders)
	for i, name := range exposed {
		exposed[i] = http.CanonicalHeaderKey(name)
	}
	c.exposed = strings.Join(exposed, ", ")
	c.maxAge = ""
	if c.MaxAge > 0 {
		c.maxAge = strconv.Itoa(c.MaxAge)
	}
}

// Valid checks pivot.headers after InitDefaults; every error names the key and the fix.
func (h *HeadersConfig) Valid() error {
	for _, kv := range []struct {
		key  string
		list []headerKV
	}{{"request", h.request}, {"response", h.response}} {
		for _, e := range kv.list {
			if !validHeaderName(e.name) {
				return fmt.Errorf("pivot.headers.%s: %q is not a valid header name: use letters, digits and - (e.g. X-Request-Source)", kv.key, e.name)
			}
			if strings.ContainsAny(e.value, "\r\n\x00") {
				return fmt.Errorf("pivot.headers.%s.%s: a header value cannot hold a line break or NUL: write it on one line", kv.key, strings.ToLower(e.name))
			}
		}
	}
	if h.CORS != nil {
		return h.CORS.valid()
	}
	return nil
}

func (c *CORSConfig) valid() error {
	const key = "pivot.headers.cors."
	for _, o := range splitList(c.AllowedOrigin) {
		if o == "*" || o == "null" {
			continue
		}
		if strings.Count(o, "*") > 1 {
			return fmt.Errorf(key+"allowed_origin %q has more than one *: an origin takes one wildcard (https://*.example.com); use allowed_origin_regex for more", o)
		}
		scheme, rest, ok := strings.Cut(o, "://")
		if !ok || scheme == "" || rest == "" {
			return fmt.Errorf(key+"allowed_origin %q is not an origin: write scheme://host[:port], e.g. https://app.example.com (entries are separated by commas)", o)
		}
		if strings.ContainsAny(rest, "/?#") {
			return fmt.Errorf(key+"allowed_origin %q has a path: a browser's Origin has none, so it never matches; write %s://%s", o, scheme, strings.SplitN(strings.SplitN(rest, "/", 2)[0], "?", 2)[0])
		}
		if strings.ContainsAny(o, " \t\"'") {
			return fmt.Errorf(key+"allowed_origin %q holds a space or a quote: separate origins with commas only", o)
		}
	}
	if c.AllowedOriginRegex != "" {
		re, err := regexp.Compile(c.AllowedOriginRegex)
		if err != nil {
			return fmt.Errorf(key+"allowed_origin_regex %q is not a regular expression (%v): use Go's syntax, e.g. ^https://[a-z0-9-]+\\.example\\.com$", c.AllowedOriginRegex, err)
		}
		c.originRegex = re
	}
	c.starOrigin = c.starListed || c.originsAll && c.originRegex == nil
	for _, name := range splitList(c.AllowedHeaders) {
		if name != "*" && !validHeaderName(name) {
			return fmt.Errorf(key+"allowed_headers: %q is not a header name: list names separated by commas (Content-Type, Authorization), or \"*\" for any", name)
		}
	}
	for _, m := range splitList(c.AllowedMethods) {
		if !validHeaderName(m) || m == "*" {
			return fmt.Errorf(key+"allowed_methods: %q is not a method: list methods separated by commas, e.g. GET,POST,PUT,DELETE (RoadRunner has no \"*\")", m)
		}
	}
	for _, name := range splitList(c.ExposedHeaders) {
		if !validHeaderName(name) {
			return fmt.Errorf(key+"exposed_headers: %q is not a header name: list names separated by commas, e.g. X-Total-Count,Retry-After", name)
		}
	}
	if c.MaxAge < 0 {
		return fmt.Errorf(key+"max_age is %d: it is in seconds; use 0 (no Access-Control-Max-Age) or a positive number, e.g. 600", c.MaxAge)
	}
	if c.OptionsSuccessStatus < 200 || c.OptionsSuccessStatus > 299 {
		return fmt.Errorf(key+"options_success_status is %d: a browser accepts a preflight only with a 2xx status; use 200 (RoadRunner's default) or 204", c.OptionsSuccessStatus)
	}
	return nil
}

// Warnings are pivot.headers' legal but likely unintended settings.
func (h *HeadersConfig) Warnings() []string {
	c := h.CORS
	if c == nil {
		return nil
	}
	var w []string
	if c.AllowedOriginRegex != "" && c.allowedOriginSet {
		w = append(w, "pivot.headers.cors.allowed_origin is ignored because allowed_origin_regex is set (as on RoadRunner): remove one of them")
	}
	if c.AllowCredentials && c.originsAll && c.AllowedOriginRegex == "" {
		w = append(w, `pivot.headers.cors.allow_credentials is true with every origin allowed: responses say Access-Control-Allow-Origin: *, which browsers refuse for requests with credentials; list the origins in allowed_origin (or use allowed_origin_regex)`)
	}
	return w
}

// Headers is the `headers` middleware of a valid HeadersConfig.
type Headers struct {
	request, response []headerKV
	cors              *CORSConfig
	log               *zap.Logger
}

// NewHeaders builds the middleware of c (InitDefaults and Valid called).
func NewHeaders(c *HeadersConfig, log *zap.Logger) *Headers {
	return &Headers{request: c.request, response: c.response, cors: c.CORS, log: log}
}

// Middleware answers CORS preflights and adds pivot.headers' headers around next.
func (h *Headers) Middleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(c *fasthttp.RequestCtx) {
		if h.cors != nil && c.IsOptions() && len(c.Request.Header.Peek("Access-Control-Request-Method")) > 0 {
			h.preflight(c)
			h.setResponse(c)
			return
		}
		if len(h.request) > 0 {
			h.addRequestHeaders(c)
		}
		// decided before next: what PHP does to the request cannot change the answer
		allowed := h.cors != nil && h.actualAllowed(c)
		next(c)
		if h.cors != nil {
			h.actual(c, allowed)
		}
		h.setResponse(c)
	}
}

// addRequestHeaders adds `request` to the request's headers, after any the client sent (as
// RoadRunner's Header.Add). The front writes PHP's request context from the raw head, which
// Add does not reach: RequestHeaderNames tells it which names to take from the parsed view
// (httpfront.Options.RequestHeaders, the mechanism internal/observe's ids use too).
func (h *Headers) addRequestHeaders(c *fasthttp.RequestCtx) {
	for _, kv := range h.request {
		c.Request.Header.Add(kv.name, kv.value)
	}
}

// RequestHeaderNames are the request headers this middleware adds (pivot.headers.request).
func (h *Headers) RequestHeaderNames() []string {
	names := make([]string, 0, len(h.request))
	for _, kv := range h.request {
		names = append(names, kv.name)
	}
	return names
}

func (h *Headers) setResponse(c *fasthttp.RequestCtx) {
	for _, kv := range h.response {
		c.Response.Header.Set(kv.name, kv.value)
	}
}

// originAllowed is rs/cors' isOriginAllowed: the regex on the raw origin, else "*", else the
// origins and wildcards, compared without case.
func (cc *CORSConfig) originAllowed(origin []byte) bool {
	if cc.originRegex != nil {
		return cc.originRegex.Match(origin)
	}
	if cc.originsAll {
		return true
	}
	for _, o := range cc.origins {
		if equalFold(origin, o) {
			return true
		}
	}
	for _, w := range cc.wildcards {
		if w.match(origin) {
			return true
		}
	}
	return false
}

// methodAllowed is rs/cors' isMethodAllowed: OPTIONS always, else the list.
func (cc *CORSConfig) methodAllowed(m []byte) bool {
	if string(m) == http.MethodOptions {
		return true
	}
	for _, a := range cc.methods {
		if string(m) == a {
			return true
		}
	}
	return false
}

func (h *Headers) actualAllowed(c *fasthttp.RequestCtx) bool {
	origin := c.Request.Header.Peek(fasthttp.HeaderOrigin)
	ok := len(origin) > 0 && h.cors.originAllowed(origin) && h.cors.methodAllowed(c.Method())
	if h.cors.Debug {
		h.log.Info("pivot.headers.cors: request", zap.ByteString("origin", origin), zap.ByteString("method", c.Method()), zap.Bool("allowed", ok))
	}
	return ok
}

// actual adds a real request's CORS headers to its response (rs/cors' handleActualRequest).
func (h *Headers) actual(c *fasthttp.RequestCtx, allowed bool) {
	c.Response.Header.Add(fasthttp.HeaderVary, fasthttp.HeaderOrigin)
	if !allowed {
		return
	}
	h.allowOrigin(c)
	if h.cors.exposed != "" {
		c.Response.Header.Set(fasthttp.HeaderAccessControlExposeHeaders, h.cors.exposed)
	}
	if h.cors.AllowCredentials {
		c.Response.Header.Set(fasthttp.HeaderAccessControlAllowCredentials, "true")
	}
}

func (h *Headers) allowOrigin(c *fasthttp.RequestCtx) {
	if h.cors.starOrigin {
		c.Response.Header.Set(fasthttp.HeaderAccessControlAllowOrigin, "*")
		return
	}
	c.Response.Header.SetBytesV(fasthttp.HeaderAccessControlAllowOrigin, c.Request.Header.Peek(fasthttp.HeaderOrigin))
}

// preflight answers a preflight (rs/cors' handlePreflight): the status always, the
// Access-Control-Allow-* headers only when the origin, the method and every header asked for
// are allowed.
func (h *Headers) preflight(c *fasthttp.RequestCtx) {
	cc := h.cors
	c.Response.Header.SetNoDefaultContentType(true)
	c.SetStatusCode(cc.OptionsSuccessStatus)
	c.Response.Header.Set(fasthttp.HeaderVary, preflightVary)
	origin := c.Request.Header.Peek(fasthttp.HeaderOrigin)
	method := c.Request.Header.Peek(fasthttp.HeaderAccessControlRequestMethod)
	why := ""
	var allowHeaders []byte
	switch {
	case len(origin) == 0:
		why = "no Origin"
	case !cc.originAllowed(origin):
		why = "origin not allowed"
	case !cc.methodAllowed(method):
		why = "method not allowed"
	default:
		var ok bool
		if allowHeaders, ok = cc.requestedHeaders(c.Request.Header.PeekAll(fasthttp.HeaderAccessControlRequestHeaders)); !ok {
			why = "headers not allowed"
		}
	}
	if h.cors.Debug {
		h.log.Info("pivot.headers.cors: preflight", zap.ByteString("origin", origin), zap.ByteString("method", method),
			zap.ByteString("headers", c.Request.Header.Peek(fasthttp.HeaderAccessControlRequestHeaders)),
			zap.Bool("allowed", why == ""), zap.String("refused", why))
	}
	if why != "" {
		return
	}
	h.allowOrigin(c)
	c.Response.Header.SetBytesV(fasthttp.HeaderAccessControlAllowMethods, method)
	if len(allowHeaders) > 0 {
		c.Response.Header.SetBytesV(fasthttp.HeaderAccessControlAllowHeaders, allowHeaders)
	}
	if cc.AllowCredentials {
		c.Response.Header.Set(fasthttp.HeaderAccessControlAllowCredentials, "true")
	}
	if cc.maxAge != "" {
		c.Response.Header.Set(fasthttp.HeaderAccessControlMaxAge, cc.maxAge)
	}
}

// requestedHeaders checks Access-Control-Request-Headers (one or several fields, each a list)
// against allowed_headers without case, and returns the names canonicalized and joined by ", "
// for Access-Control-Allow-Headers, as rs/cors v1.10.1 answers. Empty list entries are skipped.
func (cc *CORSConfig) requestedHeaders(fields [][]byte) ([]byte, bool) {
	var out []byte
	for _, f := range fields {
		for len(f) > 0 {
			var name []byte
			if i := bytes.IndexByte(f, ','); i >= 0 {
				name, f = f[:i], f[i+1:]
			} else {
				name, f = f, nil
			}
			name = bytes.TrimSpace(name)
			if len(name) == 0 {
				continue
			}
			if !cc.headersAll {
				if _, ok := cc.headers[strings.ToLower(string(name))]; !ok {
					return nil, false
				}
			}
			if len(out) > 0 {
				out = append(out, ", "...)
			}
			out = appendCanonical(out, name)
		}
	}
	return out, true
}

// appendCanonical appends name as http.CanonicalHeaderKey writes it (x-api-key → X-Api-Key);
// a name that is not a token is appended as it is, as CanonicalHeaderKey leaves it.
func appendCanonical(dst, name []byte) []byte {
	if !validHeaderName(string(name)) {
		return append(dst, name...)
	}
	upper := true
	for _, b := range name {
		switch {
		case upper && 'a' <= b && b <= 'z':
			b -= 'a' - 'A'
		case !upper && 'A' <= b && b <= 'Z':
			b += 'a' - 'A'
		}
		dst = append(dst, b)
		upper = b == '-'
	}
	return dst
}

// equalFold compares b with s (lower case) without case, ASCII only (hasPrefixFold:
// compress.go).
func equalFold(b []byte, lower string) bool {
	return len(b) == len(lower) && hasPrefixFold(b, lower)
}

// CheckHeadersTypes reports a pivot.headers.cors list written as a YAML list (raw is the
// section as read): RoadRunner's keys are comma-separated strings, and the decoder's own
// error would not say so.
func CheckHeadersTypes(raw any) error {
	section, _ := raw.(map[string]any)
	cors, _ := section["cors"].(map[string]any)
	for _, key := range []string{"allowed_origin", "allowed_headers", "allowed_methods", "exposed_headers"} {
		for k, v := range cors {
			if strings.ToLower(k) != key {
				continue
			}
			if list, ok := v.([]any); ok {
				parts := make([]string, len(list))
				for i, e := range list {
					parts[i] = fmt.Sprint(e)
				}
				return fmt.Errorf("pivot.headers.cors.%s is a list: it is one string of comma-separated entries, as on RoadRunner: %s: %q", key, key, strings.Join(parts, ","))
			}
		}
	}
	return nil
}
