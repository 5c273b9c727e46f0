package reload

import (
	"context"
	stderrors "errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// maxDelayFactor bounds the debounce: changes that never pause for a whole interval (a
// generator rewriting files in a loop) still reset the service every maxDelayFactor
// intervals, counted from the first change not yet reset for.
const maxDelayFactor = 10

// watcher watches one service's directories with its own fsnotify watcher and resets the
// service once per burst of changes.
//
// One goroutine (loop) reads the events, keeps the watches of a recursive service up to date
// and runs the debounce; Reset runs in a goroutine of its own, one at a time, so a slow
// reset (pivot's rolling reset waits for the new workers) never stalls the reading of the
// events. Changes made during a reset are reset for once it is over.
type watcher struct {
	service  string
	key      string // the configuration key errors name: reload.services.<service>, pivot.reload
	m        *matcher
	target   Resetter
	interval time.Duration
	maxDelay time.Duration
	workDir  string
	log      *zap.Logger

	fs *fsnotify.Watcher

	mu      sync.Mutex
	watched map[string]struct{} // directories with a watch (written by the loop only)

	// The rest is the loop's (and newWatcher's, before the loop starts).
	pending      map[string]struct{} // files changed since the last reset (absolute paths)
	changes      int                 // events that counted since the last reset
	last         string              // the latest of them
	firstPending time.Time

	stop     chan struct{}
	stopOnce sync.Once
	started  bool           // start was called (set before the loop runs)
	wg       sync.WaitGroup // the loop and a reset in flight
}

type resetResult struct {
	err     error
	elapsed time.Duration
	file    string   // the latest file changed
	files   int      // how many files changed
	changed []string // every file changed, absolute (for a ChangeResetter)
}

// newWatcher creates the fsnotify watcher and watches the service's directories (all of
// them below too when recursive). Call start to begin, close to end.
func newWatcher(service string, m *matcher, target Resetter, interval time.Duration, workDir string, log *zap.Logger) (*watcher, error) {
	return newKeyedWatcher(service, "reload.services."+service, m, target, interval, workDir, log)
}

func newKeyedWatcher(service, key string, m *matcher, target Resetter, interval time.Duration, workDir string, log *zap.Logger) (*watcher, error) {
	fs, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("%s: cannot create a file watcher: %v%s", key, err, limitHint(err))
	}
	w := &watcher{
		service:  service,
		key:      key,
		m:        m,
		target:   target,
		interval: interval,
		maxDelay: maxDelayFactor * interval,
		workDir:  workDir,
		log:      log,
		fs:       fs,
		watched:  make(map[string]struct{}),
		pending:  make(map[string]struct{}),
		stop:     make(chan struct{}),
	}
	for _, d := range m.dirs {
		if err = w.addTree(d, false, true); err != nil {
			_ = fs.Close()
			return nil, err
		}
	}
	return w, nil
}

// dirCount is the number of directories watched; only before start or from the loop.
func (w *watcher) dirCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.watched)
}

func (w *watcher) start() {
	w.started = true
	w.wg.Add(1)
	go w.loop()
}

// close stops the loop and closes the fsnotify watcher, then waits (within ctx) for a reset
// in flight to finish.
func (w *watcher) close(ctx context.Context) error {
	w.stopOnce.Do(func() {
		close(w.stop)
		if !w.started {
			_ = w.fs.Close() // the loop would have
		}
	})
	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("reload: %s's Reset() is still running: %v", w.service, ctx.Err())
	}
}

func (w *watcher) loop() {
	defer w.wg.Done()
	defer func() { _ = w.fs.Close() }()

	var (
		timer     *time.Timer
		timerC    <-chan time.Time
		resetting bool
		results   = make(chan resetResult, 1) // one reset in flight at most: never blocks
	)
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
			timer, timerC = nil, nil
		}
	}
	defer stopTimer()
	// schedule (re)arms the debounce: the reset happens once no change came for an
	// interval, or maxDelay after the first pending change, whichever is first.
	schedule := func() {
		now := time.Now()
		if w.firstPending.IsZero() {
			w.firstPending = now
		}
		if resetting {
			return // rescheduled when the reset ends
		}
		d := w.interval
		if deadline := w.firstPending.Add(w.maxDelay); now.Add(d).After(deadline) {
			d = max(deadline.Sub(now), 0)
		}
		stopTimer()
		timer = time.NewTimer(d) // a new timer: no stale tick of the old one can arrive
		timerC = timer.C
	}

	for {
		select {
		case <-w.stop:
			return

		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			if w.handle(ev) {
				schedule()
			}

		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			if stderrors.Is(err, fsnotify.ErrEventOverflow) {
				// changes were lost: reset to be safe
				w.log.Warn("file events were lost (the kernel's queue overflowed); resetting to be safe",
					zap.String("service", w.service))
				w.change("(unknown: events were lost)")
				schedule()
				continue
			}
			w.log.Warn("file watcher error", zap.String("service", w.service), zap.Error(err))

		case <-timerC:
			timer, timerC = nil, nil
			if resetting || w.changes == 0 {
				continue
			}
			res := resetResult{file: w.display(w.last), files: len(w.pending), changed: sortedKeys(w.pending)}
			w.pending = make(map[string]struct{})
			w.changes, w.last, w.firstPending = 0, "", time.Time{}
			resetting = true
			w.log.Info("reloading", zap.String("service", w.service), zap.String("file", res.file),
				zap.Int("files", res.files))
			w.wg.Add(1)
			go w.reset(res, results)

		case res := <-results:
			resetting = false
			if res.err != nil {
				w.log.Error(fmt.Sprintf("reload failed: %s's Reset() returned an error; fix it and save again (the next change retries)", w.service),
					zap.String("service", w.service), zap.String("file", res.file),
					zap.Duration("elapsed", res.elapsed), zap.Error(res.err))
			} else {
				w.log.Info("reloaded", zap.String("service", w.service), zap.String("file", res.file),
					zap.Duration("elapsed", res.elapsed))
			}
			if w.changes > 0 {
				schedule() // changes made during the reset
			}
		}
	}
}

// reset calls the service's Reset and reports to results.
func (w *watcher) reset(res resetResult, results chan<- resetResult) {
	defer w.wg.Done()
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			res.err = fmt.Errorf("Reset() panicked: %v", r)
		}
		res.elapsed = time.Since(start)
		results <- res
	}()
	if cr, ok := w.target.(ChangeResetter); ok {
		res.err = cr.ResetChanged(res.changed)
		return
	}
	res.err = w.target.Reset()
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// handle applies one event: new directories of a recursive service are watched, watches of
// removed or renamed directories dropped; it tells whether a change to reset for was seen.
func (w *watcher) handle(ev fsnotify.Event) bool {
	path := filepath.Clean(ev.Name)
	if ev.Op == 0 || w.m.ignored(path) {
		return false
	}
	before := w.changes

	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		if w.forget(path) {
			if contains(w.m.dirs, path) {
				w.log.Warn(fmt.Sprintf("%s.dirs: %s was removed or renamed; it is no longer watched (restart rr to watch it again)", w.key, path))
			}
			if ev.Has(fsnotify.Rename) {
				// moved away with whatever files it held (no event tells of them); a deleted
				// directory's files were reported one by one before it
				w.change(path)
			}
			return w.changes > before
		}
	}
	if ev.Has(fsnotify.Create) {
		if st, err := os.Lstat(path); err == nil && st.IsDir() {
			if w.m.recursive {
				// files may have been created in it before the watch: addTree reports them
				if err = w.addTree(path, true, false); err != nil {
					w.log.Error("cannot watch a new directory", zap.String("service", w.service), zap.Error(err))
				}
			}
			return w.changes > before
		}
	}
	if w.m.matches(filepath.Base(path)) {
		w.log.Debug("file changed", zap.String("service", w.service), zap.String("file", w.display(path)),
			zap.String("op", ev.Op.String()))
		w.change(path)
	}
	return w.changes > before
}

// addTree watches dir and, when the service is recursive, every directory below it that is
// not ignored. With report, the matching files found count as changes (a directory created or
// moved in after start). Only a full watch table (or a dir of the configuration that cannot be
// watched) is an error; a subdirectory that vanished or cannot be read is logged and skipped.
func (w *watcher) addTree(dir string, report, configured bool) error {
	if !w.isWatched(dir) {
		if err := w.fs.Add(dir); err != nil {
			if configured || isLimit(err) {
				return fmt.Errorf("%s: cannot watch %s: %v%s", w.key, dir, err, limitHint(err))
			}
			w.log.Warn("cannot watch a directory", zap.String("service", w.service), zap.String("dir", dir), zap.Error(err))
			return nil
		}
		w.mu.Lock()
		w.watched[dir] = struct{}{}
		w.mu.Unlock()
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		w.log.Warn("cannot list a directory", zap.String("service", w.service), zap.String("dir", dir), zap.Error(err))
		return nil
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if w.m.ignored(p) {
			continue
		}
		if e.IsDir() { // a symlink to a directory is not followed
			if w.m.recursive {
				if err = w.addTree(p, report, false); err != nil {
					return err
				}
			}
			continue
		}
		if report && w.m.matches(e.Name()) {
			w.change(p)
		}
	}
	return nil
}

// forget drops the watches of path and of every watched directory below it; it tells whether
// path was a watched directory.
func (w *watcher) forget(path string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, was := w.watched[path]
	for d := range w.watched {
		if d == path {
			delete(w.watched, d)
			_ = w.fs.Remove(d) // gone already when the directory was deleted
			continue
		}
		if _, ok := below(path, d); ok {
			delete(w.watched, d)
			_ = w.fs.Remove(d)
		}
	}
	return was
}

func (w *watcher) change(path string) {
	w.pending[path] = struct{}{}
	w.changes++
	w.last = path
}

func (w *watcher) isWatched(dir string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.watched[dir]
	return ok
}

// display is path relative to the working directory when it is below it.
func (w *watcher) display(path string) string {
	if rel, ok := below(w.workDir, path); ok {
		return rel
	}
	return path
}

// watchedDirs lists the watched directories, sorted (tests).
func (w *watcher) watchedDirs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.watched))
	for d := range w.watched {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

func isLimit(err error) bool {
	return stderrors.Is(err, syscall.ENOSPC) || stderrors.Is(err, syscall.EMFILE)
}

// limitHint explains inotify's limits when err is one of them.
func limitHint(err error) string {
	switch {
	case stderrors.Is(err, syscall.ENOSPC):
		return " (the inotify watch limit is reached: raise it, e.g. sysctl fs.inotify.max_user_watches=524288, or watch fewer directories: narrower dirs, ignore: [\"vendor/\"])"
	case stderrors.Is(err, syscall.EMFILE):
		return " (too many inotify instances or open files: raise fs.inotify.max_user_instances or ulimit -n)"
	}
	return ""
}
