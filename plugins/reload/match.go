package reload

import (
	"path/filepath"
	"strings"
)

// matcher decides, for one service, which directories are watched and which changed files
// count (built by Config.Resolve).
type matcher struct {
	// dirs are the service's directories, absolute and cleaned.
	dirs      []string
	recursive bool
	// patterns match a file's base name: a suffix (".php", ".env", "composer.json"), a glob
	// when the pattern has *, ? or [ ("*.blade.php", "routes-*.php"), or "*" for every file.
	patterns []string
	// ignoreNames are names ignored at any depth below a dir ("vendor", ".git");
	// ignorePaths are absolute paths ignored with everything below them.
	ignoreNames map[string]struct{}
	ignorePaths []string
}

func isGlob(pattern string) bool { return strings.ContainsAny(pattern, "*?[") }

// matches tells whether a file named name (a base name) is one the service reloads for.
//
// RoadRunner 2.x tested strings.Contains(name, pattern); a suffix (or glob) is used here so
// that editors' temporary and backup files (foo.php~, .foo.php.swp, foo.php.orig) do not
// trigger resets of their own.
func (m *matcher) matches(name string) bool {
	for _, p := range m.patterns {
		if isGlob(p) {
			if ok, _ := filepath.Match(p, name); ok {
				return true
			}
			continue
		}
		if strings.HasSuffix(name, p) {
			return true
		}
	}
	return false
}

// root is the dir of the service that path is in ("" when none): path itself or below it
// when recursive, path itself or a direct child otherwise.
func (m *matcher) root(path string) string {
	for _, d := range m.dirs {
		if path == d {
			return d
		}
		rel, ok := below(d, path)
		if !ok {
			continue
		}
		if m.recursive || !strings.ContainsRune(rel, filepath.Separator) {
			return d
		}
	}
	return ""
}

// ignored tells whether path (absolute, cleaned) is excluded: it is one of, or below one of,
// the ignored paths, or a component of it below its dir has an ignored name. A path outside
// every dir is ignored too.
func (m *matcher) ignored(path string) bool {
	root := m.root(path)
	if root == "" {
		return true
	}
	for _, ip := range m.ignorePaths {
		if path == ip {
			return true
		}
		if _, ok := below(ip, path); ok {
			return true
		}
	}
	if path == root {
		return false
	}
	rel, _ := below(root, path)
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if _, ok := m.ignoreNames[part]; ok {
			return true
		}
	}
	return false
}

// below returns path relative to dir when path is strictly below dir.
func below(dir, path string) (string, bool) {
	prefix := dir
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	if !strings.HasPrefix(path, prefix) || len(path) == len(prefix) {
		return "", false
	}
	return path[len(prefix):], true
}
