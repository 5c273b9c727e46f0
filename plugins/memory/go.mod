module github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/memory

go 1.22.0

require (
	github.com/roadrunner-server/api/v4 v4.11.1
	github.com/roadrunner-server/errors v1.4.0
	github.com/roadrunner-server/memory/v4 v4.6.16
	go.uber.org/zap v1.27.0
)

require (
	github.com/go-logr/logr v1.4.1 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/goccy/go-json v0.10.2 // indirect
	github.com/roadrunner-server/endure/v2 v2.4.3 // indirect
	go.opentelemetry.io/contrib/propagators/jaeger v1.24.0 // indirect
	go.opentelemetry.io/otel v1.24.0 // indirect
	go.opentelemetry.io/otel/metric v1.24.0 // indirect
	go.opentelemetry.io/otel/sdk v1.24.0 // indirect
	go.opentelemetry.io/otel/trace v1.24.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	golang.org/x/sys v0.17.0 // indirect
)
