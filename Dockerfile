# One image for every Goflix role. The command selects the role:
#   goflix control-api | origin | transcoder --concurrency N | migrate | serve
#   goflix runner --server URL   (a remote transcoding runner; k8s/runner/)
#
# The gRPC protocol of runners (runner-proto/) compiles with protox, a
# protobuf compiler in Rust: no protoc is needed.
#
# It runs as UID/GID 10001 with a read-only root filesystem; the only paths
# it writes are /tmp (TMPDIR: the transcoder's scratch space, upload
# spooling) and, for `goflix serve` with embedded defaults, the data dir:
#
#   docker run --read-only -v goflix-tmp:/tmp -v goflix-data:/var/lib/goflix \
#     -p 8080:8080 goflix serve
#
# Built by kaniko in CI (.gitlab-ci.yml); `docker build .` works the same.

ARG RUST_VERSION=1.95

# --- toolchain: Rust, clang (bindgen) and the FFmpeg headers -----------------
FROM rust:${RUST_VERSION}-bookworm AS chef
# Debian's stable suite only takes security fixes, so package versions are
# left to the suite instead of pinned (pins would break on every DSA).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        clang pkg-config \
        libavcodec-dev libavformat-dev libavutil-dev libavfilter-dev \
        libswscale-dev libswresample-dev \
    && rm -rf /var/lib/apt/lists/* \
    && cargo install --locked cargo-chef@0.1.73
WORKDIR /src

# --- dependency recipe: only the manifests and Cargo.lock --------------------
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# --- web libraries: the pinned npm packages the pages embed at build time ---
FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

# --- build: dependencies in their own layer, then the workspace --------------
FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# Rebuilt only when a manifest or Cargo.lock changes.
RUN cargo chef cook --release --locked --recipe-path recipe.json --bin goflix
COPY . .
COPY --from=web /src/web/node_modules web/node_modules
RUN cargo build --release --locked --bin goflix \
    && install -D -m 0755 target/release/goflix /out/goflix

# --- runtime: FFmpeg's shared libraries, CA roots, the binary ----------------
FROM debian:bookworm-slim AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates \
        libavcodec59 libavformat59 libavutil57 libavfilter8 \
        libswscale6 libswresample4 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 goflix \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /var/lib/goflix --shell /usr/sbin/nologin goflix \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/goflix
COPY --from=builder /out/goflix /usr/local/bin/goflix

# Listen on every interface inside the container; everything else keeps its
# default or comes from the orchestrator (see k8s/).
ENV GOFLIX_LISTEN=0.0.0.0:8080 \
    GOFLIX_DATA_DIR=/var/lib/goflix \
    TMPDIR=/tmp
WORKDIR /var/lib/goflix
USER 10001:10001
EXPOSE 8080
VOLUME ["/tmp", "/var/lib/goflix"]
# For Docker and Compose; Kubernetes uses the probes in k8s/ instead.
HEALTHCHECK --interval=30s --timeout=6s --start-period=30s --retries=3 \
    CMD ["goflix", "healthcheck", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["goflix"]
CMD ["serve"]
