#!/usr/bin/env bash
# Installs what Goflix needs on Debian 12 and is not there yet.
#   scripts/install-deps.sh          build and run (FFmpeg libraries, clang, pkg-config)
#   scripts/install-deps.sh --test   also what the tests use (ffmpeg CLI, Chromium, Node.js)
# Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(pkg-config clang libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
  libswresample-dev libavfilter-dev libavdevice-dev ca-certificates)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(ffmpeg chromium nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from elsewhere than Debian (e.g. NodeSource): accept any that runs.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "Rust is missing: install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi
