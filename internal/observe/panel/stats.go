package panel

import (
	"math"
	"sync"
	"time"
)

const (
	// window is how many seconds of history the chart shows.
	window = 300
	// latency buckets grow by latencyGrowth from latencyBase: 10 µs to about 9 minutes.
	latencyBuckets = 80
	latencyBase    = 10 * time.Microsecond
	latencyGrowth  = 1.25
)

// second is one second of requests.
type second struct {
	unix     int64
	count    uint32
	errors   uint32 // 5xx
	limited  uint32 // 429
	latency  [latencyBuckets]uint32
	totalDur time.Duration
}

// stats keeps the last window seconds of requests in a ring, by unix second.
type stats struct {
	mu   sync.Mutex
	ring [window]second
}

var logGrowth = math.Log(latencyGrowth)

func bucketOf(d time.Duration) int {
	if d <= latencyBase {
		return 0
	}
	i := int(math.Log(float64(d)/float64(latencyBase))/logGrowth) + 1
	if i >= latencyBuckets {
		i = latencyBuckets - 1
	}
	return i
}

// bucketUpper is the largest latency a bucket holds.
func bucketUpper(i int) time.Duration {
	return time.Duration(float64(latencyBase) * math.Pow(latencyGrowth, float64(i)))
}

func (s *stats) record(now time.Time, d time.Duration, status int) {
	sec := now.Unix()
	s.mu.Lock()
	b := &s.ring[sec%window]
	if b.unix != sec {
		*b = second{unix: sec}
	}
	b.count++
	b.totalDur += d
	b.latency[bucketOf(d)]++
	switch {
	case status >= 500:
		b.errors++
	case status == 429:
		b.limited++
	}
	s.mu.Unlock()
}

// Point is one second of the chart.
type Point struct {
	T       int64   `json:"t"`
	RPS     uint32  `json:"rps"`
	Errors  uint32  `json:"errors"`
	Limited uint32  `json:"limited"`
	P50     float64 `json:"p50"` // milliseconds
	P90     float64 `json:"p90"`
	P99     float64 `json:"p99"`
}

// series returns the last window seconds before now (the current, incomplete one excluded).
func (s *stats) series(now time.Time) []Point {
	end := now.Unix()
	out := make([]Point, 0, window)
	s.mu.Lock()
	defer s.mu.Unlock()
	for sec := end - window + 1; sec < end; sec++ {
		b := &s.ring[sec%window]
		p := Point{T: sec}
		if b.unix == sec && b.count > 0 {
			p.RPS, p.Errors, p.Limited = b.count, b.errors, b.limited
			p.P50, p.P90, p.P99 = percentile(&b.latency, b.count, 0.5), percentile(&b.latency, b.count, 0.9), percentile(&b.latency, b.count, 0.99)
		}
		out = append(out, p)
	}
	return out
}

// percentile is the upper bound of the bucket holding the q-th request, in milliseconds.
func percentile(h *[latencyBuckets]uint32, n uint32, q float64) float64 {
	rank := uint32(math.Ceil(q * float64(n)))
	var seen uint32
	for i, c := range h {
		seen += c
		if seen >= rank && c > 0 {
			return float64(bucketUpper(i)) / float64(time.Millisecond)
		}
	}
	return 0
}
