package pivot

import (
	"os"
	"strings"
	"testing"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/edge"
)

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		err  string
	}{
		{in: "", want: 0},
		{in: "0", want: 0},
		{in: "1024", want: 1024},
		{in: "100B", want: 100},
		{in: "512k", want: 512 << 10},
		{in: "512K", want: 512 << 10},
		{in: "1KB", want: 1 << 10},
		{in: "1KiB", want: 1 << 10},
		{in: "100MB", want: 100 << 20},
		{in: "100mb", want: 100 << 20},
		{in: "100 MB", want: 100 << 20},
		{in: " 100M ", want: 100 << 20},
		{in: "100MiB", want: 100 << 20},
		{in: "2G", want: 2 << 30},
		{in: "2GB", want: 2 << 30},
		{in: "1TB", want: 1 << 40},
		{in: "1.5MB", want: 3 << 19},
		{in: "0.5k", want: 512},
		{in: "100XB", err: "unknown unit"},
		{in: "MB", err: "does not start with a number"},
		{in: "-1", err: "does not start with a number"},
		{in: "1.2.3MB", err: "not a number"},
		{in: "9999999999999TB", err: "too large"},
		{in: "99999999999999999999", err: "too large"},
	}
	for _, tc := range cases {
		got, err := parseSize(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("parseSize(%q) = %d, %v; want an error with %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestConfigWarnings(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want []string
	}{
		{name: "headers middleware is ignored with a warning", cfg: Config{Middleware: []string{"gzip", "headers"}},
			want: []string{`pivot.middleware lists "headers"`}},
		{name: "nothing odd", cfg: Config{Middleware: []string{"gzip"}}},
		{name: "static section unused", cfg: Config{Static: &edge.StaticConfig{Dir: os.TempDir()}, Middleware: []string{"gzip"}},
			want: []string{`pivot.static is set but pivot.middleware does not list "static"`}},
		{name: "max_size over max_request_size", cfg: Config{MaxRequestSize: 1, Uploads: &UploadsConfig{MaxSize: "2MB"}},
			want: []string{"pivot.uploads.max_size (2MB) is larger than pivot.max_request_size (1 MB)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Address = "127.0.0.1:0"
			cfg.InitDefaults()
			if err := cfg.Valid(); err != nil {
				t.Fatal(err)
			}
			got := cfg.Warnings()
			if len(got) != len(tc.want) {
				t.Fatalf("warnings %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q does not contain %q", got[i], w)
				}
			}
		})
	}
}
