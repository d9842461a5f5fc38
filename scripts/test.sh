#!/usr/bin/env bash
# Installs what is missing, then runs every check and test: formatting,
# clippy, unit, property, integration and real-player end-to-end tests,
# against the embedded backends and the test services (PostgreSQL, Redis,
# RabbitMQ, S3).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test

# Reuse one build directory across clones on this machine (CI runs in a fresh clone).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/goflix-target}"
export GOFLIX_E2E_DIR="$PWD/e2e"

# PostgreSQL, Redis, RabbitMQ and an S3 server; exports GOFLIX_TEST_* naming them.
services_env=$(scripts/test-services.sh)
eval "$services_env"

# web/: the libraries the pages embed at build time; e2e/: the browser test tools.
(cd web && npm ci --no-audit --no-fund --loglevel=error)
(cd e2e && npm ci --no-audit --no-fund --loglevel=error)

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
