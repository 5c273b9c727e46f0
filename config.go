package pivot

import (
	"fmt"
	"net"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/supervisor"
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
}

// UploadsConfig is `pivot.uploads`.
type UploadsConfig struct {
	Dir    string   `mapstructure:"dir"`
	Forbid []string `mapstructure:"forbid"`
	Allow  []string `mapstructure:"allow"`

	forbidden map[string]struct{}
	allowed   map[string]struct{}
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
}

// InitDefaults sets the upload dir and the forbidden extensions RoadRunner forbids by default.
func (u *UploadsConfig) InitDefaults() {
	if u.Dir == "" {
		u.Dir = os.TempDir()
	}
	if u.Forbid == nil {
		u.Forbid = []string{".php", ".exe", ".bat"}
	}
	u.forbidden = extensionSet(u.Forbid)
	u.allowed = extensionSet(u.Allow)
}

func extensionSet(list []string) map[string]struct{} {
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

// Valid checks the configuration after InitDefaults; every error names the key and the fix.
func (c *Config) Valid() error {
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
	if c.Pool.NumWorkers > supervisor.MaxWorkers {
		return fmt.Errorf("pivot.pool.num_workers is %d: the maximum is %d; lower it", c.Pool.NumWorkers, supervisor.MaxWorkers)
	}
	if c.Pool.Debug {
		return fmt.Errorf("pivot.pool.debug is not supported: it spawns a worker per request; remove it and use pivot.pool.max_jobs: 1 for the same effect")
	}
	if c.ShutdownDelay < 0 {
		return fmt.Errorf("pivot.shutdown_delay is %s: use 0 (drain at once) or a positive duration, e.g. 10s", c.ShutdownDelay)
	}
	if c.PipelineWindow < 0 {
		return fmt.Errorf("pivot.pipeline_window is %s: it must be positive (default 1ms); raise it", c.PipelineWindow)
	}
	if c.PipelinePause < 0 {
		return fmt.Errorf("pivot.pipeline_pause is %s: it must be positive (default 1s); raise it", c.PipelinePause)
	}
	if c.PipelinePauseAfter < 0 {
		return fmt.Errorf("pivot.pipeline_pause_after is %s: it must be positive (default 10ms); raise it", c.PipelinePauseAfter)
	}
	if c.MaxRequestSize > 1<<20 {
		return fmt.Errorf("pivot.max_request_size is %d MB: it is in megabytes, the maximum is %d; lower it", c.MaxRequestSize, 1<<20)
	}
	if c.MaxHeaderBytes < minHeaderBytes || c.MaxHeaderBytes > maxHeaderBytes {
		return fmt.Errorf("pivot.max_header_bytes is %d: it is in bytes, from %d to %d (default %d); change it", c.MaxHeaderBytes, minHeaderBytes, maxHeaderBytes, defaultMaxHeaderBytes)
	}
	if err := c.Restart.Valid(); err != nil {
		return err
	}
	if st, errS := os.Stat(c.Uploads.Dir); errS != nil || !st.IsDir() {
		return fmt.Errorf("pivot.uploads.dir %q is not an existing directory: create it or remove the key to use %s", c.Uploads.Dir, os.TempDir())
	}
	return nil
}

func validHostname(h string) bool {
	for _, r := range h {
		if !(r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return h != ""
}

// knownKeys maps each section path to the keys it accepts, derived from the mapstructure tags
// of Config, so a typo is reported instead of silently ignored.
var knownKeys = func() map[string][]string {
	out := map[string][]string{}
	var walk func(path string, t reflect.Type)
	walk = func(path string, t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		var keys []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			key := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
			if key == "" {
				key = strings.ToLower(f.Name) // mapstructure matches untagged fields by name
			}
			keys = append(keys, key)
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Duration(0)) {
				walk(path+"."+key, ft)
			}
		}
		out[path] = keys
	}
	walk(PluginName, reflect.TypeOf(Config{}))
	return out
}()

// checkUnknownKeys walks the raw section and reports the first key the plugin does not know,
// with the closest known key as the likely fix.
func checkUnknownKeys(path string, raw map[string]any) error {
	known, ok := knownKeys[path]
	if !ok {
		return nil
	}
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !contains(known, strings.ToLower(k)) {
			return fmt.Errorf("%s.%s is not a known key: did you mean %s.%s? (known keys: %s)",
				path, k, path, closest(strings.ToLower(k), known), strings.Join(known, ", "))
		}
		if sub, isMap := raw[k].(map[string]any); isMap {
			if err := checkUnknownKeys(path+"."+strings.ToLower(k), sub); err != nil {
				return err
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// closest returns the known key with the smallest edit distance to s.
func closest(s string, known []string) string {
	best, bestD := known[0], -1
	for _, k := range known {
		if d := levenshtein(s, k); bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
