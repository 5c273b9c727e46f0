package observe

import (
	"fmt"
	"strings"

	rrlogger "github.com/roadrunner-server/logger/v4"
)

// TraceConfig is `pivot.trace`: what pivot's tracing needs beyond RoadRunner's `otel` section,
// which configures the exporter for both stock `http` and pivot.
type TraceConfig struct {
	// Sample is the ratio of new traces pivot records, from 0 to 1 (default 1: RoadRunner's
	// otel plugin records every request). Parent-based: a request whose incoming traceparent
	// is sampled is always recorded, one whose traceparent is not sampled never is.
	Sample *float64 `mapstructure:"sample"`
	// Exporter overrides otel.exporter for pivot's spans only (otlp, stdout, stderr, zipkin,
	// none); none still gives PHP a traceparent, and exports nothing.
	Exporter string `mapstructure:"exporter"`
}

// InitDefaults sets sample to 1.
func (t *TraceConfig) InitDefaults() {
	if t.Sample == nil {
		one := 1.0
		t.Sample = &one
	}
	t.Exporter = strings.ToLower(strings.TrimSpace(t.Exporter))
}

// Valid checks pivot.trace; errors name the key and the fix.
func (t *TraceConfig) Valid() error {
	if s := *t.Sample; s < 0 || s > 1 || s != s {
		return fmt.Errorf("pivot.trace.sample is %v: it is a ratio from 0 (no new trace recorded) to 1 (every request); change it", s)
	}
	if t.Exporter != "" && !knownExporter(t.Exporter) {
		return fmt.Errorf("pivot.trace.exporter %q is not an exporter pivot has: use otlp, stdout, stderr, zipkin or none, or remove it to use otel.exporter", t.Exporter)
	}
	return nil
}

// OtelConfig is RoadRunner's `otel` section (github.com/roadrunner-server/otel/v4's Config):
// the keys pivot reads, so one block configures stock http's spans and pivot's.
type OtelConfig struct {
	Resource       *Resource         `mapstructure:"resource"`
	Insecure       bool              `mapstructure:"insecure"`
	Compress       bool              `mapstructure:"compress"`
	Exporter       string            `mapstructure:"exporter"`
	CustomURL      string            `mapstructure:"custom_url"`
	Client         string            `mapstructure:"client"`
	Endpoint       string            `mapstructure:"endpoint"`
	ServiceName    string            `mapstructure:"service_name"`
	ServiceVersion string            `mapstructure:"service_version"`
	Headers        map[string]string `mapstructure:"headers"`
}

// Resource is otel.resource.
type Resource struct {
	ServiceName       string `mapstructure:"service_name"`
	ServiceNamespace  string `mapstructure:"service_namespace"`
	ServiceInstanceID string `mapstructure:"service_instance_id"`
	ServiceVersion    string `mapstructure:"service_version"`
}

// InitDefaults applies RoadRunner's otel defaults: exporter otlp over http, service RoadRunner 1.0.0.
func (o *OtelConfig) InitDefaults() {
	o.Exporter = strings.ToLower(strings.TrimSpace(o.Exporter))
	if o.Exporter == "" {
		o.Exporter = "otlp"
	}
	if o.Client != "grpc" {
		o.Client = "http"
	}
	if o.Resource == nil {
		o.Resource = &Resource{}
	}
	if o.Resource.ServiceName == "" {
		o.Resource.ServiceName = o.ServiceName
	}
	if o.Resource.ServiceName == "" {
		o.Resource.ServiceName = "RoadRunner"
	}
	if o.Resource.ServiceVersion == "" {
		o.Resource.ServiceVersion = o.ServiceVersion
	}
	if o.Resource.ServiceVersion == "" {
		o.Resource.ServiceVersion = "1.0.0"
	}
}

func knownExporter(e string) bool {
	switch e {
	case "otlp", "stdout", "stderr", "zipkin", "none":
		return true
	}
	return false
}

// Options is what the observer reads of the configuration.
type Options struct {
	// AccessLog is pivot.access_log: one line per request.
	AccessLog bool
	// Logs is RoadRunner's logs configuration for pivot (its channel `pivot`, else the section):
	// the access log is written by a buffered logger built from it (accesslog.go); nil, or one
	// that cannot be buffered: through pivot's own logger.
	Logs *rrlogger.Config
	// Trace is pivot.trace and Otel the otel section; tracing is on when either is set.
	Trace *TraceConfig
	Otel  *OtelConfig
	// Version is the service's pivot version, a span attribute.
	Version string
}

// exporter is the exporter pivot's spans go to.
func (o Options) exporter() string {
	if o.Trace != nil && o.Trace.Exporter != "" {
		return o.Trace.Exporter
	}
	if o.Otel != nil {
		return o.Otel.Exporter
	}
	return "none"
}
