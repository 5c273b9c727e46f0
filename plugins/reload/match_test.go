package reload

import (
	"path/filepath"
	"testing"
)

func resolve(t *testing.T, work string, top []string, s *ServiceConfig) *matcher {
	t.Helper()
	conf := &Config{Patterns: top, Services: map[string]*ServiceConfig{"svc": s}}
	conf.InitDefaults()
	if err := conf.Valid(); err != nil {
		t.Fatal(err)
	}
	m, err := conf.Resolve("svc", work)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPatterns(t *testing.T) {
	m := resolve(t, t.TempDir(), nil, &ServiceConfig{Patterns: []string{".env", "*.blade.php", "composer.json"}})
	for name, want := range map[string]bool{
		"index.php":          true,
		"User.php":           true,
		".env":               true,
		"app.env":            true, // a suffix, as ".php" matches "index.php"
		"home.blade.php":     true,
		"composer.json":      true,
		"index.php~":         false, // editors' backups and swap files do not count
		".index.php.swp":     false,
		"index.php.orig":     false,
		"4913":               false, // vim's probe file
		"index.phps":         false,
		".env.local":         false, // a suffix, not RoadRunner 2.x's "contains"
		"composer.lock":      false,
		"README.md":          false,
		"template.blade.htm": false,
	} {
		if got := m.matches(name); got != want {
			t.Errorf("matches(%q) = %v, want %v", name, got, want)
		}
	}

	all := resolve(t, t.TempDir(), []string{"*"}, &ServiceConfig{})
	for _, name := range []string{"a", ".hidden", "x.txt"} {
		if !all.matches(name) {
			t.Errorf(`"*" must match %q`, name)
		}
	}
}

func TestIgnore(t *testing.T) {
	work := t.TempDir()
	mkdirs(t, work, "app", "src", "storage/cache", "var/cache")
	j := func(parts ...string) string { return filepath.Join(append([]string{work}, parts...)...) }

	m := resolve(t, work, nil, &ServiceConfig{
		Dirs:      []string{".", "app"},
		Recursive: true,
		Ignore:    []string{"vendor/", "node_modules", "storage/cache", "./var/cache/", j("src", "generated"), "lib/tmp"},
	})
	for path, want := range map[string]bool{
		j():                                                 false,
		j("index.php"):                                      false,
		j("app", "Http", "Kernel.php"):                      false,
		j("vendor"):                                         true, // "vendor/" is a name: ignored at any depth
		j("vendor", "autoload.php"):                         true,
		j("app", "vendor", "x.php"):                         true,
		j("node_modules", "a", "b.php"):                     true,
		j(".git"):                                           true, // always
		j("app", ".git", "HEAD"):                            true,
		j("storage", "cache"):                               true, // a path relative to the working directory
		j("storage", "cache", "v.php"):                      true,
		j("storage", "logs", "l.php"):                       false,
		j("var", "cache", "x.php"):                          true, // ./var/cache/ cleaned
		j("src", "generated", "G.php"):                      true, // absolute
		j("src", "generatedX.php"):                          false,
		j("app", "lib", "tmp", "t.php"):                     true, // a path relative to one of the dirs
		j("lib", "tmp", "t.php"):                            true,
		j("app", "lib", "tmpx", "t.php"):                    false,
		filepath.Dir(work):                                  true, // outside every dir
		filepath.Join(filepath.Dir(work), "other", "x.php"): true,
	} {
		if got := m.ignored(path); got != want {
			t.Errorf("ignored(%s) = %v, want %v", path, got, want)
		}
	}

	// not recursive: only the files directly in the dirs
	flat := resolve(t, work, nil, &ServiceConfig{Dirs: []string{"app"}})
	if flat.ignored(j("app", "x.php")) || !flat.ignored(j("app", "sub", "x.php")) || !flat.ignored(j("x.php")) {
		t.Fatal("a non-recursive service must cover its dirs' direct children only")
	}
}
