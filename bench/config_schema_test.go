package main

import (
	"testing"

	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/schema"
	configImpl "github.com/roadrunner-server/config/v4"
)

// The pivot configs the benchmark serves (rrConfig with startServers' options) pass the
// schema and rr's startup check of the pivot section.
func TestBenchConfigsValidate(t *testing.T) {
	for _, options := range []string{"", "  pipeline: true\n"} {
		text := rrConfig("pivot", "php worker.php", options, 6001, 8080, 4)
		if err := schema.ValidateYAML([]byte(text)); err != nil {
			t.Errorf("the schema rejects\n%s\n%v", text, err)
		}
		cfg := &configImpl.Plugin{ReadInCfg: []byte(text), Type: "yaml", Version: pivot.RRVersion}
		if err := cfg.Init(); err != nil {
			t.Fatal(err)
		}
		if _, err := pivot.CheckConfig(cfg); err != nil {
			t.Errorf("rr rejects\n%s\n%v", text, err)
		}
	}
}
