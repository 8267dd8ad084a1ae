#!/usr/bin/env bash
# Checks the Dockerfile's runtime stage without a Docker engine: a Debian bookworm minimal root
# (debootstrap, as root) gets exactly what the runtime stage installs and copies, then the binary
# runs there as the unprivileged `fulfil` user with the image's environment, and is probed from
# outside: gRPC health, a routed order, Prometheus metrics, a journal in the data volume.
#
#   sudo scripts/docker-runtime-check.sh           (needs debootstrap and a Debian mirror)
set -euo pipefail
cd "$(dirname "$0")/.."
root=${ROOT:-/tmp/fulfil-slim}
cargo build --release --locked --bin fulfil
if [ ! -x "$root/bin/sh" ]; then
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian
fi
# RUN apt-get install ca-certificates; useradd; mkdir /var/lib/fulfil
chroot "$root" sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends ca-certificates >/dev/null'
chroot "$root" sh -c 'id fulfil >/dev/null 2>&1 || useradd --system --home /var/lib/fulfil fulfil; mkdir -p /var/lib/fulfil && chown fulfil /var/lib/fulfil'
# COPY --from=build .../fulfil /usr/local/bin/fulfil; COPY data/demo /usr/share/fulfil/demo
install -m 0755 target/release/fulfil "$root/usr/local/bin/fulfil"
rm -rf "$root/usr/share/fulfil" && mkdir -p "$root/usr/share/fulfil" && cp -r data/demo "$root/usr/share/fulfil/demo"
# USER fulfil; ENV ...; ENTRYPOINT ["fulfil"] CMD ["serve"]
chroot --userspec=fulfil "$root" env -i \
  FULFIL_SCENARIO=/usr/share/fulfil/demo FULFIL_LISTEN=0.0.0.0:50051 \
  FULFIL_METRICS_LISTEN=0.0.0.0:9000 FULFIL_DATA_DIR=/var/lib/fulfil \
  /usr/local/bin/fulfil serve >"$root.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "network loaded" "$root.log" && break; sleep 0.1; done
grep "network loaded" "$root.log"
./target/release/fulfil route --server http://127.0.0.1:50051 --orders data/demo/orders.csv 2>&1 | tail -3
curl -sf http://127.0.0.1:9000/metrics | grep -E "^fulfil_(snapshot_version|reservations_held)"
ls -la "$root/var/lib/fulfil"
kill -TERM $pid && wait $pid || true
tail -2 "$root.log"
echo "runtime stage: OK"
