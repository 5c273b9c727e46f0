package testsupport

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/amqp/amqptest"
)

const modulePath = "github.com/pivotphp/pivotphp-runtime-roadrunner"

// EnvRRBinary names a prebuilt rr binary to test instead of the sources (e.g. one built
// before a fix, or with -race).
const EnvRRBinary = "PIVOT_RR_BIN"

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error

	buildOnce sync.Once
	builtDir  string
	binPath   string
	binErr    error
)

// RepoRoot is the repository's root: the nearest directory above the working directory whose
// go.mod declares this module.
func RepoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() { rootDir, rootErr = findRoot() })
	if rootErr != nil {
		t.Fatal(rootErr)
	}
	return rootDir
}

func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if f, errO := os.Open(filepath.Join(dir, "go.mod")); errO == nil {
			sc := bufio.NewScanner(f)
			sc.Scan()
			_ = f.Close()
			if strings.TrimSpace(sc.Text()) == "module "+modulePath {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s above the working directory", modulePath)
		}
		dir = parent
	}
}

// RepoPath is the absolute path of rel, relative to the repository's root.
func RepoPath(t testing.TB, rel string) string {
	t.Helper()
	return filepath.Join(RepoRoot(t), filepath.FromSlash(rel))
}

// RRBinary is the rr binary under test: $PIVOT_RR_BIN, else ./rr at the repository's root when
// no Go source changed after it was built, else ./cmd/rr built once per test binary into a
// temporary directory (which Main removes): never replace the shared ./rr behind other work.
func RRBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(EnvRRBinary); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	root := RepoRoot(t)
	buildOnce.Do(func() { binPath, binErr = findOrBuild(root) })
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func findOrBuild(root string) (string, error) {
	shared := filepath.Join(root, "rr")
	if st, err := os.Stat(shared); err == nil && NewerSource(root, st.ModTime()) == "" {
		return shared, nil
	}
	dir, err := os.MkdirTemp("", "pivot-test-rr-")
	if err != nil {
		return "", err
	}
	builtDir = dir
	out := filepath.Join(dir, "rr")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/rr")
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("./rr is missing or older than the Go sources, and `go build -o %s ./cmd/rr` failed "+
			"(run `make build`, or set %s): %v\n%s", out, EnvRRBinary, err, b)
	}
	return out, nil
}

// NewerSource names a source of the rr binary (the Makefile's rule: every non-test .go file
// outside php/ and tests/, go.mod, go.sum) changed after t; "" when none did.
func NewerSource(root string, t time.Time) string {
	newer := ""
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || newer != "" {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel == "php" || rel == "tests" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if (strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")) || rel == "go.mod" || rel == "go.sum" {
			if info, errI := d.Info(); errI == nil && info.ModTime().After(t) {
				newer = rel
			}
		}
		return nil
	})
	return newer
}

// Main runs a test binary's tests, then removes the rr that RRBinary built for them and shuts
// down the RabbitMQ broker StartRabbitMQ started.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain with work of its own after the tests (e.g. a summary to print): it
// runs the tests, removes the rr that RRBinary built for them, shuts down the RabbitMQ broker
// StartRabbitMQ started and returns the exit code.
func Run(m *testing.M) int {
	code := m.Run()
	amqptest.ShutdownShared()
	if builtDir != "" {
		_ = os.RemoveAll(builtDir)
	}
	return code
}

// RequireBinary is the path of a program the test needs; the test fails, naming the Debian
// package that has it, when it is missing (make test installs them all).
func RequireBinary(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required (apt-get install %s; make test installs it): %v", name, debianPackage, err)
	}
	return p
}

// RequirePHP fails the test without php-cli.
func RequirePHP(t testing.TB) { RequireBinary(t, "php", "php-cli") }

// CopyDir copies the regular files under src (recursively) into a new temporary directory and
// returns it: a test that edits files (or writes state next to them) works on its own copy.
func CopyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
	return dst
}
