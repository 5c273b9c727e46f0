package main

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// otlpReceiver is the pivot-observe row's trace collector: OTLP/HTTP (POST /v1/traces) on
// 127.0.0.1, in this process. It reads each batch and drops it without decoding it: the row
// measures pivot's side of tracing (the spans, their batching, protobuf encoding and sending),
// not a collector's work, which a production box would do elsewhere or pay for on its own.
type otlpReceiver struct {
	addr           string
	batches, bytes atomic.Int64
	srv            *http.Server
}

// startOTLPReceiver serves until stop.
func startOTLPReceiver() (*otlpReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &otlpReceiver{addr: ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/traces", func(w http.ResponseWriter, req *http.Request) {
		n, _ := io.Copy(io.Discard, req.Body)
		r.batches.Add(1)
		r.bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse
	})
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *otlpReceiver) stop() { _ = r.srv.Close() }

// observeTop is the otel section of the pivot-observe row: OTLP over HTTP to r.
func (r *otlpReceiver) observeTop() string {
	return "otel:\n  exporter: otlp\n  client: http\n  endpoint: " + r.addr + "\n  insecure: true\n"
}
