#!/usr/bin/env bash
# Installs what is missing, builds Goflix and runs `goflix serve` on embedded
# defaults (SQLite, a local folder, the database as queue, in-process cache).
# It prints the URL and, on first start, the admin's credentials.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The player and upload libraries the pages embed (pinned in web/package-lock.json).
(cd web && npm ci --no-audit --no-fund --loglevel=error)
cargo build --release --locked --bin goflix
exec target/release/goflix serve
