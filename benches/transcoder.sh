#!/usr/bin/env bash
# Side-by-side transcode benchmark (not a test): the same source and ladder
# three ways in one run on this machine:
#   goflix      Goflix's pipeline (one decode, every rung, CMAF + playlists)
#   cli-split   one ffmpeg CLI process, split filter graph, one output per rung
#   cli-rungs   one ffmpeg CLI process per rung, one after another
# Prints wall and CPU seconds and the ratios goflix/cli-split and goflix/cli-rungs,
# and the machine's load (other work on the box skews the wall times). Goflix
# also writes the live copy the worker publishes while encoding, as in production.
# Then uploads the source to `goflix serve` (embedded defaults) and prints the
# time from upload complete to the first playable master playlist and MPD, and
# to ready.
# Usage: benches/transcoder.sh [SECONDS=60] [PRESET=veryfast]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
preset=${2:-veryfast}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

src="$work/source.mp4"
echo "generating a ${seconds}s 1920x1080 30fps source with motion and noise..."
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$seconds,noise=alls=20:allf=t" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$seconds" \
  -c:v libx264 -preset ultrafast -crf 18 -c:a aac "$src"

cargo build --release --quiet -p goflix-transcoder --example transcode_file
cargo build --release --quiet -p goflix --bin goflix
goflix="${CARGO_TARGET_DIR:-target}/release/examples/transcode_file"
server="${CARGO_TARGET_DIR:-target}/release/goflix"

# The ladder Goflix plans for 1080p: height, bitrate (kbit/s). Keep in step with
# DEFAULT_RUNGS in transcoder/src/media/ladder.rs (Goflix caps rungs at the source's
# bitrate; this source carries far more, so no cap applies).
rungs=("1080 5000" "720 2800" "480 1400" "360 800" "240 400")
gop=60   # 2 s segments at 30 fps
x264="-c:v libx264 -profile:v high -preset $preset -g $gop -keyint_min $gop -sc_threshold 0 -bf 3"

measure() { # name, command...: prints "name wall_s cpu_s"
  local name=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$work/$name.time" "$@" >/dev/null
  read -r wall user sys <"$work/$name.time"
  echo "$name $wall $(echo "$user + $sys" | bc)"
}

split_graph="[0:v]split=${#rungs[@]}"
maps=()
for i in "${!rungs[@]}"; do split_graph+="[s$i]"; done
split_graph+=";"
for i in "${!rungs[@]}"; do
  read -r h b <<<"${rungs[$i]}"
  split_graph+="[s$i]scale=-2:$h[o$i];"
  maps+=(-map "[o$i]" $x264 -b:v "${b}k" -maxrate "$((b * 3 / 2))k" -bufsize "$((b * 2))k" -an -f mp4 -movflags +cmaf+frag_keyframe+global_sidx "$work/split_$h.mp4")
done
maps+=(-map 0:a -c:a aac -b:a 128k -ac 2 -ar 48000 -vn -f mp4 -movflags +cmaf+frag_keyframe+global_sidx -frag_duration 2000000 "$work/split_audio.mp4")

per_rung() {
  for r in "${rungs[@]}"; do
    read -r h b <<<"$r"
    ffmpeg -hide_banner -loglevel error -y -i "$src" -vf "scale=-2:$h" $x264 -b:v "${b}k" \
      -maxrate "$((b * 3 / 2))k" -bufsize "$((b * 2))k" -an -movflags +cmaf+frag_keyframe+global_sidx "$work/rung_$h.mp4"
  done
  ffmpeg -hide_banner -loglevel error -y -i "$src" -vn -c:a aac -b:a 128k -ac 2 -ar 48000 \
    -movflags +cmaf+frag_keyframe+global_sidx -frag_duration 2000000 "$work/rung_audio.mp4"
}

load() { echo "load $(cut -d' ' -f1 /proc/loadavg), rustc processes $(pgrep -c rustc || true)"; }
echo "running (preset $preset; $(load))..."
read -r _ g_wall g_cpu <<<"$(measure goflix "$goflix" "$src" "$work/goflix" "$preset" 0 "$work/goflix-live")"
read -r _ s_wall s_cpu <<<"$(measure cli-split ffmpeg -hide_banner -loglevel error -y -i "$src" -filter_complex "${split_graph%;}" "${maps[@]}")"
read -r _ r_wall r_cpu <<<"$(measure cli-rungs bash -c "$(declare -p rungs src work x264); $(declare -f per_rung); per_rung")"

echo "done ($(load))"
printf '\n%-10s %10s %10s\n' way wall_s cpu_s
printf '%-10s %10.1f %10.1f\n' goflix "$g_wall" "$g_cpu" cli-split "$s_wall" "$s_cpu" cli-rungs "$r_wall" "$r_cpu"
printf '\nratio goflix/cli-split: wall %.2f cpu %.2f\n' "$(echo "$g_wall / $s_wall" | bc -l)" "$(echo "$g_cpu / $s_cpu" | bc -l)"
printf 'ratio goflix/cli-rungs: wall %.2f cpu %.2f\n' "$(echo "$g_wall / $r_wall" | bc -l)" "$(echo "$g_cpu / $r_cpu" | bc -l)"

# --- upload complete → first playable manifest, through goflix serve --------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
GOFLIX_DATA_DIR="$work/serve" GOFLIX_LISTEN="127.0.0.1:$port" GOFLIX_ADMIN_EMAIL=bench@example.test \
  GOFLIX_ADMIN_PASSWORD=bench-password-123 RUST_LOG=warn "$server" serve >"$work/serve.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf -o /dev/null "$base/healthz" && break; sleep 0.1; done
token=$(curl -sf "$base/api/v1/auth/token" -d grant_type=password \
  --data-urlencode username=bench@example.test --data-urlencode password=bench-password-123 | json '["access_token"]')
id=$(curl -sf -H "Authorization: Bearer $token" -F title=bench -F "file=@$src;type=video/mp4" "$base/api/v1/videos" | json '["id"]')
uploaded=$(date +%s.%N)
until curl -sf -o /dev/null "$base/v/$id/master.m3u8"; do sleep 0.05; done
playable=$(date +%s.%N)
# The MPD entry point redirects to the live version's dynamic MPD.
until curl -sfL -o /dev/null "$base/v/$id/manifest.mpd"; do sleep 0.05; done
playable_dash=$(date +%s.%N)
state=
until [ "$state" = ready ] || [ "$state" = failed ]; do
  sleep 0.2
  state=$(curl -sf -H "Authorization: Bearer $token" "$base/api/v1/videos/$id" | json '["state"]')
done
ready=$(date +%s.%N)
printf '\ngoflix serve, %ss source: upload complete -> first playable master %.2f s, MPD %.2f s, -> %s %.1f s\n' \
  "$seconds" "$(echo "$playable - $uploaded" | bc -l)" "$(echo "$playable_dash - $uploaded" | bc -l)" \
  "$state" "$(echo "$ready - $uploaded" | bc -l)"
