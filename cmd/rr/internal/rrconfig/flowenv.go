package rrconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// envRef is a ${VAR} or ${VAR:-default} reference, as the config plugin expands them.
var envRef = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}`)

// ReadYAML returns the bytes of a YAML configuration file to parse. RoadRunner users write
// ${VAR:-default} inside flow collections (`pool: { num_workers: ${RR_HTTP_WORKERS:-4} }`),
// which YAML cannot parse (`{` is a flow indicator there), and which the config plugin would
// refuse. When the file does not parse as written but does once its ${...} references are
// substituted, ReadYAML returns the substituted bytes and a note that says so and how to
// write the file so it parses as it is. Otherwise it returns the file unchanged (the config
// plugin expands the references in the values later).
func ReadYAML(path string) (data []byte, note string, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var probe any
	parseErr := yaml.Unmarshal(raw, &probe)
	if parseErr == nil || !envRef.Match(raw) {
		return raw, "", nil
	}
	expanded := envRef.ReplaceAllFunc(raw, func(ref []byte) []byte { return []byte(ExpandEnv(string(ref))) })
	if yaml.Unmarshal(expanded, &probe) != nil {
		return raw, "", nil // not the cause: let the parser report the file's own error
	}
	var refs []string
	for _, line := range strings.Split(string(raw), "\n") {
		if envRef.MatchString(line) && strings.ContainsAny(line, "{[") {
			refs = append(refs, strings.TrimSpace(line))
		}
	}
	note = fmt.Sprintf("%s is not valid YAML as written (%v): a ${VAR} or ${VAR:-default} inside { } or [ ] "+
		"is read as a nested collection. The references were substituted before parsing; quote them to keep the file "+
		"valid YAML, e.g. num_workers: \"${RR_HTTP_WORKERS:-4}\". Lines: %s",
		filepath.Base(path), parseErr, strings.Join(refs, " | "))
	return expanded, note, nil
}

// QuoteFlowEnv quotes the ${...} references of a YAML text that does not parse as written
// because of them (see ReadYAML): `{ num_workers: ${RR_HTTP_WORKERS:-4} }` becomes
// `{ num_workers: "${RR_HTTP_WORKERS:-4}" }`, which parses and is expanded the same way. A text
// that parses, or that quoting does not fix, is returned unchanged with ok false.
func QuoteFlowEnv(src []byte) (out []byte, ok bool) {
	var probe any
	if yaml.Unmarshal(src, &probe) == nil {
		return src, false
	}
	// only unquoted references: a quote or a word character right before `${` is left alone
	quoted := unquotedEnvRef.ReplaceAll(src, []byte(`$1"$2"`))
	if yaml.Unmarshal(quoted, &probe) != nil {
		return src, false
	}
	return quoted, true
}

var unquotedEnvRef = regexp.MustCompile(`([\s:,\[{])(\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\})`)
