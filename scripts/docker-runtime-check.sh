#!/usr/bin/env bash
# Checks the Dockerfile's runtime stage without a Docker engine: a Debian bookworm minimal root
# (debootstrap, as root) gets exactly what the runtime stage installs and copies, then the
# image's entrypoint runs there as uid 10001 with the image's environment plus TLS and an auth
# file (as SECURITY.md says to expose it), and is probed from outside: the image's health check,
# a routed order with a token, Prometheus metrics over TLS, a journal in the data volume. A run
# without the TLS files must stay on the container's loopback.
#
#   sudo scripts/docker-runtime-check.sh           (needs debootstrap, openssl, a Debian mirror)
set -euo pipefail
cd "$(dirname "$0")/.."
root=${ROOT:-/tmp/fulfil-slim}
cargo build --release --locked --bin fulfil
if [ ! -x "$root/bin/sh" ]; then
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian
fi
# RUN apt-get install ca-certificates; useradd --uid 10001; mkdir /var/lib/fulfil (0700)
chroot "$root" sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends ca-certificates >/dev/null'
chroot "$root" sh -c 'id fulfil >/dev/null 2>&1 || useradd --system --uid 10001 --home /var/lib/fulfil fulfil; mkdir -p /var/lib/fulfil && chown 10001 /var/lib/fulfil && chmod 0700 /var/lib/fulfil'
# COPY the binary, the entrypoint and the demo
install -m 0755 target/release/fulfil "$root/usr/local/bin/fulfil"
install -m 0755 deploy/entrypoint.sh "$root/usr/local/bin/fulfil-entrypoint"
rm -rf "$root/usr/share/fulfil" && mkdir -p "$root/usr/share/fulfil" && cp -r data/demo "$root/usr/share/fulfil/demo"
# Secrets, as a mounted volume would bring them.
secrets="$root/etc/fulfil" && mkdir -p "$secrets"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ca -keyout "$secrets/ca.key" -out "$secrets/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout "$secrets/server.key" -out "$secrets/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$secrets/san.ext"
openssl x509 -req -in "$secrets/server.csr" -CA "$secrets/ca.pem" -CAkey "$secrets/ca.key" -CAcreateserial -days 2 -extfile "$secrets/san.ext" -out "$secrets/server.pem" 2>/dev/null
token_out=$(./target/release/fulfil token new --name check --role router)
token=$(echo "$token_out" | sed -n 2p)
echo "$token_out" | sed -n '/^\[\[token\]\]/,$p' > "$secrets/auth.toml"
chown -R 10001 "$secrets"
env_common=(FULFIL_SCENARIO=/usr/share/fulfil/demo FULFIL_DATA_DIR=/var/lib/fulfil)
env_tls=(FULFIL_TLS_CERT=/etc/fulfil/server.pem FULFIL_TLS_KEY=/etc/fulfil/server.key
  FULFIL_AUTH_FILE=/etc/fulfil/auth.toml FULFIL_TLS_CA=/etc/fulfil/ca.pem FULFIL_TLS_DOMAIN=localhost)
# USER 10001; ENTRYPOINT ["fulfil-entrypoint"] CMD ["serve"]
chroot --userspec=10001 "$root" env -i PATH=/usr/local/bin:/usr/bin:/bin "${env_common[@]}" "${env_tls[@]}" \
  fulfil-entrypoint serve >"$root.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "network loaded" "$root.log" && break; sleep 0.1; done
grep "network loaded" "$root.log"
grep -q "addr=0.0.0.0:50051" "$root.log"
# HEALTHCHECK CMD ["fulfil-entrypoint", "health", "--timeout-secs", "4"]: the entrypoint gives the
# health check the address and TLS it gives `serve`
chroot --userspec=10001 "$root" env -i PATH=/usr/local/bin:/usr/bin:/bin "${env_tls[@]}" \
  fulfil-entrypoint health --timeout-secs 4
curl -sf --cacert "$secrets/ca.pem" https://localhost:9000/readyz
./target/release/fulfil route --server https://127.0.0.1:50051 --tls-ca "$secrets/ca.pem" --tls-domain localhost \
  --token "$token" --orders data/demo/orders.csv --dry-run 2>&1 | tail -3
curl -sf --cacert "$secrets/ca.pem" https://localhost:9000/metrics | grep -E "^fulfil_(snapshot_version|reservations_held)"
ls -la "$root/var/lib/fulfil"
kill -TERM $pid && wait $pid || true
tail -2 "$root.log"
# Without the TLS files: the container's loopback only, and the log says so.
chroot --userspec=10001 "$root" env -i PATH=/usr/local/bin:/usr/bin:/bin "${env_common[@]}" \
  fulfil-entrypoint serve >"$root.plain.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "network loaded" "$root.plain.log" && break; sleep 0.1; done
grep -q "addr=127.0.0.1:50051" "$root.plain.log"
grep "loopback only" "$root.plain.log"
kill -TERM $pid && wait $pid || true
echo "runtime stage: OK"
