// Package tlscert is pivot.ssl's certificate and key: loaded with errors that name the key of
// the configuration at fault, handed to crypto/tls through GetCertificate, and reloaded without
// a restart when the files change (fsnotify on their directories, so a file replaced by a
// rename, a certbot renewal or a Kubernetes secret's symlink swap is seen) or when Reload is
// called (`rr reset`). A reload that fails keeps the certificate that serves.
package tlscert

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Names are the configuration keys the errors name (pivot.ssl.cert, pivot.ssl.key).
type Names struct{ Cert, Key string }

// Pair is a certificate and its key, reloadable.
type Pair struct {
	certFile, keyFile string
	names             Names
	cur               atomic.Pointer[tls.Certificate]

	mu      sync.Mutex
	watcher *fsnotify.Watcher
	done    chan struct{}
}

// Load reads the certificate chain and key; an error names the file and its key (names).
func Load(certFile, keyFile string, names Names) (*Pair, error) {
	p := &Pair{certFile: certFile, keyFile: keyFile, names: names}
	if err := p.Reload(); err != nil {
		return nil, err
	}
	return p, nil
}

// Reload reads the files again; on an error the certificate in use stays.
func (p *Pair) Reload() error {
	c, err := read(p.certFile, p.keyFile, p.names)
	if err != nil {
		return err
	}
	p.cur.Store(c)
	return nil
}

// Certificate is the certificate in use.
func (p *Pair) Certificate() *tls.Certificate { return p.cur.Load() }

// GetCertificate is tls.Config's GetCertificate: the certificate in use at each handshake.
func (p *Pair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return p.cur.Load(), nil
}

func read(certFile, keyFile string, names Names) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("%s %q cannot be read: %w", names.Cert, certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("%s %q cannot be read: %w", names.Key, keyFile, err)
	}
	if !hasBlock(certPEM, "CERTIFICATE") {
		return nil, fmt.Errorf("%s %q holds no PEM certificate (-----BEGIN CERTIFICATE-----)", names.Cert, certFile)
	}
	if !hasKeyBlock(keyPEM) {
		return nil, fmt.Errorf("%s %q holds no PEM private key (-----BEGIN ... PRIVATE KEY-----)", names.Key, keyFile)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s %q and %s %q: %w (is the key the certificate's?)", names.Cert, certFile, names.Key, keyFile, err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s %q: %w", names.Cert, certFile, err)
		}
	}
	return &c, nil
}

func hasBlock(b []byte, typ string) bool {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if blk.Type == typ {
			return true
		}
	}
}

func hasKeyBlock(b []byte) bool {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if blk.Type == "PRIVATE KEY" || len(blk.Type) > len(" PRIVATE KEY") && blk.Type[len(blk.Type)-len(" PRIVATE KEY"):] == " PRIVATE KEY" {
			return true
		}
	}
}

// settle is how long Watch waits after a change before it reads the files: a renewal writes
// the certificate and the key one after the other.
const settle = 200 * time.Millisecond

// Watch reloads the pair when a file in the certificate's or the key's directory changes,
// until Close; each reload's outcome goes to report (err nil: the new certificate serves).
func (p *Pair) Watch(report func(err error)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	dirs := map[string]struct{}{filepath.Dir(p.certFile): {}, filepath.Dir(p.keyFile): {}}
	for d := range dirs {
		if err = w.Add(d); err != nil {
			_ = w.Close()
			return fmt.Errorf("watching %s for certificate changes: %w", d, err)
		}
	}
	p.mu.Lock()
	p.watcher, p.done = w, make(chan struct{})
	done := p.done
	p.mu.Unlock()
	go p.watch(w, done, report)
	return nil
}

func (p *Pair) watch(w *fsnotify.Watcher, done chan struct{}, report func(error)) {
	defer close(done)
	var timer <-chan time.Time
	last := p.cur.Load()
	for {
		select {
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			timer = time.After(settle) // every change in the directories: symlink swaps too
		case _, ok := <-w.Errors:
			if !ok {
				return
			}
		case <-timer:
			timer = nil
			err := p.Reload()
			if err == nil && sameCert(p.cur.Load(), last) {
				continue // another file of the directory changed
			}
			last = p.cur.Load()
			if report != nil {
				report(err)
			}
		}
	}
}

func sameCert(a, b *tls.Certificate) bool {
	if a == nil || b == nil || len(a.Certificate) != len(b.Certificate) {
		return false
	}
	for i := range a.Certificate {
		if string(a.Certificate[i]) != string(b.Certificate[i]) {
			return false
		}
	}
	return true
}

// Close stops Watch.
func (p *Pair) Close() error {
	p.mu.Lock()
	w, done := p.watcher, p.done
	p.watcher = nil
	p.mu.Unlock()
	if w == nil {
		return nil
	}
	err := w.Close()
	<-done
	return err
}

// CertPool reads a PEM bundle of CA certificates (pivot.ssl.root_ca); name is its key.
func CertPool(file, name string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s %q cannot be read: %w", name, file, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s %q holds no PEM certificate", name, file)
	}
	return pool, nil
}
