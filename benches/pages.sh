#!/usr/bin/env bash
# Page benchmark (not a test): first contentful paint and time to first
# frame of the watch page of a ready video on `goflix serve` (release build,
# embedded defaults) on loopback, side by side with a reference page that is
# only a <video> and hls.js playing the same master playlist; FCP of the
# embed page and the console; and the bytes each page transfers, split into
# our own scripts, the libraries (hls.js, tus-js-client), styles and HTML
# (compressed, as the browser received them). e2e/page_metrics.mjs does the
# measuring in headless Chromium: every load is cold (a fresh browser
# context), medians of BENCH_PAGE_RUNS loads (default 7).
# Targets (issue 15): first frame < 1000 ms for a ready video; our own
# scripts < 150 KB compressed per page.
#
# Needs node with e2e/node_modules (`npm ci` in e2e/), ffmpeg and Chromium
# (scripts/install-deps.sh --test).
# Usage: benches/pages.sh
#   Build with a target dir of its own: CARGO_TARGET_DIR=/var/tmp/goflix-release.
#   BENCH_GOFLIX=/path/to/goflix benchmarks that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${BENCH_PAGE_RUNS:-7}
if [ -z "${BENCH_GOFLIX:-}" ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
  cargo build --release --locked --bin goflix
  BENCH_GOFLIX="${CARGO_TARGET_DIR:-target}/release/goflix"
fi
[ -d e2e/node_modules ] || (cd e2e && npm ci --no-audit --no-fund --loglevel=error)

work=$(mktemp -d /var/tmp/goflix-pages.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
password="bench-password-123"
env -u GOFLIX_DATABASE_URL GOFLIX_DATA_DIR="$work/data" GOFLIX_LISTEN="127.0.0.1:$port" \
  GOFLIX_ADMIN_EMAIL=bench@example.test GOFLIX_ADMIN_PASSWORD="$password" RUST_LOG=warn \
  "$BENCH_GOFLIX" serve >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done

ffmpeg -v error -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=20" \
  -f lavfi -i "sine=frequency=440:duration=20" -c:v libx264 -preset veryfast -pix_fmt yuv420p \
  -c:a aac "$work/clip.mp4"
token=$(curl -sf -d grant_type=password -d username=bench@example.test \
  --data-urlencode password="$password" "$base/api/v1/auth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
id=$(curl -sf -H "Authorization: Bearer $token" -F title=Bench -F file=@"$work/clip.mp4" \
  "$base/api/v1/videos" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 600); do
  state=$(curl -sf -H "Authorization: Bearer $token" "$base/api/v1/videos/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
  [ "$state" = ready ] && break
  [ "$state" = failed ] && { echo "transcode failed" >&2; exit 1; }
  sleep 0.5
done

report=$(node e2e/page_metrics.mjs "$base" "$id" "$runs")
python3 - "$report" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
kb = lambda n: f"{n / 1000:.1f}"
print(f"medians of {r['runs']} cold loads, loopback, goflix serve (release)")
print()
print("| page | FCP ms | first frame ms | our JS kB | library JS kB | CSS kB | HTML kB |")
print("|---|---|---|---|---|---|---|")
for name in ["watch", "reference", "embed", "console"]:
    p = r[name]; b = p["bytes"]
    print(f"| {name} | {p['fcp_ms']} | {p.get('first_frame_ms', '–')} | {kb(b['own_js'])} | {kb(b['library_js'])} | {kb(b['css'])} | {kb(b['html'])} |")
w, ref = r["watch"], r["reference"]
print()
print(f"watch / reference, first frame: {w['first_frame_ms'] / ref['first_frame_ms']:.2f}x")
own = max(r[n]["bytes"]["own_js"] for n in ["watch", "embed", "console"])
print(f"targets: first frame {w['first_frame_ms']} ms (< 1000: {'met' if w['first_frame_ms'] < 1000 else 'MISSED'}), "
      f"our JS {kb(own)} kB per page at most (< 150: {'met' if own < 150000 else 'MISSED'})")
PY
