package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadResult counts what clients saw. A refused request never reached the server (the dial
// failed: the listener was closed); a failed one was accepted and did not get the expected
// status, or broke mid-response.
type loadResult struct {
	ok, failed, refused atomic.Int64
	mu                  sync.Mutex
	failures            []string
	statuses            map[int]int
}

func (r *loadResult) fail(msg string) {
	r.failed.Add(1)
	r.mu.Lock()
	if len(r.failures) < 20 {
		r.failures = append(r.failures, msg)
	}
	r.mu.Unlock()
}

func (r *loadResult) String() string {
	return fmt.Sprintf("ok=%d failed=%d refused=%d statuses=%v failures=%q",
		r.ok.Load(), r.failed.Load(), r.refused.Load(), r.statuses, r.failures)
}

// loadOptions bounds a load run in both time and count; it stops by itself.
type loadOptions struct {
	url         string
	concurrency int
	maxRequests int64         // across all goroutines
	maxDuration time.Duration // hard stop
	stop        <-chan struct{}
	want        int // expected status (200)
}

// soak stretches a load's duration by 20 under `make soak` (PIVOT_SOAK=1).
func soak(d time.Duration) time.Duration {
	if os.Getenv("PIVOT_SOAK") != "" {
		return 20 * d
	}
	return d
}

func isRefused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// startLoad runs runLoad in the background; the returned function stops it and returns the
// counts once every client has finished.
func startLoad(t testing.TB, o loadOptions) (finish func() *loadResult) {
	stop := make(chan struct{})
	o.stop = stop
	done := make(chan *loadResult, 1)
	go func() { done <- runLoad(t, o) }()
	return func() *loadResult {
		close(stop)
		return <-done
	}
}

// runLoad drives GET requests from several goroutines over keep-alive connections.
func runLoad(t testing.TB, o loadOptions) *loadResult {
	t.Helper()
	if o.want == 0 {
		o.want = http.StatusOK
	}
	tr := &http.Transport{MaxIdleConnsPerHost: o.concurrency, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	res := &loadResult{statuses: map[int]int{}}
	deadline := time.Now().Add(o.maxDuration)
	var sent atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < o.concurrency; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && sent.Add(1) <= o.maxRequests {
				select {
				case <-o.stop:
					return
				default:
				}
				resp, err := c.Get(o.url) //nolint:noctx
				if err != nil {
					if isRefused(err) {
						res.refused.Add(1)
						time.Sleep(5 * time.Millisecond)
						continue
					}
					res.fail(err.Error())
					continue
				}
				_, errB := io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				res.mu.Lock()
				res.statuses[resp.StatusCode]++
				res.mu.Unlock()
				switch {
				case errB != nil:
					res.fail("body: " + errB.Error())
				case resp.StatusCode != o.want:
					res.fail(fmt.Sprintf("status %d", resp.StatusCode))
				default:
					res.ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return res
}
