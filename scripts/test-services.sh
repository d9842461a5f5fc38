#!/usr/bin/env bash
# Makes sure the services the tests talk to are up, then prints `export`
# lines naming them on standard output (progress goes to standard error):
#
#   env=$(scripts/test-services.sh) && eval "$env"
#
# - PostgreSQL, Redis and RabbitMQ: installed from Debian's packages when
#   missing, started when not running.
# - An S3-compatible server: s3s-fs (installed with cargo when missing) on
#   127.0.0.1:$GOFLIX_TEST_S3_PORT (default 9014) with fixed test
#   credentials, data under /var/tmp/goflix-s3s, bucket `goflix-test`.
#
# Needs root (or sudo) only to install or start what is missing.
set -euo pipefail

S3S_VERSION=0.14.1
S3_PORT="${GOFLIX_TEST_S3_PORT:-9014}"
S3_DIR=/var/tmp/goflix-s3s
S3_BUCKET=goflix-test
S3_ACCESS_KEY=goflix-test-access
S3_SECRET_KEY=goflix-test-secret

log() { echo "test-services: $*" >&2; }

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"

# Waits up to $1 seconds for the command in the remaining arguments to succeed.
wait_for() {
  local seconds=$1 name=$2
  shift 2
  for ((i = 0; i < seconds * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  log "$name did not answer within ${seconds}s"
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_closed() { ! port_open "$1"; }

missing=()
command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  cluster_version=$(ls /etc/postgresql | sort -V | tail -n1)
  log "starting PostgreSQL $cluster_version"
  $sudo pg_ctlcluster --skip-systemctl-redirect "$cluster_version" main start >&2
fi
wait_for 30 PostgreSQL pg_isready -q -h 127.0.0.1 -p 5432

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  $sudo mkdir -p /var/lib/redis /var/log/redis
  $sudo redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >&2
fi
wait_for 30 Redis redis-cli -h 127.0.0.1 -p 6379 ping

if ! port_open 5672; then
  log "starting RabbitMQ"
  $sudo rabbitmq-server -detached >&2
fi
wait_for 120 RabbitMQ port_open 5672

if ! command -v s3s-fs >/dev/null; then
  log "installing s3s-fs $S3S_VERSION"
  cargo install --locked "s3s-fs@$S3S_VERSION" --features binary >&2
fi
# s3s-fs resolves every object path against its working folder: one left
# running from a checkout since deleted answers 500 to everything.
if [[ -f "$S3_DIR/s3s-fs.pid" ]]; then
  pid=$(cat "$S3_DIR/s3s-fs.pid")
  if [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == *" (deleted)" ]]; then
    log "restarting s3s-fs (its working folder was deleted)"
    kill "$pid" 2>/dev/null || true
    wait_for 10 "s3s-fs to stop" port_closed "$S3_PORT"
  fi
fi
if ! port_open "$S3_PORT"; then
  log "starting s3s-fs on 127.0.0.1:$S3_PORT"
  mkdir -p "$S3_DIR/data/$S3_BUCKET"
  # Every descriptor of the server points away from ours: a caller that reads
  # this script's output with $(...) waits until no process holds it open.
  (cd "$S3_DIR" && exec setsid s3s-fs --host 127.0.0.1 --port "$S3_PORT" \
    --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" \
    "$S3_DIR/data") </dev/null >"$S3_DIR/s3s-fs.log" 2>&1 &
  echo $! >"$S3_DIR/s3s-fs.pid"
fi
mkdir -p "$S3_DIR/data/$S3_BUCKET"
wait_for 30 s3s-fs port_open "$S3_PORT"
# Unsigned requests are refused with 403: any HTTP answer shows the server is up.
if ! curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/" | grep -q '^[0-9]\{3\}$'; then
  log "port $S3_PORT is taken by something that does not speak HTTP; set GOFLIX_TEST_S3_PORT"
  exit 1
fi

cat <<EOF
export GOFLIX_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432
export GOFLIX_TEST_REDIS_URL=redis://127.0.0.1:6379
export GOFLIX_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f
export GOFLIX_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export GOFLIX_TEST_S3_BUCKET=$S3_BUCKET
export GOFLIX_TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY
export GOFLIX_TEST_S3_SECRET_KEY=$S3_SECRET_KEY
EOF
log "all services answer"
