package watch

import (
	"context"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/reload"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

const (
	// maxLint bounds the files linted per burst (a branch switch): beyond it the burst is not
	// linted, and a broken file is caught only if the new workers cannot boot.
	maxLint = 200
	// lintParallel is how many php -l run at once.
	lintParallel = 4
	// lintTimeout bounds one php -l.
	lintTimeout = 10 * time.Second
	// busyWait and busyRetries: how long a reload waits for a reset already running
	busyWait    = 200 * time.Millisecond
	busyRetries = 150
)

// Options is what a Reloader needs.
type Options struct {
	Config  *Config
	WorkDir string
	// PHP is the php binary that lints changed files; "" lints nothing.
	PHP string
	// ErrorPage answers every request with a 500 page showing the error while the last
	// reload failed (development mode only: it shows file paths and code errors).
	ErrorPage bool
	// Reset is the supervisor's zero-downtime rolling reset.
	Reset func() error
	Log   *zap.Logger
}

// Reloader is pivot.reload at work: the target of plugins/reload's watcher.
type Reloader struct {
	o       Options
	watcher *reload.Watcher
	tap     *tap
	// failure is the last reload's error, nil once a reload succeeded.
	failure atomic.Pointer[string]

	mu sync.Mutex
	// broken are the files that failed the lint, linted again at every reload until they pass
	// (or are gone), so saving another file does not put them in service.
	broken map[string]struct{}
}

var (
	_ reload.Resetter       = (*Reloader)(nil)
	_ reload.ChangeResetter = (*Reloader)(nil)
)

// New returns a Reloader; Start begins watching.
func New(o Options) *Reloader {
	return &Reloader{o: o, broken: make(map[string]struct{}), tap: &tap{}}
}

// Start watches the configured directories.
func (r *Reloader) Start() error {
	c := r.o.Config
	w, err := reload.Watch(reload.WatchOptions{
		Service: "pivot", Key: "pivot.reload",
		Dirs: c.Dirs, Recursive: true, Ignore: c.Ignore, Patterns: c.Patterns,
		Interval: c.Debounce, WorkDir: r.o.WorkDir, Target: r, Log: r.o.Log,
	})
	if err != nil {
		return err
	}
	r.watcher = w
	return nil
}

// Close stops watching (a reload in flight finishes within ctx).
func (r *Reloader) Close(ctx context.Context) error {
	if r.watcher == nil {
		return nil
	}
	return r.watcher.Close(ctx)
}

// Name is the service the watcher logs.
func (r *Reloader) Name() string { return "pivot" }

// Reset reloads without knowing what changed (only the files known broken are linted).
func (r *Reloader) Reset() error { return r.ResetChanged(nil) }

// ResetChanged lints the changed PHP files (and those still broken), then replaces the
// workers. A lint error or a reset that fails (the new workers cannot boot) leaves the current
// workers serving and is returned: the watcher logs it and the next change retries.
func (r *Reloader) ResetChanged(files []string) error {
	if err := r.lint(files); err != nil {
		r.fail(err)
		return err
	}
	r.tap.start()
	err := r.o.Reset()
	// an `rr reset` (or SIGUSR2) running at the same time is not a failure of the code: wait
	// for it, then reset again, since it may have started before the save
	for i := 0; err != nil && i < busyRetries && strings.Contains(err.Error(), "already in progress"); i++ {
		time.Sleep(busyWait)
		err = r.o.Reset()
	}
	printed := r.tap.stop()
	if err != nil {
		if len(printed) > 0 {
			err = fmt.Errorf("%w; the new workers printed: %s", err, strings.Join(printed, " | "))
		}
		r.fail(err)
		return err
	}
	if r.failure.Swap(nil) != nil {
		r.o.Log.Info("pivot.reload: the new code is served again")
	}
	return nil
}

func (r *Reloader) fail(err error) {
	msg := err.Error()
	r.failure.Store(&msg)
}

// Failure is the last reload's error ("" when it succeeded).
func (r *Reloader) Failure() string {
	if f := r.failure.Load(); f != nil {
		return *f
	}
	return ""
}

// lint runs php -l on the changed .php files and the ones that failed before.
func (r *Reloader) lint(changed []string) error {
	if r.o.PHP == "" {
		return nil
	}
	r.mu.Lock()
	set := make(map[string]struct{}, len(changed)+len(r.broken))
	for f := range r.broken {
		set[f] = struct{}{}
	}
	r.mu.Unlock()
	for _, f := range changed {
		if strings.HasSuffix(f, ".php") {
			set[f] = struct{}{}
		}
	}
	files := make([]string, 0, len(set))
	for f := range set {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			files = append(files, f)
		} else {
			r.forget(f) // deleted: no longer broken
		}
	}
	if len(files) == 0 {
		return nil
	}
	if len(files) > maxLint {
		r.o.Log.Warn("pivot.reload: too many PHP files changed at once to lint them; reloading without the check",
			zap.Int("files", len(files)), zap.Int("max", maxLint))
		return nil
	}
	sort.Strings(files)

	errs := make([]string, len(files))
	sem := make(chan struct{}, lintParallel)
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, f string) {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = r.lintFile(f)
		}(i, f)
	}
	wg.Wait()

	var failed []string
	r.mu.Lock()
	for i, f := range files {
		if errs[i] == "" {
			delete(r.broken, f)
			continue
		}
		r.broken[f] = struct{}{}
		failed = append(failed, errs[i])
	}
	r.mu.Unlock()
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("pivot.reload: PHP syntax error, the current workers keep serving (fix it and save again): %s", strings.Join(failed, "; "))
}

func (r *Reloader) forget(f string) {
	r.mu.Lock()
	delete(r.broken, f)
	r.mu.Unlock()
}

// lintFile is php -l's error for f ("" when it parses). -n: no php.ini (no extension is
// needed to parse, and none prints startup noise); errors displayed, not logged, so each is
// said once.
func (r *Reloader) lintFile(f string) string {
	ctx, cancel := context.WithTimeout(context.Background(), lintTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, r.o.PHP, "-n", "-d", "display_errors=1", "-d", "log_errors=0", "-l", f).CombinedOutput() //nolint:gosec
	if err == nil {
		return ""
	}
	if ctx.Err() != nil {
		r.o.Log.Warn("pivot.reload: php -l timed out; not checked", zap.String("file", f))
		return ""
	}
	if _, isExit := err.(*exec.ExitError); !isExit {
		r.o.Log.Warn("pivot.reload: php -l cannot run; not checked", zap.String("php", r.o.PHP), zap.Error(err))
		return ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "Errors parsing") {
			return line
		}
	}
	return fmt.Sprintf("%s does not parse (php -l: %v)", filepath.Base(f), err)
}

// Middleware answers every request with a 500 page showing the error while the last reload
// failed (Options.ErrorPage: development mode), and passes requests through otherwise.
func (r *Reloader) Middleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		f := r.failure.Load()
		if f == nil {
			next(ctx)
			return
		}
		ctx.Response.Reset()
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		ctx.Response.Header.Set("Cache-Control", "no-store")
		ctx.Response.Header.Set("X-Pivot-Reload", "failed")
		if strings.Contains(string(ctx.Request.Header.Peek("Accept")), "text/html") {
			ctx.SetContentType("text/html; charset=utf-8")
			ctx.SetBodyString(errorPage(*f))
			return
		}
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("pivot.reload failed: the code you saved does not start; fix it and save again.\n\n" + *f + "\n")
	}
}

func errorPage(msg string) string {
	return `<!doctype html>
<html><head><meta charset="utf-8"><title>Reload failed</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;color:#222}pre{background:#fff3f3;border:1px solid #e99;padding:1rem;white-space:pre-wrap}</style>
</head><body>
<h1>Reload failed</h1>
<p>The code you saved does not start. Fix it and save again: this page goes away at the next good save, with no restart.
(Shown because pivot.reload is on and logs.mode is development.)</p>
<pre>` + html.EscapeString(msg) + `</pre>
</body></html>
`
}

// ErrorPage tells whether Middleware should be installed (Options.ErrorPage).
func (r *Reloader) ErrorPage() bool { return r.o.ErrorPage }
