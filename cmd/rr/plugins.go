package main

import (
	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
	"github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/amqp"
	memory "github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/memory"
	reload "github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/reload"
	rpcPlugin "github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/rpc"
	"github.com/roadrunner-server/boltdb/v4"
	"github.com/roadrunner-server/fileserver/v4"
	"github.com/roadrunner-server/gzip/v4"
	"github.com/roadrunner-server/headers/v4"
	httpPlugin "github.com/roadrunner-server/http/v4"
	"github.com/roadrunner-server/informer/v4"
	"github.com/roadrunner-server/jobs/v4"
	"github.com/roadrunner-server/kv/v4"
	"github.com/roadrunner-server/logger/v4"
	"github.com/roadrunner-server/memcached/v4"
	"github.com/roadrunner-server/metrics/v4"
	"github.com/roadrunner-server/otel/v4"
	"github.com/roadrunner-server/prometheus/v4"
	"github.com/roadrunner-server/redis/v4"
	"github.com/roadrunner-server/resetter/v4"
	"github.com/roadrunner-server/send/v4"
	"github.com/roadrunner-server/server/v4"
	"github.com/roadrunner-server/static/v4"
	"github.com/roadrunner-server/status/v4"
)

// plugins is the endure plugin set of this distribution: every RoadRunner
// v2023.3.12 plugin whose module is available, plus pivot. The config plugin
// is added by `serve` (it needs the CLI flags).
//
// Keep it in sync with velox.toml (velox_test.go fails on any drift).
func plugins() []any {
	return []any{
		// informer and resetter back `rr workers` and `rr reset`
		&informer.Plugin{},
		&resetter.Plugin{},

		// core
		&logger.Plugin{},
		// ours (plugins/rpc): RoadRunner's rpc plugin, but no request a client sends can
		// crash rr (panics in goridge's codec and in RPC methods are recovered)
		&rpcPlugin.Plugin{},
		&server.Plugin{},
		&status.Plugin{},
		&metrics.Plugin{},

		// jobs and its drivers
		&jobs.Plugin{},
		// ours (plugins/memory): RoadRunner's memory plugin (jobs driver untouched) whose
		// KV storage keeps expiries itself: a TTL under 1 s or in the past no longer kills rr
		&memory.Plugin{},
		&boltdb.Plugin{},
		// ours (plugins/amqp): an amqp driver on rabbitmq/amqp091-go (RoadRunner's is not
		// served here): publisher confirms, attempts and a dead-letter queue, endless redial
		&amqp.Plugin{},

		// key-value
		&kv.Plugin{},
		&redis.Plugin{},
		&memcached.Plugin{},

		// http and its middleware
		&httpPlugin.Plugin{},
		&gzip.Plugin{},
		&headers.Plugin{},
		&static.Plugin{},
		&send.Plugin{},
		&fileserver.Plugin{},
		&otel.Plugin{},
		&prometheus.Plugin{},

		// ours
		&pivot.Plugin{},
		// ours (plugins/reload): RoadRunner 2.x's `reload` section, on fsnotify (a dev tool)
		&reload.Plugin{},
	}
}
