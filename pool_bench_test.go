package pivot

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/httpfront"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/pool"
	sdkpool "github.com/roadrunner-server/sdk/v4/pool"
	"github.com/valyala/fasthttp"
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
	reqCtx := helloRequestContext(b)
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

// helloRequestContext is the context the handler sends for `GET /hello` with wrk's headers.
func helloRequestContext(b *testing.B) []byte {
	var req fasthttp.Request
	raw := "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		b.Fatal(err)
	}
	var c fasthttp.RequestCtx
	c.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
	ctx, _ := httpfront.AppendRequestContext(nil, &c, nil, false, nil)
	return ctx
}

// startBenchPool starts the plugin's own pool of hello workers over pipes, as newPool does.
func startBenchPool(b *testing.B, workers uint64) *pool.Pool {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	command := func([]string) *exec.Cmd {
		cmd := exec.Command("php", "examples/hello/worker.php")
		cmd.Env = append(cmd.Environ(), envMode+"="+modeHTTP)
		return cmd
	}
	cfg := &sdkpool.Config{NumWorkers: workers, AllocateTimeout: 30 * time.Second, DestroyTimeout: 10 * time.Second}
	p, err := pool.New(ctx, command, pool.NewPipeFactory(zap.NewNop()), cfg, nil, zap.NewNop())
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
