// Package watch is pivot's watch mode, `pivot.reload` (and `rr serve --watch`): the files of the
// application are watched (plugins/reload's watcher: fsnotify, recursive, debounced) and each
// burst of changes replaces pivot's workers with the supervisor's zero-downtime rolling reset.
// What it adds to the `reload` section's watching: the changed PHP files are linted (php -l)
// before any worker is replaced, so a syntax error keeps the current workers serving, with the
// error logged and, in development mode, shown as a 500 page until the next good save.
package watch

import (
	"fmt"
	"strings"
	"time"
)

// Defaults of pivot.reload.
const (
	DefaultDebounce = 300 * time.Millisecond
	// MinDebounce is plugins/reload's MinInterval.
	MinDebounce = 50 * time.Millisecond
)

// Config is `pivot.reload`:
//
//	pivot:
//	  reload:
//	    enabled: true               # off by default; `rr serve --watch` turns it on
//	    patterns: [".php", ".env"]  # file name endings (or globs) that count
//	    dirs: ["."]                 # watched recursively, relative to the working directory
//	    ignore: ["vendor", ".git"]  # names ignored at any depth, or paths (with a slash)
//	    debounce: 300ms             # quiet time that ends a burst of saves
type Config struct {
	Enabled  bool          `mapstructure:"enabled"`
	Patterns []string      `mapstructure:"patterns"`
	Dirs     []string      `mapstructure:"dirs"`
	Ignore   []string      `mapstructure:"ignore"`
	Debounce time.Duration `mapstructure:"debounce"`
}

// InitDefaults fills what the section leaves out.
func (c *Config) InitDefaults() {
	if len(c.Patterns) == 0 {
		c.Patterns = []string{".php", ".env"}
	}
	if len(c.Dirs) == 0 {
		c.Dirs = []string{"."}
	}
	if c.Ignore == nil {
		c.Ignore = []string{"vendor", ".git"}
	}
	if c.Debounce == 0 {
		c.Debounce = DefaultDebounce
	}
}

// Validate checks the section after InitDefaults (the dirs' existence is checked when the
// watch starts, against the working directory).
func (c *Config) Validate() error {
	if c.Debounce < MinDebounce {
		return fmt.Errorf("pivot.reload.debounce: %s is too short or negative: at least %s (write a unit, e.g. debounce: 300ms)", c.Debounce, MinDebounce)
	}
	for i, p := range c.Patterns {
		if strings.TrimSpace(p) == "" {
			return fmt.Errorf(`pivot.reload.patterns[%d]: empty pattern: write a file ending such as ".php", or "*" for every file`, i)
		}
	}
	for i, d := range c.Dirs {
		if strings.TrimSpace(d) == "" {
			return fmt.Errorf(`pivot.reload.dirs[%d]: empty directory: write "." for the working directory`, i)
		}
	}
	for i, ig := range c.Ignore {
		if strings.TrimSpace(ig) == "" {
			return fmt.Errorf("pivot.reload.ignore[%d]: empty entry: remove it", i)
		}
	}
	return nil
}
