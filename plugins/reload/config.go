package reload

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Defaults and limits of the `reload` section.
const (
	// DefaultInterval is reload.interval when it is not set (RoadRunner 2.x's default).
	DefaultInterval = time.Second
	// MinInterval is the shortest reload.interval accepted. RoadRunner 2.x's plugin polled the
	// file system every interval and refused less than 1s; this one is told of changes by the
	// kernel (fsnotify), so the interval is only the quiet time a burst of changes must end
	// with before the reset, and a shorter one is cheap.
	MinInterval = 50 * time.Millisecond
)

// DefaultPatterns is reload.patterns when it is not set.
var DefaultPatterns = []string{".php"}

// alwaysIgnored are directory names no service ever watches.
var alwaysIgnored = []string{".git"}

// Config is the `reload` section. The keys are RoadRunner 2.x's reload plugin's, so its
// configurations work unchanged:
//
//	reload:
//	  enabled: true        # default true when the section exists; false disables the plugin
//	  interval: 1s         # quiet time after the last change before the reset (default 1s)
//	  patterns: [".php"]   # file name suffixes (or globs) every service watches (default [".php"])
//	  services:
//	    http:              # the name of the plugin to Reset()
//	      dirs: ["."]      # default ["."], relative to the working directory
//	      recursive: true  # default false: only the files directly in dirs
//	      ignore: ["vendor/"]
//	      patterns: [".env"] # added to the top-level patterns
type Config struct {
	// Enabled is nil when the key is absent (enabled).
	Enabled  *bool                     `mapstructure:"enabled"`
	Interval time.Duration             `mapstructure:"interval"`
	Patterns []string                  `mapstructure:"patterns"`
	Services map[string]*ServiceConfig `mapstructure:"services"`
}

// ServiceConfig is reload.services.<plugin name>.
type ServiceConfig struct {
	// Dirs are the directories to watch: absolute, or relative to the working directory
	// (rr's -w). Default ["."]; "" means ".".
	Dirs []string `mapstructure:"dirs"`
	// Recursive watches every subdirectory of Dirs too, including those created later.
	Recursive bool `mapstructure:"recursive"`
	// Ignore lists directories (or files) not to watch. An entry without a slash inside
	// ("vendor", "vendor/", "node_modules") is a name, ignored at any depth; one with a slash
	// ("storage/framework", "./var/cache") is a path, relative to the working directory or to
	// one of Dirs, or absolute. .git is always ignored.
	Ignore []string `mapstructure:"ignore"`
	// Patterns are added to the top-level patterns for this service (RoadRunner 2.x's rule).
	Patterns []string `mapstructure:"patterns"`
}

// knownKeys are the keys of the section and of each service, for the unknown-key check.
var (
	knownKeys        = []string{"enabled", "interval", "patterns", "services"}
	knownServiceKeys = []string{"dirs", "ignore", "patterns", "recursive"}
)

// IsEnabled tells whether the section turns the plugin on (enabled is absent or true).
func (c *Config) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// InitDefaults fills what the section leaves out.
func (c *Config) InitDefaults() {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if len(c.Patterns) == 0 {
		c.Patterns = append([]string(nil), DefaultPatterns...)
	}
	for name, s := range c.Services {
		if s == nil {
			s = &ServiceConfig{}
			c.Services[name] = s
		}
		if len(s.Dirs) == 0 {
			s.Dirs = []string{"."}
		}
		for i, d := range s.Dirs {
			if strings.TrimSpace(d) == "" {
				s.Dirs[i] = "." // RoadRunner 1.x's docs wrote dirs: [""] for the root
			}
		}
	}
}

// ServiceNames are the configured services, sorted.
func (c *Config) ServiceNames() []string {
	names := make([]string, 0, len(c.Services))
	for name := range c.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Valid checks the section after InitDefaults; dirs are checked by Resolve, which needs the
// working directory.
func (c *Config) Valid() error {
	if c.Interval < 0 {
		return fmt.Errorf("reload.interval: %s is negative", c.Interval)
	}
	if c.Interval < MinInterval {
		return fmt.Errorf("reload.interval: %s is too short (at least %s; write a unit, e.g. interval: 1s)", c.Interval, MinInterval)
	}
	if err := validPatterns("reload.patterns", c.Patterns); err != nil {
		return err
	}
	if len(c.Services) == 0 {
		return fmt.Errorf(`reload.services: no service to reload; name the plugins to reset, e.g. services: { http: { dirs: ["."], recursive: true } }`)
	}
	for _, name := range c.ServiceNames() {
		s := c.Services[name]
		key := "reload.services." + name
		if strings.TrimSpace(name) == "" {
			return fmt.Errorf("reload.services: a service has an empty name")
		}
		if err := validPatterns(key+".patterns", s.Patterns); err != nil {
			return err
		}
		for i, ig := range s.Ignore {
			if strings.TrimSpace(ig) == "" {
				return fmt.Errorf("%s.ignore[%d]: empty entry", key, i)
			}
		}
	}
	return nil
}

func validPatterns(key string, patterns []string) error {
	for i, p := range patterns {
		if p == "" {
			return fmt.Errorf(`%s[%d]: empty pattern (write "*" to watch every file)`, key, i)
		}
		if isGlob(p) {
			if _, err := filepath.Match(p, "x"); err != nil {
				return fmt.Errorf("%s[%d]: %q is not a valid glob: %v", key, i, p, err)
			}
		}
	}
	return nil
}

// Resolve turns service name's config into the absolute directories, ignore rules and
// patterns a watcher uses; workDir is the working directory relative paths are resolved
// against. A directory that does not exist is an error naming reload.services.<name>.dirs.
func (c *Config) Resolve(name, workDir string) (*matcher, error) {
	return c.resolve(name, "reload.services."+name, workDir)
}

// resolve is Resolve with the configuration key errors name (key.dirs: ...).
func (c *Config) resolve(name, key, workDir string) (*matcher, error) {
	s := c.Services[name]
	m := &matcher{
		recursive:   s.Recursive,
		patterns:    union(s.Patterns, c.Patterns),
		ignoreNames: make(map[string]struct{}),
	}
	for _, n := range alwaysIgnored {
		m.ignoreNames[n] = struct{}{}
	}
	seen := make(map[string]bool)
	for _, d := range s.Dirs {
		abs := absPath(workDir, d)
		st, err := os.Stat(abs)
		switch {
		case os.IsNotExist(err):
			return nil, fmt.Errorf("%s.dirs: %q does not exist (looked for %s; relative dirs are resolved against the working directory %s)", key, d, abs, workDir)
		case err != nil:
			return nil, fmt.Errorf("%s.dirs: %q: %v", key, d, err)
		case !st.IsDir():
			return nil, fmt.Errorf("%s.dirs: %q (%s) is not a directory", key, d, abs)
		}
		if !seen[abs] {
			seen[abs] = true
			m.dirs = append(m.dirs, abs)
		}
	}
	for _, ig := range s.Ignore {
		entry := filepath.Clean(strings.TrimSpace(ig)) // "vendor/" → "vendor", "./var/" → "var"
		if !filepath.IsAbs(entry) && !strings.ContainsRune(entry, filepath.Separator) {
			if entry != "." && entry != ".." {
				m.ignoreNames[entry] = struct{}{}
			}
			continue
		}
		if filepath.IsAbs(entry) {
			m.ignorePaths = append(m.ignorePaths, entry)
			continue
		}
		m.ignorePaths = append(m.ignorePaths, filepath.Join(workDir, entry))
		for _, d := range m.dirs {
			m.ignorePaths = append(m.ignorePaths, filepath.Join(d, entry))
		}
	}
	return m, nil
}

func absPath(workDir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(workDir, p)
}

// union is a then b without duplicates, in order.
func union(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	seen := make(map[string]bool, len(a)+len(b))
	for _, list := range [][]string{a, b} {
		for _, p := range list {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// checkUnknownKeys rejects keys of the section that this plugin (and RoadRunner 2.x's) does
// not know, so a typo ("recusive", "dir") does not silently watch the wrong thing.
func checkUnknownKeys(raw map[string]any) error {
	if err := unknownKey("reload", raw, knownKeys); err != nil {
		return err
	}
	services, _ := raw["services"].(map[string]any)
	names := make([]string, 0, len(services))
	for name := range services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		switch svc := services[name].(type) {
		case nil:
		case map[string]any:
			if err := unknownKey("reload.services."+name, svc, knownServiceKeys); err != nil {
				return err
			}
		default:
			return fmt.Errorf("reload.services.%s: expected a map of %s, got %v", name, strings.Join(knownServiceKeys, ", "), svc)
		}
	}
	return nil
}

func unknownKey(path string, raw map[string]any, known []string) error {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !contains(known, strings.ToLower(k)) {
			return fmt.Errorf("%s.%s is not a known key (known keys: %s)", path, k, strings.Join(known, ", "))
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
