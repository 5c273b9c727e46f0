module github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/rpc

go 1.22.0

require (
	github.com/goccy/go-json v0.10.2
	github.com/roadrunner-server/endure/v2 v2.4.3
	github.com/roadrunner-server/errors v1.4.0
	github.com/roadrunner-server/goridge/v3 v3.8.1
	github.com/roadrunner-server/rpc/v4 v4.2.17
	github.com/vmihailenco/msgpack/v5 v5.4.1
	go.uber.org/zap v1.27.0
	google.golang.org/protobuf v1.32.0
)

require (
	github.com/roadrunner-server/sdk/v4 v4.6.0 // indirect
	github.com/roadrunner-server/tcplisten v1.4.0 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
)
