package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/tlscert/certtest"
	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/http2"
)

// pivot.ssl, pivot.http2: HTTPS (HTTP/2 and HTTP/1.1) and h2c through the same pipeline as
// pivot.address, with the real plugin graph and PHP workers.

type tlsStack struct {
	*stack
	https   string // https://127.0.0.1:PORT
	ca      *certtest.CA
	dir     string
	sslAddr string
}

type tlsOptions struct {
	rootCA   bool   // pivot.ssl.root_ca: client certificates required
	redirect bool   // pivot.ssl.redirect
	h2c      bool   // pivot.http2.h2c
	extra    string // more of the pivot section (indented by 2)
	worker   string // the PHP script (default examples/hello/worker.php)
}

func startTLSStack(t *testing.T, o tlsOptions) *tlsStack {
	t.Helper()
	dir := t.TempDir()
	ca := certtest.NewCA(t, "pivot test CA")
	certFile, keyFile := ca.Server(t, "pivot server 1").Write(t, dir, "server")
	sslAddr := testsupport.FreeAddr(t)
	var y strings.Builder
	fmt.Fprintf(&y, "  ssl:\n    address: %s\n    cert: %s\n    key: %s\n", sslAddr, certFile, keyFile)
	if o.rootCA {
		fmt.Fprintf(&y, "    root_ca: %s\n", ca.WriteCA(t, dir, "ca"))
	}
	if o.redirect {
		y.WriteString("    redirect: true\n")
	}
	if o.h2c {
		y.WriteString("  http2:\n    h2c: true\n")
	}
	y.WriteString("  shutdown_timeout: 10s\n")
	y.WriteString(o.extra)
	y.WriteString("  pool:\n    num_workers: 2\n    allocate_timeout: 10s\n    destroy_timeout: 10s\n")
	s := startStack(t, stackOptions{pivot: y.String(), worker: o.worker})
	return &tlsStack{stack: s, https: "https://" + sslAddr, ca: ca, dir: dir, sslAddr: sslAddr}
}

// client is a Go client trusting the test CA; h2 forces HTTP/2 (else HTTP/1.1 only).
func (s *tlsStack) client(h2 bool, certs ...tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: s.ca.Pool(), Certificates: certs}
	if h2 {
		return &http.Client{Timeout: 20 * time.Second, Transport: &http2.Transport{TLSClientConfig: cfg}}
	}
	cfg.NextProtos = []string{"http/1.1"}
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: false,
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
}

func TestTLSServesHTTP2AndHTTP11(t *testing.T) {
	s := startTLSStack(t, tlsOptions{})
	for _, h2 := range []bool{true, false} {
		c := s.client(h2)
		resp, body := testsupport.DoWith(t, c, "GET", s.https+"/hello", nil, nil)
		wantMajor := 1
		if h2 {
			wantMajor = 2
		}
		if resp.StatusCode != 200 || string(body) != "Hello, World!" || resp.ProtoMajor != wantMajor {
			t.Fatalf("h2=%v: %s %d %q", h2, resp.Proto, resp.StatusCode, body)
		}
		if resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("Content-Length") != "13" {
			t.Errorf("h2=%v: headers %v", h2, resp.Header)
		}
		// headers and cookies reach PHP as over HTTP/1.1; the Host is the authority
		resp, body = testsupport.DoWith(t, c, "GET", s.https+"/cookies", nil, http.Header{"Cookie": {"x=1; y=2"}})
		if !strings.Contains(string(body), `"x":"1"`) || !strings.Contains(string(body), `"y":"2"`) || len(resp.Header.Values("Set-Cookie")) != 2 {
			t.Errorf("h2=%v cookies: %s %v", h2, body, resp.Header)
		}
		_, body = testsupport.DoWith(t, c, "GET", s.https+"/headers", nil, http.Header{"X-Test": {"a"}})
		var hd struct {
			Headers map[string][]string `json:"headers"`
			Host    string              `json:"host"`
		}
		if err := json.Unmarshal(body, &hd); err != nil || hd.Headers["X-Test"][0] != "a" || hd.Host != s.sslAddr {
			t.Errorf("h2=%v headers: %s (%v)", h2, body, err)
		}
		// HEAD
		resp, body = testsupport.DoWith(t, c, "HEAD", s.https+"/hello", nil, nil)
		if resp.StatusCode != 200 || len(body) != 0 {
			t.Errorf("h2=%v HEAD: %d %q", h2, resp.StatusCode, body)
		}
	}
	// the plain listener still serves HTTP/1.1
	if resp, body := testsupport.Do(t, "GET", s.base+"/hello", nil, nil); resp.StatusCode != 200 || string(body) != "Hello, World!" {
		t.Fatalf("plain: %d %q", resp.StatusCode, body)
	}
}

func TestTLSHTTP2StreamsChunkByChunk(t *testing.T) {
	s := startTLSStack(t, tlsOptions{})
	resp, err := s.client(true).Get(s.https + "/stream?chunks=4&delay_ms=300")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("proto %s", resp.Proto)
	}
	r := bufio.NewReader(resp.Body)
	start := time.Now()
	var arrivals []time.Duration
	for i := 0; i < 4; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line != fmt.Sprintf("chunk %d\n", i) {
			t.Fatalf("chunk %d: %q", i, line)
		}
		arrivals = append(arrivals, time.Since(start))
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("after the last chunk: %v", err)
	}
	// each chunk arrives as the worker sends it, 300 ms apart, not all at the end
	if arrivals[0] > 250*time.Millisecond || arrivals[3]-arrivals[0] < 700*time.Millisecond {
		t.Fatalf("chunks were not streamed: %v", arrivals)
	}
}

func TestTLSHTTP2Bodies(t *testing.T) {
	s := startTLSStack(t, tlsOptions{extra: "  max_request_size: 1\n"})
	c := s.client(true)

	payload := bytes.Repeat([]byte("pivot!"), 50_000) // 300 KB
	resp, body := testsupport.DoWith(t, c, "POST", s.https+"/echo", bytes.NewReader(payload), nil)
	sum := sha256.Sum256(payload)
	if resp.StatusCode != 200 || !bytes.Equal(body, payload) || resp.Header.Get("X-Body-Sha256") != hex.EncodeToString(sum[:]) {
		t.Fatalf("echo over h2: %d, %d bytes", resp.StatusCode, len(body))
	}
	// no Content-Length (an io.Reader of unknown size: DATA frames until END_STREAM)
	resp, body = testsupport.DoWith(t, c, "POST", s.https+"/echo", io.MultiReader(bytes.NewReader(payload[:1000])), nil)
	if resp.StatusCode != 200 || len(body) != 1000 {
		t.Fatalf("echo of unknown length: %d, %d bytes", resp.StatusCode, len(body))
	}

	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("title", "over h2")
	fw, _ := mw.CreateFormFile("doc", "notes.txt")
	file := bytes.Repeat([]byte("line\n"), 20_000)
	_, _ = fw.Write(file)
	_ = mw.Close()
	resp, body = testsupport.DoWith(t, c, "POST", s.https+"/upload", &mp, http.Header{"Content-Type": {mw.FormDataContentType()}})
	fsum := sha256.Sum256(file)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"title":"over h2"`) ||
		!strings.Contains(string(body), hex.EncodeToString(fsum[:])) {
		t.Fatalf("upload over h2: %d %s", resp.StatusCode, body)
	}

	// over pivot.max_request_size (1 MB): 413, announced or not
	big := bytes.Repeat([]byte("x"), 1<<20+10)
	resp, _ = testsupport.DoWith(t, c, "POST", s.https+"/echo", bytes.NewReader(big), nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("announced body over max_request_size: %d", resp.StatusCode)
	}
	resp, _ = testsupport.DoWith(t, c, "POST", s.https+"/echo", io.MultiReader(bytes.NewReader(big)), nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("streamed body over max_request_size: %d", resp.StatusCode)
	}
}

func TestTLSRedirectFromThePlainListener(t *testing.T) {
	s := startTLSStack(t, tlsOptions{redirect: true})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, _ := testsupport.DoWith(t, c, "GET", s.base+"/query?a=1&b=%20x", nil, nil)
	_, port, _ := net.SplitHostPort(s.sslAddr)
	want := "https://127.0.0.1:" + port + "/query?a=1&b=%20x"
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("redirect: %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	// following it lands on HTTPS
	c2 := s.client(false)
	c2.CheckRedirect = nil
	resp, body := testsupport.DoWith(t, c2, "GET", s.base+"/hello", nil, nil)
	if resp.StatusCode != 200 || string(body) != "Hello, World!" || resp.TLS == nil {
		t.Fatalf("after the redirect: %d %q tls=%v", resp.StatusCode, body, resp.TLS != nil)
	}
}

func TestTLSClientCertificates(t *testing.T) {
	s := startTLSStack(t, tlsOptions{rootCA: true})
	// without a certificate: the handshake fails, and is counted
	if _, err := s.client(true).Get(s.https + "/hello"); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	// a certificate of another CA: refused too
	other := certtest.NewCA(t, "another CA").Client(t, "intruder")
	if _, err := s.client(true, other.TLS(t)).Get(s.https + "/hello"); err == nil {
		t.Fatal("a client with a certificate of another CA was served")
	}
	// with one of root_ca's: served
	good := s.ca.Client(t, "client 1")
	for _, h2 := range []bool{true, false} {
		resp, body := testsupport.DoWith(t, s.client(h2, good.TLS(t)), "GET", s.https+"/hello", nil, nil)
		if resp.StatusCode != 200 || string(body) != "Hello, World!" {
			t.Fatalf("h2=%v with a client certificate: %d %q", h2, resp.StatusCode, body)
		}
	}
	testsupport.WaitFor(t, 5*time.Second, "rr_pivot_tls_handshake_errors_total >= 2", func() bool {
		_, m := testsupport.Do(t, "GET", s.metrics+"/metrics", nil, nil)
		return metricAtLeast(string(m), "rr_pivot_tls_handshake_errors_total", 2)
	})
}

func metricAtLeast(metrics, name string, min float64) bool {
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, name+" ") {
			var v float64
			_, _ = fmt.Sscanf(strings.TrimPrefix(line, name+" "), "%g", &v)
			return v >= min
		}
	}
	return false
}

func TestTLSCertificateReload(t *testing.T) {
	s := startTLSStack(t, tlsOptions{})
	served := func() string {
		conn, err := tls.Dial("tcp", s.sslAddr, &tls.Config{RootCAs: s.ca.Pool()})
		if err != nil {
			return "error: " + err.Error()
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := served(); cn != "pivot server 1" {
		t.Fatalf("served %q", cn)
	}
	// a renewal replaces the files (by a rename): new connections get the new certificate
	s.ca.Server(t, "pivot server 2").Write(t, s.dir, "server")
	testsupport.WaitFor(t, 5*time.Second, "the new certificate", func() bool { return served() == "pivot server 2" })
	// a broken file keeps the certificate in use
	testsupport.WriteFile(t, s.dir+"/server.crt", "not a certificate")
	time.Sleep(time.Second)
	if cn := served(); cn != "pivot server 2" {
		t.Fatalf("after a broken file: %q", cn)
	}
	// and rr reset reloads it too (here: the fixed files)
	s.ca.Server(t, "pivot server 3").Write(t, s.dir, "server")
	if err := s.pivot.Reset(); err != nil {
		t.Fatal(err)
	}
	if cn := served(); cn != "pivot server 3" {
		t.Fatalf("after rr reset: %q", cn)
	}
}

func TestH2CPriorKnowledge(t *testing.T) {
	s := startTLSStack(t, tlsOptions{h2c: true})
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http2.Transport{AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}}
	resp, body := testsupport.DoWith(t, c, "GET", s.base+"/hello", nil, nil)
	if resp.StatusCode != 200 || string(body) != "Hello, World!" || resp.ProtoMajor != 2 {
		t.Fatalf("h2c: %s %d %q", resp.Proto, resp.StatusCode, body)
	}
	resp, body = testsupport.DoWith(t, c, "POST", s.base+"/echo", strings.NewReader("over h2c"), nil)
	if resp.StatusCode != 200 || string(body) != "over h2c" {
		t.Fatalf("h2c POST: %d %q", resp.StatusCode, body)
	}
	// HTTP/1.1 on the same listener, unchanged (POST, PUT: methods that start as PRI does)
	resp, body = testsupport.Do(t, "POST", s.base+"/echo", strings.NewReader("h1"), nil)
	if resp.StatusCode != 200 || string(body) != "h1" || resp.ProtoMajor != 1 {
		t.Fatalf("HTTP/1.1 beside h2c: %s %d %q", resp.Proto, resp.StatusCode, body)
	}
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-sS", "--http2-prior-knowledge", "-w", " %{http_version}", s.base+"/hello").CombinedOutput()
		if err != nil || string(out) != "Hello, World! 2" {
			t.Fatalf("curl --http2-prior-knowledge: %q %v", out, err)
		}
	}
}

func TestTLSCurlHTTP2(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	s := startTLSStack(t, tlsOptions{})
	caFile := s.ca.WriteCA(t, s.dir, "ca")
	out, err := exec.Command(curl, "-sS", "--http2", "--cacert", caFile, "-w", " %{http_version}", s.https+"/hello").CombinedOutput()
	if err != nil || string(out) != "Hello, World! 2" {
		t.Fatalf("curl --http2: %q %v", out, err)
	}
	out, err = exec.Command(curl, "-sS", "-N", "--http2", "--cacert", caFile, s.https+"/stream?chunks=3").CombinedOutput()
	if err != nil || string(out) != "chunk 0\nchunk 1\nchunk 2\n" {
		t.Fatalf("curl --http2 stream: %q %v", out, err)
	}
}

func TestTLSGracefulStopFinishesInFlightHTTP2(t *testing.T) {
	s := startTLSStack(t, tlsOptions{h2c: true})
	c := s.client(true)
	// the connection is up before the stop
	if resp, _ := testsupport.DoWith(t, c, "GET", s.https+"/hello", nil, nil); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.Get(s.https + "/sleep?ms=1500")
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, string(b), err}
	}()
	time.Sleep(300 * time.Millisecond)
	stopped := make(chan struct{})
	go func() { s.stop(); close(stopped) }()
	r := <-done
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, `"slept":1500`) {
		t.Fatalf("in-flight request during the stop: %d %q %v", r.status, r.body, r.err)
	}
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("the stop did not end")
	}
	if _, err := (&net.Dialer{Timeout: time.Second}).Dial("tcp", s.sslAddr); err == nil {
		t.Fatal("pivot.ssl.address still accepts after the stop")
	}
}

// The middleware, the limiter and early hints behave over HTTP/2 as over HTTP/1.1: the TLS path
// runs the same pipeline.
func TestTLSHTTP2ThroughTheMiddleware(t *testing.T) {
	dir, css := publicDir(t)
	s := startTLSStack(t, tlsOptions{worker: testsupport.RepoPath(t, "tests/integration/testdata/rr-style-worker.php"),
		extra: fmt.Sprintf("  middleware: [\"static\", \"gzip\"]\n  static:\n    dir: %s\n    calculate_etag: true\n"+
			"  limit:\n    rate: 0\n    routes:\n      - { prefix: /limited, rate: 0.01, burst: 2 }\n", dir)})
	cfg := &tls.Config{RootCAs: s.ca.Pool()}
	raw := &http.Client{Timeout: 20 * time.Second, Transport: &http2.Transport{TLSClientConfig: cfg, DisableCompression: true}}

	// a static file: ETag, 304, a range
	resp, body := testsupport.DoWith(t, raw, "GET", s.https+"/style.css", nil, nil)
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || string(body) != css || resp.Header.Get("Content-Length") != fmt.Sprint(len(css)) {
		t.Fatalf("static over h2: %s %d %v", resp.Proto, resp.StatusCode, resp.Header)
	}
	etag := resp.Header.Get("Etag")
	if resp, _ = testsupport.DoWith(t, raw, "GET", s.https+"/style.css", nil, http.Header{"If-None-Match": {etag}}); resp.StatusCode != 304 {
		t.Fatalf("revalidation over h2: %d", resp.StatusCode)
	}
	if resp, body = testsupport.DoWith(t, raw, "GET", s.https+"/style.css", nil, http.Header{"Range": {"bytes=0-3"}}); resp.StatusCode != 206 || string(body) != css[:4] {
		t.Fatalf("range over h2: %d %q", resp.StatusCode, body)
	}
	// gzip: a file, and PHP's stream frame by frame
	resp, body = testsupport.DoWith(t, raw, "GET", s.https+"/style.css", nil, http.Header{"Accept-Encoding": {"gzip"}})
	if resp.Header.Get("Content-Encoding") != "gzip" || string(gunzip(t, body)) != css {
		t.Fatalf("gzipped file over h2: %v", resp.Header)
	}
	resp, body = testsupport.DoWith(t, raw, "GET", s.https+"/stream?size=50000&chunk=3000&seed=9", nil, http.Header{"Accept-Encoding": {"gzip"}})
	if resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(gunzip(t, body), expectedRecords(9, 50000)) {
		t.Fatalf("gzipped stream over h2: %v", resp.Header)
	}
	// 103 Early Hints over HTTP/2
	var got []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		got = append(got, code)
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", s.https+"/hints", nil)
	resp, err := raw.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "final" || len(got) != 1 || got[0] != 103 {
		t.Fatalf("hints over h2: final %d %q, interim %v", resp.StatusCode, body, got)
	}
	// pivot.limit: the burst, then 429 with Retry-After
	var statuses []int
	for i := 0; i < 3; i++ {
		resp, _ = testsupport.DoWith(t, raw, "GET", s.https+"/limited", nil, nil)
		statuses = append(statuses, resp.StatusCode)
	}
	if statuses[2] != http.StatusTooManyRequests || statuses[0] == http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("limit over h2: %v %v", statuses, resp.Header)
	}
}

// pivot.http3: HTTP/3 over QUIC with pivot.ssl's certificate, advertised by Alt-Svc on the
// HTTPS responses; the same pipeline (a stream arrives chunk by chunk, a POST body).
func TestHTTP3(t *testing.T) {
	h3Addr := testsupport.FreeAddr(t) // a free TCP port; its UDP twin is free in practice
	s := startTLSStack(t, tlsOptions{extra: "  http3:\n    address: " + h3Addr + "\n"})
	_, port, _ := net.SplitHostPort(h3Addr)

	resp, _ := testsupport.DoWith(t, s.client(true), "GET", s.https+"/hello", nil, nil)
	if want := `h3=":` + port + `"; ma=86400`; resp.Header.Get("Alt-Svc") != want {
		t.Fatalf("Alt-Svc %q, want %q", resp.Header.Get("Alt-Svc"), want)
	}
	rt := &http3.RoundTripper{TLSClientConfig: &tls.Config{RootCAs: s.ca.Pool()}}
	defer rt.Close()
	c := &http.Client{Timeout: 20 * time.Second, Transport: rt}
	h3 := "https://" + h3Addr
	resp, body := testsupport.DoWith(t, c, "GET", h3+"/hello", nil, nil)
	if resp.ProtoMajor != 3 || resp.StatusCode != 200 || string(body) != "Hello, World!" {
		t.Fatalf("HTTP/3: %s %d %q", resp.Proto, resp.StatusCode, body)
	}
	resp, body = testsupport.DoWith(t, c, "POST", h3+"/echo", strings.NewReader("over h3"), nil)
	if resp.StatusCode != 200 || string(body) != "over h3" {
		t.Fatalf("HTTP/3 POST: %d %q", resp.StatusCode, body)
	}
	sresp, err := c.Get(h3 + "/stream?chunks=3&delay_ms=300")
	if err != nil {
		t.Fatal(err)
	}
	defer sresp.Body.Close()
	r := bufio.NewReader(sresp.Body)
	start := time.Now()
	if line, err := r.ReadString('\n'); err != nil || line != "chunk 0\n" || time.Since(start) > 250*time.Millisecond {
		t.Fatalf("first chunk over h3: %q %v after %v", line, err, time.Since(start))
	}
	rest, _ := io.ReadAll(r)
	if string(rest) != "chunk 1\nchunk 2\n" {
		t.Fatalf("rest over h3: %q", rest)
	}
}

func TestHTTP3GracefulStopFinishesInFlight(t *testing.T) {
	h3Addr := testsupport.FreeAddr(t)
	s := startTLSStack(t, tlsOptions{extra: "  http3:\n    address: " + h3Addr + "\n"})
	rt := &http3.RoundTripper{TLSClientConfig: &tls.Config{RootCAs: s.ca.Pool()}}
	defer rt.Close()
	c := &http.Client{Timeout: 20 * time.Second, Transport: rt}
	if resp, _ := testsupport.DoWith(t, c, "GET", "https://"+h3Addr+"/hello", nil, nil); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	done := make(chan string, 1)
	go func() {
		resp, err := c.Get("https://" + h3Addr + "/sleep?ms=1500")
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}()
	time.Sleep(300 * time.Millisecond)
	stopped := make(chan struct{})
	go func() { s.stop(); close(stopped) }()
	if got := <-done; !strings.Contains(got, `"slept":1500`) {
		t.Fatalf("in-flight HTTP/3 request during the stop: %q", got)
	}
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("the stop did not end")
	}
}
