package pivot

import (
	"crypto/tls"
	stderrors "errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mitchellh/mapstructure"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/configcheck"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/edge"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/edge/breaker"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/edge/limit"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/observe"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/observe/panel"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/observe/workerlog"
	pivotpool "github.com/pivotphp/pivotphp-runtime-roadrunner/internal/pool"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/realtime"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/supervisor"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/tlscert"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/watch"
	"github.com/roadrunner-server/sdk/v4/pool"
)

const (
	// MB is the unit of max_request_size, as in RoadRunner's http plugin.
	MB uint64 = 1024 * 1024

	defaultMaxRequestSize     uint64 = 100
	defaultReadHeaderTimeout         = 30 * time.Second
	defaultIdleTimeout               = 2 * time.Minute
	defaultShutdownTimeout           = 30 * time.Second
	defaultPipelineWindow            = time.Millisecond
	defaultPipelinePause             = time.Second
	defaultPipelinePauseAfter        = 10 * time.Millisecond
	defaultMaxHeaderBytes            = 16 << 10
	minHeaderBytes                   = 1 << 10
	maxHeaderBytes                   = 1 << 20
)

// Config is the `pivot` section of .rr.yaml.
type Config struct {
	// Address is the host:port the plugin's own HTTP server listens on.
	Address string `mapstructure:"address"`
	// MaxRequestSize limits request bodies, in MB; larger bodies get 413.
	MaxRequestSize uint64 `mapstructure:"max_request_size"`
	// MaxHeaderBytes limits the request line and headers (big cookies need more); larger
	// heads get 431. It is also each connection's read buffer.
	MaxHeaderBytes int `mapstructure:"max_header_bytes"`
	// ReadHeaderTimeout bounds slow clients (slowloris); IdleTimeout closes idle keep-alive connections.
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
	ReadTimeout       time.Duration `mapstructure:"read_timeout"`
	WriteTimeout      time.Duration `mapstructure:"write_timeout"`
	IdleTimeout       time.Duration `mapstructure:"idle_timeout"`
	// ShutdownTimeout bounds the graceful drain on stop (in-flight requests finish first).
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// ShutdownDelay is how long pivot keeps serving after a stop signal while /ready already
	// answers 503, so a load balancer stops sending requests before the drain starts (default
	// 0: drain at once). The pod's grace period must cover it plus shutdown_timeout.
	ShutdownDelay time.Duration `mapstructure:"shutdown_delay"`
	// ResetSignal makes SIGUSR2 trigger a zero-downtime reset (default true).
	ResetSignal *bool `mapstructure:"reset_signal"`
	// Restart configures crash-loop protection.
	Restart *supervisor.RestartConfig `mapstructure:"restart"`
	// Uploads configures where multipart files are stored while PHP handles the request.
	Uploads *UploadsConfig `mapstructure:"uploads"`
	// Pipeline lets a request that finds every worker busy wait in a busy worker's pipe, behind
	// the request it runs, so the worker takes it without sleeping (internal/pool/pipeline.go).
	// Faster for short, uniform requests; a queued request waits behind a slow or streamed one.
	// Off by default.
	Pipeline bool `mapstructure:"pipeline"`
	// PipelineWindow: a request queues only behind one that started less than this ago (a
	// request that has run longer may be a slow one). Default 1ms.
	PipelineWindow time.Duration `mapstructure:"pipeline_window"`
	// PipelinePause: after a request that ran longer than PipelinePauseAfter, no request queues
	// for this long, so an app with slow requests rarely has one queued behind them. Default 1s.
	PipelinePause time.Duration `mapstructure:"pipeline_pause"`
	// PipelinePauseAfter is the run time that counts as slow for PipelinePause: well above a
	// fast request's time plus the scheduling delays of a loaded box (a few ms). Default 10ms.
	PipelinePauseAfter time.Duration `mapstructure:"pipeline_pause_after"`
	// Pool is the sdk/v4 worker pool configuration (num_workers, max_jobs, supervisor, ...).
	Pool *pool.Config `mapstructure:"pool"`
	// Middleware is the middleware in front of PHP, by RoadRunner's names (gzip, static,
	// headers), in RoadRunner's order: each wraps the ones before it, so the last one listed
	// sees a request first (internal/edge).
	Middleware []string `mapstructure:"middleware"`
	// Static is `pivot.static`: files served before PHP by the `static` middleware.
	Static *edge.StaticConfig `mapstructure:"static"`
	// Headers is `pivot.headers`: CORS and request/response headers, the `headers` middleware.
	Headers *edge.HeadersConfig `mapstructure:"headers"`
	// Limit is `pivot.limit`: a budget of requests per client before PHP (429 over it), in
	// memory or shared through Redis (internal/edge/limit). Off when absent.
	Limit *limit.Config `mapstructure:"limit"`
	// Breaker is `pivot.breaker`: a circuit breaker around the PHP pool (503 while open,
	// internal/edge/breaker). Off when absent.
	Breaker *breaker.Config `mapstructure:"breaker"`
	// SSL is `pivot.ssl`: HTTPS (HTTP/2 and HTTP/1.1) beside pivot.address (below).
	SSL *SSLConfig `mapstructure:"ssl"`
	// HTTP2 is `pivot.http2`: h2c on pivot.address, HTTP/2's stream bound.
	HTTP2 *HTTP2Config `mapstructure:"http2"`
	// HTTP3 is `pivot.http3`: HTTP/3 with pivot.ssl's certificate (internal/httpfront/http3.go).
	HTTP3 *HTTP3Config `mapstructure:"http3"`
	// Reload is `pivot.reload`: watch mode (`rr serve --watch`), edited files served after a
	// rolling reset (internal/watch). Off when absent or enabled: false.
	Reload *watch.Config `mapstructure:"reload"`

	// rawWarnings are CheckConfig's warnings about the values as written (Warnings adds them).
	rawWarnings []string

	// Broadcast is `pivot.broadcast`: WebSocket and SSE clients held in Go, PHP authorising
	// and publishing (internal/realtime). Off when absent.
	Broadcast *realtime.Config `mapstructure:"broadcast"`

	// WorkerLogs is `pivot.worker_logs`: how PHP workers' stderr lines are logged
	// (internal/observe/workerlog).
	WorkerLogs *workerlog.Config `mapstructure:"worker_logs"`
	// Debug is `pivot.debug`: the debug panel (internal/observe/panel). Off by default.
	Debug *panel.Config `mapstructure:"debug"`

	// AccessLog is `pivot.access_log`: one log line per request (internal/observe). Off by default.
	AccessLog bool `mapstructure:"access_log"`
	// Trace is `pivot.trace`: the sampling ratio (and an exporter override) of pivot's spans;
	// the exporter comes from RoadRunner's `otel` section. Tracing is on with either.
	Trace *observe.TraceConfig `mapstructure:"trace"`
}

// The names pivot.middleware knows, RoadRunner's.
const (
	middlewareGzip    = "gzip"
	middlewareStatic  = "static"
	middlewareHeaders = "headers"
)

var knownMiddleware = []string{middlewareGzip, middlewareStatic, middlewareHeaders}

// notYet are sections RoadRunner users write that pivot does not have yet: an error says so
// rather than "unknown key". None today.
var notYet = map[string]string{}

// UploadsConfig is `pivot.uploads`.
type UploadsConfig struct {
	Dir    string   `mapstructure:"dir"`
	Forbid []string `mapstructure:"forbid"`
	Allow  []string `mapstructure:"allow"`
	// MaxSize is the largest uploaded file: bytes, or a size with a unit (100MB; K, M, G with
	// or without B or iB, all powers of 1024 as in PHP's upload_max_filesize). Empty or 0: no
	// limit but max_request_size.
	MaxSize string `mapstructure:"max_size"`

	forbidden map[string]struct{}
	allowed   map[string]struct{}
	maxSize   int64
}

// InitDefaults fills every unset value with a production-safe default.
func (c *Config) InitDefaults() {
	if c.MaxRequestSize == 0 {
		c.MaxRequestSize = defaultMaxRequestSize
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = defaultReadHeaderTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = defaultIdleTimeout
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = defaultShutdownTimeout
	}
	if c.PipelineWindow == 0 {
		c.PipelineWindow = defaultPipelineWindow
	}
	if c.PipelinePause == 0 {
		c.PipelinePause = defaultPipelinePause
	}
	if c.PipelinePauseAfter == 0 {
		c.PipelinePauseAfter = defaultPipelinePauseAfter
	}
	if c.ResetSignal == nil {
		on := true
		c.ResetSignal = &on
	}
	if c.Restart == nil {
		c.Restart = &supervisor.RestartConfig{}
	}
	c.Restart.InitDefaults()
	if c.Uploads == nil {
		c.Uploads = &UploadsConfig{}
	}
	c.Uploads.InitDefaults()
	if c.Pool == nil {
		c.Pool = &pool.Config{}
	}
	c.Pool.InitDefaults()
	for i, name := range c.Middleware {
		c.Middleware[i] = strings.ToLower(strings.TrimSpace(name))
	}
	if c.Static != nil {
		c.Static.InitDefaults()
	}
	if c.Headers != nil {
		c.Headers.InitDefaults()
	}
	if c.Limit != nil {
		c.Limit.InitDefaults()
	}
	if c.Breaker != nil {
		c.Breaker.InitDefaults()
	}
	if c.SSL != nil {
		c.SSL.initDefaults()
	}
	if c.HTTP2 == nil {
		c.HTTP2 = &HTTP2Config{}
	}
	if c.Reload == nil {
		c.Reload = &watch.Config{}
	}
	c.Reload.InitDefaults()
	if c.Broadcast != nil {
		c.Broadcast.InitDefaults()
	}
	if c.WorkerLogs == nil {
		c.WorkerLogs = &workerlog.Config{}
	}
	c.WorkerLogs.InitDefaults()
	if c.Debug == nil {
		c.Debug = &panel.Config{}
	}
	c.Debug.InitDefaults()
	if c.Trace != nil {
		c.Trace.InitDefaults()
	}
}

// InitDefaults sets the upload dir and the forbidden extensions RoadRunner forbids by default.
func (u *UploadsConfig) InitDefaults() {
	if u.Dir == "" {
		u.Dir = os.TempDir()
	}
	if u.Forbid == nil {
		u.Forbid = []string{".php", ".exe", ".bat"}
	}
	u.forbidden = edge.ExtensionSet(u.Forbid)
	u.allowed = edge.ExtensionSet(u.Allow)
}

// Valid checks the configuration after InitDefaults; every error names the key, the allowed
// values and the fix. It returns every problem at once (errors.Join), one per line.
func (c *Config) Valid() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(c.validAddress())
	if c.Pool.NumWorkers > supervisor.MaxWorkers {
		add(fmt.Errorf("pivot.pool.num_workers is %d: the maximum is %d (use 1 to %d, or 0 for one per CPU); lower it", c.Pool.NumWorkers, supervisor.MaxWorkers, supervisor.MaxWorkers))
	}
	if c.Pool.Debug {
		add(fmt.Errorf("pivot.pool.debug is not supported: it spawns a worker per request; remove it and use pivot.pool.max_jobs: 1 for the same effect"))
	}
	if c.ShutdownDelay < 0 {
		add(fmt.Errorf("pivot.shutdown_delay is %s: use 0 (drain at once) or a positive duration, e.g. 10s", c.ShutdownDelay))
	}
	if c.PipelineWindow < 0 {
		add(fmt.Errorf("pivot.pipeline_window is %s: it must be positive or 0 (default 1ms); raise it", c.PipelineWindow))
	}
	if c.PipelinePause < 0 {
		add(fmt.Errorf("pivot.pipeline_pause is %s: it must be positive or 0 (default 1s); raise it", c.PipelinePause))
	}
	if c.PipelinePauseAfter < 0 {
		add(fmt.Errorf("pivot.pipeline_pause_after is %s: it must be positive or 0 (default 10ms); raise it", c.PipelinePauseAfter))
	}
	if c.MaxRequestSize > 1<<20 {
		add(fmt.Errorf("pivot.max_request_size is %d MB: it is in megabytes, from 1 to %d (0: the default %d); lower it", c.MaxRequestSize, 1<<20, defaultMaxRequestSize))
	}
	if c.MaxHeaderBytes < minHeaderBytes || c.MaxHeaderBytes > maxHeaderBytes {
		add(fmt.Errorf("pivot.max_header_bytes is %d: it is in bytes, from %d to %d (default %d); change it", c.MaxHeaderBytes, minHeaderBytes, maxHeaderBytes, defaultMaxHeaderBytes))
	}
	add(c.Restart.Valid())
	add(c.Uploads.Valid())
	add(c.validMiddleware())
	if c.Static != nil {
		add(c.Static.Valid())
	}
	if c.Headers != nil {
		add(c.Headers.Valid())
	}
	if c.Limit != nil {
		add(c.Limit.Valid())
	}
	if c.Breaker != nil {
		add(c.Breaker.Valid())
	}
	if c.SSL != nil {
		add(c.SSL.valid(c.Address))
	}
	if c.HTTP3 != nil {
		add(c.HTTP3.valid(c.SSL))
	}
	add(c.Reload.Validate())
	add(c.WorkerLogs.Valid())
	add(c.Debug.Valid())
	if c.Trace != nil {
		add(c.Trace.Valid())
	}
	if c.Broadcast != nil {
		add(c.Broadcast.Validate())
	}
	return stderrors.Join(errs...)
}

// validAddress checks pivot.address.
func (c *Config) validAddress() error {
	if c.Address == "" {
		return fmt.Errorf("pivot.address is required: set it to the host:port to listen on, e.g. address: 127.0.0.1:8080")
	}
	host, port, err := net.SplitHostPort(c.Address)
	if err != nil {
		return fmt.Errorf("pivot.address %q is not a host:port (%v): use e.g. 127.0.0.1:8080 or 0.0.0.0:8080", c.Address, err)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return fmt.Errorf("pivot.address %q has an invalid host %q: use an IP address or a host name, e.g. 127.0.0.1:8080", c.Address, host)
	}
	if n, errP := strconv.Atoi(port); errP != nil || n < 0 || n > 65535 {
		return fmt.Errorf("pivot.address %q has an invalid port %q: use a number from 1 to 65535, e.g. 127.0.0.1:8080", c.Address, port)
	}
	return nil
}

// validMiddleware checks pivot.middleware: known names, each once, static with its section.
func (c *Config) validMiddleware() error {
	for i, name := range c.Middleware {
		if !contains(knownMiddleware, name) {
			return fmt.Errorf("pivot.middleware[%d] %q is not a middleware pivot has: use %s (RoadRunner's names), or remove it",
				i, name, strings.Join(knownMiddleware, ", "))
		}
		if j := indexOf(c.Middleware[:i], name); j >= 0 {
			return fmt.Errorf("pivot.middleware[%d] %q is listed already (pivot.middleware[%d]): remove one", i, name, j)
		}
		if name == middlewareStatic && c.Static == nil {
			return fmt.Errorf("pivot.middleware[%d] is \"static\" but there is no pivot.static section: add one with the directory to serve (static: { dir: public }), or remove \"static\"", i)
		}

	}
	return nil
}

// Warnings are the configuration's harmless oddities, logged at start.
func (c *Config) Warnings() []string {
	w := append([]string(nil), c.rawWarnings...)
	if c.Headers == nil && contains(c.Middleware, middlewareHeaders) {
		// RoadRunner's sample configs list "headers" without http.headers: it does nothing there
		w = append(w, `pivot.middleware lists "headers" but there is no pivot.headers section: it does nothing (as on RoadRunner); add a pivot.headers section (headers: { cors: { allowed_origin: "https://app.example.com" } }) or remove "headers"`)
	}
	if c.Headers != nil {
		if !contains(c.Middleware, middlewareHeaders) {
			w = append(w, `pivot.headers is set but pivot.middleware does not list "headers": no header is added and no preflight answered; add "headers" to pivot.middleware`)
		}
		w = append(w, c.Headers.Warnings()...)
	}
	if c.Static != nil && !contains(c.Middleware, middlewareStatic) {
		w = append(w, `pivot.static is set but pivot.middleware does not list "static": no file is served; add "static" to pivot.middleware`)
	}
	if c.Limit != nil {
		w = append(w, c.Limit.Warnings()...)
	}
	if c.Uploads.maxSize > 0 && uint64(c.Uploads.maxSize) > c.MaxRequestSize*MB {
		w = append(w, fmt.Sprintf("pivot.uploads.max_size (%s) is larger than pivot.max_request_size (%d MB): requests over max_request_size get 413 first", c.Uploads.MaxSize, c.MaxRequestSize))
	}
	return w
}

// Valid checks pivot.uploads after InitDefaults: the directory exists, max_size is a size.
func (u *UploadsConfig) Valid() error {
	if st, errS := os.Stat(u.Dir); errS != nil || !st.IsDir() {
		return fmt.Errorf("pivot.uploads.dir %q is not an existing directory: create it or remove the key to use %s", u.Dir, os.TempDir())
	}
	size, err := parseSize(u.MaxSize)
	if err != nil {
		return fmt.Errorf("pivot.uploads.max_size %q is not a size: use bytes or a number with a unit, e.g. 100MB, 512K, 2G (%v)", u.MaxSize, err)
	}
	u.maxSize = size
	return nil
}

// sizeUnits are the units parseSize reads, powers of 1024 as in PHP's ini sizes and nginx.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}

// parseSize reads a size: a number of bytes, or a number with a unit of sizeUnits (case does
// not matter, a space may separate them: "100MB", "1.5 GiB", "512k"). "" is 0.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("it does not start with a number")
	}
	unit, ok := sizeUnits[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q (use B, KB, MB, GB or TB)", strings.TrimSpace(s[i:]))
	}
	if n, err := strconv.ParseInt(s[:i], 10, 64); err == nil {
		if n > (1<<63-1)/unit {
			return 0, fmt.Errorf("too large")
		}
		return n * unit, nil
	}
	f, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s[:i])
	}
	if f*float64(unit) >= 1<<62 {
		return 0, fmt.Errorf("too large")
	}
	return int64(f * float64(unit)), nil
}

func validHostname(h string) bool {
	for _, r := range h {
		if !(r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return h != ""
}

// CheckConfig reads the pivot section from cfg and checks it as Init does, reporting every
// problem at once (errors.Join, one per line): unknown keys and wrong types (checkRaw), then the
// range and consistency rules of Valid. pool.ReadRelayConfig's server.relay is checked too, as
// Init reads it. `rr config validate` runs it on a file.
func CheckConfig(cfg Configurer) (*Config, error) {
	var raw map[string]any
	if err := cfg.UnmarshalKey(PluginName, &raw); err != nil {
		return nil, fmt.Errorf("pivot: the section cannot be read: %v", err)
	}
	c := &Config{}
	errs := checkRaw(raw, &c.rawWarnings)
	if err := edge.CheckHeadersTypes(raw["headers"]); err != nil {
		errs = append([]error{err}, errs...) // says more than checkRaw's type error for the same key
	}
	if len(errs) == 0 {
		if err := cfg.UnmarshalKey(PluginName, c); err != nil { // a type checkRaw let through
			return nil, fmt.Errorf("pivot: invalid configuration (check the types of the values): %v", err)
		}
	} else if decodeLikeViper(configcheck.Prune(PluginName, raw, errs), c) != nil {
		return nil, stderrors.Join(errs...)
	}
	c.InitDefaults()
	if err := c.Valid(); err != nil {
		errs = append(errs, err)
	}
	if _, err := pivotpool.ReadRelayConfig(cfg); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, stderrors.Join(errs...)
	}
	return c, nil
}

// checkRaw checks the raw section against Config's mapstructure tags (internal/configcheck):
// every unknown key, with the nearest known one, and every value of the wrong type. Keys added
// to Config or to the structs it holds are known without an edit here.
// Its warnings (a duration without a unit) go to warn.
func checkRaw(raw map[string]any, warn *[]string) []error {
	return configcheck.Check(PluginName, reflect.TypeOf(Config{}), raw, configcheck.Options{Unsupported: notYet,
		Warn: func(path, msg string) { *warn = append(*warn, path+": "+msg) }})
}

// decodeLikeViper decodes a section as the config plugin's UnmarshalKey does (viper's decoder
// settings), for a section with its bad keys pruned: the rest is then checked too.
func decodeLikeViper(raw map[string]any, out *Config) error {
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           out,
		WeaklyTypedInput: true,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		),
	})
	if err != nil {
		return err
	}
	return d.Decode(raw)
}

func contains(list []string, s string) bool { return indexOf(list, s) >= 0 }

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// TLS, HTTP/2 and HTTP/3: pivot.ssl, pivot.http2, pivot.http3.

// SSLConfig is `pivot.ssl`: HTTPS beside pivot.address, with RoadRunner's http.ssl keys
// (HTTP/2 and HTTP/1.1 by ALPN; net/http serves it, internal/httpfront/netserver.go).
type SSLConfig struct {
	// Address is the HTTPS listener's host:port (default 127.0.0.1:443, as RoadRunner's).
	Address string `mapstructure:"address"`
	// Cert and Key are PEM files (the certificate chain, the private key), reloaded when they
	// change and on `rr reset`.
	Cert string `mapstructure:"cert"`
	Key  string `mapstructure:"key"`
	// RootCA, when set, is a PEM bundle of CAs that client certificates are verified against
	// (mTLS); ClientAuthType says whether a client must present one (RoadRunner's names;
	// pivot's default with a root_ca is require_and_verify_client_cert).
	RootCA         string `mapstructure:"root_ca"`
	ClientAuthType string `mapstructure:"client_auth_type"`
	// Redirect makes pivot.address answer every request with a 308 to the same URL on HTTPS.
	Redirect bool `mapstructure:"redirect"`

	port int
}

// HTTP2Config is `pivot.http2`.
type HTTP2Config struct {
	// H2C serves cleartext HTTP/2 with prior knowledge on pivot.address beside HTTP/1.1.
	H2C bool `mapstructure:"h2c"`
	// MaxConcurrentStreams bounds an HTTP/2 connection's streams (default 128).
	MaxConcurrentStreams uint32 `mapstructure:"max_concurrent_streams"`
}

// HTTP3Config is `pivot.http3`: HTTP/3 over QUIC (quic-go) with pivot.ssl's certificate,
// advertised by Alt-Svc on pivot.ssl's responses.
type HTTP3Config struct {
	// Address is the UDP host:port (usually pivot.ssl.address's port: browsers look for
	// HTTP/3 where Alt-Svc says, any port).
	Address string `mapstructure:"address"`

	port int
}

func (h *HTTP3Config) valid(ssl *SSLConfig) error {
	if ssl == nil {
		return fmt.Errorf("pivot.http3 needs pivot.ssl: HTTP/3 is served with its certificate (and advertised on its responses)")
	}
	if h.Address == "" {
		return fmt.Errorf("pivot.http3.address is required: the UDP host:port to serve HTTP/3 on, e.g. the port of pivot.ssl.address")
	}
	host, port, err := net.SplitHostPort(h.Address)
	if err != nil {
		return fmt.Errorf("pivot.http3.address %q is not a host:port (%v): use e.g. 0.0.0.0:443 or :8443", h.Address, err)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return fmt.Errorf("pivot.http3.address %q has an invalid host %q: use an IP address or a host name", h.Address, host)
	}
	n, errP := strconv.Atoi(port)
	if errP != nil || n <= 0 || n > 65535 {
		return fmt.Errorf("pivot.http3.address %q has an invalid port %q: use a number from 1 to 65535, e.g. :443", h.Address, port)
	}
	h.port = n
	return nil
}

// altSvc is the Alt-Svc header that advertises HTTP/3 (a day: a client that found it gone
// falls back to HTTP/2 by itself).
func (h *HTTP3Config) altSvc() string { return fmt.Sprintf(`h3=":%d"; ma=86400`, h.port) }

const defaultSSLAddress = "127.0.0.1:443"

// clientAuthTypes are RoadRunner's http.ssl.client_auth_type names.
var clientAuthTypes = map[string]tls.ClientAuthType{
	"no_client_cert":                 tls.NoClientCert,
	"no_client_certs":                tls.NoClientCert,
	"request_client_cert":            tls.RequestClientCert,
	"require_any_client_cert":        tls.RequireAnyClientCert,
	"verify_client_cert_if_given":    tls.VerifyClientCertIfGiven,
	"require_and_verify_client_cert": tls.RequireAndVerifyClientCert,
}

func (s *SSLConfig) initDefaults() {
	if s.Address == "" {
		s.Address = defaultSSLAddress
	}
	s.ClientAuthType = strings.ToLower(strings.TrimSpace(s.ClientAuthType))
	if s.ClientAuthType == "" && s.RootCA != "" {
		s.ClientAuthType = "require_and_verify_client_cert"
	}
}

// valid checks pivot.ssl's keys; the files themselves are read by tlsConfig (Init).
func (s *SSLConfig) valid(plainAddress string) error {
	host, port, err := net.SplitHostPort(s.Address)
	if err != nil {
		return fmt.Errorf("pivot.ssl.address %q is not a host:port (%v): use e.g. 0.0.0.0:443 or :8443", s.Address, err)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return fmt.Errorf("pivot.ssl.address %q has an invalid host %q: use an IP address or a host name", s.Address, host)
	}
	n, errP := strconv.Atoi(port)
	if errP != nil || n < 0 || n > 65535 {
		return fmt.Errorf("pivot.ssl.address %q has an invalid port %q: use a number from 1 to 65535, e.g. :443", s.Address, port)
	}
	s.port = n
	if s.Address == plainAddress {
		return fmt.Errorf("pivot.ssl.address %q is pivot.address too: give HTTPS a port of its own, e.g. :443", s.Address)
	}
	if s.Cert == "" {
		return fmt.Errorf("pivot.ssl.cert is required: the PEM file of the server's certificate (chain)")
	}
	if s.Key == "" {
		return fmt.Errorf("pivot.ssl.key is required: the PEM file of the certificate's private key")
	}
	if _, ok := clientAuthTypes[s.ClientAuthType]; !ok && s.ClientAuthType != "" {
		names := make([]string, 0, len(clientAuthTypes))
		for k := range clientAuthTypes {
			if k != "no_client_certs" {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		return fmt.Errorf("pivot.ssl.client_auth_type %q is not one of %s", s.ClientAuthType, strings.Join(names, ", "))
	}
	if s.ClientAuthType != "" && s.RootCA == "" && clientAuthTypes[s.ClientAuthType] >= tls.VerifyClientCertIfGiven {
		return fmt.Errorf("pivot.ssl.client_auth_type %q verifies client certificates: set pivot.ssl.root_ca to the CAs they are verified against", s.ClientAuthType)
	}
	return nil
}

// tlsConfig reads the certificate, the key and root_ca: an error names the key at fault.
func (s *SSLConfig) tlsConfig() (*tls.Config, *tlscert.Pair, error) {
	pair, err := tlscert.Load(s.Cert, s.Key, tlscert.Names{Cert: "pivot.ssl.cert", Key: "pivot.ssl.key"})
	if err != nil {
		return nil, nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: pair.GetCertificate}
	if s.RootCA != "" {
		if cfg.ClientCAs, err = tlscert.CertPool(s.RootCA, "pivot.ssl.root_ca"); err != nil {
			return nil, nil, err
		}
		cfg.ClientAuth = clientAuthTypes[s.ClientAuthType]
	}
	return cfg, pair, nil
}
