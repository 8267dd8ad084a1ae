#!/usr/bin/env bash
# Two builds of fulfil on the same committing load, alternated run by run so that the machine's
# drift falls on both alike: each run starts a fresh server with an empty journal, warms it up
# for 3 seconds, then measures 8 seconds of `fulfil loadgen --commit` over loopback.
#
#   scripts/service-ab.sh OLD_BINARY NEW_BINARY [ROUNDS] [-- EXTRA LOADGEN FLAGS]
#   e.g. scripts/service-ab.sh /tmp/fulfil-old target/release/fulfil 5 -- --inventory-rate 10000
set -euo pipefail
a=$1; b=$2; rounds=${3:-5}
shift 2; [ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
port=50161
for _ in $(seq "$rounds"); do
  for bin in "$a" "$b"; do
    data=$(mktemp -d)
    "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" >"$data.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q "network loaded\|listening on" "$data.log" 2>/dev/null && break; sleep 0.1; done
    "$b" loadgen --server "http://127.0.0.1:$port" --duration 3 --concurrency 64 --commit "$@" >/dev/null
    out=$("$b" loadgen --server "http://127.0.0.1:$port" --duration 8 --concurrency 64 --commit "$@")
    echo "$bin $(echo "$out" | grep -o '= [0-9]*/s') $(echo "$out" | grep -o 'p99 [0-9.]*' | head -1)"
    kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$data" "$data.log"
  done
done
