#!/usr/bin/env bash
# Ladder quality benchmark (not a test): what each ladder costs in bytes and
# delivers in quality. Three 1080p30 lavfi sources of low, medium and high
# complexity (a clean testsrc2, testsrc2 under moving noise, a mandelbrot
# zoom), each kept as a nearly lossless master, go through, in one run:
#   fixed       Goflix's pipeline, GOFLIX_LADDER=fixed (today's ladder)
#   per-title   Goflix's pipeline, GOFLIX_LADDER=per-title (capped CRF)
#   av1         Goflix's pipeline, the per-title AV1 ladder (SVT-AV1 capped
#               CRF, GOFLIX_CODEC=av1: what the second job of a version encodes)
#   hevc        the same for the per-title HEVC ladder (x265 capped CRF,
#               GOFLIX_CODEC=hevc)
#   cli         Debian's ffmpeg 5.1 CLI with fixed's settings: one decode,
#               split to the five rungs, x264 ABR with the same VBV, GOP and
#               preset (the reference the pipeline is measured against)
# For every rung: kbit/s (file bytes over the duration) and VMAF against the
# master (the rung scaled back to 1080p, bicubic, every 5th frame), computed
# with the FFmpeg of the imageio-ffmpeg wheel (Debian's has no libvmaf; it
# only measures here). Then per way and source: total kbit/s, mean VMAF,
# wall and CPU seconds, per-title against fixed and av1 and hevc against
# per-title in percent.
# Usage: benches/ladder_quality.sh [SECONDS=60] [PRESET=veryfast] [PROFILE=release|dev]
# (WAYS="per-title" runs only some of the ways; the comparison needs fixed and per-title.)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
preset=${2:-veryfast}
profile=${3:-release}
ways=${WAYS:-fixed per-title av1 cli}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -c 'import imageio_ffmpeg' 2>/dev/null ||
  pip3 install --quiet --disable-pip-version-check imageio-ffmpeg==0.8.1 ||
  pip3 install --quiet --disable-pip-version-check --break-system-packages imageio-ffmpeg==0.8.1
vmaf_ffmpeg=$(python3 -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')

if [[ "$profile" == release ]]; then
  cargo build --release --quiet -p goflix-transcoder --example transcode_file
  goflix="${CARGO_TARGET_DIR:-target}/release/examples/transcode_file"
else
  cargo build --quiet -p goflix-transcoder --example transcode_file
  goflix="${CARGO_TARGET_DIR:-target}/debug/examples/transcode_file"
fi

declare -A pictures=(
  [low]="testsrc2=size=1920x1080:rate=30:duration=$seconds"
  [medium]="testsrc2=size=1920x1080:rate=30:duration=$seconds,noise=alls=12:allf=t"
  [high]="mandelbrot=size=1920x1080:rate=30,trim=duration=$seconds"
)
# Today's default ladder at 30 fps (transcoder/src/media/ladder.rs): name, width, height, bit/s.
rungs=("1080p 1920 1080 5000000" "720p 1280 720 2800000" "480p 854 480 1400000"
  "360p 640 360 800000" "240p 426 240 400000")

measure() { # name, command...: prints "wall_s cpu_s"
  local name=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$work/$name.time" "$@" >"$work/$name.out"
  read -r wall user sys <"$work/$name.time"
  echo "$wall $(echo "$user + $sys" | bc)"
}

# The CLI reference: fixed's rungs from one decode, as the pipeline encodes
# them; sets cli_args to the ffmpeg arguments.
cli_ladder() { # master out_dir
  local split outputs=() i=0
  split="[0:v]split=${#rungs[@]}"
  for rung in "${rungs[@]}"; do split+="[s$i]"; i=$((i + 1)); done
  i=0
  for rung in "${rungs[@]}"; do
    read -r name width height rate <<<"$rung"
    split+=";[s$i]scale=$width:$height:flags=bicubic[o$i]"
    outputs+=(-map "[o$i]" -c:v libx264 -preset "$preset" -profile:v high -b:v "$rate"
      -maxrate $((rate * 3 / 2)) -bufsize $((rate * 2)) -g 60 -keyint_min 60 -sc_threshold 0
      -x264-params open-gop=0 -pix_fmt yuv420p "$2/$name.mp4")
    i=$((i + 1))
  done
  mkdir -p "$2"
  cli_args=(-hide_banner -loglevel error -y -i "$1" -filter_complex "$split" "${outputs[@]}")
}

vmaf() { # rendition master: prints the pooled VMAF
  "$vmaf_ffmpeg" -hide_banner -nostdin -i "$1" -i "$2" -lavfi \
    "[0:v]scale=1920:1080:flags=bicubic,setpts=PTS-STARTPTS[d];[1:v]setpts=PTS-STARTPTS[r];[d][r]libvmaf=n_subsample=5:n_threads=2" \
    -f null - 2>&1 | sed -n 's/.*VMAF score: \([0-9.]*\).*/\1/p'
}

echo "load before: $(cut -d' ' -f1 /proc/loadavg); ${seconds}s sources, preset $preset, $profile build"
printf '\n%-7s %-10s %-6s %9s %6s %9s\n' source way rung kbit_s vmaf psnr_est
summary=()
for source in low medium high; do
  master="$work/$source.mp4"
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i "${pictures[$source]},format=yuv420p" \
    -c:v libx264 -preset ultrafast -crf 6 "$master"
  for way in $ways; do
    out="$work/$source-$way"
    suffix=""
    if [[ $way == cli ]]; then
      cli_ladder "$master" "$out"
      read -r wall cpu <<<"$(measure "$source-$way" ffmpeg "${cli_args[@]}")"
    elif [[ $way == av1 || $way == hevc ]]; then
      suffix=_$way
      read -r wall cpu <<<"$(GOFLIX_LADDER=per-title GOFLIX_CODEC=$way SVT_LOG=2 \
        measure "$source-$way" "$goflix" "$master" "$out" "$preset" 0)"
    else
      read -r wall cpu <<<"$(GOFLIX_LADDER=$way measure "$source-$way" "$goflix" "$master" "$out" "$preset" 0)"
    fi
    total=0 scores=0 kept=0
    for rung in "${rungs[@]}"; do
      read -r name _ <<<"$rung"
      name="$name$suffix"
      # per-title's own measure of the rung (transcoder/src/media/quality.rs)
      estimate=$(awk -v r="$name" '$1 == "quality" && $2 == r { print $4 ($5 == "dropped" ? " dropped" : "") }' \
        "$work/$source-$way.out")
      if [[ ! -f "$out/$name.mp4" ]]; then
        [[ -z "$estimate" ]] || printf '%-7s %-10s %-6s %9s %6s %9s\n' "$source" "$way" "$name" - - "$estimate"
        continue
      fi
      kbits=$(echo "$(stat -c %s "$out/$name.mp4") * 8 / $seconds / 1000" | bc)
      score=$(vmaf "$out/$name.mp4" "$master")
      printf '%-7s %-10s %-6s %9d %6.2f %9s\n' "$source" "$way" "$name" "$kbits" "$score" "${estimate:--}"
      total=$((total + kbits))
      scores=$(echo "$scores + $score" | bc -l)
      kept=$((kept + 1))
    done
    summary+=("$source $way $total $(echo "$scores / $kept" | bc -l) $wall $cpu")
  done
  rm -f "$master"
done

printf '\n%-7s %-10s %12s %9s %8s %8s\n' source way total_kbit_s mean_vmaf wall_s cpu_s
for line in "${summary[@]}"; do
  read -r source way total mean wall cpu <<<"$line"
  printf '%-7s %-10s %12d %9.2f %8.1f %8.1f\n' "$source" "$way" "$total" "$mean" "$wall" "$cpu"
done
echo
# `compare A B`: way A against way B on every source, when both ran.
compare() {
  [[ " $ways " == *" $1 "* && " $ways " == *" $2 "* ]] || return 0
  for source in low medium high; do
    a=$(printf '%s\n' "${summary[@]}" | awk -v s="$source" -v w="$1" '$1 == s && $2 == w')
    b=$(printf '%s\n' "${summary[@]}" | awk -v s="$source" -v w="$2" '$1 == s && $2 == w')
    read -r _ _ a_total a_mean a_wall _ <<<"$a"
    read -r _ _ b_total b_mean b_wall _ <<<"$b"
    printf '%-7s %s against %s: bytes %+.1f %%, mean VMAF %+.2f, wall %.2fx\n' "$source" "$1" "$2" \
      "$(echo "($a_total / $b_total - 1) * 100" | bc -l)" "$(echo "$a_mean - $b_mean" | bc -l)" \
      "$(echo "$a_wall / $b_wall" | bc -l)"
  done
}
compare per-title fixed
compare av1 per-title
compare hevc per-title
echo "load after: $(cut -d' ' -f1 /proc/loadavg)"
