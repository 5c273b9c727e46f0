#!/usr/bin/env bash
# Installs RabbitMQ (Debian's rabbitmq-server) for the suites that start a broker of their own
# (plugins/amqp/amqptest: the amqp plugin's tests, tests/amqp, tests/featurerequest, make bench),
# only if it is missing. Idempotent: a second run with the package installed does nothing.
#
# The package's maintainer scripts would start a broker on 0.0.0.0:5672; the tests start their
# own on loopback and free ports, so the install runs behind a policy-rc.d that exits 101
# ("action forbidden"). An existing policy-rc.d is kept as it is; one this script creates is
# removed again afterwards. sudo is used only when not root.
set -euo pipefail

if [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] &&
  dpkg-query -W -f='${Status}' rabbitmq-server 2>/dev/null | grep -q "install ok installed"; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || {
    echo "rabbitmq-server is missing; install it as root (apt-get install rabbitmq-server)" >&2
    exit 1
  }
  sudo="sudo"
fi

policy=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# written by install-rabbitmq.sh: no service starts during the install\nexit 101\n' |
    $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  created_policy=1
fi
cleanup() {
  if [ -n "$created_policy" ]; then $sudo rm -f "$policy"; fi
}
trap cleanup EXIT

echo "installing rabbitmq-server" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null

# A broker the package may still have started (a policy-rc.d that was there but allowed it):
# stop it, the tests run their own.
if pgrep -u rabbitmq -f beam >/dev/null 2>&1; then
  $sudo service rabbitmq-server stop >/dev/null 2>&1 || true
fi
