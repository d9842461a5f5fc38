#!/usr/bin/env bash
# First-playable benchmark (not a test): does a second codec delay H.264?
# The same 1080p30 source (moving testsrc2 with noise and a tone) is
# uploaded to `goflix serve` (embedded defaults) with GOFLIX_CODECS=h264
# and with GOFLIX_CODECS=h264,av1, alternately, ROUNDS times each, in one
# run. Prints per upload the seconds from upload complete to the first
# playable master playlist, to `ready`, and (h264,av1) to the AV1
# renditions being listed; then the mean of each and the ratios of
# h264,av1 against h264.
# Usage: benches/first_playable.sh [SECONDS=30] [ROUNDS=2] [PROFILE=release|dev]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
rounds=${2:-2}
profile=${3:-release}
work=$(mktemp -d)
server_pid=
trap '[[ -z $server_pid ]] || kill $server_pid 2>/dev/null; rm -rf "$work"' EXIT

src="$work/source.mp4"
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$seconds,noise=alls=12:allf=t" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$seconds" \
  -c:v libx264 -preset ultrafast -crf 18 -c:a aac "$src"
if [[ $profile == release ]]; then
  cargo build --release --quiet -p goflix --bin goflix
  server="${CARGO_TARGET_DIR:-target}/release/goflix"
else
  cargo build --quiet -p goflix --bin goflix
  server="${CARGO_TARGET_DIR:-target}/debug/goflix"
fi
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
elapsed() { echo "$(date +%s.%N) - $1" | bc -l; }

echo "load before: $(cut -d' ' -f1 /proc/loadavg); ${seconds}s 1080p source, $rounds rounds, $profile build"
printf '\n%-9s %10s %8s %11s\n' codecs playable_s ready_s every_ladder_s
results=()
for _ in $(seq "$rounds"); do
  for codecs in h264 h264,av1; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    base="http://127.0.0.1:$port"
    data="$work/serve-$codecs-$port"
    GOFLIX_DATA_DIR="$data" GOFLIX_LISTEN="127.0.0.1:$port" GOFLIX_CODECS="$codecs" \
      GOFLIX_ADMIN_EMAIL=bench@example.test GOFLIX_ADMIN_PASSWORD=bench-password-123 RUST_LOG=warn \
      "$server" serve >"$work/serve.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do curl -sf -o /dev/null "$base/healthz" && break; sleep 0.1; done
    token=$(curl -sf "$base/api/v1/auth/token" -d grant_type=password \
      --data-urlencode username=bench@example.test --data-urlencode password=bench-password-123 |
      json '["access_token"]')
    id=$(curl -sf -H "Authorization: Bearer $token" -F title=bench -F "file=@$src;type=video/mp4" \
      "$base/api/v1/videos" | json '["id"]')
    uploaded=$(date +%s.%N)
    until curl -sf -o /dev/null "$base/v/$id/master.m3u8"; do sleep 0.05; done
    playable=$(elapsed "$uploaded")
    video() { curl -sf -H "Authorization: Bearer $token" "$base/api/v1/videos/$id"; }
    until [[ $(video | json '["state"]') == ready ]]; do sleep 0.1; done
    ready=$(elapsed "$uploaded")
    every=$ready
    if [[ $codecs == *av1* ]]; then
      until video | grep -q '_av1'; do sleep 0.2; done
      every=$(elapsed "$uploaded")
    fi
    printf '%-9s %10.2f %8.2f %11.2f\n' "$codecs" "$playable" "$ready" "$every"
    results+=("$codecs $playable $ready $every")
    kill $server_pid
    wait $server_pid 2>/dev/null || true
    server_pid=
    rm -rf "$data"
  done
done

mean() { # codecs column
  printf '%s\n' "${results[@]}" | awk -v c="$1" -v k="$2" '$1 == c { s += $k; n++ } END { print s / n }'
}
echo
for codecs in h264 h264,av1; do
  printf '%-9s mean: playable %.2f s, ready %.2f s, every ladder %.2f s\n' "$codecs" \
    "$(mean "$codecs" 2)" "$(mean "$codecs" 3)" "$(mean "$codecs" 4)"
done
printf 'h264,av1 against h264: playable %.2fx, ready %.2fx\n' \
  "$(echo "$(mean h264,av1 2) / $(mean h264 2)" | bc -l)" "$(echo "$(mean h264,av1 3) / $(mean h264 3)" | bc -l)"
echo "load after: $(cut -d' ' -f1 /proc/loadavg)"
