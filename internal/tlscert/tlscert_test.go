package tlscert_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/tlscert"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/internal/tlscert/certtest"
)

var names = tlscert.Names{Cert: "pivot.ssl.cert", Key: "pivot.ssl.key"}

func TestLoadErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "ca")
	certFile, keyFile := ca.Server(t, "one").Write(t, dir, "one")
	_, otherKey := ca.Server(t, "two").Write(t, dir, "two")
	garbage := filepath.Join(dir, "garbage")
	_ = os.WriteFile(garbage, []byte("hello"), 0o600)
	for _, tc := range []struct {
		cert, key, want string
	}{
		{filepath.Join(dir, "missing.crt"), keyFile, "pivot.ssl.cert"},
		{certFile, filepath.Join(dir, "missing.key"), "pivot.ssl.key"},
		{garbage, keyFile, "pivot.ssl.cert \"" + garbage + "\" holds no PEM certificate"},
		{certFile, garbage, "pivot.ssl.key \"" + garbage + "\" holds no PEM private key"},
		{keyFile, certFile, "pivot.ssl.cert"},
		{certFile, otherKey, "is the key the certificate's?"},
	} {
		_, err := tlscert.Load(tc.cert, tc.key, names)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s, %s): %v, want %q", filepath.Base(tc.cert), filepath.Base(tc.key), err, tc.want)
		}
	}
	p, err := tlscert.Load(certFile, keyFile, names)
	if err != nil || p.Certificate().Leaf.Subject.CommonName != "one" {
		t.Fatal(err)
	}
}

func TestWatchReloadsAChangedPair(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "ca")
	certFile, keyFile := ca.Server(t, "one").Write(t, dir, "srv")
	p, err := tlscert.Load(certFile, keyFile, names)
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan error, 10)
	if err := p.Watch(func(err error) { reports <- err }); err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	ca.Server(t, "two").Write(t, dir, "srv")
	select {
	case err := <-reports:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reload")
	}
	if cn := p.Certificate().Leaf.Subject.CommonName; cn != "two" {
		t.Fatalf("after the change: %s", cn)
	}
	// a broken certificate: reported, the one in use stays
	_ = os.WriteFile(certFile, []byte("broken"), 0o600)
	select {
	case err := <-reports:
		if err == nil {
			t.Fatal("a broken file reloaded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no report")
	}
	if c, _ := p.GetCertificate(nil); c.Leaf.Subject.CommonName != "two" {
		t.Fatalf("after a broken file: %s", c.Leaf.Subject.CommonName)
	}
}

func TestCertPool(t *testing.T) {
	dir := t.TempDir()
	f := certtest.NewCA(t, "ca").WriteCA(t, dir, "ca")
	if _, err := tlscert.CertPool(f, "pivot.ssl.root_ca"); err != nil {
		t.Fatal(err)
	}
	if _, err := tlscert.CertPool(filepath.Join(dir, "none"), "pivot.ssl.root_ca"); err == nil || !strings.Contains(err.Error(), "pivot.ssl.root_ca") {
		t.Fatal(err)
	}
}
