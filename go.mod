module github.com/pivotphp/pivotphp-runtime-roadrunner

go 1.22.0

require (
	github.com/buger/goterm v1.0.4
	github.com/centrifugal/centrifuge v0.29.4
	github.com/dustin/go-humanize v1.0.1
	github.com/fatih/color v1.16.0
	github.com/go-rod/rod v0.116.2
	github.com/gorilla/websocket v1.5.0
	github.com/joho/godotenv v1.5.1
	github.com/olekukonko/tablewriter v0.0.5
	github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/amqp v0.0.0-00010101000000-000000000000
	github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/memory v0.0.0-00010101000000-000000000000
	github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/reload v0.0.0-00010101000000-000000000000
	github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/rpc v0.0.0-00010101000000-000000000000
	github.com/prometheus/client_golang v1.19.0
	github.com/roadrunner-server/api/v4 v4.11.1
	github.com/roadrunner-server/boltdb/v4 v4.7.15
	github.com/roadrunner-server/config/v4 v4.6.9
	github.com/roadrunner-server/endure/v2 v2.4.3
	github.com/roadrunner-server/errors v1.4.0
	github.com/roadrunner-server/fileserver/v4 v4.1.17
	github.com/roadrunner-server/goridge/v3 v3.8.1
	github.com/roadrunner-server/gzip/v4 v4.1.17
	github.com/roadrunner-server/headers/v4 v4.2.18
	github.com/roadrunner-server/http/v4 v4.5.3
	github.com/roadrunner-server/informer/v4 v4.3.16
	github.com/roadrunner-server/jobs/v4 v4.7.15
	github.com/roadrunner-server/kv/v4 v4.4.16
	github.com/roadrunner-server/logger/v4 v4.2.16
	github.com/roadrunner-server/memcached/v4 v4.3.15
	github.com/roadrunner-server/memory/v4 v4.6.16
	github.com/roadrunner-server/metrics/v4 v4.1.18
	github.com/roadrunner-server/otel/v4 v4.3.15
	github.com/roadrunner-server/prometheus/v4 v4.1.17
	github.com/roadrunner-server/redis/v4 v4.2.18
	github.com/roadrunner-server/resetter/v4 v4.1.2
	github.com/roadrunner-server/rpc/v4 v4.2.17
	github.com/roadrunner-server/sdk/v4 v4.6.0
	github.com/roadrunner-server/send/v4 v4.2.17
	github.com/roadrunner-server/server/v4 v4.5.9
	github.com/roadrunner-server/static/v4 v4.1.17
	github.com/roadrunner-server/status/v4 v4.4.15
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
	github.com/sony/gobreaker/v2 v2.4.0
	github.com/spf13/cobra v1.8.0
	github.com/spf13/viper v1.18.2
	go.uber.org/automaxprocs v1.5.3
	go.uber.org/zap v1.27.0
)

require (
	github.com/FZambia/eagle v0.1.0 // indirect
	github.com/centrifugal/protocol v0.10.0 // indirect
	github.com/igm/sockjs-go/v3 v3.0.2 // indirect
	github.com/josharian/intern v1.0.0 // indirect
	github.com/mailru/easyjson v0.7.7 // indirect
	github.com/rabbitmq/amqp091-go v1.10.0 // indirect
	github.com/redis/rueidis v1.0.14-go1.18 // indirect
	github.com/segmentio/asm v1.2.0 // indirect
	github.com/segmentio/encoding v0.3.6 // indirect
	github.com/ysmood/fetchup v0.2.3 // indirect
	github.com/ysmood/goob v0.4.0 // indirect
	github.com/ysmood/got v0.40.0 // indirect
	github.com/ysmood/gson v0.7.3 // indirect
	github.com/ysmood/leakless v0.9.0 // indirect
)

// Our own plugins (memory, rpc) are modules of their own so that velox can build them
// (velox.toml: folder = "plugins/<name>"); ./cmd/rr builds them from this checkout.
replace (
	github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/amqp => ./plugins/amqp
	github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/memory => ./plugins/memory
	github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/reload => ./plugins/reload
	github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/rpc => ./plugins/rpc
)

exclude (
	github.com/spf13/viper v1.18.0
	github.com/spf13/viper v1.18.1
	github.com/uber-go/tally/v4 v4.1.11
	go.temporal.io/api v1.26.1
)

require (
	github.com/andybalholm/brotli v1.1.0 // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/bradfitz/gomemcache v0.0.0-20230905024940-24af94b03874 // indirect
	github.com/caddyserver/certmagic v0.20.0 // indirect
	github.com/cenkalti/backoff/v4 v4.2.1 // indirect
	github.com/cespare/xxhash/v2 v2.2.0 // indirect
	github.com/davecgh/go-spew v1.1.2-0.20180830191138-d8f796af33cc // indirect
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
	github.com/facebookgo/clock v0.0.0-20150410010913-600d898af40a // indirect
	github.com/felixge/httpsnoop v1.0.4 // indirect
	github.com/fsnotify/fsnotify v1.7.0
	github.com/go-logr/logr v1.4.1 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/go-ole/go-ole v1.3.0 // indirect
	github.com/go-task/slim-sprig v0.0.0-20230315185526-52ccab3ef572 // indirect
	github.com/goccy/go-json v0.10.2 // indirect
	github.com/gofiber/fiber/v2 v2.52.1 // indirect
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/mock v1.7.0-rc.1 // indirect
	github.com/golang/protobuf v1.5.3 // indirect
	github.com/google/pprof v0.0.0-20240227163752-401108e1b7e7 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/grpc-ecosystem/go-grpc-middleware v1.4.0 // indirect
	github.com/grpc-ecosystem/grpc-gateway/v2 v2.19.1 // indirect
	github.com/hashicorp/hcl v1.0.0 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/klauspost/compress v1.17.7 // indirect
	github.com/klauspost/cpuid/v2 v2.2.7 // indirect
	github.com/libdns/libdns v0.2.1 // indirect
	github.com/magiconair/properties v1.8.7 // indirect
	github.com/mattn/go-colorable v0.1.13 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/mattn/go-runewidth v0.0.15 // indirect
	github.com/mholt/acmez v1.2.0 // indirect
	github.com/miekg/dns v1.1.58 // indirect
	github.com/mitchellh/mapstructure v1.5.0
	github.com/onsi/ginkgo/v2 v2.15.0 // indirect
	github.com/openzipkin/zipkin-go v0.4.2 // indirect
	github.com/pborman/uuid v1.2.1 // indirect
	github.com/pelletier/go-toml/v2 v2.1.1
	github.com/pmezard/go-difflib v1.0.1-0.20181226105442-5d4384ee4fb2 // indirect
	github.com/prometheus/client_model v0.6.0 // indirect
	github.com/prometheus/common v0.49.0 // indirect
	github.com/prometheus/procfs v0.12.0 // indirect
	github.com/quic-go/qpack v0.4.0 // indirect
	github.com/quic-go/quic-go v0.42.0
	github.com/redis/go-redis/extra/rediscmd/v9 v9.0.5 // indirect
	github.com/redis/go-redis/extra/redisotel/v9 v9.0.5 // indirect
	github.com/redis/go-redis/v9 v9.5.1
	github.com/rivo/uniseg v0.4.7 // indirect
	github.com/roadrunner-server/tcplisten v1.4.0 // indirect
	github.com/robfig/cron v1.2.0 // indirect
	github.com/rs/cors v1.10.1 // indirect
	github.com/sagikazarmark/locafero v0.4.0 // indirect
	github.com/sagikazarmark/slog-shim v0.1.0 // indirect
	github.com/shirou/gopsutil v3.21.11+incompatible // indirect
	github.com/sourcegraph/conc v0.3.0 // indirect
	github.com/spf13/afero v1.11.0 // indirect
	github.com/spf13/cast v1.6.0 // indirect
	github.com/spf13/pflag v1.0.5 // indirect
	github.com/stretchr/objx v0.5.2 // indirect
	github.com/stretchr/testify v1.8.4 // indirect
	github.com/subosito/gotenv v1.6.0 // indirect
	github.com/tklauser/go-sysconf v0.3.13 // indirect
	github.com/tklauser/numcpus v0.7.0 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasthttp v1.52.0
	github.com/valyala/tcplisten v1.0.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	github.com/yusufpapurcu/wmi v1.2.4 // indirect
	github.com/zeebo/blake3 v0.2.3 // indirect
	go.etcd.io/bbolt v1.3.9 // indirect
	go.opentelemetry.io/contrib/instrumentation/github.com/bradfitz/gomemcache/memcache/otelmemcache v0.43.0 // indirect
	go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp v0.49.0 // indirect
	go.opentelemetry.io/contrib/propagators/jaeger v1.24.0 // indirect
	go.opentelemetry.io/otel v1.24.0
	go.opentelemetry.io/otel/exporters/otlp/otlptrace v1.24.0
	go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc v1.24.0
	go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp v1.24.0
	go.opentelemetry.io/otel/exporters/stdout/stdouttrace v1.24.0
	go.opentelemetry.io/otel/exporters/zipkin v1.24.0
	go.opentelemetry.io/otel/metric v1.24.0 // indirect
	go.opentelemetry.io/otel/sdk v1.24.0
	go.opentelemetry.io/otel/trace v1.24.0
	go.opentelemetry.io/proto/otlp v1.1.0
	go.temporal.io/api v1.28.0 // indirect
	go.temporal.io/sdk v1.26.0-rc.3 // indirect
	go.temporal.io/sdk/contrib/opentelemetry v0.4.0 // indirect
	go.uber.org/mock v0.4.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	golang.org/x/crypto v0.21.0 // indirect
	golang.org/x/exp v0.0.0-20240222234643-814bf88cf225 // indirect
	golang.org/x/mod v0.15.0
	golang.org/x/net v0.23.0
	golang.org/x/sync v0.6.0 // indirect
	golang.org/x/sys v0.18.0
	golang.org/x/text v0.14.0 // indirect
	golang.org/x/time v0.5.0
	golang.org/x/tools v0.18.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20240228224816-df926f6c8641 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20240228224816-df926f6c8641 // indirect
	google.golang.org/grpc v1.62.0
	google.golang.org/protobuf v1.32.0
	gopkg.in/ini.v1 v1.67.0 // indirect
	gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
	gopkg.in/yaml.v3 v3.0.1
)
