package main

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"
)

//go:embed fpm/*.php fpm/*.tmpl
var fpmAssets embed.FS

var fpmTemplates = template.Must(template.ParseFS(fpmAssets, "fpm/*.tmpl"))

// fpmVars fill fpm/nginx.conf.tmpl and fpm/php-fpm.conf.tmpl.
type fpmVars struct {
	Dir, Www, Socket string
	Port, Workers    int
	Root             bool // running as root: nginx and php-fpm need `user root`
	// Script is a front controller that gets every path (the PivotPHP app); empty for the
	// hello-world set-up (bench/fpm/*.php under Www).
	Script string
	Env    []fpmEnv // env[NAME] = value lines of the pool
}

type fpmEnv struct{ Name, Value string }

// fpmApp is what a php-fpm server runs: the hello world (fpmHello) or a front controller.
type fpmApp struct {
	kind   string   // server kind: kindFPM or kindPivotPHPFPM
	script string   // absolute path of the front controller; "" for the hello world
	path   string   // URL path wrk drives
	env    []fpmEnv // for the PHP workers
	check  func(*http.Response, []byte) error
}

var fpmHello = fpmApp{kind: kindFPM, path: "/hello", check: checkHello}

// findFPM is the php-fpm binary: the flag, else php-fpm8.2, php-fpm, then /usr/sbin's.
func findFPM(flagValue string) (string, error) {
	if flagValue != "" {
		return exec.LookPath(flagValue)
	}
	for _, name := range []string{"php-fpm8.2", "php-fpm", "/usr/sbin/php-fpm8.2", "/usr/sbin/php-fpm"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("php-fpm not found (scripts/install-deps.sh bench installs it)")
}

// startFPM writes nginx and php-fpm configs under dir/KIND-wN and starts both in the foreground.
func startFPM(ps *procs, cfg *config, dir string, app fpmApp, workers int) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	name := fileName(app.kind, workers)
	v := fpmVars{
		Dir:     filepath.Join(dir, name),
		Port:    port,
		Workers: workers,
		Root:    os.Geteuid() == 0,
		Script:  app.script,
		Env:     app.env,
	}
	v.Www = filepath.Join(v.Dir, "www")
	v.Socket = filepath.Join(v.Dir, "php-fpm.sock")
	for _, d := range []string{v.Www, filepath.Join(v.Dir, "nginx-tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	for _, f := range []string{"hello.php", "opcache.php"} {
		b, _ := fpmAssets.ReadFile("fpm/" + f)
		if err := os.WriteFile(filepath.Join(v.Www, f), b, 0o644); err != nil {
			return nil, err
		}
	}
	nginxConf, fpmConf := filepath.Join(v.Dir, "nginx.conf"), filepath.Join(v.Dir, "php-fpm.conf")
	if err := writeTemplate(nginxConf, "nginx.conf.tmpl", v); err != nil {
		return nil, err
	}
	if err := writeTemplate(fpmConf, "php-fpm.conf.tmpl", v); err != nil {
		return nil, err
	}

	// opcache on as in production: no timestamp checks, JIT left as Debian ships it (off).
	fpmArgs := []string{cfg.fpm, "-F", "-y", fpmConf,
		"-d", "opcache.enable=1", "-d", "opcache.validate_timestamps=0", "-d", "expose_php=0"}
	if v.Root {
		fpmArgs = append(fpmArgs, "--allow-to-run-as-root")
	}
	php, err := ps.start(name+"-php-fpm", filepath.Join(v.Dir, "php-fpm.out"), nil, fpmArgs...)
	if err != nil {
		return nil, err
	}
	// nginx connects lazily, but wait for the socket so the first requests do not 502.
	if err := waitFile(v.Socket, php, 10*time.Second); err != nil {
		return nil, err
	}
	front, err := ps.start(name+"-nginx", filepath.Join(v.Dir, "nginx.out"), nil,
		cfg.nginx, "-p", v.Dir, "-e", filepath.Join(v.Dir, "nginx-error.log"), "-c", nginxConf, "-g", "daemon off;")
	if err != nil {
		return nil, err
	}
	return &server{
		kind:    app.kind,
		workers: workers,
		url:     fmt.Sprintf("http://127.0.0.1:%d%s", port, app.path),
		front:   front,
		php:     php,
		check:   app.check,
	}, nil
}

func writeTemplate(path, name string, v fpmVars) error {
	var b bytes.Buffer
	if err := fpmTemplates.ExecuteTemplate(&b, name, v); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func waitFile(path string, p *proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if p.exited() {
			return p.exitError()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %s", path, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fpmOpcache asks the fpm server's opcache.php whether opcache is on.
func fpmOpcache(s *server) string {
	resp, err := http.Get(strings.TrimSuffix(s.url, "/hello") + "/opcache")
	if err != nil {
		return "unknown: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
