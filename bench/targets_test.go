package main

import (
	"strings"
	"testing"
)

// The RSS target is judged on php-cli's own extension set when that run exists, and says which
// figure it used; a failed run is never counted.
func TestRSSTargetJudgement(t *testing.T) {
	const rssName = "pivot worker RSS < 20 MB"
	rows := func(kv ...any) []*rssResult {
		var out []*rssResult
		for i := 0; i < len(kv); i += 2 {
			out = append(out, &rssResult{Server: kv[i].(string), Workers: 2, MaxKB: int64(kv[i+1].(int))})
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		rss     []*rssResult
		wantMet *bool
		want    []string
	}{
		{"cli set under target", rows(kindPivot, 23900, kindPivotCLIExt, 18900, kindPivotNoIni, 15700), ptr(true),
			[]string{"18.5 MB with php-cli's own extensions", "this machine's php.ini 23.3 MB (an idle php -r: 22.5 MB)", "php -n 15.3 MB"}},
		{"cli set over target, a failed run ignored", append(rows(kindPivot, 23900, kindPivotCLIExt, 20480),
			&rssResult{Server: kindPivotCLIExt, MaxKB: 1000, Failed: "boom"}), ptr(false),
			[]string{"20.0 MB with php-cli's own extensions", "php -n not measured"}},
		{"system ini only", rows(kindPivot, 19000), ptr(true), []string{"18.6 MB with this machine's php.ini"}},
		{"nothing measured", nil, nil, []string{"not measured"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &results{WorkerRSS: tc.rss, PHPBaselines: map[string]memory{kindPivot: {RSSKB: 23040}}}
			r.Settings.RSSRequests = 10000
			var got *target
			for _, tg := range evaluateTargets(r) {
				if strings.HasPrefix(tg.Name, rssName) {
					got = &tg
				}
			}
			if got == nil {
				t.Fatal("no RSS target")
			}
			if (got.Met == nil) != (tc.wantMet == nil) || (got.Met != nil && *got.Met != *tc.wantMet) {
				t.Errorf("met = %v, want %v (%s)", got.Met, tc.wantMet, got.Value)
			}
			for _, w := range tc.want {
				if !strings.Contains(got.Value, w) {
					t.Errorf("value %q lacks %q", got.Value, w)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
