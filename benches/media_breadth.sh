#!/usr/bin/env bash
# Media breadth benchmark (not a test): what a second audio language, a
# text stream and the download MP4 cost the transcode. The same 1080p
# picture and ladder, run through Goflix's pipeline (transcode_file) in one
# run, three ways:
#   plain        one audio stream (English)
#   languages    English and French audio, a Spanish mov_text stream
#   download     plain, with GOFLIX_DOWNLOADS=on (download.mp4 of the 720p rung)
# Prints wall and CPU seconds of each and the extra of each over `plain` in
# percent (the issue's targets: languages under 10 % CPU, the download
# under 5 %), and the machine's load (other work on the box skews the wall
# times).
# Usage: benches/media_breadth.sh [SECONDS=60] [PRESET=veryfast] [PROFILE=release|dev]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
preset=${2:-veryfast}
profile=${3:-release}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "generating ${seconds}s 1920x1080 30fps sources with motion and noise..."
# One cue every 3 s, in Spanish.
for ((i = 0; i < seconds / 3; i++)); do
  printf '%d\n00:%02d:%02d,000 --> 00:%02d:%02d,500\nLínea %d del subtítulo\n\n' \
    $((i + 1)) $((i * 3 / 60)) $((i * 3 % 60)) $((i * 3 / 60)) $((i * 3 % 60 + 2)) $((i + 1))
done >"$work/es.srt"
picture="testsrc2=size=1920x1080:rate=30:duration=$seconds,noise=alls=20:allf=t"
tone() { echo "sine=frequency=$1:sample_rate=48000:duration=$seconds"; }
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "$picture" -f lavfi -i "$(tone 440)" \
  -c:v libx264 -preset ultrafast -crf 18 -c:a aac -metadata:s:a:0 language=eng "$work/plain.mp4"
ffmpeg -hide_banner -loglevel error -y -i "$work/plain.mp4" -f lavfi -i "$(tone 660)" -i "$work/es.srt" \
  -map 0:v -map 0:a -map 1:a -map 2:s -c:v copy -c:a:0 copy -c:a:1 aac -c:s mov_text \
  -metadata:s:a:1 language=fra -metadata:s:s:0 language=spa "$work/languages.mp4"

if [[ "$profile" == release ]]; then
  cargo build --release --quiet -p goflix-transcoder --example transcode_file
  goflix="${CARGO_TARGET_DIR:-target}/release/examples/transcode_file"
else
  cargo build --quiet -p goflix-transcoder --example transcode_file
  goflix="${CARGO_TARGET_DIR:-target}/debug/examples/transcode_file"
fi

measure() { # name, command...: prints "name wall_s cpu_s"
  local name=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$work/$name.time" "$@" >/dev/null
  read -r wall user sys <"$work/$name.time"
  echo "$name $wall $(echo "$user + $sys" | bc)"
}
load() { echo "load $(cut -d' ' -f1 /proc/loadavg), rustc processes $(pgrep -c rustc || true)"; }

echo "running ($profile build, preset $preset; $(load))..."
read -r _ p_wall p_cpu <<<"$(measure plain "$goflix" "$work/plain.mp4" "$work/out-plain" "$preset" 0)"
read -r _ l_wall l_cpu <<<"$(measure languages "$goflix" "$work/languages.mp4" "$work/out-languages" "$preset" 0)"
read -r _ d_wall d_cpu <<<"$(GOFLIX_DOWNLOADS=on measure download "$goflix" "$work/plain.mp4" "$work/out-download" "$preset" 0)"
echo "done ($(load))"
ls "$work/out-languages" | grep -E '^(audio|text)' | tr '\n' ' '
ls -l "$work/out-download/download.mp4" | awk '{print "download.mp4", $5, "bytes"}'

printf '\n%-10s %10s %10s\n' way wall_s cpu_s
printf '%-10s %10.1f %10.1f\n' plain "$p_wall" "$p_cpu" languages "$l_wall" "$l_cpu" download "$d_wall" "$d_cpu"
extra() { # name wall cpu
  printf 'extra of %s over plain: wall %+.1f %% cpu %+.1f %%\n' "$1" \
    "$(echo "($2 / $p_wall - 1) * 100" | bc -l)" "$(echo "($3 / $p_cpu - 1) * 100" | bc -l)"
}
echo
extra languages "$l_wall" "$l_cpu"
extra download "$d_wall" "$d_cpu"
