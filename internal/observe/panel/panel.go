// Package panel is the debug panel (pivot.debug): a page served from Go's net/http on its own
// loopback listener that shows, live over server-sent events, the workers (pid, state,
// requests served, memory and its timeline, age), requests per second and latency percentiles
// over the last five minutes, the requests in flight, the breakers, the recent 5xx responses
// with their request ids and the stderr lines their workers wrote meanwhile, and has buttons
// to reset every worker or replace one. The page is plain HTML, CSS and JavaScript embedded in
// the binary (no build step, no CDN).
//
// It knows no other pivot package but workerlog: the plugin gives it Sources (functions over
// the supervisor, the breakers and the stderr sink) and puts Middleware around the front to
// count requests; with pivot.debug off none of it exists.
package panel

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"io/fs"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/observe/workerlog"
	"github.com/roadrunner-server/errors"
	"github.com/roadrunner-server/sdk/v4/state/process"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

//go:embed static
var staticFiles embed.FS

// Sample is a worker's RSS at a time.
type Sample struct {
	T   int64  `json:"t"` // unix seconds
	RSS uint64 `json:"rss"`
}

// Breaker is a breaker's route and state.
type Breaker struct {
	Route string `json:"route"`
	State string `json:"state"`
}

// Sources is what the panel reads and does; the plugin fills it (a nil function: not shown).
type Sources struct {
	Workers       func() []*process.State
	Memory        func() map[int64][]Sample
	InFlight      func() uint64
	Breakers      func() []Breaker
	Lines         func(requestID string) []workerlog.Line
	DroppedLines  func() uint64
	Reset         func() error
	ReplaceWorker func(pid int64) error
}

// failure is a recent 5xx response.
type failure struct {
	Time      time.Time        `json:"time"`
	Method    string           `json:"method"`
	Path      string           `json:"path"`
	Status    int              `json:"status"`
	RequestID string           `json:"request_id"`
	Millis    float64          `json:"ms"`
	Lines     []workerlog.Line `json:"lines"`
}

// Panel is the debug panel.
type Panel struct {
	cfg   *Config
	src   Sources
	log   *zap.Logger
	stats stats

	mu       sync.Mutex
	failures []failure // oldest first, at most cfg.Errors

	srv *http.Server
	ln  net.Listener
}

// New builds the panel; Start serves it.
func New(cfg *Config, src Sources, log *zap.Logger) *Panel {
	p := &Panel{cfg: cfg, src: src, log: log}
	mux := http.NewServeMux()
	sub, _ := fs.Sub(staticFiles, "static")
	mux.Handle("/", http.FileServer(http.FS(sub)))
	mux.HandleFunc("/api/snapshot", p.snapshotHandler)
	mux.HandleFunc("/api/events", p.events)
	mux.HandleFunc("/api/reset", p.reset)
	mux.HandleFunc("/api/workers/replace", p.replace)
	p.srv = &http.Server{Handler: p.guard(mux), ReadHeaderTimeout: 10 * time.Second}
	return p
}

// Middleware counts each request (rate, latency, status) and keeps the 5xx ones.
func (p *Panel) Middleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(c *fasthttp.RequestCtx) {
		start := time.Now()
		next(c)
		now := time.Now()
		d := now.Sub(start)
		status := c.Response.StatusCode()
		p.stats.record(now, d, status)
		if status >= 500 {
			id := c.Request.Header.Peek("X-Request-Id")
			if len(id) == 0 {
				id = c.Response.Header.Peek("X-Request-Id") // the front's own id, echoed
			}
			p.keepFailure(failure{Time: now, Method: string(c.Method()), Path: string(c.Path()), Status: status,
				RequestID: string(id), Millis: float64(d) / float64(time.Millisecond)})
		}
	}
}

func (p *Panel) keepFailure(f failure) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.failures) >= p.cfg.Errors {
		p.failures = append(p.failures[:0], p.failures[1:]...)
	}
	p.failures = append(p.failures, f)
}

// Start listens on pivot.debug.address and serves until Shutdown.
func (p *Panel) Start() error {
	const op = errors.Op("pivot_debug_panel")
	ln, err := net.Listen("tcp", p.cfg.Address)
	if err != nil {
		return errors.E(op, errors.Errorf("pivot.debug.address %s: %v", p.cfg.Address, err))
	}
	p.ln = ln
	go func() {
		if err := p.srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			p.log.Error("debug panel stopped", zap.Error(err))
		}
	}()
	p.log.Info("debug panel started", zap.String("address", "http://"+ln.Addr().String()+"/"))
	return nil
}

// Addr is where the panel listens (after Start).
func (p *Panel) Addr() net.Addr { return p.ln.Addr() }

// Shutdown stops the panel; its event streams end at once.
func (p *Panel) Shutdown(ctx context.Context) error {
	if p.ln == nil {
		return nil
	}
	_ = p.srv.Close() // SSE streams never go idle: Shutdown would wait for ctx
	return nil
}

// guard checks the token, and that a request without one names a loopback host (a page on
// another site cannot rebind a name to 127.0.0.1 and read the panel); a POST needs the
// X-Pivot-Panel header, which another site's page cannot send without a CORS preflight that the
// panel never answers.
func (p *Panel) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.cfg.Token != "" {
			got := r.URL.Query().Get("token")
			if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
				got = strings.TrimPrefix(h, "Bearer ")
			}
			if subtle.ConstantTimeCompare([]byte(got), []byte(p.cfg.Token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="pivot debug panel"`)
				http.Error(w, "pivot.debug.token required: open the panel with ?token=<token>", http.StatusUnauthorized)
				return
			}
		} else {
			host := r.Host
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			if !loopbackHost(strings.Trim(host, "[]")) {
				http.Error(w, "the debug panel answers loopback host names only (set pivot.debug.token to open it from elsewhere)", http.StatusForbidden)
				return
			}
		}
		if r.Method == http.MethodPost && r.Header.Get("X-Pivot-Panel") == "" {
			http.Error(w, "a panel action needs the X-Pivot-Panel header", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Worker is a row of the workers table.
type Worker struct {
	Pid     int64    `json:"pid"`
	State   string   `json:"state"`
	Execs   uint64   `json:"execs"`
	RSS     uint64   `json:"rss"`
	AgeSecs float64  `json:"age"`
	Memory  []Sample `json:"memory"`
}

// Snapshot is what the page shows, sent every second.
type Snapshot struct {
	Now          int64     `json:"now"`
	Workers      []Worker  `json:"workers"`
	InFlight     uint64    `json:"in_flight"`
	Busy         int       `json:"busy"`
	Series       []Point   `json:"series"`
	Breakers     []Breaker `json:"breakers"`
	Errors       []failure `json:"errors"`
	DroppedLines uint64    `json:"dropped_lines"`
}

func (p *Panel) snapshot() Snapshot {
	now := time.Now()
	s := Snapshot{Now: now.Unix(), Series: p.stats.series(now), Workers: []Worker{}, Breakers: []Breaker{}}
	var mem map[int64][]Sample
	if p.src.Memory != nil {
		mem = p.src.Memory()
	}
	if p.src.Workers != nil {
		for _, st := range p.src.Workers() {
			w := Worker{Pid: st.Pid, State: st.StatusStr, Execs: st.NumExecs, RSS: st.MemoryUsage,
				AgeSecs: now.Sub(time.Unix(0, st.Created)).Seconds(), Memory: mem[st.Pid]}
			if w.Memory == nil {
				w.Memory = []Sample{}
			} else if n := len(w.Memory); n > 0 {
				w.RSS = w.Memory[n-1].RSS
			}
			if st.StatusStr == "working" {
				s.Busy++
			}
			s.Workers = append(s.Workers, w)
		}
		sort.Slice(s.Workers, func(i, j int) bool { return s.Workers[i].Pid < s.Workers[j].Pid })
	}
	if p.src.InFlight != nil {
		s.InFlight = p.src.InFlight()
	}
	if p.src.Breakers != nil {
		if b := p.src.Breakers(); b != nil {
			s.Breakers = b
		}
	}
	if p.src.DroppedLines != nil {
		s.DroppedLines = p.src.DroppedLines()
	}
	p.mu.Lock()
	s.Errors = make([]failure, 0, len(p.failures))
	for i := len(p.failures) - 1; i >= 0; i-- { // newest first
		s.Errors = append(s.Errors, p.failures[i])
	}
	p.mu.Unlock()
	for i := range s.Errors {
		// looked up now, not when the response was sent: the lines may still have been on
		// their way through the log then
		if p.src.Lines != nil && s.Errors[i].RequestID != "" {
			s.Errors[i].Lines = p.src.Lines(s.Errors[i].RequestID)
		}
		if s.Errors[i].Lines == nil {
			s.Errors[i].Lines = []workerlog.Line{}
		}
	}
	return s
}

func (p *Panel) snapshotHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(p.snapshot())
}

// events streams a snapshot every second (server-sent events) until the client goes away.
func (p *Panel) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		b, _ := json.Marshal(p.snapshot())
		if _, err := w.Write(append(append([]byte("data: "), b...), '\n', '\n')); err != nil {
			return
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}

func (p *Panel) reset(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if p.src.Reset == nil {
		http.Error(w, "reset is not available", http.StatusNotImplemented)
		return
	}
	p.log.Info("debug panel: reset of every worker")
	if err := p.src.Reset(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (p *Panel) replace(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	pid, err := strconv.ParseInt(r.URL.Query().Get("pid"), 10, 64)
	if err != nil || pid <= 0 {
		http.Error(w, "pid= must be a worker's pid", http.StatusBadRequest)
		return
	}
	if p.src.ReplaceWorker == nil {
		http.Error(w, "replacing a worker is not available", http.StatusNotImplemented)
		return
	}
	p.log.Info("debug panel: worker replaced", zap.Int64("pid", pid))
	if err := p.src.ReplaceWorker(pid); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
