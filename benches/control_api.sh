#!/usr/bin/env bash
# Control-API latency benchmark (not a test). Starts `goflix serve` (release
# build, embedded SQLite) with one published video, then drives with wrk:
#   (a) healthz  GET /healthz: no token, no database (the floor of the stack)
#   (b) video    GET /api/v1/videos/{id} with an admin's bearer token: biscuit
#                verification, revocation check and the video row
# Both run in the same process one after the other, so the ratio shows what
# authentication plus the database read cost over the bare HTTP stack.
# Prints req/s, p50 and p99 for each and the video/healthz ratios.
#
# Needs ffmpeg, curl, python3 and wrk (installed from Debian's packages
# when missing).
#
# Usage: benches/control_api.sh [SECONDS_PER_RUN=10] [CONNECTIONS=32]
#   Build with a target dir of its own: CARGO_TARGET_DIR=/var/tmp/goflix-release.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
connections=${2:-32}

if ! command -v wrk >/dev/null; then
  echo "installing wrk..."
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y -qq wrk >/dev/null
fi

work=$(mktemp -d)
serve_pid=
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

echo "building goflix (release)..."
cargo build --release --quiet --bin goflix
goflix="${CARGO_TARGET_DIR:-target}/release/goflix"

port=$(free_port)
base="http://127.0.0.1:$port"
admin=bench@example.test
password=bench-password-123
GOFLIX_DATA_DIR="$work/data" GOFLIX_LISTEN="127.0.0.1:$port" \
  GOFLIX_ADMIN_EMAIL="$admin" GOFLIX_ADMIN_PASSWORD="$password" RUST_LOG=warn \
  "$goflix" serve >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do curl -sf -o /dev/null "$base/healthz" && break; sleep 0.1; done

ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=640x360:rate=30:duration=4" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=4" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac "$work/clip.mp4"
token=$(curl -sf "$base/api/v1/auth/token" -d grant_type=password \
  --data-urlencode "username=$admin" --data-urlencode "password=$password" | json '["access_token"]')
id=$(curl -sf -H "Authorization: Bearer $token" -F title=bench -F "file=@$work/clip.mp4;type=video/mp4" \
  "$base/api/v1/videos" | json '["id"]')
state=
for _ in $(seq 120); do
  state=$(curl -sf -H "Authorization: Bearer $token" "$base/api/v1/videos/$id" | json '["state"]')
  [ "$state" = ready ] || [ "$state" = failed ] && break
  sleep 0.5
done
[ "$state" = ready ] || { echo "video ended $state"; exit 1; }

# Runs wrk against a URL with optional extra arguments; prints "rps p50_ms p99_ms".
measure() { # url wrk-args...
  local url=$1; shift
  wrk -t2 -c"$connections" -d"${duration}s" --latency "$@" "$url" >"$work/wrk.txt"
  python3 - "$work/wrk.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(label):
    m = re.search(r"^\s*%s\s+([\d.]+)(us|ms|s)\s*$" % re.escape(label), text, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if errors:
    sys.exit(f"{errors.group(1)} failed responses:\n{text}")
print(f"{rps:.0f} {ms('50%'):.2f} {ms('99%'):.2f}")
PY
}

echo "warming up..."
measure "$base/api/v1/videos/$id" -H "Authorization: Bearer $token" >/dev/null
read -r h_rps h_p50 h_p99 < <(measure "$base/healthz")
read -r v_rps v_p50 v_p99 < <(measure "$base/api/v1/videos/$id" -H "Authorization: Bearer $token")

printf '\n%d connections, %ss per run, %s cores, load %s\n' "$connections" "$duration" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %10s %10s %10s\n' case req/s p50_ms p99_ms
printf '%-10s %10s %10s %10s\n' healthz "$h_rps" "$h_p50" "$h_p99"
printf '%-10s %10s %10s %10s\n' video "$v_rps" "$v_p50" "$v_p99"
python3 -c "print(f'video/healthz: req/s {$v_rps / $h_rps:.2f}, p99 {$v_p99 / $h_p99:.2f}')"
