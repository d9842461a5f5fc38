#!/usr/bin/env bash
# Upload benchmark (not a test). One file of random bytes (4 GiB by
# default; its content is no media, so each upload's transcode simply fails
# with invalid_media) is uploaded on loopback to `goflix serve` (release
# build, embedded SQLite) with
#   (a) multipart  `curl -F title=… -F file=@…` to POST /api/v1/videos
#   (b) tuspy      e2e/tus_upload.py (tuspy, the tus project's Python
#                  client), 64 MiB PATCHes, each with a sha1 Upload-Checksum
#                  that the client computes before sending it
#   (c) curl tus   a plain curl loop: POST to create, then 64 MiB PATCHes
#                  streamed from the file, no checksum
# first on the folder backend, then on S3 (an s3s-fs of its own). Every
# case gets a fresh `goflix serve` (and data dir), so the peak RSS growth
# printed (VmHWM after the upload minus VmHWM before it, from
# /proc/PID/status) is that upload's own. The reference is curl sending the
# same bytes to nginx on loopback: `curl -F` to a location that answers 204
# and discards the body (the transport's ceiling), and `curl -T` to a WebDAV
# PUT location, where nginx writes the body to its client_body temp file
# (default client_body_buffer_size) on the same disk and renames it (a
# receiver that stores the bytes, without fsync).
# Prints MB/s (10^6 bytes per second, wall clock of the client) per backend
# and method, the ratios to nginx and to the multipart path, the RSS growth,
# and the targets: tus >= 0.8x multipart, RSS growth < 64 MiB.
#
# Then, per backend, resume after a crash: a curl tus upload stops half
# way, goflix serve is SIGKILLed while a 64 MiB PATCH is in flight (the
# PATCH is rate-limited so it is surely in flight; the kill comes once
# the client has read half of it from the file), restarted on the same
# data dir (and the same s3s-fs), and asked with HEAD where the upload
# stands. Re-sent bytes = bytes the client had sent minus the HEAD offset
# (target: at most one chunk, 64 MiB). tuspy then resumes the upload with
# --url to the end, and the stored master's sha256 is compared with the
# file's.
#
# Needs curl, python3 with tuspy (`tusclient`), bc, openssl (else the file
# comes from /dev/urandom, slower), nginx (installed from Debian's packages
# when missing) and s3s-fs (from scripts/test-services.sh; the S3 part is
# skipped without it). Disk: the file plus about two stored copies at a
# time (each case's master is deleted after it).
#
# Usage: benches/upload.sh
#   BENCH_UPLOAD_BYTES=N    file size in bytes (default 4294967296, 4 GiB)
#   BENCH_UPLOAD_FILE=path  upload this file instead of generating one
#   BENCH_TMPDIR=dir        where the work dir goes (default /var/tmp; not a tmpfs)
#   Build with a target dir of its own: CARGO_TARGET_DIR=/var/tmp/goflix-release.
#   BENCH_GOFLIX=/path/to/goflix benchmarks that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${BENCH_UPLOAD_BYTES:-4294967296}
chunk=67108864 # 64 MiB per tus PATCH
max_upload=$((size + (1 << 30)))
cores=$(nproc)

missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v bc >/dev/null || missing+=(bc)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}..."
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
python3 -c 'import tusclient' 2>/dev/null || { echo "tuspy is missing: pip install tuspy"; exit 1; }

work=$(mktemp -d -p "${BENCH_TMPDIR:-/var/tmp}" goflix-upload-bench.XXXXXX)
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
  for _ in $(seq 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "$1 does not answer" >&2; tail -5 "$work"/*.log >&2; exit 1
}
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
now() { date +%s.%N; }
mbps() { echo "scale=1; $size / 1000000 / ($2 - $1)" | bc; } # t0 t1
mib() { echo "scale=1; $1 / 1048576" | bc; }
header() { awk -v h="$(echo "$1" | tr A-Z a-z):" 'tolower($1) == h { sub(/\r$/, "", $2); print $2 }' "$2"; }

if [ -n "${BENCH_GOFLIX:-}" ]; then
  goflix=$BENCH_GOFLIX
else
  echo "building goflix (release)..."
  cargo build --release --quiet --bin goflix
  goflix="${CARGO_TARGET_DIR:-target}/release/goflix"
fi

# --- the file ------------------------------------------------------------
if [ -n "${BENCH_UPLOAD_FILE:-}" ]; then
  file=$BENCH_UPLOAD_FILE
  size=$(stat -c %s "$file")
  max_upload=$((size + (1 << 30)))
else
  file=$work/upload.bin
  echo "generating $size random bytes..."
  if command -v openssl >/dev/null; then
    # AES-CTR of zeros under a random key: random-looking, far faster than /dev/urandom.
    { openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass "pass:$(head -c 32 /dev/urandom | base64)" \
        </dev/zero 2>/dev/null || true; } | head -c "$size" >"$file"
  else
    head -c "$size" /dev/urandom >"$file"
  fi
fi
[ "$(stat -c %s "$file")" -eq "$size" ] || { echo "the file is not $size bytes"; exit 1; }
file_sha=$(sha256sum "$file" | cut -d' ' -f1)

# --- nginx, the reference ------------------------------------------------
nginx_port=$(free_port)
mkdir -p "$work/nginx/put"
user_line=; [ "$(id -u)" -eq 0 ] && user_line="user root;"
cat >"$work/nginx/nginx.conf" <<EOF
$user_line
worker_processes $cores;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    client_max_body_size 0;
    location = /healthz { return 204; }
    # return: nginx reads the body and throws it away.
    location = /discard { return 204; }
    # WebDAV PUT: the body goes to a client_body temp file, then is renamed here.
    location /put/ { root $work/nginx; dav_methods PUT; }
  }
}
EOF
"$nginx_bin" -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=("$!")
wait_http "http://127.0.0.1:$nginx_port/healthz"

# --- s3s-fs ---------------------------------------------------------------
s3=
if command -v s3s-fs >/dev/null; then
  s3=1
  bucket=goflix-bench access=bench-access secret=bench-secret-key # s3s-fs wants names of 3+ characters
  s3_endpoint="http://127.0.0.1:$(free_port)"
  mkdir -p "$work/s3/$bucket"
  s3s-fs --host 127.0.0.1 --port "${s3_endpoint##*:}" --access-key "$access" --secret-key "$secret" \
    "$work/s3" >"$work/s3s-fs.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 100); do curl -s -o /dev/null "$s3_endpoint/" && break; sleep 0.1; done
  printf %s "$access" >"$work/s3.access"
  printf %s "$secret" >"$work/s3.secret"
else
  echo "s3s-fs missing: skipping the S3 backend (see scripts/test-services.sh)"
fi

# --- goflix serve ---------------------------------------------------------
admin=bench@example.test
password=bench-password-123
# Starts goflix serve on data dir $2, port $3, backend $1; sets serve_pid, base, token.
start_serve() { # backend data port
  local backend=$1 data=$2 port=$3 storage=()
  mkdir -p "$data"
  [ "$backend" = s3 ] && storage=(
    GOFLIX_STORAGE="s3://$bucket?endpoint=$s3_endpoint&region=us-east-1&path_style=true"
    AWS_ACCESS_KEY_ID_FILE="$work/s3.access" AWS_SECRET_ACCESS_KEY_FILE="$work/s3.secret")
  env GOFLIX_DATA_DIR="$data" GOFLIX_LISTEN="127.0.0.1:$port" \
    GOFLIX_ADMIN_EMAIL="$admin" GOFLIX_ADMIN_PASSWORD="$password" \
    GOFLIX_MAX_UPLOAD_BYTES="$max_upload" GOFLIX_DRAIN_SECONDS=0 RUST_LOG=warn "${storage[@]}" \
    "$goflix" serve >>"$work/serve.log" 2>&1 &
  serve_pid=$!
  pids+=("$serve_pid")
  base="http://127.0.0.1:$port"
  wait_http "$base/healthz"
  token=$(curl -sf "$base/api/v1/auth/token" -d grant_type=password \
    --data-urlencode "username=$admin" --data-urlencode "password=$password" | json '["access_token"]')
}
stop_serve() {
  kill "$serve_pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
}
master_path() { # backend data id
  case $1 in
    folder) echo "$2/objects/masters/$3" ;;
    s3) echo "$work/s3/$bucket/masters/$3" ;;
  esac
}
drop_case() { # backend data: frees the disk a case used
  rm -rf "$2"
  [ "$1" = s3 ] && rm -rf "$work/s3/$bucket/masters" "$work/s3/$bucket/uploads" "$work/s3"/.upload_id-* || true
}

# --- the uploads ----------------------------------------------------------
multipart_upload() { # -> video id
  curl -sS -f -H 'Expect:' -H "Authorization: Bearer $token" -F title=bench \
    -F "file=@$file;type=application/octet-stream" "$base/api/v1/videos" | json '["id"]'
}
tuspy_upload() { # [tus_upload.py args] -> video id
  python3 e2e/tus_upload.py "$file" --token "$token" --chunk "$chunk" "$@" >"$work/tuspy.json"
  [ "$(json '["offset"]' <"$work/tuspy.json")" -eq "$size" ] || { cat "$work/tuspy.json"; exit 1; }
  basename "$(json '["url"]' <"$work/tuspy.json")"
}
tus_create() { # -> sets tus_url
  curl -sS -f -D "$work/create.headers" -o /dev/null -X POST -H 'Tus-Resumable: 1.0.0' \
    -H "Authorization: Bearer $token" -H "Upload-Length: $size" \
    -H "Upload-Metadata: title $(printf bench | base64),filename $(printf upload.bin | base64)" \
    "$base/api/v1/uploads/tus"
  tus_url=$(header Location "$work/create.headers")
}
# One PATCH of the file's bytes [offset, offset + n), streamed from the file
# with a Content-Length; prints "http_code bytes_sent". Extra curl args last.
tus_patch() { # offset n [curl args...]
  local offset=$1 n=$2; shift 2
  dd if="$file" bs=4M iflag=skip_bytes,count_bytes skip="$offset" count="$n" status=none |
    curl -sS -X PATCH -T - -H 'Expect:' -H 'Transfer-Encoding:' -H "Content-Length: $n" \
      -H 'Tus-Resumable: 1.0.0' -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/offset+octet-stream' -H "Upload-Offset: $offset" \
      -D "$work/patch.headers" -o "$work/patch.body" -w '%{http_code} %{size_upload}' "$@" "$tus_url"
}
# PATCHes from `offset` until `stop` (default: the end); sets offset.
tus_patch_until() { # stop
  local stop=${1:-$size} n code
  while [ "$offset" -lt "$stop" ]; do
    n=$((stop - offset < chunk ? stop - offset : chunk))
    read -r code _ <<<"$(tus_patch "$offset" "$n")"
    [ "$code" = 204 ] || { echo "PATCH at $offset answered $code: $(cat "$work/patch.body")" >&2; exit 1; }
    offset=$(header Upload-Offset "$work/patch.headers")
  done
}
curl_tus_upload() { # -> video id
  tus_create
  offset=0
  tus_patch_until
  basename "$tus_url"
}

backends=(folder)
[ -n "$s3" ] && backends+=(s3)
methods=(multipart tuspy curl_tus)
declare -A label=([multipart]="multipart (curl -F)" [tuspy]="tus tuspy, sha1, 64 MiB" [curl_tus]="tus curl loop, no checksum, 64 MiB")
declare -A rate secs rss

echo "nginx reference..."
t0=$(now)
curl -sS -f -H 'Expect:' -o /dev/null -F title=bench -F "file=@$file;type=application/octet-stream" \
  "http://127.0.0.1:$nginx_port/discard"
t1=$(now)
nginx_discard=$(mbps "$t0" "$t1")
t0=$(now)
curl -sS -f -H 'Expect:' -o /dev/null -T "$file" "http://127.0.0.1:$nginx_port/put/upload.bin"
t1=$(now)
nginx_put=$(mbps "$t0" "$t1")
[ "$(stat -c %s "$work/nginx/put/upload.bin")" -eq "$size" ] || { echo "nginx stored a wrong size"; exit 1; }
rm -f "$work/nginx/put/upload.bin"

# What tuspy's client side alone costs: reading the file in 64 MiB chunks
# and the sha1 of each (it does that before each PATCH, on one core).
t0=$(now)
python3 - "$file" "$chunk" <<'EOF'
import hashlib, sys
with open(sys.argv[1], "rb") as f:
    while block := f.read(int(sys.argv[2])):
        hashlib.sha1(block).digest()
EOF
t1=$(now)
sha1_ceiling=$(mbps "$t0" "$t1")

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for backend in "${backends[@]}"; do
  for method in "${methods[@]}"; do
    echo "$backend: ${label[$method]}..."
    data=$work/data-$backend-$method
    start_serve "$backend" "$data" "$(free_port)"
    sync
    hwm0=$(status_kib "$serve_pid" VmHWM)
    t0=$(now)
    case $method in
      multipart) id=$(multipart_upload) ;;
      tuspy) id=$(tuspy_upload --endpoint "$base/api/v1/uploads/tus" --title bench) ;;
      curl_tus) id=$(curl_tus_upload) ;;
    esac
    t1=$(now)
    hwm1=$(status_kib "$serve_pid" VmHWM)
    stored=$(stat -c %s "$(master_path "$backend" "$data" "$id")")
    [ "$stored" -eq "$size" ] || { echo "$backend $method stored $stored bytes, not $size"; exit 1; }
    curl -sf -H "Authorization: Bearer $token" "$base/api/v1/videos/$id" >/dev/null ||
      { echo "$backend $method: video $id not found"; exit 1; }
    stop_serve
    drop_case "$backend" "$data"
    rate[$backend,$method]=$(mbps "$t0" "$t1")
    secs[$backend,$method]=$(echo "$t1 - $t0" | bc)
    rss[$backend,$method]=$(echo "scale=1; ($hwm1 - $hwm0) / 1024" | bc)
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- resume after SIGKILL --------------------------------------------------
declare -A resume
for backend in "${backends[@]}"; do
  echo "$backend: resume after SIGKILL..."
  data=$work/data-$backend-resume
  port=$(free_port)
  start_serve "$backend" "$data" "$port"
  tus_create
  offset=0
  kill_at=$(( size / chunk / 2 * chunk )) # the in-flight PATCH starts half way
  tus_patch_until "$kill_at"
  # The next PATCH, rate-limited so it is in flight for about a second;
  # goflix serve is killed once curl has read half of it from the file.
  n=$((size - offset < chunk ? size - offset : chunk))
  dd if="$file" bs=4M iflag=skip_bytes,count_bytes skip="$offset" count="$n" status=none 2>/dev/null |
    curl -sS -X PATCH -T - -H 'Expect:' -H 'Transfer-Encoding:' -H "Content-Length: $n" \
      -H 'Tus-Resumable: 1.0.0' -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/offset+octet-stream' -H "Upload-Offset: $offset" \
      --limit-rate 64M -o /dev/null -w '%{http_code} %{size_upload}' "$tus_url" \
      >"$work/inflight.out" 2>"$work/inflight.err" &
  curl_pid=$!
  disown "$serve_pid" # no "Killed" job notice
  python3 - "$curl_pid" "$serve_pid" $((n / 2)) <<'EOF'
import os, signal, sys, time
curl, serve, threshold = map(int, sys.argv[1:])
while True:
    with open(f"/proc/{curl}/io") as io:
        # Bytes curl read from the pipe: what it sent, give or take its buffer
        # (socket sends are not counted in wchar).
        read = next(int(line.split()[1]) for line in io if line.startswith("rchar:"))
    if read >= threshold:
        os.kill(serve, signal.SIGKILL)
        break
    time.sleep(0.002)
EOF
  wait "$curl_pid" || true
  while kill -0 "$serve_pid" 2>/dev/null; do sleep 0.05; done
  read -r code inflight <<<"$(cat "$work/inflight.out")"
  [ "$code" = 000 ] || { echo "the in-flight PATCH finished ($code) before the kill"; exit 1; }
  sent=$((offset + inflight))
  start_serve "$backend" "$data" "$port"
  curl -sS -f -I -H 'Tus-Resumable: 1.0.0' -H "Authorization: Bearer $token" "$tus_url" >"$work/head.headers"
  head_offset=$(header Upload-Offset "$work/head.headers")
  id=$(tuspy_upload --url "$tus_url")
  started=$(json '["started_at"]' <"$work/tuspy.json")
  master=$(master_path "$backend" "$data" "$id")
  sha=$(sha256sum "$master" | cut -d' ' -f1)
  stop_serve
  drop_case "$backend" "$data"
  resume[$backend]="$offset $sent $head_offset $started $sha"
done

# --- the table -------------------------------------------------------------
pass() { [ "$1" -eq 1 ] && echo ok || echo MISSED; }
echo
echo "upload benchmark: $size bytes ($(printf '%.2f' "$(echo "$size / 1073741824" | bc -l)") GiB) of random bytes, loopback, $cores cores"
if [ -n "${BENCH_GOFLIX:-}" ]; then built="given by BENCH_GOFLIX"
else built="built from $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"; fi
echo "goflix: $goflix ($built); MB/s = 10^6 bytes/s, client wall clock"
echo "load average before: $load_before, after: $load_after"
echo "reference: nginx, curl -F, body discarded (return 204): $nginx_discard MB/s"
echo "           nginx, curl -T, WebDAV PUT (client_body temp file on disk, renamed): $nginx_put MB/s"
echo "tuspy's client-side ceiling: read + sha1 of 64 MiB chunks in Python, no network: $sha1_ceiling MB/s"
printf '%-7s %-36s %8s %8s %9s %9s %10s %10s  %s\n' \
  backend method seconds MB/s x_discard x_put x_multipart rss_MiB targets
for backend in "${backends[@]}"; do
  for method in "${methods[@]}"; do
    r=${rate[$backend,$method]}
    ratio=$(echo "scale=2; $r / ${rate[$backend,multipart]}" | bc)
    targets="rss<64MiB $(pass "$(echo "${rss[$backend,$method]} < 64" | bc)")"
    [ "$method" = multipart ] || targets="tus>=0.8x $(pass "$(echo "$ratio >= 0.8" | bc)"), $targets"
    printf '%-7s %-36s %8.1f %8.1f %9.2f %9.2f %10.2f %10.1f  %s\n' "$backend" "${label[$method]}" \
      "${secs[$backend,$method]}" "$r" "$(echo "$r / $nginx_discard" | bc -l)" \
      "$(echo "$r / $nginx_put" | bc -l)" "$ratio" "${rss[$backend,$method]}" "$targets"
  done
done
echo
echo "resume after SIGKILL during a 64 MiB PATCH (curl tus loop, then tuspy --url to the end):"
printf '%-7s %12s %12s %12s %12s %10s  %-8s %s\n' \
  backend acked_MiB sent_MiB head_MiB resent_MiB tuspy_from sha256 target
for backend in "${backends[@]}"; do
  read -r acked sent head_offset started sha <<<"${resume[$backend]}"
  resent=$((sent - head_offset))
  target="re-sent<=64MiB $(pass "$([ "$resent" -le "$chunk" ] && echo 1 || echo 0)")"
  [ "$head_offset" -ge "$acked" ] || target="$target; HEAD below the acknowledged offset"
  [ "$started" -eq "$head_offset" ] || target="$target; tuspy resumed at $started"
  printf '%-7s %12s %12s %12s %12s %10s  %-8s %s\n' "$backend" "$(mib "$acked")" "$(mib "$sent")" \
    "$(mib "$head_offset")" "$(mib "$resent")" "$(mib "$started")" \
    "$([ "$sha" = "$file_sha" ] && echo match || echo DIFFERS)" "$target"
done
