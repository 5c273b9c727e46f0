package httpfront

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// HTTP/3 (pivot.http3): quic-go's http3 server on a UDP socket, with Options.TLS's certificate
// and client certificates, running the same handler as the TLS server (nethttp.go's adapter
// onto the pipeline). quic-go's server has no graceful shutdown yet (its CloseGracefully does
// nothing), so the drain counts the requests in flight itself and closes the server once they
// are done (or at shutdown_timeout); requests that arrive meanwhile are served.

// h3State is the HTTP/3 server and the count of its requests in their handler.
type h3State struct {
	srv      *http3.Server
	inflight atomic.Int64
}

// ServeHTTP3 serves HTTP/3 on pc until Shutdown; it returns nil once Shutdown was called.
func (f *Front) ServeHTTP3(pc net.PacketConn) error {
	f.mu.Lock()
	if f.shut || f.opts.TLS == nil {
		f.mu.Unlock()
		_ = pc.Close()
		if f.shut {
			return nil
		}
		return errors.New("httpfront: ServeHTTP3 without Options.TLS")
	}
	st := &h3State{}
	h := f.NetHandler()
	st.srv = &http3.Server{
		TLSConfig:      http3.ConfigureTLSConfig(f.opts.TLS.Clone()),
		MaxHeaderBytes: f.opts.MaxHeaderBytes,
		QuicConfig:     &quic.Config{MaxIdleTimeout: f.opts.IdleTimeout},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st.inflight.Add(1)
			defer st.inflight.Add(-1)
			h.ServeHTTP(w, r)
		}),
	}
	f.h3 = st
	f.mu.Unlock()
	err := st.srv.Serve(pc)
	f.mu.Lock()
	shut := f.shut
	f.mu.Unlock()
	if shut {
		return nil
	}
	return err
}

// shutdownH3 waits for the HTTP/3 requests in flight, until ctx ends, then closes the server.
func (f *Front) shutdownH3(ctx context.Context) error {
	f.mu.Lock()
	st := f.h3
	f.mu.Unlock()
	if st == nil {
		return nil
	}
	var err error
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for st.inflight.Load() > 0 && err == nil {
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-t.C:
		}
	}
	_ = st.srv.Close()
	return err
}
