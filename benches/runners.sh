#!/usr/bin/env bash
# Remote runner benchmark (not a test): the transcoder benchmark's 60 s 1080p
# source, uploaded twice to `goflix serve` in one run:
#   worker   the in-process worker transcodes it (GOFLIX_SERVE_WORKERS=1)
#   runner   no in-process worker (GOFLIX_SERVE_WORKERS=0); one `goflix runner
#            --concurrency 1` on loopback gRPC takes the job, reads the master
#            and streams every output back through the control API
# Prints the time from upload complete to `ready` for each way, the ratio
# runner/worker, and each way's output storing: bytes, seconds and MB/s (from
# the worker's `outputs stored` log line; over gRPC for the runner, to the
# folder store directly for the worker).
# Usage: benches/runners.sh [SECONDS=60]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

src="$work/source.mp4"
echo "generating a ${seconds}s 1920x1080 30fps source with motion and noise..."
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$seconds,noise=alls=20:allf=t" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$seconds" \
  -c:v libx264 -preset ultrafast -crf 18 -c:a aac "$src"

cargo build --release --quiet -p goflix --bin goflix
goflix="${CARGO_TARGET_DIR:-target}/release/goflix"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
log_filter="warn,goflix_transcoder=info"
admin=(GOFLIX_ADMIN_EMAIL=bench@example.test GOFLIX_ADMIN_PASSWORD=bench-password-123)

# serve NAME WORKERS EXTRA_ENV...: starts goflix serve; sets base and token.
serve() {
  local name=$1 workers=$2; shift 2
  local port; port=$(free_port)
  base="http://127.0.0.1:$port"
  env GOFLIX_DATA_DIR="$work/$name" GOFLIX_LISTEN="127.0.0.1:$port" GOFLIX_SERVE_WORKERS="$workers" \
    "${admin[@]}" RUST_LOG="$log_filter" NO_COLOR=1 "$@" "$goflix" serve >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do curl -sf -o /dev/null "$base/healthz" && break; sleep 0.1; done
  token=$(curl -sf "$base/api/v1/auth/token" -d grant_type=password \
    --data-urlencode username=bench@example.test --data-urlencode password=bench-password-123 | json '["access_token"]')
}

# upload_to_ready: uploads the source; prints seconds from upload complete to ready.
upload_to_ready() {
  local id uploaded state=
  id=$(curl -sf -H "Authorization: Bearer $token" -F title=bench -F "file=@$src;type=video/mp4" "$base/api/v1/videos" | json '["id"]')
  uploaded=$(date +%s.%N)
  until [ "$state" = ready ] || [ "$state" = failed ]; do
    sleep 0.2
    state=$(curl -sf -H "Authorization: Bearer $token" "$base/api/v1/videos/$id" | json '["state"]')
  done
  [ "$state" = ready ] || { echo "the job failed" >&2; exit 1; }
  echo "$(date +%s.%N) - $uploaded" | bc -l
}

# stored LOG: "bytes seconds mb_per_s" of the last `outputs stored` line.
stored() {
  grep 'outputs stored' "$1" | tail -1 |
    sed -E 's/.*bytes=([0-9]+).*seconds=([0-9.e-]+).*mb_per_s=([0-9.e-]+).*/\1 \2 \3/'
}

load() { echo "load $(cut -d' ' -f1 /proc/loadavg), rustc processes $(pgrep -c rustc || true)"; }
echo "running ($(load))..."

serve worker 1
worker_s=$(upload_to_ready)
kill "${pids[@]}"; wait 2>/dev/null || true; pids=()

grpc_port=$(free_port)
serve runner 0 GOFLIX_GRPC_LISTEN="127.0.0.1:$grpc_port"
registration=$(curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"description":"bench"}' "$base/api/v1/runners/registration-tokens" | json '["token"]')
echo "$registration" >"$work/registration.token"
runner_port=$(free_port)
env GOFLIX_DATA_DIR="$work/runner-data" GOFLIX_LISTEN="127.0.0.1:$runner_port" \
  GOFLIX_RUNNER_TOKEN_FILE="$work/registration.token" RUST_LOG="$log_filter" NO_COLOR=1 \
  "$goflix" runner --server "http://127.0.0.1:$grpc_port" --concurrency 1 >"$work/runner-process.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do curl -sf -o /dev/null "http://127.0.0.1:$runner_port/readyz" && break; sleep 0.1; done
runner_s=$(upload_to_ready)
echo "done ($(load))"

read -r w_bytes w_secs w_rate <<<"$(stored "$work/worker.log")"
read -r r_bytes r_secs r_rate <<<"$(stored "$work/runner-process.log")"
printf '\n%ss 1080p source, upload complete -> ready\n' "$seconds"
printf '%-8s %10s %12s %10s %10s\n' way ready_s outputs_MB store_s MB_per_s
printf '%-8s %10.1f %12.1f %10.2f %10.1f\n' \
  worker "$worker_s" "$(echo "$w_bytes / 1000000" | bc -l)" "$w_secs" "$w_rate" \
  runner "$runner_s" "$(echo "$r_bytes / 1000000" | bc -l)" "$r_secs" "$r_rate"
printf '\nratio runner/worker (upload -> ready): %.3f\n' "$(echo "$runner_s / $worker_s" | bc -l)"
