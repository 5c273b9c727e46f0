package testsupport

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"
)

// The ports FreeAddr hands out: below the kernel's ephemeral range (32768 and up).
const (
	freePortBase  = 20000
	freePortRange = 12000
)

var (
	freePortMu   sync.Mutex
	freePortNext = -1 // the next port to try, as an offset from freePortBase
)

// FreeAddr is a currently unused 127.0.0.1:port, below the kernel's ephemeral range: a port
// that listening on :0 hands out is taken again by the next outgoing connection often enough
// to fail a test that binds it a moment later ("address already in use"). Ports are handed out
// in turn from a random start, so one test binary never gets the same port twice (random picks
// did: two servers of one test were given one port), and two binaries rarely overlap.
func FreeAddr(t testing.TB) string {
	t.Helper()
	freePortMu.Lock()
	defer freePortMu.Unlock()
	if freePortNext < 0 {
		freePortNext = rand.Intn(freePortRange) //nolint:gosec // a port number, not a secret
	}
	for i := 0; i < 200; i++ {
		port := freePortBase + freePortNext
		freePortNext = (freePortNext + 1) % freePortRange
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		return addr
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// WaitFor polls cond every 50 ms and fails the test when it is still false after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

// Client is the tests' HTTP client: no request waits longer than a minute. QuickClient polls.
var (
	Client      = &http.Client{Timeout: 60 * time.Second}
	QuickClient = &http.Client{Timeout: 2 * time.Second}
	// RawClient keeps Content-Encoding as the server sent it: it neither asks for gzip nor
	// decodes it, as Go's transport otherwise does.
	RawClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true}}
)

// Do sends one request with Client and returns the response with its whole body; any
// transport error fails the test.
func Do(t testing.TB, method, url string, body io.Reader, header http.Header) (*http.Response, []byte) {
	t.Helper()
	return DoWith(t, Client, method, url, body, header)
}

// DoWith is Do with another client (RawClient: to see Content-Encoding as sent).
func DoWith(t testing.TB, c *http.Client, method, url string, body io.Reader, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body) //nolint:noctx
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, b
}

// WriteFile writes a file or fails the test.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// SyncBuffer collects a process's output while it runs.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
