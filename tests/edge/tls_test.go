package edge

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/testsupport"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/tlscert/certtest"
	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/http2"
)

// pivot.ssl, pivot.http2.h2c and pivot.http3 on the real binary: curl --http2 (Debian's curl
// has no HTTP/3, so quic-go's client speaks it), Go's HTTP/2 and HTTP/1.1 clients, h2c with
// prior knowledge, and the certificate reloaded by replacing its files and by `rr reset`.
func TestTLSHTTP2HTTP3AndH2COnTheBinary(t *testing.T) {
	t.Parallel()
	ca := certtest.NewCA(t, "edge test CA")
	// linkDir holds what the config names; realDir what the links lead to at first. The
	// watcher watches linkDir only, so a change inside realDir is seen by `rr reset` alone.
	linkDir, realDir := t.TempDir(), t.TempDir()
	ca.Server(t, "server 1").Write(t, realDir, "server")
	for _, f := range []string{"server.crt", "server.key"} {
		if err := os.Symlink(filepath.Join(realDir, f), filepath.Join(linkDir, f)); err != nil {
			t.Fatal(err)
		}
	}
	caFile := ca.WriteCA(t, t.TempDir(), "ca")
	sslAddr, h3Addr := testsupport.FreeAddr(t), testsupport.FreeAddr(t) // h3: the TCP port's UDP twin
	public, css := publicDir(t)
	r := startEdgeRR(t, edgeOptions{pivot: fmt.Sprintf(`  ssl:
    address: %s
    cert: %s
    key: %s
  http2:
    h2c: true
  http3:
    address: %s
  middleware: ["static", "gzip"]
  static:
    dir: %s
    forbid: [".htaccess"]
    calculate_etag: true
`, sslAddr, filepath.Join(linkDir, "server.crt"), filepath.Join(linkDir, "server.key"), h3Addr, public)})
	https := "https://" + sslAddr
	_, h3Port, _ := net.SplitHostPort(h3Addr)

	t.Run("curl --http2", func(t *testing.T) {
		res := curl(t, https+"/hello", "--http2", "--cacert", caFile)
		if res.status != 200 || res.body != "Hello, World!" || res.version != "2" {
			t.Fatalf("%d HTTP/%s %q", res.status, res.version, res.body)
		}
		if want := `h3=":` + h3Port + `"; ma=86400`; res.header["alt-svc"] != want {
			t.Fatalf("Alt-Svc %q, want %q", res.header["alt-svc"], want)
		}
		res = curl(t, https+"/echo", "--http2", "--cacert", caFile, "--data-binary", "posted over h2", "-H", "Content-Type: text/plain")
		if res.status != 200 || res.body != "posted over h2" || res.version != "2" {
			t.Fatalf("POST: %d HTTP/%s %q", res.status, res.version, res.body)
		}
		// -N: the stream's chunks as they come
		res = curl(t, https+"/stream?chunks=3", "--http2", "-N", "--cacert", caFile)
		if res.body != "chunk 0\nchunk 1\nchunk 2\n" {
			t.Fatalf("stream: %q", res.body)
		}
	})

	t.Run("Go's HTTP/2 and HTTP/1.1 clients", func(t *testing.T) {
		cfg := &tls.Config{RootCAs: ca.Pool()}
		h2 := &http.Client{Timeout: 20 * time.Second, Transport: &http2.Transport{TLSClientConfig: cfg}}
		h1 := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg,
			TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}} // no h2
		for want, c := range map[int]*http.Client{2: h2, 1: h1} {
			resp, body := testsupport.DoWith(t, c, "GET", https+"/hello", nil, nil)
			if resp.StatusCode != 200 || string(body) != "Hello, World!" || resp.ProtoMajor != want {
				t.Fatalf("HTTP/%d: %s %d %q", want, resp.Proto, resp.StatusCode, body)
			}
			resp, body = testsupport.DoWith(t, c, "GET", https+"/headers", nil, http.Header{"X-Edge": {"yes"}})
			if !strings.Contains(string(body), `"X-Edge":["yes"]`) {
				t.Fatalf("HTTP/%d headers to PHP: %s", want, body)
			}
		}
	})

	t.Run("HTTP/3 with quic-go's client", func(t *testing.T) {
		rt := &http3.RoundTripper{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}
		defer rt.Close()
		c := &http.Client{Timeout: 20 * time.Second, Transport: rt}
		resp, body := testsupport.DoWith(t, c, "GET", "https://"+h3Addr+"/hello", nil, nil)
		if resp.ProtoMajor != 3 || resp.StatusCode != 200 || string(body) != "Hello, World!" {
			t.Fatalf("%s %d %q", resp.Proto, resp.StatusCode, body)
		}
		resp, body = testsupport.DoWith(t, c, "POST", "https://"+h3Addr+"/echo", strings.NewReader("over h3"), nil)
		if resp.StatusCode != 200 || string(body) != "over h3" {
			t.Fatalf("POST: %d %q", resp.StatusCode, body)
		}
	})

	t.Run("h2c with prior knowledge beside HTTP/1.1", func(t *testing.T) {
		res := curl(t, r.base+"/hello", "--http2-prior-knowledge")
		if res.status != 200 || res.body != "Hello, World!" || res.version != "2" {
			t.Fatalf("curl h2c: %d HTTP/%s %q", res.status, res.version, res.body)
		}
		c := &http.Client{Timeout: 20 * time.Second, Transport: &http2.Transport{AllowHTTP: true,
			DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}}
		resp, body := testsupport.DoWith(t, c, "POST", r.base+"/echo", strings.NewReader("over h2c"), nil)
		if resp.ProtoMajor != 2 || resp.StatusCode != 200 || string(body) != "over h2c" {
			t.Fatalf("Go h2c: %s %d %q", resp.Proto, resp.StatusCode, body)
		}
		res = curl(t, r.base+"/hello", "--http1.1")
		if res.status != 200 || res.body != "Hello, World!" || res.version != "1.1" {
			t.Fatalf("HTTP/1.1 on the h2c port: %d HTTP/%s %q", res.status, res.version, res.body)
		}
	})

	t.Run("static and gzip through curl", func(t *testing.T) {
		secret := filepath.Join(t.TempDir(), "secret.txt")
		testsupport.WriteFile(t, secret, "outside-the-static-dir")
		rel, err := filepath.Rel(public, secret)
		if err != nil || !strings.HasPrefix(rel, "..") {
			t.Fatalf("secret.txt %q is not outside %s", rel, public)
		}
		escape := "/" + strings.ReplaceAll(filepath.ToSlash(rel), "..", "%2e%2e")
		for _, proto := range [][]string{{"--http1.1"}, {"--http2", "--cacert", caFile}} {
			base := r.base
			if proto[0] == "--http2" {
				base = https
			}
			// a file before PHP, with its ETag; then 304, a range, gzip
			res := curl(t, base+"/style.css", proto...)
			etag := res.header["etag"]
			if res.status != 200 || res.body != css || etag == "" || !strings.HasPrefix(res.header["content-type"], "text/css") {
				t.Fatalf("%s: %d %v %.60q", proto[0], res.status, res.header, res.body)
			}
			if res = curl(t, base+"/style.css", append(proto, "-H", "If-None-Match: "+etag)...); res.status != 304 || res.body != "" {
				t.Fatalf("%s revalidation: %d %q", proto[0], res.status, res.body)
			}
			if res = curl(t, base+"/style.css", append(proto, "-r", "0-3")...); res.status != 206 || res.body != css[:4] {
				t.Fatalf("%s range: %d %q", proto[0], res.status, res.body)
			}
			// --compressed decodes what the server encoded; gzip only is offered
			res = curl(t, base+"/style.css", append(proto, "--compressed", "-H", "Accept-Encoding: gzip")...)
			if res.status != 200 || res.header["content-encoding"] != "gzip" || res.body != css {
				t.Fatalf("%s gzipped file: %d %v", proto[0], res.status, res.header)
			}
			// PHP's response (JSON over 200 bytes) gzipped; brotli when it is offered first
			pad := strings.Repeat("z", 400)
			for enc, accept := range map[string]string{"gzip": "gzip", "br": "br, gzip"} {
				res = curl(t, base+"/query?pad="+pad, append(proto, "--compressed", "-H", "Accept-Encoding: "+accept)...)
				if res.status != 200 || res.header["content-encoding"] != enc || !strings.Contains(res.body, `"pad":"`+pad+`"`) {
					t.Fatalf("%s PHP response, Accept-Encoding %q: %d %v %.80q", proto[0], accept, res.status, res.header, res.body)
				}
			}
			// never the PHP source, never a forbidden file, no escape from dir
			for _, path := range []string{"/index.php", "/.htaccess", escape} {
				res = curl(t, base+path, append(proto, "--path-as-is")...)
				if strings.Contains(res.body, "<?php") || strings.Contains(res.body, "Deny from all") || strings.Contains(res.body, "outside-the-static-dir") {
					t.Fatalf("%s %s served a file: %d %q", proto[0], path, res.status, res.body)
				}
			}
		}
	})

	t.Run("the certificate reloads while rr runs", func(t *testing.T) {
		served := func() string {
			conn, err := tls.Dial("tcp", sslAddr, &tls.Config{RootCAs: ca.Pool()})
			if err != nil {
				return "error: " + err.Error()
			}
			defer conn.Close()
			return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
		}
		if cn := served(); cn != "server 1" {
			t.Fatalf("served %q", cn)
		}
		// a renewal renames new files over the old ones (here: over the symlinks)
		ca.Server(t, "server 2").Write(t, linkDir, "server")
		testsupport.WaitFor(t, 5*time.Second, "the renamed-in certificate", func() bool { return served() == "server 2" })
		// `cp` over the files: rewritten in place
		p3 := ca.Server(t, "server 3")
		testsupport.WriteFile(t, filepath.Join(linkDir, "server.key"), string(p3.KeyPEM))
		testsupport.WriteFile(t, filepath.Join(linkDir, "server.crt"), string(p3.CertPEM))
		testsupport.WaitFor(t, 5*time.Second, "the certificate rewritten in place", func() bool { return served() == "server 3" })
		// a Kubernetes-style symlink swap, to a new pair in realDir
		ca.Server(t, "server 4").Write(t, realDir, "server")
		for _, f := range []string{"server.crt", "server.key"} {
			tmp := filepath.Join(linkDir, f+".link")
			if err := os.Symlink(filepath.Join(realDir, f), tmp); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(linkDir, f)); err != nil {
				t.Fatal(err)
			}
		}
		testsupport.WaitFor(t, 5*time.Second, "the certificate behind swapped symlinks", func() bool { return served() == "server 4" })
		if res := curl(t, https+"/hello", "--http2", "--cacert", caFile); res.status != 200 {
			t.Fatalf("curl after the reloads: %d", res.status)
		}
		// the links' targets change where no watcher looks: only `rr reset` reads them again
		ca.Server(t, "server 5").Write(t, realDir, "server")
		time.Sleep(time.Second)
		if cn := served(); cn != "server 4" {
			t.Fatalf("a change outside the watched directory was picked up without a reset: %q", cn)
		}
		if out, err := r.CLI(time.Minute, "reset", "pivot"); err != nil {
			t.Fatalf("rr reset pivot: %v\n%s", err, out)
		}
		if cn := served(); cn != "server 5" {
			t.Fatalf("after rr reset: %q, want server 5", cn)
		}
	})
}

// publicDir is a pivot.static.dir with a stylesheet, PHP source and a forbidden .htaccess.
func publicDir(t *testing.T) (dir, css string) {
	t.Helper()
	dir = t.TempDir()
	css = strings.Repeat("body { color: #333; font-family: sans-serif; }\n", 20)
	testsupport.WriteFile(t, filepath.Join(dir, "style.css"), css)
	testsupport.WriteFile(t, filepath.Join(dir, "index.php"), "<?php echo 'source';")
	testsupport.WriteFile(t, filepath.Join(dir, ".htaccess"), "Deny from all")
	return dir, css
}

// pivot.ssl.root_ca (mTLS) and pivot.ssl.redirect on the real binary, with curl.
func TestMTLSAndRedirectOnTheBinary(t *testing.T) {
	t.Parallel()
	ca := certtest.NewCA(t, "edge mTLS CA")
	dir := t.TempDir()
	certFile, keyFile := ca.Server(t, "mtls server").Write(t, dir, "server")
	clientCert, clientKey := ca.Client(t, "client 1").Write(t, dir, "client")
	intruderCert, intruderKey := certtest.NewCA(t, "another CA").Client(t, "intruder").Write(t, dir, "intruder")
	caFile := ca.WriteCA(t, dir, "ca")
	sslAddr := testsupport.FreeAddr(t)
	r := startEdgeRR(t, edgeOptions{pivot: fmt.Sprintf(`  ssl:
    address: %s
    cert: %s
    key: %s
    root_ca: %s
    redirect: true
`, sslAddr, certFile, keyFile, caFile)})
	https := "https://" + sslAddr
	_, sslPort, _ := net.SplitHostPort(sslAddr)

	t.Run("a client without a certificate is refused", func(t *testing.T) {
		if res, err := curlErr(t, https+"/hello", "--http2", "--cacert", caFile); err == nil {
			t.Fatalf("curl without a client certificate was served: %d %q", res.status, res.body)
		}
		if res, err := curlErr(t, https+"/hello", "--http2", "--cacert", caFile, "--cert", intruderCert, "--key", intruderKey); err == nil {
			t.Fatalf("curl with another CA's certificate was served: %d %q", res.status, res.body)
		}
		c := &http.Client{Timeout: 20 * time.Second, Transport: &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
		if resp, err := c.Get(https + "/hello"); err == nil {
			resp.Body.Close()
			t.Fatalf("Go's client without a certificate was served: %d", resp.StatusCode)
		}
		testsupport.WaitFor(t, 5*time.Second, "rr_pivot_tls_handshake_errors_total >= 3", func() bool {
			return r.metric(t, "rr_pivot_tls_handshake_errors_total") >= 3
		})
	})

	t.Run("a client with root_ca's certificate is served", func(t *testing.T) {
		res := curl(t, https+"/hello", "--http2", "--cacert", caFile, "--cert", clientCert, "--key", clientKey)
		if res.status != 200 || res.body != "Hello, World!" || res.version != "2" {
			t.Fatalf("%d HTTP/%s %q", res.status, res.version, res.body)
		}
	})

	t.Run("http redirects to https", func(t *testing.T) {
		res := curl(t, r.base+"/query?a=1&b=%20x")
		want := "https://127.0.0.1:" + sslPort + "/query?a=1&b=%20x"
		if res.status != http.StatusPermanentRedirect || res.header["location"] != want {
			t.Fatalf("%d Location %q, want 308 %q", res.status, res.header["location"], want)
		}
		// followed: a POST stays a POST with its body (308), over HTTP/2
		res = curl(t, r.base+"/echo", "-L", "--data-binary", "kept by the 308", "-H", "Content-Type: text/plain", "--cacert", caFile, "--cert", clientCert, "--key", clientKey)
		if res.status != 200 || res.body != "kept by the 308" || res.version != "2" {
			t.Fatalf("followed: %d HTTP/%s %q", res.status, res.version, res.body)
		}
	})
}

// A missing, broken or mismatched certificate stops the real binary at start with an error that
// names the key to fix.
func TestTLSStartupErrorsOnTheBinary(t *testing.T) {
	t.Parallel()
	ca := certtest.NewCA(t, "edge startup CA")
	dir := t.TempDir()
	certFile, keyFile := ca.Server(t, "one").Write(t, dir, "one")
	_, otherKey := ca.Server(t, "two").Write(t, dir, "two")
	broken := filepath.Join(dir, "broken.crt")
	testsupport.WriteFile(t, broken, "not a certificate")
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"missing cert", filepath.Join(dir, "absent.crt"), keyFile, `pivot.ssl.cert "` + filepath.Join(dir, "absent.crt") + `" cannot be read`},
		{"broken cert", broken, keyFile, "pivot.ssl.cert " + fmt.Sprintf("%q", broken) + " holds no PEM certificate"},
		{"missing key", certFile, filepath.Join(dir, "absent.key"), `pivot.ssl.key "` + filepath.Join(dir, "absent.key") + `" cannot be read`},
		{"another certificate's key", certFile, otherKey, "is the key the certificate's?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := fmt.Sprintf(`version: "3"
server:
  command: "php %s"
logs:
  level: error
pivot:
  address: %s
  ssl:
    address: %s
    cert: %s
    key: %s
  pool:
    num_workers: 1
`, testsupport.RepoPath(t, "examples/hello/worker.php"), testsupport.FreeAddr(t), testsupport.FreeAddr(t), tc.cert, tc.key)
			r := testsupport.StartRR(t, yaml, testsupport.RROptions{StopTimeout: 5 * time.Second})
			select {
			case <-r.Exited():
			case <-time.After(30 * time.Second):
				t.Fatal("rr kept running with a bad certificate")
			}
			if r.Err() == nil || !strings.Contains(r.Out.String(), tc.want) {
				t.Fatalf("exit %v; want an error containing %q, got:\n%s", r.Err(), tc.want, testsupport.Tail(r.Out.String(), 4096))
			}
		})
	}
}
