#!/usr/bin/env bash
# The Dockerfile's runtime stage, replayed on this host (no container engine here): the same
# Debian packages, the same non-root user (created as the Dockerfile creates it), the same files
# at the same places under a staging root, the same command as that user; then the HEALTHCHECK
# until it passes, a request, and a SIGTERM that must drain and exit 0 (STOPSIGNAL).
#
#   sudo scripts/container-smoke.sh        (root: it may install packages, create the user, switch to it)
#
# What is read from the Dockerfile (scripts/dockerfile-stage.php): the runtime stage's apt-get
# packages, its useradd RUN, COPY list, USER, WORKDIR, CMD, HEALTHCHECK command and STOPSIGNAL.
# What differs, and why:
#   - paths: the stage's /app and /usr/local/bin live under a temporary directory ($STAGE), its
#     php.ini is added with PHP_INI_SCAN_DIR; the command and WORKDIR are rewritten to match;
#   - --from=rr is this repository's rr ($RR_BINARY, else ./rr, built when missing);
#   - --from=vendor: the composer install is the one step not replayed (no Packagist here):
#     PIVOTPHP_AUTOLOAD names an installed pivotphp/core, else php/tests/fixtures/fake-core5
#     stands in for it (a 5.x-shaped fake; the runtime, rr, Redis and the app code are real);
#   - addresses: free 127.0.0.1 ports through the config's ${PIVOT_ADDRESS} etc. (the image's
#     defaults are 0.0.0.0:8080 and :2114); the HEALTHCHECK's port is rewritten to match;
#   - Redis: $REDIS_ADDR, else a redis-server started here (docker-compose.yml's redis service).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "container-smoke: $*"; }
die() { echo "container-smoke: FAIL: $*" >&2; exit 1; }

eval "$(php "$root/scripts/dockerfile-stage.php" "$root/Dockerfile")"
[ "${#CMD[@]}" -gt 0 ] || die "the Dockerfile's last stage has no CMD"
[ "${#HEALTH[@]}" -gt 0 ] || die "the Dockerfile's last stage has no HEALTHCHECK CMD"
[ "$RUNTIME_USER" != root ] && [ "$RUNTIME_USER" != 0 ] || die "the runtime stage runs as root"
[ "$(id -u)" -eq 0 ] || die "run as root: the runtime stage's user must be created and switched to"

# 1. packages
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
say "packages: ${PACKAGES[*]}"

# 2. the user, created by the Dockerfile's own RUN
if ! id -u "$RUNTIME_USER" >/dev/null 2>&1; then
  bash -c "$USER_RUN"
fi
say "user: $(id "$RUNTIME_USER")"
[ "$(id -u "$RUNTIME_USER")" -ne 0 ] || die "$RUNTIME_USER has uid 0"

# 3. the files
STAGE=$(mktemp -d /tmp/pivot-container-smoke.XXXXXX)
chmod 755 "$STAGE"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  rm -rf "$STAGE"
}
trap cleanup EXIT

rr_bin=${RR_BINARY:-$root/rr}
if [ ! -x "$rr_bin" ]; then
  say "building $rr_bin"
  (cd "$root" && go build -o "$rr_bin" ./cmd/rr)
fi
for c in "${COPIES[@]}"; do
  IFS='|' read -r from src dst <<<"$c"
  case "$from" in
    rr) [ "$src" = /out/rr ] || die "unknown file $src of the rr stage"; from_path=$rr_bin ;;
    vendor) from_path=$root/${src#/app/} ;;      # the vendor stage copies php/ and examples/pivotphp/ under /app
    "") from_path=$root/$src ;;
    *) die "COPY --from=$from is not known to this script" ;;
  esac
  [ -e "$from_path" ] || die "COPY source $from_path is missing"
  mkdir -p "$(dirname "$STAGE$dst")"
  if [ -d "$from_path" ]; then
    mkdir -p "$STAGE$dst"
    cp -R "$from_path/." "$STAGE$dst"
    rm -rf "$STAGE$dst/vendor" # the vendor stage's, not this checkout's
  else
    cp "$from_path" "$STAGE$dst"
  fi
done
chmod -R a+rX "$STAGE" # root's files, read by the runtime user (as in the image)

# (php/tests is not in the image: .dockerignore) the stand-in core, outside the stage's /app
if [ -z "${PIVOTPHP_AUTOLOAD:-}" ]; then
  rm -rf "$STAGE/app/php/tests"
  cp -R "$root/php/tests/fixtures/fake-core5" "$STAGE/fake-core5"
  chmod -R a+rX "$STAGE/fake-core5"
fi
core=${PIVOTPHP_AUTOLOAD:-$STAGE/fake-core5/autoload.php}
say "PivotPHP: $core"

free_port() { php -r '$s = stream_socket_server("tcp://127.0.0.1:0"); echo explode(":", stream_socket_get_name($s, false))[1];'; }
pivot_port=$(free_port); status_port=$(free_port); rpc_port=$(free_port)

if [ -z "${REDIS_ADDR:-}" ]; then
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
  pids+=($!)
  REDIS_ADDR=127.0.0.1:$redis_port
fi

# 4. the command, as the user, in the WORKDIR
cmd=()
for a in "${CMD[@]}"; do
  case "$a" in /*) [ -e "$STAGE$a" ] && a=$STAGE$a ;; esac
  cmd+=("$a")
done
health=()
for a in "${HEALTH[@]}"; do health+=("${a/:2114\//:$status_port/}"); done

log=$STAGE/rr.log
(
  cd "$STAGE$WORKDIR"
  exec setpriv --reuid="$RUNTIME_USER" --regid="$RUNTIME_USER" --init-groups -- \
    env -i PATH="$STAGE/usr/local/bin:/usr/local/bin:/usr/bin:/bin" HOME=/nonexistent \
    PHP_INI_SCAN_DIR=":$STAGE/etc/php/8.2/cli/conf.d" \
    PIVOT_ADDRESS="127.0.0.1:$pivot_port" STATUS_ADDRESS="127.0.0.1:$status_port" RPC_ADDRESS="127.0.0.1:$rpc_port" \
    REDIS_ADDR="$REDIS_ADDR" PIVOTPHP_AUTOLOAD="$core" PIVOT_WORKERS=2 \
    "${cmd[@]}"
) >"$log" 2>&1 &
rr_pid=$!
pids+=($rr_pid)
say "running as $RUNTIME_USER in $WORKDIR: ${CMD[*]} (pid $rr_pid)"

# 5. the HEALTHCHECK, until it passes (the image gives it a 30s start period)
ok=""
for _ in $(seq 1 60); do
  if "${health[@]}" 2>/dev/null; then ok=1; break; fi
  kill -0 "$rr_pid" 2>/dev/null || { cat "$log" >&2; die "rr exited"; }
  sleep 0.5
done
[ -n "$ok" ] || { tail -40 "$log" >&2; die "the HEALTHCHECK (${health[*]}) did not pass within 30s"; }
say "HEALTHCHECK passed: ${health[*]}"

owner=$(ps -o user= -p "$rr_pid" | tr -d ' ')
[ "$owner" = "$RUNTIME_USER" ] || die "rr runs as $owner, not $RUNTIME_USER"
php_user=$(ps -o user= --ppid "$rr_pid" | sort -u | tr -d ' ' | paste -sd, -)
[ "$php_user" = "$RUNTIME_USER" ] || die "the PHP workers run as $php_user"
grep -q 'opcache.enable_cli' "$STAGE/etc/php/8.2/cli/conf.d/90-pivot.ini" || die "php.ini not staged"
worker_opcache=$(PHP_INI_SCAN_DIR=":$STAGE/etc/php/8.2/cli/conf.d" php -r 'echo (int) ini_get("opcache.enable_cli");')
[ "$worker_opcache" = 1 ] || die "opcache.enable_cli is not on with the image's php.ini"

body=$(curl -fsS "http://127.0.0.1:$pivot_port/")
case "$body" in *'"ok":true'*) ;; *) die "GET / answered $body" ;; esac
report=$(curl -fsS "http://127.0.0.1:$pivot_port/reports/smoke")
report2=$(curl -fsS "http://127.0.0.1:$pivot_port/reports/smoke")
case "$report2" in *'"cached":true'*) ;; *) die "the report was not cached in Redis: $report / $report2" ;; esac
say "GET / and the Redis-cached GET /reports/smoke answered"

# 6. STOPSIGNAL: /ready says 503 while requests are still served, then rr drains and exits 0
kill -s "${STOPSIGNAL#SIG}" "$rr_pid"
sleep 0.5
ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$status_port/ready?plugin=pivot" || true)
served=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$pivot_port/" || true)
[ "$ready" = 503 ] && [ "$served" = 200 ] || die "after $STOPSIGNAL: /ready $ready (want 503), GET / $served (want 200 during pivot.shutdown_delay)"
rc=0
wait "$rr_pid" || rc=$?
[ "$rc" -eq 0 ] || { tail -20 "$log" >&2; die "rr exited $rc after $STOPSIGNAL"; }
say "$STOPSIGNAL: /ready 503 during the delay, requests served, drained, exit 0"
say "OK"
