# fulfil: built in a Rust image, run in a slim one, as a numeric non-root user (Kubernetes'
# runAsNonRoot accepts it). The build needs cmake and libclang (HiGHS is built from source).
#
#   docker build --build-arg FULFIL_GIT_REVISION=$(git rev-parse --short=12 HEAD) -t fulfil .
#   # reachable from outside the container only with TLS and tokens (SECURITY.md):
#   docker run --rm -p 50051:50051 -p 9000:9000 -v fulfil-data:/var/lib/fulfil \
#     -v "$PWD/secrets:/etc/fulfil:ro" \
#     -e FULFIL_TLS_CERT=/etc/fulfil/server.pem -e FULFIL_TLS_KEY=/etc/fulfil/server.key \
#     -e FULFIL_AUTH_FILE=/etc/fulfil/auth.toml -e FULFIL_TLS_CA=/etc/fulfil/ca.pem \
#     -e FULFIL_TLS_DOMAIN=fulfil.internal fulfil
#
# Without those files the server listens on the container's loopback only (deploy/entrypoint.sh).
# Base images are pinned by version; pin them by digest in your registry for reproducible builds
# (`docker buildx imagetools inspect rust:1.95.0-bookworm`).

# 1. A recipe of the dependencies only (cargo-chef), so the dependency layer below is rebuilt
#    only when Cargo.toml or Cargo.lock change, not at every source edit.
FROM rust:1.95.0-bookworm AS chef
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake libclang-dev \
 && rm -rf /var/lib/apt/lists/* \
 && cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# 2. Dependencies (cached layer), then fulfil itself with the release profile (LTO, stripped).
FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --bin fulfil
COPY . .
ARG FULFIL_GIT_REVISION=unknown
ENV FULFIL_GIT_REVISION=${FULFIL_GIT_REVISION}
RUN cargo build --release --locked --bin fulfil

# 3. The runtime image: the binary, the entrypoint and the demo network.
FROM debian:12.12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /var/lib/fulfil fulfil \
 && mkdir -p /var/lib/fulfil && chown 10001 /var/lib/fulfil && chmod 0700 /var/lib/fulfil
COPY --from=build /src/target/release/fulfil /usr/local/bin/fulfil
COPY deploy/entrypoint.sh /usr/local/bin/fulfil-entrypoint
COPY data/demo /usr/share/fulfil/demo
COPY LICENSE-MIT LICENSE-APACHE /usr/share/doc/fulfil/
USER 10001:10001
ENV FULFIL_SCENARIO=/usr/share/fulfil/demo \
    FULFIL_DATA_DIR=/var/lib/fulfil \
    FULFIL_LOG_FORMAT=json
EXPOSE 50051 9000
VOLUME /var/lib/fulfil
# The standard gRPC health check (`fulfil health --addr`), at the address and with the TLS the
# entrypoint gives `serve`; HTTP probes can use /healthz and /readyz on port 9000.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["fulfil-entrypoint", "health", "--timeout-secs", "4"]
ENTRYPOINT ["fulfil-entrypoint"]
CMD ["serve"]
