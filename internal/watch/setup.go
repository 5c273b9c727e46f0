package watch

import (
	"os/exec"
	"path/filepath"
	"strings"
)

// DevMode tells whether logs.mode (as written; "" when not set) is development mode, the one
// mode in which a failed reload is shown as a 500 page: RoadRunner's logger defaults to
// development when logs.mode is not set.
func DevMode(logsMode string) bool {
	m := strings.ToLower(strings.TrimSpace(logsMode))
	return m == "" || m == "development"
}

// PHPBinary is the php binary that lints changed files: the first word of server.command when
// it names php (php, php8.2, /usr/local/bin/php), else php on PATH; "" when there is none.
func PHPBinary(command any) string {
	var first string
	switch c := command.(type) {
	case string:
		if f := strings.Fields(c); len(f) > 0 {
			first = f[0]
		}
	case []any:
		if len(c) > 0 {
			first, _ = c[0].(string)
		}
	case []string:
		if len(c) > 0 {
			first = c[0]
		}
	}
	if first != "" && strings.HasPrefix(filepath.Base(first), "php") {
		if p, err := exec.LookPath(first); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("php"); err == nil {
		return p
	}
	return ""
}
