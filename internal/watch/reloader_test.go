package watch

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

func TestReloaderLintsBeforeItResets(t *testing.T) {
	php, err := exec.LookPath("php")
	if err != nil {
		t.Fatal("php is needed (apt-get install php-cli)")
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.php"), filepath.Join(dir, "bad.php")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(good, "<?php return 1;\n")
	write(bad, "<?php return 1\n")

	var resets atomic.Int32
	var resetErr error
	r := New(Options{Config: &Config{}, WorkDir: dir, PHP: php, ErrorPage: true, Log: zap.NewNop(),
		Reset: func() error { resets.Add(1); return resetErr }})
	page := r.Middleware(func(c *fasthttp.RequestCtx) { c.SetBodyString("app") })
	serve := func(accept string) (int, string, string) {
		var c fasthttp.RequestCtx
		c.Request.Header.Set("Accept", accept)
		page(&c)
		return c.Response.StatusCode(), string(c.Response.Header.ContentType()), string(c.Response.Body())
	}

	// a syntax error: no reset, the error named with its file and line, the page shows it
	err = r.ResetChanged([]string{good, bad, filepath.Join(dir, "notes.txt"), filepath.Join(dir, "gone.php")})
	if err == nil || resets.Load() != 0 || !strings.Contains(err.Error(), bad+" on line 2") || strings.Contains(err.Error(), "good.php") {
		t.Fatalf("lint: %v, %d resets", err, resets.Load())
	}
	if code, ct, body := serve("text/html"); code != 500 || !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "syntax error") {
		t.Fatalf("page: %d %s %s", code, ct, body)
	}
	// saving another file does not put the broken one in service: it is linted again
	if err = r.ResetChanged([]string{good}); err == nil || resets.Load() != 0 {
		t.Fatalf("a broken file was forgotten: %v, %d resets", err, resets.Load())
	}
	// fixed: reset, page gone
	write(bad, "<?php return 2;\n")
	if err = r.ResetChanged([]string{bad}); err != nil || resets.Load() != 1 || r.Failure() != "" {
		t.Fatalf("after the fix: %v, %d resets, failure %q", err, resets.Load(), r.Failure())
	}
	if code, _, body := serve("*/*"); code != 200 || body != "app" {
		t.Fatalf("after the fix the app should answer: %d %s", code, body)
	}
	// a reset that fails (the new workers cannot boot) is shown too, as text without text/html
	resetErr = errors.New("pivot: reset failed, the current workers keep serving: EOF")
	if err = r.ResetChanged(nil); err == nil || resets.Load() != 2 {
		t.Fatalf("failed reset: %v", err)
	}
	if code, ct, body := serve("application/json"); code != 500 || !strings.HasPrefix(ct, "text/plain") || !strings.Contains(body, "keep serving: EOF") {
		t.Fatalf("page: %d %s %s", code, ct, body)
	}
	// a reset already running (rr reset) is waited for, not reported
	busy := 3
	r.o.Reset = func() error {
		if busy > 0 {
			busy--
			return errors.New("pivot_reset: pivot: a reset is already in progress; wait for it to finish and retry")
		}
		return nil
	}
	if err = r.ResetChanged(nil); err != nil || busy != 0 || r.Failure() != "" {
		t.Fatalf("a busy reset was reported: %v (busy %d)", err, busy)
	}
	r.o.Reset = func() error { resets.Add(1); return resetErr }

	// a deleted broken file is no longer checked
	write(bad, "<?php nope(\n")
	_ = r.ResetChanged([]string{bad})
	if err = os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	resetErr = nil
	if err = r.ResetChanged(nil); err != nil || r.Failure() != "" {
		t.Fatalf("after deleting the broken file: %v", err)
	}
}

func TestPHPBinary(t *testing.T) {
	php, err := exec.LookPath("php")
	if err != nil {
		t.Fatal("php is needed")
	}
	for _, cmd := range []any{"php worker.php", []any{"php", "worker.php"}, "/bin/sh -c 'php worker.php'", nil} {
		if got := PHPBinary(cmd); got == "" || (cmd != nil && strings.HasPrefix(strings.TrimSpace(cmdString(cmd)), "php") && got != php) {
			t.Errorf("PHPBinary(%v) = %q, want %q", cmd, got, php)
		}
	}
}

func cmdString(c any) string {
	switch v := c.(type) {
	case string:
		return v
	case []any:
		if len(v) > 0 {
			s, _ := v[0].(string)
			return s
		}
	}
	return ""
}
