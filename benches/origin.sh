#!/usr/bin/env bash
# Side-by-side origin benchmark (not a test). One video is published once
# with `goflix serve` (which is then stopped); the same files are then served
# by nginx (sendfile, open_file_cache) and by the standalone `goflix origin`
# role on the folder backend (in-process manifest cache), both on loopback,
# driven by wrk with 64 connections for:
#   (a) master   /v/{id}/master.m3u8
#   (b) range    random 1 MiB byte ranges of the 720p media file
#   (c) playlist the 720p media playlist
# nginx and goflix run interleaved, case by case, so both see the same load
# from whatever else runs on the machine. Prints req/s and p99 per server,
# the ratio goflix/nginx, the worker counts and the origin's RSS (peak and
# current). Then the same three cases against `goflix origin` on the S3
# backend (an s3s-fs of its own) with the Redis cache (a redis-server of its
# own), as absolute figures.
#
# Needs ffmpeg, curl, python3, bc, wrk, nginx, redis-server and s3s-fs
# (wrk and nginx are installed from Debian's packages when missing; s3s-fs
# comes from scripts/test-services.sh). The S3 part is skipped when
# redis-server or s3s-fs is missing.
#
# Usage: benches/origin.sh [SECONDS_PER_RUN=10] [CONNECTIONS=64] [ROUNDS=1]
#   ROUNDS > 1 repeats every run and reports the median.
#   BENCH_DATA_DIR=/some/dir keeps the published video there and reuses it
#   on later runs (skips generating and transcoding).
#   Build with a target dir of its own: CARGO_TARGET_DIR=/var/tmp/goflix-release.
#   BENCH_GOFLIX=/path/to/goflix benchmarks that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
connections=${2:-64}
rounds=${3:-1}
cores=$(nproc)
wrk_threads=2
nginx_workers=$cores # goflix origin: one actix worker per core (the role's setting)

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}..."
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
wait_http() { # url
  for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "$1 does not answer" >&2; tail -5 "$work"/*.log >&2; exit 1
}
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
mib() { echo "scale=1; $1 / 1024" | bc; }

if [ -n "${BENCH_GOFLIX:-}" ]; then
  goflix=$BENCH_GOFLIX
else
  echo "building goflix (release)..."
  cargo build --release --quiet --bin goflix
  goflix="${CARGO_TARGET_DIR:-target}/release/goflix"
fi

# --- publish one video with goflix serve, then stop it -------------------
data=${BENCH_DATA_DIR:-$work/data}
if ! compgen -G "$data/objects/media/*/playback.json" >/dev/null; then
  mkdir -p "$data"
  port=$(free_port)
  base="http://127.0.0.1:$port"
  admin=bench@example.test
  password=bench-password-123
  GOFLIX_DATA_DIR="$data" GOFLIX_LISTEN="127.0.0.1:$port" \
    GOFLIX_ADMIN_EMAIL="$admin" GOFLIX_ADMIN_PASSWORD="$password" RUST_LOG=warn \
    "$goflix" serve >"$work/serve.log" 2>&1 &
  serve_pid=$!
  wait_http "$base/healthz"

  echo "generating a 60 s 1280x720 clip..."
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=60" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=60" \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac "$work/clip.mp4"

  token=$(curl -sf "$base/api/v1/auth/token" -d grant_type=password \
    --data-urlencode "username=$admin" --data-urlencode "password=$password" | json '["access_token"]')
  id=$(curl -sf -H "Authorization: Bearer $token" -F title=bench -F "file=@$work/clip.mp4;type=video/mp4" \
    "$base/api/v1/videos" | json '["id"]')
  echo "transcoding video $id..."
  state=
  for _ in $(seq 600); do
    state=$(curl -sf -H "Authorization: Bearer $token" "$base/api/v1/videos/$id" | json '["state"]')
    [ "$state" = ready ] || [ "$state" = failed ] && break
    sleep 1
  done
  kill "$serve_pid"
  wait "$serve_pid" || true
  [ "$state" = ready ] || { echo "video ended $state"; exit 1; }
fi
record=$(compgen -G "$data/objects/media/*/playback.json" | head -n1)
media=$(dirname "$record")
id=$(basename "$media")
version=$(json '["version"]' <"$record")
[ -f "$media/$version/720p.mp4" ] || { echo "no 720p rendition in $media/$version"; exit 1; }
media_size=$(stat -c %s "$media/$version/720p.mp4")

# --- goflix origin on the folder backend ---------------------------------
# Starts `goflix origin` with the extra environment given; sets origin_pid.
start_origin() { # port env...
  local port=$1; shift
  env GOFLIX_DATA_DIR="$data" GOFLIX_LISTEN="127.0.0.1:$port" RUST_LOG=warn "$@" \
    "$goflix" origin >>"$work/origin.log" 2>&1 &
  origin_pid=$!
  pids+=("$origin_pid")
  wait_http "http://127.0.0.1:$port/v/$id/master.m3u8"
}
fs_port=$(free_port)
start_origin "$fs_port" GOFLIX_STORAGE="file://$data/objects" GOFLIX_CACHE=memory
fs_pid=$origin_pid

# --- nginx over the same files ------------------------------------------
nginx_port=$(free_port)
mkdir -p "$work/nginx"
user_line=; [ "$(id -u)" -eq 0 ] && user_line="user root;"
cat >"$work/nginx/nginx.conf" <<EOF
$user_line
worker_processes $nginx_workers;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  types {
    application/vnd.apple.mpegurl m3u8;
    application/dash+xml mpd;
    video/mp4 mp4;
  }
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  open_file_cache max=1000 inactive=60s;
  open_file_cache_valid 60s;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    location = /v/$id/master.m3u8 { alias $media/$version/master.m3u8; }
    location /v/ { alias $data/objects/media/; }
  }
}
EOF
"$nginx_bin" -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=("$!")
wait_http "http://127.0.0.1:$nginx_port/v/$id/master.m3u8"

# --- goflix origin on S3 (s3s-fs) with the Redis cache -------------------
s3_port=
if command -v s3s-fs >/dev/null && command -v redis-server >/dev/null; then
  bucket=goflix-bench access=bench-access secret=bench-secret-key # s3s-fs wants names of 3+ characters
  s3_endpoint="http://127.0.0.1:$(free_port)"
  mkdir -p "$work/s3/$bucket"
  s3s-fs --host 127.0.0.1 --port "${s3_endpoint##*:}" --access-key "$access" --secret-key "$secret" \
    "$work/s3" >"$work/s3s-fs.log" 2>&1 &
  pids+=("$!")
  redis_port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no >"$work/redis.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 100); do curl -s -o /dev/null "$s3_endpoint/" && break; sleep 0.1; done
  echo "uploading the video to s3s-fs..."
  (cd "$data/objects" && find "media/$id" -type f) | while read -r key; do
    file="$data/objects/$key"
    curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access:$secret" \
      -H "x-amz-content-sha256: $(sha256sum "$file" | cut -d' ' -f1)" \
      -T "$file" "$s3_endpoint/$bucket/$key" -o /dev/null
  done
  printf %s "$access" >"$work/s3.access"
  printf %s "$secret" >"$work/s3.secret"
  s3_port=$(free_port)
  start_origin "$s3_port" \
    GOFLIX_STORAGE="s3://$bucket?endpoint=$s3_endpoint&region=us-east-1&path_style=true" \
    GOFLIX_CACHE="redis://127.0.0.1:$redis_port" \
    AWS_ACCESS_KEY_ID_FILE="$work/s3.access" AWS_SECRET_ACCESS_KEY_FILE="$work/s3.secret"
  s3_pid=$origin_pid
else
  echo "s3s-fs or redis-server missing: skipping the S3 backend (see scripts/test-services.sh)"
fi

# --- the runs ----------------------------------------------------------
cat >"$work/range.lua" <<EOF
-- A random 1 MiB range of the media file per request; one seed per thread.
local size, chunk, path = $media_size, 1048576, "/v/$id/$version/720p.mp4"
local next_seed = 1
function setup(thread) thread:set("seed", next_seed); next_seed = next_seed + 1 end
function init() math.randomseed(seed) end
function request()
  local first = math.random(0, size - chunk)
  return wrk.format("GET", path, { ["Range"] = "bytes=" .. first .. "-" .. (first + chunk - 1) })
end
EOF

# One wrk run; prints "req/s p99_ms". Fails on any non-2xx answer.
run_once() { # port path [lua]
  local port=$1 path=$2 script=${3:-}
  local args=(-t"$wrk_threads" -c"$connections" -d"${duration}s" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  wrk "${args[@]}" "http://127.0.0.1:$port$path" >"$work/wrk.out"
  if grep -q "Non-2xx" "$work/wrk.out"; then cat "$work/wrk.out" >&2; exit 1; fi
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +99%/ { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    END { printf "%s %s\n", rps, p99 }' "$work/wrk.out"
}

servers=(nginx goflix)
declare -A port=([nginx]=$nginx_port [goflix]=$fs_port)
if [ -n "$s3_port" ]; then servers+=(goflix_s3); port[goflix_s3]=$s3_port; fi

for path in "/v/$id/master.m3u8" "/v/$id/$version/720p.m3u8"; do
  for server in "${servers[@]}"; do
    [ "$server" = nginx ] && continue
    cmp -s <(curl -sf "http://127.0.0.1:${port[$server]}$path") <(curl -sf "http://127.0.0.1:$nginx_port$path") \
      || { echo "$server and nginx disagree on $path"; exit 1; }
  done
done

declare -A runs result
cases=(master range playlist)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for name in "${cases[@]}"; do
  case $name in
    master) path="/v/$id/master.m3u8"; script= ;;
    range) path="/v/$id/$version/720p.mp4"; script="$work/range.lua" ;;
    playlist) path="/v/$id/$version/720p.m3u8"; script= ;;
  esac
  for round in $(seq "$rounds"); do
    for server in "${servers[@]}"; do
      echo "wrk $name: $server (round $round/$rounds)..."
      runs[$name,$server]+="$(run_once "${port[$server]}" "$path" "$script")"$'\n'
    done
  done
  for server in "${servers[@]}"; do
    # The median run by req/s, with its p99.
    result[$name,$server]=$(printf %s "${runs[$name,$server]}" | sort -n | awk '{ r[NR] = $0 } END { print r[int((NR + 1) / 2)] }')
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "origin benchmark: $connections connections, wrk $wrk_threads threads, ${duration}s per run, median of $rounds, $cores cores"
echo "workers: nginx $nginx_workers processes; goflix origin $cores actix workers"
echo "load average before: $load_before, after: $load_after"
echo "720p media file: $media_size bytes"
printf '%-9s %12s %10s %12s %10s %9s %9s\n' case nginx_rps nginx_p99 goflix_rps goflix_p99 rps_ratio p99_ratio
for name in "${cases[@]}"; do
  read -r n_rps n_p99 <<<"${result[$name,nginx]}"
  read -r g_rps g_p99 <<<"${result[$name,goflix]}"
  printf '%-9s %12.0f %8.2fms %12.0f %8.2fms %9.2f %9.2f\n' "$name" "$n_rps" "$n_p99" "$g_rps" "$g_p99" \
    "$(echo "$g_rps / $n_rps" | bc -l)" "$(echo "$g_p99 / $n_p99" | bc -l)"
done
printf 'goflix origin (folder) RSS: peak %s MiB, now %s MiB\n' \
  "$(mib "$(status_kib "$fs_pid" VmHWM)")" "$(mib "$(status_kib "$fs_pid" VmRSS)")"
if [ -n "$s3_port" ]; then
  echo
  echo "goflix origin on S3 (s3s-fs) with the Redis cache, absolute:"
  printf '%-9s %12s %10s\n' case rps p99
  for name in "${cases[@]}"; do
    read -r s_rps s_p99 <<<"${result[$name,goflix_s3]}"
    printf '%-9s %12.0f %8.2fms\n' "$name" "$s_rps" "$s_p99"
  done
  printf 'goflix origin (S3) RSS: peak %s MiB, now %s MiB\n' \
    "$(mib "$(status_kib "$s3_pid" VmHWM)")" "$(mib "$(status_kib "$s3_pid" VmRSS)")"
  # Range requests should cost one ranged GET each, not a HEAD too.
  echo "S3 calls over the whole run (goflix_storage_operation_duration_seconds_count):"
  curl -sf "http://127.0.0.1:$s3_port/metrics" |
    awk '/^goflix_storage_operation_duration_seconds_count\{backend="s3"/ { print "  " $0 }'
fi
