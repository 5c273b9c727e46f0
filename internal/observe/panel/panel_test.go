package panel

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string // "" valid, else a part of the error
	}{
		{Config{}, ""}, // off: nothing checked
		{Config{Enabled: true}, ""},
		{Config{Enabled: true, Address: "0.0.0.0:6062"}, "pivot.debug.token"},
		{Config{Enabled: true, Address: "0.0.0.0:6062", Token: "s3cret"}, ""},
		{Config{Enabled: true, Address: "[::1]:6062"}, ""},
		{Config{Enabled: true, Address: "6061"}, "pivot.debug.address"},
		{Config{Enabled: true, Errors: -1}, "pivot.debug.errors"},
	} {
		tc.cfg.InitDefaults()
		err := tc.cfg.Valid()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestGuard(t *testing.T) {
	resets := 0
	for _, tc := range []struct {
		name, token, method, target, host string
		header                            map[string]string
		want                              int
	}{
		{"loopback, no token", "", "GET", "/api/snapshot", "127.0.0.1:6062", nil, 200},
		{"a rebound name", "", "GET", "/api/snapshot", "evil.example:6062", nil, 403},
		{"token missing", "t0k", "GET", "/api/snapshot", "panel.internal", nil, 401},
		{"token wrong", "t0k", "GET", "/api/snapshot?token=nope", "panel.internal", nil, 401},
		{"token in the query", "t0k", "GET", "/api/snapshot?token=t0k", "panel.internal", nil, 200},
		{"bearer token", "t0k", "GET", "/", "panel.internal", map[string]string{"Authorization": "Bearer t0k"}, 200},
		{"a POST without the panel's header", "", "POST", "/api/reset", "localhost", nil, 403},
		{"a POST from the page", "", "POST", "/api/reset", "localhost", map[string]string{"X-Pivot-Panel": "1"}, 204},
		{"a GET cannot reset", "", "GET", "/api/reset", "localhost", nil, 405},
		{"replace needs a pid", "", "POST", "/api/workers/replace?pid=x", "localhost", map[string]string{"X-Pivot-Panel": "1"}, 400},
	} {
		cfg := &Config{Enabled: true, Token: tc.token}
		cfg.InitDefaults()
		p := New(cfg, Sources{Reset: func() error { resets++; return nil }}, zap.NewNop())
		r := httptest.NewRequest(tc.method, tc.target, nil)
		r.Host = tc.host
		for k, v := range tc.header {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		p.srv.Handler.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s: %d, want %d (%s)", tc.name, w.Code, tc.want, w.Body.String())
		}
	}
	if resets != 1 {
		t.Errorf("%d resets, want 1", resets)
	}
}

func TestStatsPercentiles(t *testing.T) {
	var s stats
	now := time.Unix(1_000_000, 0)
	for i := 1; i <= 100; i++ {
		status := 200
		if i%10 == 0 {
			status = 503
		}
		s.record(now, time.Duration(i)*time.Millisecond, status)
	}
	s.record(now, time.Millisecond, 429)
	series := s.series(now.Add(time.Second))
	last := series[len(series)-1]
	if last.T != now.Unix() || last.RPS != 101 || last.Errors != 10 || last.Limited != 1 {
		t.Fatalf("%+v", last)
	}
	// buckets grow by 25 %: a percentile is within a bucket of the true value
	for _, c := range []struct{ got, want float64 }{{last.P50, 50}, {last.P90, 90}, {last.P99, 99}} {
		if c.got < c.want || c.got > c.want*latencyGrowth {
			t.Errorf("percentile %.2f ms, want %.0f–%.0f", c.got, c.want, c.want*latencyGrowth)
		}
	}
	// a second older than the window is not shown
	if old := s.series(now.Add(window * time.Second)); old[len(old)-1].RPS != 0 {
		t.Errorf("stale second shown: %+v", old[len(old)-1])
	}
}

func TestPageAssetsAreEmbedded(t *testing.T) {
	cfg := &Config{Enabled: true}
	cfg.InitDefaults()
	p := New(cfg, Sources{}, zap.NewNop())
	for _, path := range []string{"/", "/app.js", "/app.css"} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Host = "127.0.0.1"
		w := httptest.NewRecorder()
		p.srv.Handler.ServeHTTP(w, r)
		if w.Code != 200 || w.Body.Len() < 500 {
			t.Errorf("%s: %d, %d bytes", path, w.Code, w.Body.Len())
		}
	}
}
