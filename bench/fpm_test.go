package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The nginx and php-fpm configs for the hello world and for a front controller (the PivotPHP
// app): what each must and must not contain. nginx and php-fpm check them for real in every run
// of the harness; this pins the choice between the two set-ups.
func TestFPMConfigs(t *testing.T) {
	base := fpmVars{Dir: "/d", Www: "/d/www", Socket: "/d/php-fpm.sock", Port: 18080, Workers: 4}
	front := base
	front.Script = "/repo/examples/pivotphp/public/index.php"
	front.Env = []fpmEnv{{Name: "PIVOTPHP_AUTOLOAD", Value: "/v/autoload.php"}}
	cases := []struct {
		name         string
		v            fpmVars
		nginx, fpm   []string // must appear
		notInNginx   []string
		notInFPMPool []string
	}{
		{"hello", base,
			[]string{`location ~ ^/(hello|opcache)$ {`, `SCRIPT_FILENAME   /d/www/$1.php;`, `listen 127.0.0.1:18080;`},
			[]string{"pm.max_children = 4", "listen = /d/php-fpm.sock"},
			[]string{"location / {"}, []string{"env["}},
		{"front controller", front,
			[]string{"location / {", "SCRIPT_FILENAME   /repo/examples/pivotphp/public/index.php;", "fastcgi_pass unix:/d/php-fpm.sock;"},
			[]string{"pm.max_children = 4", "env[PIVOTPHP_AUTOLOAD] = /v/autoload.php"},
			[]string{"(hello|opcache)"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			nginx, fpm := filepath.Join(dir, "nginx.conf"), filepath.Join(dir, "php-fpm.conf")
			if err := writeTemplate(nginx, "nginx.conf.tmpl", tc.v); err != nil {
				t.Fatal(err)
			}
			if err := writeTemplate(fpm, "php-fpm.conf.tmpl", tc.v); err != nil {
				t.Fatal(err)
			}
			check := func(path string, want, unwanted []string) {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range want {
					if !strings.Contains(string(b), w) {
						t.Errorf("%s lacks %q:\n%s", filepath.Base(path), w, b)
					}
				}
				for _, u := range unwanted {
					if strings.Contains(string(b), u) {
						t.Errorf("%s has %q:\n%s", filepath.Base(path), u, b)
					}
				}
			}
			check(nginx, tc.nginx, tc.notInNginx)
			check(fpm, tc.fpm, tc.notInFPMPool)
		})
	}
}
