#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine, only what is missing.
#   scripts/install-deps.sh run    php-cli (serving the examples)
#   scripts/install-deps.sh test   + phpunit, nyholm/psr7, psr/log, redis, memcached, curl, chromium, rabbitmq
#   scripts/install-deps.sh bench  + wrk, nginx, php-fpm, h2load (nghttp2-client), rabbitmq
set -euo pipefail

want=(php-cli)
case "${1:-run}" in
  run) ;;
  # rabbitmq-server is installed by its own script: its package starts a broker on 0.0.0.0
  # unless a policy-rc.d forbids it (the tests start their own on loopback ports)
  test) want+=(phpunit php-nyholm-psr7 php-psr-log redis-server memcached curl chromium) # chromium: tests/realtime and tests/observe (headless browser)
        "$(dirname "$0")/install-rabbitmq.sh" ;;
  bench) want+=(wrk nginx php-fpm nghttp2-client)
         "$(dirname "$0")/install-rabbitmq.sh" ;; # the jobs section's amqp driver
  *) echo "usage: $0 run|test|bench" >&2; exit 2 ;;
esac

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "missing packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2; exit 1; }
  sudo="sudo"
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts these services on install; the tests start their own on loopback ports.
for svc in redis-server memcached nginx php8.2-fpm; do
  if printf '%s\n' "${missing[@]}" | grep -q "^${svc%8.2-fpm}"; then $sudo service "$svc" stop >/dev/null 2>&1 || true; fi
done
