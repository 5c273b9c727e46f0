package main

import (
	"fmt"

	_ "github.com/buger/goterm"
	_ "github.com/dustin/go-humanize"
	_ "github.com/fatih/color"
	_ "github.com/joho/godotenv"
	_ "github.com/olekukonko/tablewriter"
	pivot "github.com/pivotphp/pivotphp-runtime-roadrunner"
	"github.com/roadrunner-server/boltdb/v4"
	configImpl "github.com/roadrunner-server/config/v4"
	"github.com/roadrunner-server/endure/v2"
	"github.com/roadrunner-server/fileserver/v4"
	"github.com/roadrunner-server/goridge/v3/pkg/rpc"
	"github.com/roadrunner-server/gzip/v4"
	"github.com/roadrunner-server/headers/v4"
	httpPlugin "github.com/roadrunner-server/http/v4"
	"github.com/roadrunner-server/informer/v4"
	"github.com/roadrunner-server/jobs/v4"
	"github.com/roadrunner-server/kv/v4"
	"github.com/roadrunner-server/logger/v4"
	"github.com/roadrunner-server/memcached/v4"
	"github.com/roadrunner-server/memory/v4"
	"github.com/roadrunner-server/metrics/v4"
	"github.com/roadrunner-server/otel/v4"
	"github.com/roadrunner-server/prometheus/v4"
	"github.com/roadrunner-server/redis/v4"
	"github.com/roadrunner-server/resetter/v4"
	rpcPlugin "github.com/roadrunner-server/rpc/v4"
	"github.com/roadrunner-server/send/v4"
	"github.com/roadrunner-server/server/v4"
	"github.com/roadrunner-server/static/v4"
	"github.com/roadrunner-server/status/v4"
	_ "github.com/spf13/cobra"
	_ "github.com/spf13/viper"
	_ "go.uber.org/automaxprocs/maxprocs"
)

func main() {
	_ = endure.New
	_ = rpc.NewClientCodec
	fmt.Println([]any{&configImpl.Plugin{}, &logger.Plugin{}, &rpcPlugin.Plugin{}, &server.Plugin{}, &informer.Plugin{}, &resetter.Plugin{},
		&status.Plugin{}, &metrics.Plugin{}, &jobs.Plugin{}, &memory.Plugin{}, &boltdb.Plugin{}, &kv.Plugin{}, &redis.Plugin{},
		&memcached.Plugin{}, &httpPlugin.Plugin{}, &gzip.Plugin{}, &headers.Plugin{}, &static.Plugin{}, &send.Plugin{},
		&fileserver.Plugin{}, &otel.Plugin{}, &prometheus.Plugin{}, &pivot.Plugin{}})
}
