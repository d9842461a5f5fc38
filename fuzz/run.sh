#!/usr/bin/env bash
# Runs the coverage-guided fuzz targets, one after the other, each for
# SECONDS (default 60) in one process:
#
#   fuzz/run.sh [SECONDS] [TARGET...]      (every target when none is named)
#
# cargo-fuzz drives libFuzzer with nightly flags; RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them. The build has its own target dir
# ($GOFLIX_FUZZ_TARGET_DIR, default /var/tmp/goflix-fuzz-target) and no
# sanitizer (the code under test is safe Rust: panics, hangs and memory
# blow-ups are what the fuzzer looks for; `-timeout` and `-rss_limit_mb`
# turn the last two into findings). Each run starts from fuzz/seeds/TARGET
# and fuzz/regressions/TARGET (inputs that once crashed: a regression fails
# the run at once), with fuzz/TARGET.dict as its dictionary when there is
# one, and grows fuzz/corpus/TARGET; a new crash is written to
# fuzz/artifacts/TARGET/. Not part of .ci/run.
set -euo pipefail

seconds=${1:-60}
shift || true
cd "$(dirname "$0")"

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
# The control API embeds the web pages' pinned libraries at build time.
[[ -d ../web/node_modules ]] || (cd ../web && npm ci --no-audit --no-fund --loglevel=error)
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${GOFLIX_FUZZ_TARGET_DIR:-/var/tmp/goflix-fuzz-target}
logs=$CARGO_TARGET_DIR/logs
mkdir -p "$logs"

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  mapfile -t targets < <(cargo fuzz list)
fi

for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "seeds/$target" "regressions/$target"
  echo "fuzz: $target for ${seconds}s (log: $logs/$target.log)" >&2
  dictionary=()
  if [[ -f "$target.dict" ]]; then
    dictionary=(-dict="$PWD/$target.dict")
  fi
  status=0
  cargo fuzz run --sanitizer none "$target" \
    "corpus/$target" "seeds/$target" "regressions/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 "${dictionary[@]}" >"$logs/$target.log" 2>&1 || status=$?
  summary=$(grep -E '^#[0-9]+' "$logs/$target.log" | tail -1 || true)
  echo "fuzz: $target: ${summary:-no stats} (exit $status)" >&2
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$logs/$target.log" >&2 || true
  if [[ $status -ne 0 ]]; then
    tail -40 "$logs/$target.log" >&2
    echo "fuzz: $target found a failing input; see fuzz/artifacts/$target/ and $logs/$target.log" >&2
    exit "$status"
  fi
done
