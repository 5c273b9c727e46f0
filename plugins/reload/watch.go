package reload

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// ChangeResetter is a Resetter that wants the changed files: the watcher calls ResetChanged
// (every file changed since the last reset, absolute paths, sorted) instead of Reset. pivot's
// own watch mode (pivot.reload) uses it to lint the PHP files before it replaces any worker.
type ChangeResetter interface {
	ResetChanged(files []string) error
}

// WatchOptions is one watched service for Watch, the watcher as a library: the same fsnotify
// watching, matching and debounce as the `reload` section, configured by another plugin
// (pivot.reload) instead of this plugin's section.
type WatchOptions struct {
	// Service names the target in logs.
	Service string
	// Key is the configuration key errors name (e.g. "pivot.reload").
	Key string
	// Dirs, Recursive, Ignore and Patterns mean what reload.services.<name>'s keys mean;
	// Patterns are not added to any default.
	Dirs      []string
	Recursive bool
	Ignore    []string
	Patterns  []string
	// Interval is the quiet time that ends a burst of changes (at least MinInterval).
	Interval time.Duration
	// WorkDir resolves relative Dirs and Ignore paths.
	WorkDir string
	// Target is reset once per burst (ResetChanged when it implements ChangeResetter).
	Target Resetter
	Log    *zap.Logger
}

// Watcher is a running Watch.
type Watcher struct{ w *watcher }

// Watch validates o, watches its directories and starts resetting o.Target on changes. A
// directory that does not exist, a bad pattern or a full inotify table is an error naming
// o.Key.
func Watch(o WatchOptions) (*Watcher, error) {
	if o.Target == nil || o.Log == nil {
		return nil, fmt.Errorf("%s: a watcher needs a target and a logger", o.Key)
	}
	if o.Interval < MinInterval {
		return nil, fmt.Errorf("%s: %s is too short (at least %s)", o.Key, o.Interval, MinInterval)
	}
	if err := validPatterns(o.Key+".patterns", o.Patterns); err != nil {
		return nil, err
	}
	if len(o.Patterns) == 0 {
		return nil, fmt.Errorf(`%s.patterns: no pattern; list the file endings to watch, e.g. [".php"]`, o.Key)
	}
	c := &Config{Services: map[string]*ServiceConfig{o.Service: {
		Dirs: o.Dirs, Recursive: o.Recursive, Ignore: o.Ignore,
	}}, Patterns: o.Patterns}
	c.InitDefaults()
	m, err := c.resolve(o.Service, o.Key, o.WorkDir)
	if err != nil {
		return nil, err
	}
	w, err := newKeyedWatcher(o.Service, o.Key, m, o.Target, o.Interval, o.WorkDir, o.Log)
	if err != nil {
		return nil, err
	}
	o.Log.Info("watching for changes", zap.String("service", o.Service), zap.Strings("dirs", m.dirs),
		zap.Bool("recursive", m.recursive), zap.Strings("patterns", m.patterns),
		zap.Int("directories", w.dirCount()), zap.Duration("debounce", o.Interval))
	w.start()
	return &Watcher{w: w}, nil
}

// Close stops watching and waits (within ctx) for a reset in flight.
func (w *Watcher) Close(ctx context.Context) error { return w.w.close(ctx) }
