#!/usr/bin/env bash
# Side-by-side origin benchmark (not a test): one published video served by
# nginx (sendfile, open_file_cache) and by the goflix origin (`goflix serve`,
# folder backend, in-process manifest cache), both on loopback, driven by
# wrk with 64 connections for:
#   (a) master   /v/{id}/master.m3u8
#   (b) range    random 1 MiB byte ranges of the 720p media file
#   (c) playlist the 720p media playlist
# Prints req/s and p99 latency per server, the ratio goflix/nginx, and the
# goflix process's RSS after the runs. Installs nginx and wrk (Debian
# packages) with apt-get when missing.
# Usage: benches/origin.sh [SECONDS_PER_RUN=10] [CONNECTIONS=64]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
connections=${2:-64}
threads=2

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

echo "building goflix (release)..."
cargo build --release --quiet --bin goflix
goflix="${CARGO_TARGET_DIR:-target}/release/goflix"

# --- publish one video with goflix serve -------------------------------
data="$work/data"
goflix_port=$(free_port)
base="http://127.0.0.1:$goflix_port"
admin=bench@example.test
password=bench-password-123
GOFLIX_DATA_DIR="$data" GOFLIX_LISTEN="127.0.0.1:$goflix_port" \
  GOFLIX_ADMIN_EMAIL="$admin" GOFLIX_ADMIN_PASSWORD="$password" RUST_LOG=warn \
  "$goflix" serve >"$work/goflix.log" 2>&1 &
goflix_pid=$!
pids+=("$goflix_pid")
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

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
[ "$state" = ready ] || { echo "video ended $state"; exit 1; }

media="$data/objects/media/$id"
version=$(json '["version"]' <"$media/playback.json")
[ -f "$media/$version/720p.mp4" ] || { echo "no 720p rendition in $media/$version"; exit 1; }
media_size=$(stat -c %s "$media/$version/720p.mp4")

# --- nginx over the same files ------------------------------------------
nginx_port=$(free_port)
mkdir -p "$work/nginx"
user_line=; [ "$(id -u)" -eq 0 ] && user_line="user root;"
cat >"$work/nginx/nginx.conf" <<EOF
$user_line
worker_processes auto;
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
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/v/$id/master.m3u8" && break; sleep 0.1; done

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

# Checks that both servers answer the path identically, then prints "req/s p99_ms".
run() { # port path [lua]
  local port=$1 path=$2 script=${3:-}
  local args=(-t"$threads" -c"$connections" -d"${duration}s" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  wrk "${args[@]}" "http://127.0.0.1:$port$path" >"$work/wrk.out"
  if grep -q "Non-2xx" "$work/wrk.out"; then cat "$work/wrk.out" >&2; exit 1; fi
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +99%/ { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    END { printf "%s %s\n", rps, p99 }' "$work/wrk.out"
}

for path in "/v/$id/master.m3u8" "/v/$id/$version/720p.m3u8"; do
  cmp -s <(curl -sf "$base$path") <(curl -sf "http://127.0.0.1:$nginx_port$path") \
    || { echo "goflix and nginx disagree on $path"; exit 1; }
done

declare -A result
cases=(master range playlist)
for name in "${cases[@]}"; do
  case $name in
    master) path="/v/$id/master.m3u8"; script= ;;
    range) path="/v/$id/$version/720p.mp4"; script="$work/range.lua" ;;
    playlist) path="/v/$id/$version/720p.m3u8"; script= ;;
  esac
  echo "wrk $name: nginx..."
  result[$name,nginx]=$(run "$nginx_port" "$path" "$script")
  echo "wrk $name: goflix..."
  result[$name,goflix]=$(run "$goflix_port" "$path" "$script")
done
rss_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$goflix_pid/status")
hwm_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$goflix_pid/status")

echo
echo "origin benchmark: $connections connections, $threads wrk threads, ${duration}s per run, $(nproc) cores"
echo "720p media file: $media_size bytes"
printf '%-9s %12s %10s %12s %10s %9s %9s\n' case nginx_rps nginx_p99 goflix_rps goflix_p99 rps_ratio p99_ratio
for name in "${cases[@]}"; do
  read -r n_rps n_p99 <<<"${result[$name,nginx]}"
  read -r g_rps g_p99 <<<"${result[$name,goflix]}"
  printf '%-9s %12.0f %8.2fms %12.0f %8.2fms %9.2f %9.2f\n' "$name" "$n_rps" "$n_p99" "$g_rps" "$g_p99" \
    "$(echo "$g_rps / $n_rps" | bc -l)" "$(echo "$g_p99 / $n_p99" | bc -l)"
done
printf 'goflix serve RSS after the runs: %.1f MiB (peak %.1f MiB)\n' \
  "$(echo "$rss_kib / 1024" | bc -l)" "$(echo "$hwm_kib / 1024" | bc -l)"
