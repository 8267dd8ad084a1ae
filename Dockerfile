# fulfil: build in a full Rust image, run in a slim one. Follows README's steps: the build needs
# cmake and libclang (HiGHS is built from source); the image serves the bundled demo network.
#
#   docker build -t fulfil .
#   # reachable from outside the container only with TLS and tokens (SECURITY.md):
#   docker run --rm -p 50051:50051 -p 9000:9000 -v fulfil-data:/var/lib/fulfil \
#     -v "$PWD/secrets:/etc/fulfil:ro" \
#     -e FULFIL_TLS_CERT=/etc/fulfil/server.pem -e FULFIL_TLS_KEY=/etc/fulfil/server.key \
#     -e FULFIL_AUTH_FILE=/etc/fulfil/auth.toml -e FULFIL_TLS_CA=/etc/fulfil/ca.pem \
#     -e FULFIL_TLS_DOMAIN=fulfil.internal fulfil
#
# Without those files the server listens on the container's loopback only (deploy/entrypoint.sh).

FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake libclang-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin fulfil

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /var/lib/fulfil fulfil \
 && mkdir -p /var/lib/fulfil && chown 10001 /var/lib/fulfil && chmod 0700 /var/lib/fulfil
COPY --from=build /src/target/release/fulfil /usr/local/bin/fulfil
COPY deploy/entrypoint.sh /usr/local/bin/fulfil-entrypoint
COPY data/demo /usr/share/fulfil/demo
USER 10001
ENV FULFIL_SCENARIO=/usr/share/fulfil/demo \
    FULFIL_DATA_DIR=/var/lib/fulfil
EXPOSE 50051 9000
VOLUME /var/lib/fulfil
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["fulfil", "health", "--timeout-secs", "4"]
ENTRYPOINT ["fulfil-entrypoint"]
CMD ["serve"]
