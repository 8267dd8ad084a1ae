# fulfil: build in a full Rust image, run in a slim one. Follows README's steps: the build needs
# cmake and libclang (HiGHS is built from source); the image serves the bundled demo network.
#
#   docker build -t fulfil .
#   docker run --rm -p 50051:50051 -p 9000:9000 -v fulfil-data:/var/lib/fulfil fulfil

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
 && useradd --system --home /var/lib/fulfil fulfil \
 && mkdir -p /var/lib/fulfil && chown fulfil /var/lib/fulfil
COPY --from=build /src/target/release/fulfil /usr/local/bin/fulfil
COPY data/demo /usr/share/fulfil/demo
USER fulfil
ENV FULFIL_SCENARIO=/usr/share/fulfil/demo \
    FULFIL_LISTEN=0.0.0.0:50051 \
    FULFIL_METRICS_LISTEN=0.0.0.0:9000 \
    FULFIL_DATA_DIR=/var/lib/fulfil
EXPOSE 50051 9000
VOLUME /var/lib/fulfil
ENTRYPOINT ["fulfil"]
CMD ["serve"]
