#!/usr/bin/env bash
# The server's CPU per committed call: a fresh server with an empty journal, 3 s of warm-up, then
# 8 s of `fulfil loadgen --commit` (64 clients, each order committed then released); the server
# process's user and system time over those 8 s (from /proc) divided by the calls made.
#
#   [LOADGEN=BINARY] scripts/cpu-per-call.sh BINARY [SCENARIO] [PORT]
# (LOADGEN: the load generator, the same for builds compared; default BINARY itself)
#   e.g. for b in /tmp/fulfil-old target/release/fulfil; do scripts/cpu-per-call.sh $b /tmp/demo-v1; done
set -euo pipefail
bin=$1; scenario=${2:-data/demo}; port=${3:-50181}
data=$(mktemp -d)
FULFIL_SCENARIO=$scenario "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" >"$data.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "network loaded\|listening on" "$data.log" 2>/dev/null && break; sleep 0.1; done
loadgen=${LOADGEN:-$bin}
load() { "$loadgen" loadgen --server "http://127.0.0.1:$port" --concurrency 64 --commit --scenario "$scenario" "$@"; }
load --duration 3 >/dev/null
ticks() { awk '{print $14, $15}' "/proc/$pid/stat"; }
read -r u0 s0 < <(ticks)
out=$(load --duration 8)
read -r u1 s1 < <(ticks)
calls=$(echo "$out" | grep -o 'calls *[0-9]*' | grep -o '[0-9]*$')
hz=$(getconf CLK_TCK)
awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v c="$calls" -v hz="$hz" -v b="$bin" \
  'BEGIN { printf "%s: %d calls, %.1f µs user + %.1f µs system per call\n", b, c, u*1e6/hz/c, s*1e6/hz/c }'
echo "$out" | grep -o '= [0-9]*/s'
kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$data" "$data.log"
