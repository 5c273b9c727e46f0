package httpfront

import (
	"bytes"
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"strconv"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"golang.org/x/net/http2"
)

// The front's net/http server (nethttp.go adapts its requests onto the pipeline): HTTPS on
// ServeTLS's listener, HTTP/1.1 and HTTP/2 by ALPN (h2, http/1.1), and cleartext HTTP/2 with
// prior knowledge (h2c) on Serve's listener, whose connections conn.go hands over when they
// open with HTTP/2's preface. One http.Server and one http2.Server for both, so Shutdown's
// GOAWAY reaches every HTTP/2 connection.

// TLSMetrics is what the front counts of its TLS server, when its Metrics has it.
type TLSMetrics interface {
	// TLSHandshakeError counts a connection whose TLS handshake failed (a client without a
	// valid certificate under pivot.ssl.root_ca, a client that does not trust the server's...).
	TLSHandshakeError()
}

// defaultMaxConcurrentStreams is RoadRunner's (and net/http's) bound of the streams of an
// HTTP/2 connection.
const defaultMaxConcurrentStreams = 128

// netServersNeeded: HTTPS or h2c is on.
func (o *Options) netServersNeeded() bool { return o.TLS != nil || o.H2C }

// newNetServer builds the net/http server with pivot's timeouts and limits, HTTP/2 configured
// (golang.org/x/net/http2: its max_concurrent_streams, and its ServeConn for h2c).
func (f *Front) newNetServer() {
	srv := &http.Server{
		Handler:           f.netTLSHandler(),
		ReadHeaderTimeout: f.opts.ReadHeaderTimeout,
		ReadTimeout:       f.opts.ReadTimeout,
		WriteTimeout:      f.opts.WriteTimeout,
		IdleTimeout:       f.opts.IdleTimeout,
		MaxHeaderBytes:    f.opts.MaxHeaderBytes,
		ErrorLog:          log.New(netErrorLog{f}, "", 0),
	}
	if f.opts.TLS != nil {
		srv.TLSConfig = f.opts.TLS.Clone()
	}
	streams := f.opts.MaxConcurrentStreams
	if streams == 0 {
		streams = defaultMaxConcurrentStreams
	}
	h2 := &http2.Server{MaxConcurrentStreams: streams, IdleTimeout: f.opts.IdleTimeout}
	if err := http2.ConfigureServer(srv, h2); err != nil {
		f.log.Error("HTTP/2 cannot be configured; HTTPS serves HTTP/1.1 only", zap.Error(err))
	}
	f.net, f.h2 = srv, h2
}

// netTLSHandler is what the TLS server runs: the pipeline, with Alt-Svc when HTTP/3 is served.
func (f *Front) netTLSHandler() http.Handler {
	h := f.NetHandler()
	if f.opts.AltSvc == "" {
		return h
	}
	alt := []string{f.opts.AltSvc}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Alt-Svc"] = alt
		h.ServeHTTP(w, r)
	})
}

// ServeTLS serves HTTPS on ln until Shutdown (Options.TLS: certificates, client certificates;
// HTTP/2 by ALPN). Like Serve, it returns nil once Shutdown was called.
func (f *Front) ServeTLS(ln net.Listener) error {
	f.mu.Lock()
	srv := f.net
	if f.shut || srv == nil || srv.TLSConfig == nil {
		f.mu.Unlock()
		_ = ln.Close()
		if f.shut {
			return nil
		}
		return errors.New("httpfront: ServeTLS without Options.TLS")
	}
	f.mu.Unlock()
	if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serveH2C serves a cleartext HTTP/2 connection whose preface conn.go has read, until it ends
// (a drain's GOAWAY ends it once its streams are done).
func (f *Front) serveH2C(c net.Conn) {
	f.mu.Lock()
	if f.netShut {
		f.mu.Unlock()
		_ = c.Close()
		return
	}
	f.h2cConns.Add(1)
	f.mu.Unlock()
	defer f.h2cConns.Done()
	f.h2.ServeConn(c, &http2.ServeConnOpts{
		Context:          context.Background(),
		BaseConfig:       f.net,
		Handler:          netHandler{f: f, serve: f.plainHandler()},
		SawClientPreface: true,
	})
}

// shutdownNet drains the net/http side: no new connections, a GOAWAY on every HTTP/2
// connection (h2c ones too), then every request in flight finishes, until ctx ends.
func (f *Front) shutdownNet(ctx context.Context) error {
	f.mu.Lock()
	f.netShut = true
	srv := f.net
	f.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx) // runs http2's graceful shutdown: the h2c connections' GOAWAY too
	done := make(chan struct{})
	go func() { f.h2cConns.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// plainHandler is what pivot.address's requests run: the pipeline, or the redirect to HTTPS.
func (f *Front) plainHandler() fasthttp.RequestHandler {
	if f.opts.RedirectTLS > 0 {
		return f.redirectTLS
	}
	return f.serve
}

// redirectTLS answers 308 to the same host, path and query on the HTTPS port (pivot.ssl.redirect;
// the port is left out when 443), as RoadRunner's http plugin does.
func (f *Front) redirectTLS(c *fasthttp.RequestCtx) {
	host := string(c.Host())
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if host == "" {
		f.writeError(c, http.StatusBadRequest, "no Host to redirect to")
		return
	}
	target := "https://"
	if f.opts.RedirectTLS == 443 {
		if bytes.IndexByte([]byte(host), ':') >= 0 {
			target += "[" + host + "]"
		} else {
			target += host
		}
	} else {
		target += net.JoinHostPort(host, strconv.Itoa(f.opts.RedirectTLS))
	}
	uri := c.Request.Header.RequestURI()
	if len(uri) == 0 || uri[0] != '/' {
		uri = c.Request.URI().RequestURI() // absolute-form: its path and query
	}
	target += string(uri)
	f.metrics.CountStatus(http.StatusPermanentRedirect)
	c.Response.Header.Set(fasthttp.HeaderLocation, target)
	c.Response.SetStatusCode(http.StatusPermanentRedirect)
	noteResponse(c)
}

// netErrorLog is the net/http server's ErrorLog: TLS handshake failures are counted
// (TLSMetrics) and logged at debug level (a scanner or an old client is no event), the rest
// are warnings.
type netErrorLog struct{ f *Front }

func (l netErrorLog) Write(p []byte) (int, error) {
	msg := string(bytes.TrimSpace(p))
	if bytes.Contains(p, []byte("TLS handshake error")) {
		if m, ok := l.f.metrics.(TLSMetrics); ok {
			m.TLSHandshakeError()
		}
		l.f.log.Debug(msg)
		return len(p), nil
	}
	l.f.log.Warn(msg)
	return len(p), nil
}
