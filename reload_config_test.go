package pivot_test

import (
	"strings"
	"testing"
)

// pivot.reload (watch mode) through the real config, logger, server and pivot plugins' Init.
func TestReloadConfig(t *testing.T) {
	const head = "version: \"3\"\nserver:\n  command: \"php worker.php\"\npivot:\n  address: 127.0.0.1:0\n"
	cases := []struct {
		name, body string
		want       []string // "" = Init succeeds
	}{
		{"every key", "  reload:\n    enabled: true\n    patterns: [\".php\", \".env\"]\n    dirs: [\".\"]\n    ignore: [vendor, .git]\n    debounce: 250ms\n", nil},
		{"off with keys", "  reload:\n    enabled: false\n    debounce: 1s\n", nil},
		{"typo", "  reload:\n    enabled: true\n    debounse: 1s\n", []string{"pivot.reload.debounse: unknown key", "did you mean debounce?"}},
		{"short debounce", "  reload:\n    enabled: true\n    debounce: 1ms\n", []string{"pivot.reload.debounce: 1ms is too short", "at least 50ms"}},
		{"empty pattern", "  reload:\n    patterns: [\"\"]\n", []string{"pivot.reload.patterns[0]: empty pattern"}},
		{"both watchers", "  reload:\n    enabled: true\nreload:\n  services:\n    pivot: { dirs: [\".\"] }\n",
			[]string{"pivot.reload and reload.services.pivot both watch files for pivot", "remove reload.services.pivot"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := initWith(t, head+tc.body)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("Init accepted a bad config")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err.Error(), w)
				}
			}
		})
	}
}
