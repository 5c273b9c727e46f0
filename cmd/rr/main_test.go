package main

import (
	"testing"

	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
)

func TestRRVersion(t *testing.T) {
	saved := version
	t.Cleanup(func() { version = saved })

	tests := []struct{ set, want string }{
		{"", pivot.RRVersion},
		{"2023.3.12", "2023.3.12"},
		{"v2023.3.12", "2023.3.12"},
		{" V2024.1.0 ", "2024.1.0"},
		{"local", "local"},
		{"v", "v"},
	}
	for _, tt := range tests {
		version = tt.set
		if got := rrVersion(); got != tt.want {
			t.Errorf("version %q: rrVersion() = %q, want %q", tt.set, got, tt.want)
		}
	}
}
