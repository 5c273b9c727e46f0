package reload

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// The watcher tests use real files in t.TempDir(), the real fsnotify (inotify) and a fake
// plugin counting its resets.

const testInterval = 250 * time.Millisecond

// fakeResetter is a plugin with Reset(); fail makes the next Reset calls fail, delay makes
// them slow.
type fakeResetter struct {
	name   string
	calls  atomic.Int32
	fail   atomic.Int32 // that many next calls fail
	delay  time.Duration
	active atomic.Int32 // Reset calls running now
	maxAct atomic.Int32 // most Reset calls that ever ran at once
}

func (f *fakeResetter) Name() string { return f.name }

func (f *fakeResetter) Reset() error {
	n := f.active.Add(1)
	defer f.active.Add(-1)
	for {
		m := f.maxAct.Load()
		if n <= m || f.maxAct.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(f.delay)
	f.calls.Add(1)
	if f.fail.Load() > 0 {
		f.fail.Add(-1)
		return fmt.Errorf("php: syntax error, unexpected end of file in version.php")
	}
	return nil
}

type harness struct {
	t        *testing.T
	interval time.Duration
	dir      string
	w        *watcher
	r        *fakeResetter
	logs     *observer.ObservedLogs
}

// startWatcher watches dir (a fresh temp dir made by prepare) for service s. The test fails if
// a goroutine is left once the watcher is closed.
func startWatcher(t *testing.T, s *ServiceConfig, prepare func(dir string), r *fakeResetter) *harness {
	t.Helper()
	return startWatcherInterval(t, testInterval, s, prepare, r)
}

func startWatcherInterval(t *testing.T, interval time.Duration, s *ServiceConfig, prepare func(dir string), r *fakeResetter) *harness {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	dir := t.TempDir()
	if prepare != nil {
		prepare(dir)
	}
	if r == nil {
		r = &fakeResetter{name: "svc"}
	}
	m := resolve(t, dir, nil, s)
	log, logs := newObsLogger()
	w, err := newWatcher("svc", m, r, interval, dir, log.NamedLogger(PluginName))
	if err != nil {
		t.Fatal(err)
	}
	w.start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.close(ctx); err != nil {
			t.Error(err)
		}
		goleak.VerifyNone(t, ignore)
	})
	return &harness{t: t, interval: interval, dir: dir, w: w, r: r, logs: logs}
}

func (h *harness) path(rel string) string { return filepath.Join(h.dir, filepath.FromSlash(rel)) }

func (h *harness) write(rel, content string) {
	h.t.Helper()
	writeFile(h.t, h.path(rel), content)
}

func (h *harness) mkdir(rel string) {
	h.t.Helper()
	if err := os.MkdirAll(h.path(rel), 0o755); err != nil {
		h.t.Fatal(err)
	}
}

// waitResets waits until the plugin was reset want times, then for 3 more intervals, and
// checks it was reset exactly want times.
func (h *harness) waitResets(want int32) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.r.calls.Load() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * h.interval)
	if got := h.r.calls.Load(); got != want {
		h.t.Fatalf("%d resets, want %d", got, want)
	}
}

func (h *harness) waitWatched(rel string) {
	h.t.Helper()
	p := h.path(rel)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, d := range h.w.watchedDirs() {
			if d == p {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("%s is not watched: %v", p, h.w.watchedDirs())
}

// 20 quick saves, with an editor's rename/chmod/temporary-file storm around each: one reset
// (at the default interval, 1s).
func TestBurstOfSavesIsOneReset(t *testing.T) {
	h := startWatcherInterval(t, DefaultInterval, &ServiceConfig{Recursive: true}, func(dir string) {
		writeFile(t, filepath.Join(dir, "index.php"), "<?php return 0;")
	}, nil)

	for i := 1; i <= 20; i++ {
		// as vim does: probe file, backup by rename, write the new file, chmod, drop the backup
		h.write("4913", "")
		_ = os.Remove(h.path("4913"))
		if err := os.Rename(h.path("index.php"), h.path("index.php~")); err != nil {
			t.Fatal(err)
		}
		h.write("index.php", fmt.Sprintf("<?php return %d;", i))
		_ = os.Chmod(h.path("index.php"), 0o644)
		_ = os.Remove(h.path("index.php~"))
		time.Sleep(5 * time.Millisecond)
	}
	h.waitResets(1)

	reloading := h.logs.FilterMessage("reloading").All()
	if len(reloading) != 1 {
		t.Fatalf("%d 'reloading' logs, want 1", len(reloading))
	}
	fields := reloading[0].ContextMap()
	if reloading[0].Level != zapcore.InfoLevel || fields["service"] != "svc" || fields["file"] != "index.php" || fields["files"] != int64(1) {
		t.Fatalf("reloading log: %v %v", reloading[0].Level, fields)
	}
	if h.logs.FilterMessage("reloaded").Len() != 1 {
		t.Fatal("no 'reloaded' log")
	}

	// the next save is another reset
	h.write("index.php", "<?php return 21;")
	h.waitResets(2)
}

// Changes that never pause for an interval still reset, every maxDelayFactor intervals.
func TestContinuousChangesStillReset(t *testing.T) {
	h := startWatcher(t, &ServiceConfig{}, nil, nil)
	stop := time.Now().Add(time.Duration(maxDelayFactor)*testInterval + 2*testInterval)
	for i := 0; time.Now().Before(stop); i++ {
		h.write("gen.php", fmt.Sprint(i))
		time.Sleep(testInterval / 5)
	}
	if h.r.calls.Load() < 1 {
		t.Fatal("no reset during changes that never pause")
	}
}

func TestOnlyMatchingFilesCount(t *testing.T) {
	h := startWatcher(t, &ServiceConfig{}, nil, nil)
	for _, name := range []string{"notes.txt", "index.php~", ".index.php.swp", "index.php.orig", "4913"} {
		h.write(name, "x")
	}
	h.mkdir("newdir")
	h.waitResets(0)
	h.write("index.php", "<?php")
	h.waitResets(1)
}

// A directory created after start (several levels at once) is watched.
func TestNewSubdirectoryIsWatched(t *testing.T) {
	h := startWatcher(t, &ServiceConfig{Recursive: true}, nil, nil)
	h.mkdir("app/Http/Controllers")
	h.waitWatched("app/Http/Controllers")
	h.waitResets(0) // no file that matches: nothing to reset for
	h.write("app/Http/Controllers/Home.php", "<?php")
	h.waitResets(1)

	// a tree moved in with its files: watched, and its files count
	outside := t.TempDir()
	mkdirs(t, outside, "Models/Concerns")
	writeFile(t, filepath.Join(outside, "Models", "Concerns", "HasName.php"), "<?php")
	if err := os.Rename(filepath.Join(outside, "Models"), h.path("app/Models")); err != nil {
		t.Fatal(err)
	}
	h.waitWatched("app/Models/Concerns")
	h.waitResets(2)
	h.write("app/Models/Concerns/HasName.php", "<?php // edited")
	h.waitResets(3)
}

func TestVendorIsIgnored(t *testing.T) {
	h := startWatcher(t, &ServiceConfig{Recursive: true, Ignore: []string{"vendor/"}}, func(dir string) {
		mkdirs(t, dir, "vendor/acme/lib/src", "app", ".git/objects")
	}, nil)
	for _, d := range h.w.watchedDirs() {
		if strings.Contains(d, "vendor") || strings.Contains(d, ".git") {
			t.Fatalf("%s is watched", d)
		}
	}
	h.write("vendor/acme/lib/src/Lib.php", "<?php")
	h.write("vendor/autoload.php", "<?php")
	h.mkdir("app/vendor/x")
	h.write("app/vendor/x/y.php", "<?php")
	h.write(".git/objects/z.php", "<?php")
	h.waitResets(0)
	h.write("app/Kernel.php", "<?php")
	h.waitResets(1)
}

func TestNotRecursive(t *testing.T) {
	h := startWatcher(t, &ServiceConfig{}, func(dir string) { mkdirs(t, dir, "sub") }, nil)
	if got := h.w.watchedDirs(); len(got) != 1 || got[0] != h.dir {
		t.Fatalf("watched %v", got)
	}
	h.write("sub/x.php", "<?php")
	h.waitResets(0)
	h.write("x.php", "<?php")
	h.waitResets(1)
}

// A file deleted, and a directory of watched files renamed away, are changes; the watches of
// the directory moved out are dropped.
func TestRemovalsAreChanges(t *testing.T) {
	h := startWatcher(t, &ServiceConfig{Recursive: true}, func(dir string) {
		mkdirs(t, dir, "old/deep")
		writeFile(t, filepath.Join(dir, "a.php"), "<?php")
		writeFile(t, filepath.Join(dir, "old", "deep", "b.php"), "<?php")
	}, nil)
	if err := os.Remove(h.path("a.php")); err != nil {
		t.Fatal(err)
	}
	h.waitResets(1)

	outside := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(h.path("old"), outside); err != nil {
		t.Fatal(err)
	}
	h.waitResets(2)
	for _, d := range h.w.watchedDirs() {
		if strings.Contains(d, "old") {
			t.Fatalf("%s is still watched after it moved out", d)
		}
	}
	writeFile(t, filepath.Join(outside, "deep", "b.php"), "<?php // outside now")
	h.waitResets(2)

	// an empty directory deleted is no change; one deleted with its files is one
	h.mkdir("empty")
	h.waitWatched("empty")
	if err := os.Remove(h.path("empty")); err != nil {
		t.Fatal(err)
	}
	h.waitResets(2)
	h.mkdir("full/sub")
	h.write("full/sub/c.php", "<?php")
	h.waitResets(3)
	if err := os.RemoveAll(h.path("full")); err != nil {
		t.Fatal(err)
	}
	h.waitResets(4)
}

// A failed reset is logged as an error; the next change retries.
func TestFailedResetRetriesOnNextChange(t *testing.T) {
	r := &fakeResetter{name: "svc"}
	r.fail.Store(1)
	h := startWatcher(t, &ServiceConfig{}, nil, r)
	h.write("version.php", "<?php return 'broken'")
	h.waitResets(1)
	failed := h.logs.FilterLevelExact(zapcore.ErrorLevel).All()
	if len(failed) != 1 || !strings.Contains(failed[0].Message, "reload failed: svc's Reset() returned an error") ||
		!strings.Contains(fmt.Sprint(failed[0].ContextMap()["error"]), "syntax error") ||
		failed[0].ContextMap()["file"] != "version.php" {
		t.Fatalf("error log: %+v", failed)
	}
	if h.logs.FilterMessage("reloaded").Len() != 0 {
		t.Fatal("'reloaded' logged for a failed reset")
	}
	h.write("version.php", "<?php return 'fixed';")
	h.waitResets(2)
	if h.logs.FilterMessage("reloaded").Len() != 1 {
		t.Fatal("the retry was not logged as reloaded")
	}
}

// Changes made while a (slow) reset runs cause one more reset after it, never a concurrent one.
func TestChangesDuringResetResetOnceMore(t *testing.T) {
	r := &fakeResetter{name: "svc", delay: 4 * testInterval}
	h := startWatcher(t, &ServiceConfig{}, nil, r)
	h.write("a.php", "1")
	deadline := time.Now().Add(5 * time.Second)
	for r.active.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if r.active.Load() == 0 {
		t.Fatal("the reset did not start")
	}
	for i := 0; i < 5; i++ {
		h.write("a.php", fmt.Sprint(i))
		time.Sleep(testInterval / 2)
	}
	deadline = time.Now().Add(10 * time.Second)
	for r.calls.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(r.delay + 3*testInterval)
	if got := r.calls.Load(); got != 2 {
		t.Fatalf("%d resets, want 2", got)
	}
	if m := r.maxAct.Load(); m != 1 {
		t.Fatalf("%d resets ran at once", m)
	}
}

// close waits for a reset in flight, within its context.
func TestCloseWaitsForResetInFlight(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	dir := t.TempDir()
	r := &fakeResetter{name: "svc", delay: time.Second}
	m := resolve(t, dir, nil, &ServiceConfig{})
	log, _ := newObsLogger()
	w, err := newWatcher("svc", m, r, testInterval, dir, log.NamedLogger(PluginName))
	if err != nil {
		t.Fatal(err)
	}
	w.start()
	writeFile(t, filepath.Join(dir, "a.php"), "<?php")
	deadline := time.Now().Add(5 * time.Second)
	for r.active.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err = w.close(ctx); err == nil || !strings.Contains(err.Error(), "svc's Reset() is still running") {
		t.Fatalf("close during a reset: %v", err)
	}
	if err = w.close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.calls.Load() != 1 {
		t.Fatalf("%d resets", r.calls.Load())
	}
	goleak.VerifyNone(t, ignore)
}

// A watcher that cannot start (its dir vanished after Init) fails Serve, and the watchers
// already created are closed.
func TestServeFailureLeavesNothingBehind(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	a, b := t.TempDir(), t.TempDir()
	log, _ := newObsLogger()
	p := &Plugin{}
	yaml := fmt.Sprintf("reload:\n  services:\n    a: { dirs: [%q] }\n    b: { dirs: [%q] }\n", a, b)
	if err := p.Init(rrConfig(t, yaml), log); err != nil {
		t.Fatal(err)
	}
	p.Collects()[0].Callback(&fakeResetter{name: "a"})
	p.Collects()[0].Callback(&fakeResetter{name: "b"})
	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.Serve():
		if err == nil || !strings.Contains(err.Error(), "reload.services.b: cannot watch "+b) {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not fail")
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, ignore)
}

// The plugin as endure drives it: Init, Collects (two resettable plugins, one that is
// configured is missing), Serve, a change, Stop.
func TestPluginLifecycle(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	dir := t.TempDir()
	mkdirs(t, dir, "app", "vendor")
	log, logs := newObsLogger()
	p := &Plugin{}
	yaml := fmt.Sprintf(`reload:
  interval: 100ms
  services:
    pivot: { recursive: true, dirs: [%q], ignore: ["vendor/"] }
    http: { dirs: [%q] }
    grpc: { dirs: [%q] }
`, dir, filepath.Join(dir, "app"), dir)
	if err := p.Init(rrConfig(t, yaml), log); err != nil {
		t.Fatal(err)
	}
	pivot, http := &fakeResetter{name: "pivot"}, &fakeResetter{name: "http"}
	collect := p.Collects()
	if len(collect) != 1 {
		t.Fatalf("%d collects", len(collect))
	}
	collect[0].Callback(pivot)
	collect[0].Callback(http)

	errCh := p.Serve()
	warn := logs.FilterLevelExact(zapcore.WarnLevel).All()
	if len(warn) != 1 || !strings.Contains(warn[0].Message, `reload.services.grpc: no running plugin named "grpc" can be reset`) ||
		!strings.Contains(warn[0].Message, "http, pivot") {
		t.Fatalf("warnings: %+v", warn)
	}
	if n := logs.FilterMessage("watching for changes").Len(); n != 2 {
		t.Fatalf("%d 'watching for changes' logs, want 2", n)
	}

	writeFile(t, filepath.Join(dir, "app", "Kernel.php"), "<?php")      // both
	writeFile(t, filepath.Join(dir, "vendor", "autoload.php"), "<?php") // neither
	deadline := time.Now().Add(5 * time.Second)
	for (pivot.calls.Load() < 1 || http.calls.Load() < 1) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if pivot.calls.Load() != 1 || http.calls.Load() != 1 {
		t.Fatalf("resets: pivot %d http %d, want 1 and 1", pivot.calls.Load(), http.calls.Load())
	}
	select {
	case err := <-errCh:
		t.Fatalf("Serve reported %v", err)
	default:
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, ignore)
}
