package pivot_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// responseRecorder is a minimal reusable http.ResponseWriter, so the benchmark measures the
// handler and the pool, not httptest's recorder.
type responseRecorder struct {
	header http.Header
	status int
	n      int
}

func (r *responseRecorder) Header() http.Header { return r.header }
func (r *responseRecorder) WriteHeader(s int)   { r.status = s }
func (r *responseRecorder) Write(b []byte) (int, error) {
	r.n += len(b)
	return len(b), nil
}

// BenchmarkHandler drives the plugin's ServeHTTP with real PHP workers (examples/hello /hello)
// in the real plugin graph. allocs/op is the Go-side allocation count per request (handler +
// sdk/v4 pool + goridge); ns/op includes the PHP round trip over the pipes.
func BenchmarkHandler(b *testing.B) {
	s := startStackB(b, stackOptions{pivot: "  pool:\n    num_workers: 2\n"})
	cases := []struct {
		name string
		req  func() *http.Request
	}{
		{"GET hello", func() *http.Request {
			r := httptest.NewRequest("GET", "/hello", nil)
			r.Header.Set("User-Agent", "bench")
			r.Header.Set("Accept", "*/*")
			return r
		}},
		{"POST json 1KB", func() *http.Request {
			r := httptest.NewRequest("POST", "/json", strings.NewReader(`{"k":"`+strings.Repeat("v", 1000)+`"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			w := &responseRecorder{header: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				r := tc.req()
				clear(w.header)
				b.StartTimer()
				s.pivot.ServeHTTP(w, r)
				if w.status != 200 {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}
