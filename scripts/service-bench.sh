#!/usr/bin/env bash
# The service benchmarks of BENCHMARKS.md: a release build of `fulfil serve` with a journal on
# this machine's disk, driven over loopback by `fulfil loadgen` on the same machine.
#
#   scripts/service-bench.sh [REPEATS]     (default 3; prints every run)
#   FULFIL_BIN=path/to/fulfil scripts/service-bench.sh   (another build, e.g. for a before/after)
#   FULFIL_BENCH_GROUPS=commit scripts/service-bench.sh                (only the committing groups)
#
# Each group starts a fresh server on an empty data directory (so every group starts from the
# same state), warms it up for 3 seconds, then runs the load REPEATS times.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
bin=${FULFIL_BIN:-./target/release/fulfil}
[ -n "${FULFIL_BIN:-}" ] || cargo build --release --quiet
only=${FULFIL_BENCH_GROUPS:-all}
port=50151
server="http://127.0.0.1:$port"
data=$(mktemp -d)
pid=
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi; }
trap 'stop; rm -rf "$data"' EXIT

start() {
  stop
  rm -rf "$data" && mkdir -p "$data"
  "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" >"$data.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    grep -q "network loaded" "$data.log" 2>/dev/null && break
    sleep 0.1
  done
  "$bin" loadgen --server "$server" --duration 3 --concurrency 32 >/dev/null
}

group() {
  echo "== fulfil loadgen $*"
  start
  for _ in $(seq "$repeats"); do
    "$bin" loadgen --server "$server" "$@"
  done
}

if [ "$only" = commit ]; then
  group --duration 10 --concurrency 64 --commit
  group --duration 10 --concurrency 64 --commit --inventory-rate 10000
  stop
  exit 0
fi
group --duration 10 --concurrency 32
group --duration 10 --concurrency 64 --commit
group --duration 10 --concurrency 64 --commit --connections 2
group --duration 10 --concurrency 64 --commit --commit-share 0.25
group --duration 10 --concurrency 64 --commit --inventory-rate 10000
echo "== fulfil loadgen --batch 10000 (dry run, then committed)"
start
"$bin" loadgen --server "$server" --batch 10000
"$bin" loadgen --server "$server" --batch 10000 --commit
stop
