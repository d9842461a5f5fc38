#!/usr/bin/env bash
# Side-by-side origin benchmark (not a test). One video is published once
# with `goflix serve` (which is then stopped); the same files are then
# served, all on loopback and driven by wrk with 64 connections:
#
# 1. On the folder: nginx (sendfile, open_file_cache), the standalone
#    `goflix origin` role (in-process manifest cache) and `goflix serve`
#    (control API, worker and origin in one process), for
#      (a) master   /v/{id}/master.m3u8
#      (b) range    random 1 MiB byte ranges of the 720p media file
#      (c) playlist the 720p media playlist
# 2. On S3 (an s3s-fs of its own): `goflix origin` with its media cache and
#    the Redis manifest cache, against nginx with `proxy_cache`, `slice 1m`
#    and `proxy_cache_lock on` in front of a second, anonymous s3s-fs over
#    the same folder (Debian's nginx cannot sign S3 requests), for
#      (d) cold burst  500 concurrent requests for one uncached 4 MiB range
#                      (time to last byte, p99 against one uncached fetch,
#                      and the storage GETs it cost)
#      (e) hot range   random 1 MiB ranges of the 720p file, cached
#      (f) playlist    the 720p media playlist
# 3. Private playback on `goflix serve`: the media playlist (plain, and
#    gzip as browsers ask for it) and 1 MiB ranges of the video made
#    private, with a playback token, against the same requests public.
#
# Servers run interleaved, case by case, so all see the same load from
# whatever else runs on the machine. Prints req/s and p99 per server, the
# ratios, the worker counts and the origins' resident memory.
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
admin=bench@example.test
password=bench-password-123
if ! compgen -G "$data/objects/media/*/playback.json" >/dev/null; then
  mkdir -p "$data"
  port=$(free_port)
  base="http://127.0.0.1:$port"
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


# --- goflix origin and goflix serve on the folder backend -----------------
# Starts a goflix command with the extra environment given; sets role_pid.
start_goflix() { # command port ready_path env...
  local command=$1 port=$2 ready=$3; shift 3
  env GOFLIX_DATA_DIR="$data" GOFLIX_LISTEN="127.0.0.1:$port" RUST_LOG=warn "$@" \
    "$goflix" "$command" >>"$work/$command.log" 2>&1 &
  role_pid=$!
  pids+=("$role_pid")
  wait_http "http://127.0.0.1:$port$ready"
}
fs_port=$(free_port)
start_goflix origin "$fs_port" "/v/$id/master.m3u8" GOFLIX_STORAGE="file://$data/objects" GOFLIX_CACHE=memory
fs_pid=$role_pid
serve_port=$(free_port)
start_goflix serve "$serve_port" "/v/$id/master.m3u8"
serve_pid=$role_pid
serve_base="http://127.0.0.1:$serve_port"

# --- nginx: over the same files, and caching slices of an anonymous S3 ---
nginx_port=$(free_port)
nginx_cache_port=$(free_port)
mkdir -p "$work/nginx/cache"
user_line=; [ "$(id -u)" -eq 0 ] && user_line="user root;"
bucket=goflix-bench access=bench-access secret=bench-secret-key # s3s-fs wants names of 3+ characters
have_s3=; command -v s3s-fs >/dev/null && command -v redis-server >/dev/null && have_s3=1
anon_endpoint=
cache_server=
if [ -n "$have_s3" ]; then
  anon_endpoint="127.0.0.1:$(free_port)"
  # slice: 1 MiB subrequests cached apart; proxy_cache_lock: one upstream
  # fetch per slice, concurrent requests wait for it.
  cache_server="
  proxy_cache_path $work/nginx/cache levels=1:2 keys_zone=media:16m max_size=1g inactive=1h use_temp_path=off;
  log_format upstream '\$upstream_addr';
  server {
    listen 127.0.0.1:$nginx_cache_port;
    access_log $work/nginx/upstream.log upstream;
    log_subrequest on;
    location = /v/$id/master.m3u8 {
      proxy_pass http://$anon_endpoint/$bucket/media/$id/$version/master.m3u8;
      proxy_cache media;
      proxy_cache_valid 200 2s;
    }
    location /v/ {
      slice 1m;
      proxy_cache media;
      proxy_cache_key \$uri\$slice_range;
      proxy_set_header Range \$slice_range;
      proxy_http_version 1.1;
      proxy_set_header Connection '';
      proxy_cache_valid 200 206 1h;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 30s;
      proxy_pass http://$anon_endpoint/$bucket/media/;
    }
  }"
fi
cat >"$work/nginx/nginx.conf" <<NGINX
$user_line
worker_processes $nginx_workers;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
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
  $cache_server
}
NGINX

# --- S3: s3s-fs signed (goflix) and anonymous (nginx) over one folder -----
s3_port=
cache_budget=268435456 # GOFLIX_ORIGIN_CACHE_BYTES' default
if [ -n "$have_s3" ]; then
  s3_endpoint="http://127.0.0.1:$(free_port)"
  mkdir -p "$work/s3/$bucket"
  s3s-fs --host 127.0.0.1 --port "${s3_endpoint##*:}" --access-key "$access" --secret-key "$secret" \
    "$work/s3" >"$work/s3s-fs.log" 2>&1 &
  pids+=("$!")
  s3s-fs --host 127.0.0.1 --port "${anon_endpoint##*:}" "$work/s3" >"$work/s3s-fs-anon.log" 2>&1 &
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
  start_goflix origin "$s3_port" "/v/$id/master.m3u8" \
    GOFLIX_STORAGE="s3://$bucket?endpoint=$s3_endpoint&region=us-east-1&path_style=true" \
    GOFLIX_CACHE="redis://127.0.0.1:$redis_port" GOFLIX_ORIGIN_CACHE_BYTES="$cache_budget" \
    AWS_ACCESS_KEY_ID_FILE="$work/s3.access" AWS_SECRET_ACCESS_KEY_FILE="$work/s3.secret"
  s3_pid=$role_pid
else
  echo "s3s-fs or redis-server missing: skipping the S3 backend (see scripts/test-services.sh)"
fi
"$nginx_bin" -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=("$!")
wait_http "http://127.0.0.1:$nginx_port/v/$id/master.m3u8"

# --- the runs ----------------------------------------------------------
cat >"$work/range.lua" <<LUA
-- A random 1 MiB range of the media file per request; one seed per thread.
local size, chunk, path = $media_size, 1048576, "/v/$id/$version/720p.mp4"
local next_seed = 1
function setup(thread) thread:set("seed", next_seed); next_seed = next_seed + 1 end
function init() math.randomseed(seed) end
function request()
  local first = math.random(0, size - chunk)
  return wrk.format("GET", path, { ["Range"] = "bytes=" .. first .. "-" .. (first + chunk - 1) })
end
LUA

# One wrk run; prints "req/s p99_ms". Fails on any non-2xx answer.
# $request_header, when set, goes with every request.
run_once() { # port path [lua]
  local port=$1 path=$2 script=${3:-}
  local args=(-t"$wrk_threads" -c"$connections" -d"${duration}s" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  [ -n "${request_header:-}" ] && args+=(-H "$request_header")
  wrk "${args[@]}" "http://127.0.0.1:$port$path" >"$work/wrk.out"
  if grep -q "Non-2xx" "$work/wrk.out"; then cat "$work/wrk.out" >&2; exit 1; fi
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +99%/ { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    END { printf "%s %s\n", rps, p99 }' "$work/wrk.out"
}

declare -A port=([nginx]=$nginx_port [goflix]=$fs_port [serve]=$serve_port)
if [ -n "$s3_port" ]; then port[goflix_s3]=$s3_port; port[nginx_cache]=$nginx_cache_port; fi
for path in "/v/$id/master.m3u8" "/v/$id/$version/720p.m3u8"; do
  for server in "${!port[@]}"; do
    [ "$server" = nginx ] && continue
    cmp -s <(curl -sf "http://127.0.0.1:${port[$server]}$path") <(curl -sf "http://127.0.0.1:$nginx_port$path") \
      || { echo "$server and nginx disagree on $path"; exit 1; }
  done
done

declare -A runs result
# Runs one case against the servers named; keeps each one's median run by req/s.
bench_case() { # name path script servers...
  local name=$1 path=$2 script=$3; shift 3
  for round in $(seq "$rounds"); do
    for server in "$@"; do
      echo "wrk $name: $server (round $round/$rounds)..."
      runs[$name,$server]+="$(run_once "${port[$server]}" "$path" "$script")"$'\n'
    done
  done
  for server in "$@"; do
    result[$name,$server]=$(printf %s "${runs[$name,$server]}" | sort -n | awk '{ r[NR] = $0 } END { print r[int((NR + 1) / 2)] }')
  done
}

# COUNT concurrent GETs of one range; prints "p50_ms p99_ms max_ms" (time to last byte).
burst() { # port range count
  local url="http://127.0.0.1:$1/v/$id/$version/720p.mp4"
  for _ in $(seq "$3"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url"; done >"$work/burst.cfg"
  curl -s -Z --parallel-max "$3" --parallel-immediate -H "Range: bytes=$2" \
    -w '%{http_code} %{time_total}\n' -K "$work/burst.cfg" >"$work/burst.out" || true
  if grep -qv '^206 ' "$work/burst.out"; then sort "$work/burst.out" | cut -d' ' -f1 | uniq -c >&2; exit 1; fi
  cut -d' ' -f2 "$work/burst.out" | sort -n |
    awk '{ t[NR] = $1 * 1000 } END { printf "%.1f %.1f %.1f\n", t[int(NR * 0.5)], t[int(NR * 0.99)], t[NR] }'
}
# One uncached GET of a range; prints its time to last byte in ms.
single() { # port range
  curl -s -o /dev/null -H "Range: bytes=$2" -w '%{time_total}\n' "http://127.0.0.1:$1/v/$id/$version/720p.mp4" |
    awk '{ printf "%.1f\n", $1 * 1000 }'
}
# Storage GETs so far: the origin's media cache fetches, nginx's upstream requests.
storage_gets() { # server
  if [ "$1" = goflix_s3 ]; then
    curl -sf "http://127.0.0.1:$s3_port/metrics" | awk '/^goflix_origin_cache_fetches_total/ { n += $2 } END { print n + 0 }'
  else
    grep -cv '^-$' "$work/nginx/upstream.log" 2>/dev/null || true
  fi
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A cold
if [ -n "$s3_port" ]; then
  # Two cold 4 MiB ranges, neither starting at a slice boundary (5 slices
  # each): one fetched alone, one by 500 clients at once; each server
  # fills a cache of its own.
  mib=1048576
  alone="$((mib + 12345))-$((mib + 12345 + 4 * mib - 1))"
  crowd="$((6 * mib + 54321))-$((6 * mib + 54321 + 4 * mib - 1))"
  [ "$media_size" -gt $((11 * mib)) ] || { echo "the 720p file is too short for the cold burst"; exit 1; }
  for server in goflix_s3 nginx_cache; do
    echo "cold burst: $server..."
    before=$(storage_gets "$server")
    cold[$server,alone]=$(single "${port[$server]}" "$alone")
    middle=$(storage_gets "$server")
    cold[$server,burst]=$(burst "${port[$server]}" "$crowd" 500)
    cold[$server,gets]=$(( $(storage_gets "$server") - middle ))
    cold[$server,gets_alone]=$(( middle - before ))
  done
fi
for name in master range playlist; do
  case $name in
    master) path="/v/$id/master.m3u8"; script= ;;
    range) path="/v/$id/$version/720p.mp4"; script="$work/range.lua" ;;
    playlist) path="/v/$id/$version/720p.m3u8"; script= ;;
  esac
  servers=(nginx goflix serve)
  [ -n "$s3_port" ] && [ "$name" != master ] && servers+=(goflix_s3 nginx_cache)
  bench_case "$name" "$path" "$script" "${servers[@]}"
done

# Private playback on goflix serve: the same playlist, the video made private.
token=$(curl -sf "$serve_base/api/v1/auth/token" -d grant_type=password \
  --data-urlencode "username=$admin" --data-urlencode "password=$password" | json '["access_token"]')
visibility() {
  curl -sf -X PATCH -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"visibility\":\"$1\"}" "$serve_base/api/v1/videos/$id" -o /dev/null
}
visibility private
trap 'visibility public; cleanup' EXIT
playback=$(curl -sf -X POST -H "Authorization: Bearer $token" "$serve_base/api/v1/videos/$id/playback-token" | json '["token"]')
for _ in $(seq 50); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$serve_base/v/$id/$version/720p.m3u8")" = 403 ] && break
  sleep 0.1
done
port[serve_private]=$serve_port
bench_case private "/v/$id/$version/720p.m3u8?token=$playback" "" serve_private
sed "s|\"/v/$id/$version/720p.mp4\"|\"/v/$id/$version/720p.mp4?token=$playback\"|" "$work/range.lua" >"$work/range_private.lua"
bench_case private_range "/v/$id/$version/720p.mp4" "$work/range_private.lua" serve_private
# As browsers ask for playlists: compressed.
request_header="Accept-Encoding: gzip"
bench_case private_gzip "/v/$id/$version/720p.m3u8?token=$playback" "" serve_private
visibility public
for _ in $(seq 50); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$serve_base/v/$id/$version/720p.m3u8")" = 200 ] && break
  sleep 0.1
done
bench_case public_gzip "/v/$id/$version/720p.m3u8" "" serve
request_header=
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

ratio() { echo "$1 / $2" | bc -l; }
echo
echo "origin benchmark: $connections connections, wrk $wrk_threads threads, ${duration}s per run, median of $rounds, $cores cores"
echo "workers: nginx $nginx_workers processes; goflix origin and goflix serve $cores actix workers"
echo "load average before: $load_before, after: $load_after"
echo "720p media file: $media_size bytes"
echo
echo "1. folder: req/s (p99), and goflix/nginx"
printf '%-9s %20s %20s %20s %8s %8s\n' case nginx goflix_origin goflix_serve origin serve
for name in master range playlist; do
  read -r n_rps n_p99 <<<"${result[$name,nginx]}"
  read -r g_rps g_p99 <<<"${result[$name,goflix]}"
  read -r s_rps s_p99 <<<"${result[$name,serve]}"
  printf '%-9s %10.0f (%6.2fms) %10.0f (%6.2fms) %10.0f (%6.2fms) %7.2fx %7.2fx\n' "$name" \
    "$n_rps" "$n_p99" "$g_rps" "$g_p99" "$s_rps" "$s_p99" "$(ratio "$g_rps" "$n_rps")" "$(ratio "$s_rps" "$n_rps")"
done
printf 'goflix origin (folder) RSS: peak %s MiB, now %s MiB; goflix serve RSS: peak %s MiB\n' \
  "$(mib "$(status_kib "$fs_pid" VmHWM)")" "$(mib "$(status_kib "$fs_pid" VmRSS)")" \
  "$(mib "$(status_kib "$serve_pid" VmHWM)")"
if [ -n "$s3_port" ]; then
  echo
  echo "2. S3: goflix origin with its media cache ($((cache_budget >> 20)) MiB) against nginx proxy_cache + slice 1m + proxy_cache_lock"
  printf '%-9s %20s %20s %10s %10s\n' case nginx_cache goflix_s3 vs_nginx vs_folder
  for name in range playlist; do
    read -r n_rps n_p99 <<<"${result[$name,nginx_cache]}"
    read -r g_rps g_p99 <<<"${result[$name,goflix_s3]}"
    read -r f_rps _ <<<"${result[$name,goflix]}"
    printf '%-9s %10.0f (%6.2fms) %10.0f (%6.2fms) %9.2fx %9.2fx\n' "$name" \
      "$n_rps" "$n_p99" "$g_rps" "$g_p99" "$(ratio "$g_rps" "$n_rps")" "$(ratio "$g_rps" "$f_rps")"
  done
  echo "cold burst: 500 concurrent requests for one uncached 4 MiB range ($crowd: 5 slices), time to last byte"
  printf '%-12s %9s %9s %9s %9s %10s %13s %13s\n' server alone_ms p50_ms p99_ms max_ms p99/alone GETs_alone GETs_burst
  for server in goflix_s3 nginx_cache; do
    read -r p50 p99 max <<<"${cold[$server,burst]}"
    printf '%-12s %9s %9s %9s %9s %9.2fx %13s %13s\n' "$server" "${cold[$server,alone]}" "$p50" "$p99" "$max" \
      "$(ratio "$p99" "${cold[$server,alone]}")" "${cold[$server,gets_alone]}" "${cold[$server,gets]}"
  done
  printf 'goflix origin (S3) RSS: peak %s MiB, now %s MiB, of which its own (anonymous) %s MiB; budget + 64 MiB = %s MiB\n' \
    "$(mib "$(status_kib "$s3_pid" VmHWM)")" "$(mib "$(status_kib "$s3_pid" VmRSS)")" \
    "$(mib "$(status_kib "$s3_pid" RssAnon)")" "$(((cache_budget >> 20) + 64))"
  curl -sf "http://127.0.0.1:$s3_port/metrics" | awk '/^goflix_origin_cache_/ { print "  " $0 }'
fi
echo
echo "3. private playback on goflix serve: the media playlist with a playback token"
read -r p_rps p_p99 <<<"${result[private,serve_private]}"
read -r s_rps s_p99 <<<"${result[playlist,serve]}"
printf 'playlist: public %.0f req/s (%.2fms p99), private %.0f req/s (%.2fms p99): %.2fx\n' \
  "$s_rps" "$s_p99" "$p_rps" "$p_p99" "$(ratio "$p_rps" "$s_rps")"
read -r p_rps p_p99 <<<"${result[private_gzip,serve_private]}"
read -r s_rps s_p99 <<<"${result[public_gzip,serve]}"
printf 'playlist, Accept-Encoding: gzip: public %.0f req/s (%.2fms p99), private %.0f req/s (%.2fms p99): %.2fx\n' \
  "$s_rps" "$s_p99" "$p_rps" "$p_p99" "$(ratio "$p_rps" "$s_rps")"
read -r p_rps p_p99 <<<"${result[private_range,serve_private]}"
read -r s_rps s_p99 <<<"${result[range,serve]}"
printf '1 MiB ranges: public %.0f req/s (%.2fms p99), private %.0f req/s (%.2fms p99): %.2fx\n' \
  "$s_rps" "$s_p99" "$p_rps" "$p_p99" "$(ratio "$p_rps" "$s_rps")"
