# syntax=docker/dockerfile:1
#
# pivot on RoadRunner in one image: rr built from this repository, PHP 8.2 CLI from Debian
# bookworm with opcache, examples/pivotphp with its Composer dependencies, run as a non-root
# user. Replace examples/pivotphp (and deploy/docker/rr.yaml) with your application.
#
#   docker build -t pivot-app .
#   docker compose up            # with Redis (docker-compose.yml)
#
# scripts/container-smoke.sh replays the runtime stage on a host without a container engine
# (same packages, user and command) and tests/deploy lints this file (README: "Container").

ARG GO_VERSION=1.22.12
ARG DEBIAN_RELEASE=bookworm

# --- rr: this repository's RoadRunner distribution, with the pivot plugin ---
FROM golang:${GO_VERSION}-${DEBIAN_RELEASE} AS rr
WORKDIR /src
ENV CGO_ENABLED=0 GONOSUMDB=github.com/roadrunner-server/*
# go.mod replaces plugins/* with local modules: they come with the module files
COPY go.mod go.sum ./
COPY plugins/ plugins/
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags "-s -w -X main.buildTime=container" -o /out/rr ./cmd/rr

# --- vendor: the application's Composer dependencies (pivotphp/core, this package) ---
FROM composer:2.8 AS vendor
WORKDIR /app/examples/pivotphp
COPY php/ /app/php/
COPY examples/pivotphp/ ./
# the path repository ../../php is copied into vendor/, not symlinked
ENV COMPOSER_MIRROR_PATH_REPOS=1
# resolve for the runtime stage's PHP (Debian bookworm: 8.2), not the composer image's
RUN composer config platform.php 8.2.0 \
 && composer install --no-dev --no-interaction --no-progress --prefer-dist --optimize-autoloader

# --- runtime: Debian's php-cli, rr, the app; no compiler, no Composer ---
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends php8.2-cli php8.2-opcache php8.2-mbstring curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 pivot \
 && useradd --uid 10001 --gid pivot --home-dir /app --no-create-home --shell /usr/sbin/nologin pivot
COPY deploy/docker/php.ini /etc/php/8.2/cli/conf.d/90-pivot.ini
COPY --from=rr /out/rr /usr/local/bin/rr
# the code belongs to root and is only read by the pivot user
COPY --from=vendor /app/php/ /app/php/
COPY --from=vendor /app/examples/pivotphp/ /app/examples/pivotphp/
COPY deploy/docker/rr.yaml /app/.rr.yaml
WORKDIR /app/examples/pivotphp
USER pivot
EXPOSE 8080 2114
# SIGTERM: /ready answers 503 for pivot.shutdown_delay, then in-flight requests drain
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:2114/ready?plugin=pivot"]
CMD ["rr", "serve", "-c", "/app/.rr.yaml", "-w", "/app/examples/pivotphp"]
