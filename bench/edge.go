package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// The edge section (issue 19): pivot with TLS, HTTP/2, pivot.limit, pivot.breaker and gzip on,
// over HTTPS, against stock RoadRunner http/v4 over HTTPS with the same certificate and its
// gzip middleware (stock has no rate limiter and no breaker: pivot does that work, stock
// does not). Both serve examples/hello/worker.php with the same workers. Clients:
//
//   - h2load (HTTP/2 over TLS, nghttp2-client): conns concurrent streams, h2loadShape;
//   - wrk (HTTP/1.1 over TLS): conns connections.
//
// Paths: /hello (13 bytes: below every gzip threshold, so gzip only checks), and
// /query?pad=… (a JSON answer of about 1 KB that both compress, Accept-Encoding: gzip).
// Rounds interleave pivot and stock per client, path and conns; medians are shown, and the
// ratio pivot/stock of req/s.

const (
	edgeKindPivot = "pivot tls+limit+breaker+gzip"
	edgeKindStock = "stock tls+gzip"
	clientH2load  = "h2load h2"
	clientWrk     = "wrk http/1.1"
)

// edgePaths: what the section drives (name → path).
var edgePaths = []struct{ name, path string }{
	{"hello", "/hello"},
	{"json 1 KB gzip", "/query?pad=" + strings.Repeat("pivot", 180)},
}

type edgeBench struct {
	Workers int        `json:"workers"`
	Rows    []*edgeRow `json:"rows"`
	// Ratios: pivot's req/s over stock's, per "client path cC" (medians).
	Ratios map[string]float64 `json:"pivot/stock"`
	// RoundRatios: the lowest and highest ratio within one round.
	RoundRatios map[string][2]float64 `json:"round_ratio_range"`
	Notes       []string              `json:"notes"`
}

type edgeRow struct {
	Server string  `json:"server"`
	Client string  `json:"client"`
	Path   string  `json:"path"`
	Conns  int     `json:"connections"` // concurrent requests (h2load: streams over its connections)
	RPS    float64 `json:"rps"`
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
	Errors int64   `json:"errors"`
	// CPURR: rr's CPU µs per request (Go, TLS and the kernel's socket work)
	CPURR  float64      `json:"cpu_us_per_req_rr"`
	Rounds []*edgeRound `json:"rounds"`
	Failed string       `json:"failed,omitempty"`
}

type edgeRound struct {
	N        int     `json:"round"`
	RPS      float64 `json:"rps"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Errors   int64   `json:"errors"`
	CPURR    float64 `json:"cpu_us_per_req_rr"`
	Protocol string  `json:"protocol,omitempty"`
}

func (r *edgeRow) key() string { return fmt.Sprintf("%s %s c%d", r.Client, r.Path, r.Conns) }

// edgeServer is a started rr with its HTTPS base URL.
type edgeServer struct {
	*server
	kind  string
	https string // https://127.0.0.1:PORT
}

// runEdgeBench measures the section; failures are recorded, never fatal.
func runEdgeBench(ctx context.Context, cfg *config, ps *procs, dir string, res *results) *edgeBench {
	eb := &edgeBench{Workers: slices.Max(cfg.workers), Ratios: map[string]float64{}, RoundRatios: map[string][2]float64{}}
	certFile, keyFile, err := writeSelfSigned(dir)
	if err != nil {
		res.errorf("edge: certificate: %v", err)
		return eb
	}
	clients := []string{clientWrk}
	if cfg.h2load != "" {
		clients = append([]string{clientH2load}, clients...)
	} else {
		eb.Notes = append(eb.Notes, "h2load not found (scripts/install-deps.sh bench installs nghttp2-client): HTTP/2 rows skipped")
	}
	var servers []*edgeServer
	for _, kind := range []string{edgeKindPivot, edgeKindStock} {
		s, err := startEdgeServer(ctx, ps, cfg, dir, kind, certFile, keyFile, eb)
		if err != nil {
			if ctx.Err() == nil {
				res.errorf("edge: %s failed to start: %v", kind, err)
			}
			return eb
		}
		progress("edge: started %s at %s (%d PHP workers)", kind, s.https, eb.Workers)
		servers = append(servers, s)
		// warm-up over TLS: the handshake path, the Go runtime, opcache
		if _, _, err := runWrk(ctx, cfg.wrk, s.https+"/hello", cfg.threads, slices.Max(cfg.conns), cfg.warmup); err != nil && ctx.Err() == nil {
			res.errorf("edge: warm-up %s: %v", kind, err)
		}
	}
	rows := map[string]*edgeRow{}
	for r := 1; r <= cfg.rounds; r++ {
		for _, client := range clients {
			for _, p := range edgePaths {
				for _, c := range cfg.conns {
					for _, s := range servers {
						if ctx.Err() != nil {
							return eb
						}
						key := s.kind + "|" + client + "|" + p.name + "|" + fmt.Sprint(c)
						row := rows[key]
						if row == nil {
							row = &edgeRow{Server: s.kind, Client: client, Path: p.name, Conns: c}
							rows[key] = row
							eb.Rows = append(eb.Rows, row)
						}
						rd, err := measureEdge(ctx, cfg, dir, s, client, p.path, c)
						if err != nil {
							if ctx.Err() != nil {
								return eb
							}
							res.errorf("edge round %d %s %s %s c%d: %v", r, s.kind, client, p.name, c, err)
							continue
						}
						rd.N = r
						row.Rounds = append(row.Rounds, rd)
						progress("edge round %d/%d %-30s %-12s %-15s c%-3d %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d",
							r, cfg.rounds, s.kind, client, p.name, c, rd.RPS, rd.P50, rd.P99, rd.Errors)
					}
				}
			}
		}
	}
	for _, s := range servers {
		s.stop()
	}
	eb.summarize()
	return eb
}

// startEdgeServer starts pivot or stock with TLS on a port of its own and waits until its plain
// listener answers.
func startEdgeServer(ctx context.Context, ps *procs, cfg *config, dir, kind, certFile, keyFile string, eb *edgeBench) (*edgeServer, error) {
	workers := eb.Workers
	sslPort, err := freePort()
	if err != nil {
		return nil, err
	}
	ssl := fmt.Sprintf("  ssl:\n    address: 127.0.0.1:%d\n    cert: %s\n    key: %s\n  middleware: [\"gzip\"]\n", sslPort, certFile, keyFile)
	spec := rrSpec{kind: "edge " + kind, section: "http", plugin: "http", path: "/hello", options: ssl,
		script: filepath.Join(cfg.repo, "examples", "hello", "worker.php")}
	if kind == edgeKindPivot {
		spec.section, spec.plugin = "pivot", "pivot"
		// a budget no run reaches, and a breaker that never opens on a healthy worker: their
		// work is done per request, their refusals never
		spec.options += "  limit:\n    rate: 100000000\n    burst: 100000000\n  breaker:\n    failure_ratio: 0.5\n    min_requests: 20\n"
	}
	s, err := startReady(ctx, func() (*server, error) { return startRR(ps, cfg, dir, spec, workers) })
	if err != nil {
		return nil, err
	}
	es := &edgeServer{server: s, kind: kind, https: fmt.Sprintf("https://127.0.0.1:%d", sslPort)}
	if err := es.preflight(ctx, eb); err != nil {
		s.stop()
		return nil, err
	}
	return es, nil
}

// preflight checks what the section claims to measure: HTTP/2 over TLS, and the JSON path
// gzipped; it notes whether the 13-byte hello is (pivot's gzip skips bodies under 200 bytes,
// stock's compresses them).
func (s *edgeServer) preflight(ctx context.Context, eb *edgeBench) error {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the bench's own self-signed certificate
	defer c.CloseIdleConnections()
	for _, p := range edgePaths {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.https+p.path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept-Encoding", "gzip") // set by hand: the transport leaves the body as sent
		resp, err := c.Do(req)
		if err != nil {
			return fmt.Errorf("preflight %s: %w", p.name, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		gzipped := resp.Header.Get("Content-Encoding") == "gzip"
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || (!gzipped && p.name != "hello") {
			return fmt.Errorf("preflight %s: %s %d Content-Encoding %q; want HTTP/2 200, the JSON gzipped",
				p.name, resp.Proto, resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		if p.name == "hello" {
			eb.Notes = append(eb.Notes, fmt.Sprintf("%s: hello gzipped: %v", s.kind, gzipped))
		}
	}
	return nil
}

// measureEdge is one run of a client against a server, with rr's CPU time during it.
func measureEdge(ctx context.Context, cfg *config, dir string, s *edgeServer, client, path string, conns int) (*edgeRound, error) {
	for _, p := range s.procs() {
		if p.exited() {
			return nil, p.exitError()
		}
	}
	cpu0 := s.frontCPU()
	rd := &edgeRound{}
	var requests int64
	switch client {
	case clientH2load:
		r, _, err := runH2load(ctx, cfg.h2load, s.https+path, dir, conns, cfg.duration, []string{"Accept-Encoding: gzip"})
		if err != nil {
			return nil, err
		}
		if r.Protocol != "h2" {
			return nil, fmt.Errorf("h2load negotiated %q, not h2", r.Protocol)
		}
		rd.RPS, rd.P50, rd.P99, rd.Errors, rd.Protocol, requests = r.RPS, r.P50, r.P99, r.Errors(), r.Protocol, r.Requests
	case clientWrk:
		// wrk sends no Accept-Encoding by itself: the same header as h2load's, by a Lua-free -H
		args := wrkArgs(s.https+path, cfg.threads, conns, cfg.duration)
		args = append([]string{"-H", "Accept-Encoding: gzip"}, args...)
		w, _, err := runWrkArgs(ctx, cfg.wrk, args)
		if err != nil {
			return nil, err
		}
		rd.RPS, rd.P50, rd.P99, rd.Errors, requests = w.RPS, w.P50, w.P99, w.Errors(), w.Requests
	}
	if requests > 0 {
		rd.CPURR = round3(float64((s.frontCPU() - cpu0).Microseconds()) / float64(requests))
	}
	return rd, nil
}

func (eb *edgeBench) summarize() {
	for _, row := range eb.Rows {
		if len(row.Rounds) == 0 {
			row.Failed = "no successful round"
			continue
		}
		pick := func(f func(*edgeRound) float64) float64 {
			v := make([]float64, len(row.Rounds))
			for i, rd := range row.Rounds {
				v[i] = f(rd)
			}
			return median(v)
		}
		row.RPS = pick(func(rd *edgeRound) float64 { return rd.RPS })
		row.P50 = pick(func(rd *edgeRound) float64 { return rd.P50 })
		row.P99 = pick(func(rd *edgeRound) float64 { return rd.P99 })
		row.CPURR = pick(func(rd *edgeRound) float64 { return rd.CPURR })
		row.Errors = 0
		for _, rd := range row.Rounds {
			row.Errors += rd.Errors
		}
	}
	for _, p := range eb.Rows {
		if p.Server != edgeKindPivot || p.Failed != "" {
			continue
		}
		for _, s := range eb.Rows {
			if s.Server != edgeKindStock || s.Failed != "" || s.key() != p.key() {
				continue
			}
			eb.Ratios[p.key()] = round3(p.RPS / s.RPS)
			inStock := map[int]float64{}
			for _, rd := range s.Rounds {
				inStock[rd.N] = rd.RPS
			}
			lo, hi := 0.0, 0.0
			for _, rd := range p.Rounds {
				if o := inStock[rd.N]; o > 0 && rd.RPS > 0 {
					v := rd.RPS / o
					if lo == 0 || v < lo {
						lo = v
					}
					hi = max(hi, v)
				}
			}
			if lo > 0 {
				eb.RoundRatios[p.key()] = [2]float64{round3(lo), round3(hi)}
			}
		}
	}
}

func printEdge(out io.Writer, eb *edgeBench) {
	if eb == nil {
		return
	}
	fmt.Fprintf(out, "\nThe edge over HTTPS (%d workers each; the same self-signed ECDSA certificate; GET, Accept-Encoding: gzip)\n", eb.Workers)
	fmt.Fprintf(out, "%s: pivot.ssl (HTTP/2 by ALPN), pivot.limit (memory, never reached), pivot.breaker, pivot.middleware [gzip]\n", edgeKindPivot)
	fmt.Fprintf(out, "%s: RoadRunner http/v4 with http.ssl and http.middleware [gzip]; it has no rate limiter or breaker\n", edgeKindStock)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "client\tpath\tconns\tserver\treq/s\tp50 ms\tp99 ms\terrors\trr CPU µs/req\tpivot/stock\tper round\t")
	for _, row := range eb.Rows {
		if row.Failed != "" {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t\t\t\t\t\t\t\n", row.Client, row.Path, row.Conns, row.Server, row.Failed)
			continue
		}
		ratio, per := "", ""
		if row.Server == edgeKindPivot {
			if v, ok := eb.Ratios[row.key()]; ok {
				ratio = fmt.Sprintf("%.2f", v)
			}
			if v, ok := eb.RoundRatios[row.key()]; ok {
				per = fmt.Sprintf("%.2f–%.2f", v[0], v[1])
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%.0f\t%.2f\t%.2f\t%d\t%.1f\t%s\t%s\t\n",
			row.Client, row.Path, row.Conns, row.Server, row.RPS, row.P50, row.P99, row.Errors, row.CPURR, ratio, per)
	}
	_ = tw.Flush()
	fmt.Fprintln(out, "(h2load: conns concurrent streams, up to 10 per connection; wrk: conns connections)")
	for _, n := range eb.Notes {
		fmt.Fprintln(out, "note:", n)
	}
}

// writeSelfSigned writes a self-signed ECDSA P-256 certificate for 127.0.0.1 and its key under
// dir: both servers serve the same one (neither client verifies it).
func writeSelfSigned(dir string) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "pivot bench"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "bench-tls.crt"), filepath.Join(dir, "bench-tls.key")
	if err = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}
