package testsupport

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/launcher"
	rodflags "github.com/go-rod/rod/lib/launcher/flags"
	"github.com/go-rod/rod/lib/proto"
)

// browserTimeout bounds one browser operation (a start, an evaluation, a screenshot): the
// machine running the tests may be loaded, but nothing here should take half a minute.
const browserTimeout = 30 * time.Second

// StartChromium starts Debian's headless chromium through go-rod's launcher (Bin: no browser
// download) with a fresh profile in the test's temp dir, DevTools on 127.0.0.1 and a random
// port, and returns a connected browser. At cleanup the browser is asked to close, then killed
// (its whole process group) if it has not exited within 15 s. Leakless, go-rod's guard
// process, kills chromium if the test binary dies without cleaning up (a timeout panic).
//
// Without chromium installed the test fails when CI=true and is skipped otherwise, saying
// why; a chromium that is installed but does not start always fails the test. flags are
// more command-line switches, without their dashes ("ignore-certificate-errors").
func StartChromium(t testing.TB, flags ...string) *rod.Browser {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		msg := "chromium is not installed (apt-get install chromium; make test installs it): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	out := &tailWriter{max: 8 << 10}
	// --no-sandbox: the tests run as root in containers, where chromium's sandbox cannot start.
	l := launcher.New().Context(ctx).Bin(bin).Headless(true).Leakless(true).Logger(out).
		UserDataDir(t.TempDir()).
		Set("remote-debugging-address", "127.0.0.1").
		Set("no-sandbox").Set("disable-gpu").Set("disable-dev-shm-usage").
		Set("window-size", "1280,1000")
	for _, f := range flags {
		l = l.Set(rodflags.Flag(f))
	}
	u, err := l.Launch()
	if err != nil {
		t.Fatalf("chromium (%s) does not start: %v\n%s", bin, err, out.String())
	}
	b := rod.New().ControlURL(u)
	if err := b.Connect(); err != nil {
		l.Kill()
		l.Cleanup()
		t.Fatalf("connecting to chromium at %s: %v", u, err)
	}
	// registered after t.TempDir's, so it runs first: the profile is removed once chromium is gone
	t.Cleanup(func() {
		_ = b.Close() // the reply may be lost as the browser goes: the exit below is what counts
		exited := make(chan struct{})
		go func() { l.Cleanup(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			t.Logf("chromium (pid %d) did not exit within 15 s of Browser.close: killed", l.PID())
			l.Kill()
			<-exited
		}
	})
	return b
}

// OpenPage opens a new tab on url and waits for its load event.
func OpenPage(t testing.TB, b *rod.Browser, url string) *rod.Page {
	t.Helper()
	p, err := b.Page(proto.TargetCreateTarget{URL: url})
	if err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	tp := p.Timeout(browserTimeout)
	defer tp.CancelTimeout()
	if err := tp.WaitLoad(); err != nil {
		t.Fatalf("loading %s: %v", url, err)
	}
	return p
}

// Navigate loads url in the page and waits for its load event.
func Navigate(t testing.TB, p *rod.Page, url string) {
	t.Helper()
	tp := p.Timeout(browserTimeout)
	defer tp.CancelTimeout()
	if err := tp.Navigate(url); err != nil {
		t.Fatalf("navigating to %s: %v", url, err)
	}
	if err := tp.WaitLoad(); err != nil {
		t.Fatalf("loading %s: %v", url, err)
	}
}

// EvalJS evaluates a JavaScript expression on the page and returns it as a string (String(x):
// null is "null", undefined "undefined").
func EvalJS(t testing.TB, p *rod.Page, expr string) string {
	t.Helper()
	tp := p.Timeout(browserTimeout)
	defer tp.CancelTimeout()
	res, err := tp.Eval("() => String(" + expr + ")")
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return res.Value.Str()
}

// SaveScreenshot captures the whole page as PNG into path. A capture that is not a PNG or is
// under 1000 bytes (nothing rendered) fails the test.
func SaveScreenshot(t testing.TB, p *rod.Page, path string) {
	t.Helper()
	tp := p.Timeout(browserTimeout)
	defer tp.CancelTimeout()
	png, err := tp.Screenshot(true, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if len(png) < 1000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot: %d bytes, not a rendered PNG", len(png))
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

// tailWriter keeps the last max bytes written to it (chromium's output, for a failed start);
// safe for the launcher's concurrent writers.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if over := len(w.buf) - w.max; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
