package supervisor

import (
	"strings"
	"testing"
	"time"
)

func TestRestartConfigValid(t *testing.T) {
	cases := []struct {
		name string
		cfg  RestartConfig
		want string // "" when valid
	}{
		{"defaults", RestartConfig{}, ""},
		{"initial above max", RestartConfig{InitialBackoff: time.Minute, MaxBackoff: time.Second},
			"pivot.restart.initial_backoff (1m0s) is larger than pivot.restart.max_backoff (1s)"},
		{"negative failures", RestartConfig{MaxConsecutiveFailures: -1},
			"pivot.restart.max_consecutive_failures is -1: use 0 (retry forever) or a positive count"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.InitDefaults()
			err := tc.cfg.Valid()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid config refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRestartConfigDefaults(t *testing.T) {
	var r RestartConfig
	r.InitDefaults()
	want := RestartConfig{InitialBackoff: 200 * time.Millisecond, MaxBackoff: 30 * time.Second,
		CheckInterval: 250 * time.Millisecond, DeadAfter: time.Second, CrashWindow: 10 * time.Second,
		StableAfter: 10 * time.Second}
	if r != want {
		t.Fatalf("defaults %+v, want %+v", r, want)
	}
	set := RestartConfig{InitialBackoff: time.Second, MaxBackoff: time.Minute, CheckInterval: time.Second,
		DeadAfter: 2 * time.Second, CrashWindow: time.Minute, StableAfter: time.Minute, MaxConsecutiveFailures: 3}
	kept := set
	kept.InitDefaults()
	if kept != set {
		t.Fatalf("InitDefaults changed set values: %+v, want %+v", kept, set)
	}
}

func TestOutageRetryAfterIsAtLeastOneSecond(t *testing.T) {
	cases := []struct {
		in   time.Duration
		want int
	}{{-time.Second, 1}, {0, 1}, {300 * time.Millisecond, 1}, {1500 * time.Millisecond, 2}, {10 * time.Second, 10}}
	for _, tc := range cases {
		o := outage{retryAt: time.Now().Add(tc.in)}
		if got := o.retryAfterSeconds(); got != tc.want {
			t.Fatalf("retry at now%+v: Retry-After %d, want %d", tc.in, got, tc.want)
		}
	}
}
