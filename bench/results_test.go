package main

import (
	"bytes"
	"strings"
	"testing"
)

// A round's ratio pairs the two servers' runs of the same round; a round that failed on one
// side (its number missing) is left out instead of shifting the pairs.
func TestRoundRatioRangePairsRoundsByNumber(t *testing.T) {
	rounds := func(rps ...float64) []*round {
		var out []*round
		for i, v := range rps {
			if v > 0 { // 0: that round failed
				out = append(out, &round{N: i + 1, wrkResult: wrkResult{RPS: v}})
			}
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		pivot, fpm []*round
		want       [2]float64
		wantNone   bool
	}{
		{name: "every round", pivot: rounds(30000, 36000, 33000), fpm: rounds(15000, 18000, 16500), want: [2]float64{2, 2}},
		{name: "spread", pivot: rounds(30000, 36000), fpm: rounds(20000, 16000), want: [2]float64{1.5, 2.25}},
		{name: "fpm's round 1 failed", pivot: rounds(30000, 36000, 33000), fpm: rounds(0, 18000, 22000), want: [2]float64{1.5, 2}},
		{name: "no common round", pivot: rounds(30000, 0), fpm: rounds(0, 18000), wantNone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &results{Settings: settings{Workers: []int{2}, Conns: []int{8}}, Throughput: []*cell{
				{Server: kindPivot, Workers: 2, Conns: 8, Rounds: tc.pivot},
				{Server: kindFPM, Workers: 2, Conns: 8, Rounds: tc.fpm},
			}}
			r.summarize()
			got, ok := r.RoundRatios["pivot/fpm"]["w2_c8"]
			if tc.wantNone {
				if ok {
					t.Fatalf("range %v, want none", got)
				}
				return
			}
			if !ok || got != tc.want {
				t.Fatalf("range %v (set %v), want %v", got, ok, tc.want)
			}
			var out bytes.Buffer
			printReport(&out, r)
			if !strings.Contains(out.String(), "pivot/fpm per round") {
				t.Fatalf("the report lacks the per-round range:\n%s", out.String())
			}
		})
	}
}
