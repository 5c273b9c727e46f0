package main

import (
	"context"
	"net"
	"sync/atomic"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// otlpReceiver is the pivot-observe row's trace collector: OTLP's TraceService over gRPC on
// 127.0.0.1, in this process, counting the spans it gets and dropping them. A collector on the
// same machine costs CPU as this one does (the decode of every batch); that is part of the
// figure, as it would be in production with a local agent.
type otlpReceiver struct {
	collectortrace.UnimplementedTraceServiceServer
	addr  string
	spans atomic.Int64
	srv   *grpc.Server
}

func (r *otlpReceiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	n := 0
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	r.spans.Add(int64(n))
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// startOTLPReceiver serves until stop.
func startOTLPReceiver() (*otlpReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &otlpReceiver{addr: ln.Addr().String(), srv: grpc.NewServer()}
	collectortrace.RegisterTraceServiceServer(r.srv, r)
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *otlpReceiver) stop() { r.srv.Stop() }

// observeTop is the otel section of the pivot-observe row: OTLP over gRPC to r.
func (r *otlpReceiver) observeTop() string {
	return "otel:\n  exporter: otlp\n  client: grpc\n  endpoint: " + r.addr + "\n  insecure: true\n"
}
