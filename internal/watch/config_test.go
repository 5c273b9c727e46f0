package watch

import (
	"strings"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	cases := []struct {
		name string
		c    Config
		err  string
	}{
		{"defaults", Config{}, ""},
		{"custom", Config{Enabled: true, Patterns: []string{".php"}, Dirs: []string{"src"}, Ignore: []string{}, Debounce: time.Second}, ""},
		{"short debounce", Config{Debounce: 10 * time.Millisecond}, "pivot.reload.debounce: 10ms is too short"},
		{"negative debounce", Config{Debounce: -time.Second}, "pivot.reload.debounce"},
		{"empty pattern", Config{Patterns: []string{".php", " "}}, "pivot.reload.patterns[1]"},
		{"empty dir", Config{Dirs: []string{""}}, "pivot.reload.dirs[0]"},
		{"empty ignore", Config{Ignore: []string{"vendor", ""}}, "pivot.reload.ignore[1]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.c.InitDefaults()
			err := c.c.Validate()
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want %q", err, c.err)
			}
		})
	}
	var d Config
	d.InitDefaults()
	if d.Enabled || d.Debounce != 300*time.Millisecond || strings.Join(d.Patterns, ",") != ".php,.env" ||
		strings.Join(d.Dirs, ",") != "." || strings.Join(d.Ignore, ",") != "vendor,.git" {
		t.Fatalf("defaults: %+v", d)
	}
}

func TestDevMode(t *testing.T) {
	for mode, want := range map[string]bool{"": true, "development": true, "Development": true, "production": false, "raw": false, "off": false} {
		if DevMode(mode) != want {
			t.Errorf("DevMode(%q) = %v", mode, !want)
		}
	}
}
