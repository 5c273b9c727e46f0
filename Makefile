# pivotphp-runtime-roadrunner
#   make serve   build ./rr and serve examples/hello on http://127.0.0.1:8080
#   make pivotphp  build ./rr and serve examples/pivotphp (composer install once) on :8080
#   make test    every Go and PHP test
#   make bench   throughput/latency against stock RoadRunner http and nginx + php-fpm
#   make soak    the lifecycle chaos tests with longer loads
#   make conformance  the raw-socket HTTP/1.1 conformance suite, pivot against stock http (tests/conformance)
#   make fuzz    every Go fuzz target for FUZZTIME each (default 2m)
SHELL := /bin/bash
GO ?= go
RR_VERSION := 2023.3.12
BUILD_TIME := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.buildTime=$(BUILD_TIME)
GOFLAGS_BUILD := -trimpath -ldflags "$(LDFLAGS)"
PHPUNIT ?= phpunit

.PHONY: all build serve pivotphp test test-go test-php lint deps-run deps-test deps-bench bench bench-go bench-broadcast soak conformance fuzz clean

all: build

deps-run:
	@scripts/install-deps.sh run

deps-test:
	@scripts/install-deps.sh test

deps-bench:
	@scripts/install-deps.sh bench

rr: $(shell find . -name '*.go' -not -path './php/*' -not -name '*_test.go') $(wildcard internal/observe/panel/static/*) go.mod go.sum
	$(GO) build $(GOFLAGS_BUILD) -o rr ./cmd/rr

build: rr

serve: deps-run build
	./rr serve -c .rr.yaml -p

# examples/pivotphp (its Composer dependencies are installed once, from Packagist)
pivotphp: deps-run build
	@[ -f examples/pivotphp/vendor/autoload.php ] || (cd examples/pivotphp && composer install --no-dev)
	./rr serve -c examples/pivotphp/.rr.yaml

# our plugins that velox builds from their own modules (plugins/*/go.mod)
PLUGIN_MODULES := github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/memory/... github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/rpc/... github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/reload/... github.com/pivotphp/pivotphp-runtime-roadrunner/plugins/amqp/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./... $(PLUGIN_MODULES)

test: deps-test lint test-php test-go

# build: php/tests/Cli runs bin/pivot-rr against this rr
test-php: build
	RR_BINARY=$(CURDIR)/rr $(PHPUNIT) -c php/phpunit.xml.dist

# -p 1: one test binary at a time; each starts servers on ports it picks free, which another
# binary running beside it could take in between (and two cores are enough for one at a time)
test-go: build
	$(GO) test -race -p 1 -count=1 -timeout 30m ./... $(PLUGIN_MODULES)
	# a short run of each fuzz target (their seed corpora run above), a few seconds each; counts,
	# not durations: a duration's deadline races the fuzz workers in Go 1.26 and fails a clean
	# run with "context deadline exceeded" (golang/go#75804, fixed in Go 1.27)
	$(GO) test -run '^$$' -fuzz FuzzValidatorAgreesWithNetHTTP -fuzztime 200000x ./internal/http1
	$(GO) test -run '^$$' -fuzz FuzzReadFrame -fuzztime 200000x ./internal/pool
	$(GO) test -run '^$$' -fuzz FuzzFrameRoundTrip -fuzztime 100000x ./internal/pool
	$(GO) test -run '^$$' -fuzz FuzzApplyResponseContext -fuzztime 100000x ./internal/protocol
	$(GO) test -run '^$$' -fuzz FuzzHeaderFields -fuzztime 80000x ./internal/protocol
	$(GO) test -run '^$$' -fuzz FuzzAppendRemoteIP -fuzztime 40000x ./internal/protocol
	$(GO) test -run '^$$' -fuzz FuzzRequestContext -fuzztime 20000x ./internal/httpfront
	$(GO) test -run '^$$' -fuzz FuzzFormBody -fuzztime 15000x ./internal/httpfront
	$(GO) test -run '^$$' -fuzz FuzzResponseHead -fuzztime 15000x ./internal/httpfront
	# the benchmarks check every answer: a short run keeps them working
	$(GO) test -run '^$$' -bench . -benchtime 200x ./tests/integration

bench: deps-bench build
	$(GO) run ./bench -rr ./rr

# Go-side cost per request of the handler (allocations, ns/op incl. the PHP round trip), and the
# pool round trip without HTTP (calls/s: a ceiling of pivot's req/s)
bench-go: deps-run
	$(GO) test -run '^$$' -bench BenchmarkHandler -benchtime 20000x ./tests/integration
	$(GO) test -run '^$$' -bench BenchmarkPoolRoundTrip -benchtime 100000x ./tests/integration

# pivot.broadcast at issue 22's size: 2,000 WebSocket clients on 10 channels, 1,000 messages
# published from PHP; every delivery checked, latency p50/p99 and rr's RSS printed
bench-broadcast: deps-test build
	PIVOT_BROADCAST_CLIENTS=2000 PIVOT_BROADCAST_MESSAGES=1000 $(GO) test -count=1 -timeout 10m -run TestLoad -v ./tests/realtime

soak: deps-test
	PIVOT_SOAK=1 $(GO) test -count=1 -timeout 60m -run 'UnderLoad|SIGTERM|CrashLoop' -v ./tests/integration

# the raw-socket HTTP/1.1 conformance suite alone (tests/conformance/README.md; make test runs
# it too): pivot judged by RFC 9110/9112, stock http in the same ./rr as the reference
conformance: build
	$(GO) test -count=1 -v ./tests/conformance

# every fuzz target as package:Name, each for FUZZTIME (go test -fuzz takes one target per run);
# with Go 1.26 a duration may end a clean run with "context deadline exceeded" (golang/go#75804):
# FUZZTIME=2000000x counts executions instead
FUZZTIME ?= 2m
FUZZ_TARGETS := internal/http1:FuzzValidatorAgreesWithNetHTTP \
	internal/pool:FuzzReadFrame internal/pool:FuzzFrameRoundTrip \
	internal/protocol:FuzzApplyResponseContext internal/protocol:FuzzHeaderFields internal/protocol:FuzzAppendRemoteIP \
	internal/httpfront:FuzzRequestContext internal/httpfront:FuzzFormBody internal/httpfront:FuzzResponseHead

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $${t#*:} ($${t%%:*}, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) ./$${t%%:*}; \
	done

clean:
	rm -f rr .pid
