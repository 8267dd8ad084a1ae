#!/usr/bin/env bash
# The production envelope's cost and its behaviour under overload, on this machine:
#  1. committed route calls/s and p99, plaintext without tokens against TLS with a token
#     (alternated runs, fresh servers with a journal), and
#  2. `fulfil loadgen --overload` on calls heavy enough that the generator can offer ten times
#     what the server sustains (orders of 20 demo orders' lines each).
#
#   scripts/envelope-bench.sh [RUNS]         (needs openssl)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
cargo build --release --locked --bin fulfil
f=./target/release/fulfil
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ca -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$work/san.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 2 \
  -extfile "$work/san.ext" -out "$work/server.pem" 2>/dev/null
$f token new --name bench --role router > "$work/token.txt"
sed -n '/^\[\[token\]\]/,$p' "$work/token.txt" > "$work/auth.toml"
token=$(sed -n 2p "$work/token.txt")

# serve NAME [ARGS…]: a fresh server with a journal; prints its address.
serve() {
  local name=$1; shift
  rm -rf "$work/data-$name"
  $f serve --listen 127.0.0.1:0 --scenario data/demo --data-dir "$work/data-$name" "$@" \
    > "$work/$name.out" 2>/dev/null &
  echo $! > "$work/$name.pid"
  for _ in $(seq 100); do grep -q listening "$work/$name.out" && break; sleep 0.1; done
  sed -n 's/^listening on //p' "$work/$name.out"
}
stop() { kill "$(cat "$work/$1.pid")"; wait "$(cat "$work/$1.pid")" 2>/dev/null || true; }

for i in $(seq "$runs"); do
  addr=$(serve plain)
  echo "== plaintext, no tokens (run $i)"
  $f loadgen --server "http://$addr" --commit --duration 10 --concurrency 64
  stop plain
  addr=$(serve tls --tls-cert "$work/server.pem" --tls-key "$work/server.key" --auth-file "$work/auth.toml")
  echo "== TLS and a token (run $i)"
  $f loadgen --server "https://$addr" --tls-ca "$work/ca.pem" --tls-domain localhost --token "$token" \
    --commit --duration 10 --concurrency 64
  stop tls
done

addr=$(serve overload)
echo "== overload: orders of 20 demo orders' lines, default limits"
$f loadgen --server "http://$addr" --overload --merge 20 --concurrency 64 --duration 10
stop overload
addr=$(serve overload1 --max-decisions 1)
echo "== overload: the same with --max-decisions 1 (a core left to the async side)"
$f loadgen --server "http://$addr" --overload --merge 20 --concurrency 64 --duration 10
stop overload1
