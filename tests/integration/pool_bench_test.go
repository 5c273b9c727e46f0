package integration

import (
	"context"
	"fmt"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"os/exec"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/pool"
	sdkpool "github.com/roadrunner-server/sdk/v4/pool"
	"go.uber.org/zap"
)

// BenchmarkPoolRoundTrip is the raw pool round trip: the GET /hello request's context, exactly
// as the handler builds it, sent to the hello worker (examples/hello/worker.php) through the
// pool and relay, and its answer read back, from as many goroutines as the HTTP benchmark's
// wrk connections, with no HTTP in front. calls/s is the ceiling of pivot's req/s at the same
// workers × connections: what the pipes and PHP allow when the HTTP server costs nothing.
func BenchmarkPoolRoundTrip(b *testing.B) {
	if _, err := exec.LookPath("php"); err != nil {
		b.Fatalf("php-cli is required (make test installs it): %v", err)
	}
	reqCtx := []byte(helloRequestContext)
	for _, workers := range []uint64{2, 4} {
		for _, conns := range []int{8, 50} {
			b.Run(fmt.Sprintf("w%d_c%d", workers, conns), func(b *testing.B) {
				p := startBenchPool(b, workers)
				// RunParallel starts parallelism × GOMAXPROCS goroutines; round up so that at
				// least `conns` requests are in flight, as with wrk's connections.
				procs := runtime.GOMAXPROCS(0)
				b.SetParallelism((conns + procs - 1) / procs)
				var bad atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					sink := &helloSink{}
					for pb.Next() {
						sink.ok = false
						if err := p.Exec(reqCtx, nil, sink); err != nil || !sink.ok {
							bad.Add(1)
						}
					}
				})
				b.StopTimer()
				if n := bad.Load(); n > 0 {
					b.Fatalf("%d of %d round trips failed or answered something else than the hello body", n, b.N)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
			})
		}
	}
}

// helloSink accepts the hello worker's answer: one frame, body "Hello, World!".
type helloSink struct{ ok bool }

func (s *helloSink) OnFrame(_, body []byte, kind pool.FrameKind) bool {
	s.ok = kind == pool.FrameWhole && string(body) == "Hello, World!"
	return true
}

// helloRequestContext is the http/v4 request context pivot's front writes for
// `GET /hello HTTP/1.1` with `Host: 127.0.0.1:8080` from 127.0.0.1 (internal/httpfront's
// TestAppendRequestContextPlainGETBytes keeps the two equal).
const helloRequestContext = `{"remoteAddr":"127.0.0.1","protocol":"HTTP/1.1","method":"GET",` +
	`"uri":"http://127.0.0.1:8080/hello","headers":{},"cookies":{},"rawQuery":"","parsed":false,` +
	`"uploads":null,"attributes":{}}`

// startBenchPool starts the plugin's own pool of hello workers over pipes, as the supervisor's
// newPool does.
func startBenchPool(b *testing.B, workers uint64) *pool.Pool {
	b.Helper()
	worker := testsupport.RepoPath(b, "examples/hello/worker.php")
	ctx, cancel := context.WithCancel(context.Background())
	command := func([]string) *exec.Cmd {
		cmd := exec.Command("php", worker)
		cmd.Env = append(cmd.Environ(), "RR_MODE=http")
		return cmd
	}
	cfg := &sdkpool.Config{NumWorkers: workers, AllocateTimeout: 30 * time.Second, DestroyTimeout: 10 * time.Second}
	p, err := pool.New(ctx, command, pool.NewPipeFactory(zap.NewNop(), nil), cfg, nil, zap.NewNop())
	if err != nil {
		cancel()
		b.Fatalf("start %d hello workers: %v", workers, err)
	}
	b.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		p.Destroy(dctx)
		cancel()
	})
	return p
}
