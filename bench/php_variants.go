package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// phpVariant is a way of starting the PHP CLI for the RSS-only runs. A PHP process's VmRSS is
// mostly the PHP binary's and its shared extensions' file pages, so it depends on which
// extensions the machine's php.ini loads, not on the worker: an idle `php -r` on a box where
// phpunit and composer pulled in intl, mbstring and xml is ~5 MB larger than on a fresh
// `make bench` machine. The variants pin the extension set so the figure is the same anywhere.
type phpVariant struct {
	kind  string   // the server kind the RSS rows are listed under
	label string   // what the variant is, for the baseline line
	args  []string // before the script
}

// systemPHP is PHP as the machine's php.ini starts it: pivot's own rows, whose idle baseline is
// read with the variants'.
var systemPHP = phpVariant{kind: kindPivot, label: "this machine's php.ini"}

// debianCLIExtensions are the extensions Debian's php-cli and php-fpm load by default: the modules
// of php8.2-common, php8.2-opcache and php8.2-readline, which is what scripts/install-deps.sh
// bench installs. intl, mbstring and xml come only with phpunit and composer (make test).
var debianCLIExtensions = []string{
	"pdo", "calendar", "ctype", "exif", "ffi", "fileinfo", "ftp", "gettext", "iconv", "phar",
	"posix", "readline", "shmop", "sockets", "sysvmsg", "sysvsem", "sysvshm", "tokenizer",
}

// phpVariants returns the RSS-only variants: php-cli's own extensions (those present in the PHP
// build's extension_dir) and no php.ini at all.
func phpVariants(ctx context.Context, php string) []phpVariant {
	cliArgs := []string{"-n"}
	if dir := extensionDir(ctx, php); dir != "" {
		if exists(filepath.Join(dir, "opcache.so")) {
			cliArgs = append(cliArgs, "-d", "zend_extension=opcache")
		}
		for _, ext := range debianCLIExtensions {
			if exists(filepath.Join(dir, ext+".so")) {
				cliArgs = append(cliArgs, "-d", "extension="+ext)
			}
		}
	}
	return []phpVariant{
		{kind: kindPivotCLIExt, label: "php-cli's own extensions", args: cliArgs},
		{kind: kindPivotNoIni, label: "php -n", args: []string{"-n"}},
	}
}

// extensionDir is where `php -n` looks for shared extensions (empty when PHP cannot say).
func extensionDir(ctx context.Context, php string) string {
	out, err := exec.CommandContext(ctx, php, "-n", "-r", `echo ini_get("extension_dir");`).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
