// Package schema holds pivot.schema.json, the JSON Schema of .rr.yaml's pivot section that
// editors read (README: "Config validation"), and validates YAML against it for the tests
// (schema_test.go, internal/testsupport): the rr binary does not link it, `rr config validate`
// runs the Go checks the schema mirrors.
package schema

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// JSON is schema/pivot.schema.json.
//
//go:embed pivot.schema.json
var JSON []byte

// URL is the schema's $id, what a YAML file's `# yaml-language-server: $schema=` line names.
const URL = "https://raw.githubusercontent.com/pivotphp/pivotphp-runtime-roadrunner/main/schema/pivot.schema.json"

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSON))
	if err != nil {
		return nil, fmt.Errorf("schema/pivot.schema.json is not JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err = c.AddResource(URL, doc); err != nil {
		return nil, err
	}
	return c.Compile(URL)
})

// ValidateYAML validates a whole .rr.yaml (its pivot section; the others are RoadRunner's and
// not checked) as an editor's YAML language server does: on the text as written, ${VAR}
// references included.
func ValidateYAML(text []byte) error {
	var doc any
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return fmt.Errorf("not YAML: %w", err)
	}
	return Validate(doc)
}

// Validate validates a decoded document (maps, lists, scalars as yaml.v3 decodes them).
func Validate(doc any) error {
	s, err := compiled()
	if err != nil {
		return err
	}
	// through JSON: the validator reads JSON's types (json.Number, map[string]any)
	data, err := json.Marshal(jsonable(doc))
	if err != nil {
		return fmt.Errorf("cannot be read as JSON: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// jsonable turns yaml.v3's map[any]any (non-string keys) into map[string]any.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonable(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonable(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	}
	return v
}
