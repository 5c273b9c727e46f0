package testsupport

import (
	"os"
	"sync"
	"testing"

	"github.com/pivotphp/pivotphp-runtime-roadrunner/schema"
	"gopkg.in/yaml.v3"
)

// schemaChecked are the RRs whose config checkSchema has checked.
var schemaChecked sync.Map

// checkSchema fails the test (without stopping it) when schema/pivot.schema.json rejects the
// config of an rr that started: the schema editors read must accept every config rr serves,
// so every test's config is checked, and a key added to a Go config struct but not to the
// schema shows up here with the test that uses it.
func (r *RR) checkSchema(t testing.TB) {
	t.Helper()
	if _, done := schemaChecked.LoadOrStore(r, true); done {
		return
	}
	data, err := os.ReadFile(r.Config)
	if err != nil {
		return
	}
	CheckSchema(t, r.Config, data)
}

// CheckSchema fails the test (without stopping it) when schema/pivot.schema.json rejects the
// pivot section of config (named where in the message): call it with the config of an rr or a
// container that started.
func CheckSchema(t testing.TB, where string, config []byte) {
	t.Helper()
	var doc map[string]any
	if yaml.Unmarshal(config, &doc) != nil {
		return // ${VAR} inside { }: rr reads it substituted (rr config migrate quotes it)
	}
	if _, ok := doc["pivot"]; !ok {
		return
	}
	if err := schema.Validate(doc); err != nil {
		t.Errorf("schema/pivot.schema.json rejects the config rr started with (%s): add what it lacks to the schema "+
			"(README: Config validation): %v", where, err)
	}
}
