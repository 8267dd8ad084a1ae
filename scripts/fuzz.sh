#!/usr/bin/env bash
# Runs each cargo-fuzz target for MINUTES minutes (default 2), seeded from the test data.
#
#   scripts/fuzz.sh 10            (needs the nightly toolchain and `cargo install cargo-fuzz`)
#
# A crash stops its target and leaves the input in fuzz/artifacts/TARGET/; reproduce it with
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-…`, fix it, and keep it as a test.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-2}
seconds=$((minutes * 60))

# Seeds: the conformance scenarios (as one input, files split by 0xFF), a real journal segment,
# and encoded requests written by the request target's own seeds (below).
seed() { mkdir -p "fuzz/corpus/$1"; }
seed scenario
for dir in tests/conformance/*/; do
  name=$(basename "$dir")
  : > "fuzz/corpus/scenario/$name"
  for f in nodes.csv skus.csv inventory.csv zones.csv rates.csv policy.toml orders.csv; do
    [ -f "$dir/$f" ] && cat "$dir/$f" >> "fuzz/corpus/scenario/$name"
    printf '\377' >> "fuzz/corpus/scenario/$name"
  done
done
seed journal
data=$(mktemp -d)
cargo build --release --quiet --bin fulfil
# A journal with commits and releases: a short server run with loadgen against it.
./target/release/fulfil serve --listen 127.0.0.1:0 --scenario tests/conformance/c1-rules \
  --data-dir "$data" > "$data.out" 2>/dev/null &
pid=$!
for _ in $(seq 100); do grep -q listening "$data.out" && break; sleep 0.1; done
addr=$(sed -n 's/^listening on //p' "$data.out")
./target/release/fulfil loadgen --server "http://$addr" --scenario tests/conformance/c1-rules \
  --commit --duration 1 --warmup 0 > /dev/null || true
kill "$pid"; wait "$pid" 2>/dev/null || true
for f in "$data"/journal-*.log; do head -c 65536 "$f" > "fuzz/corpus/journal/$(basename "$f")"; done
rm -rf "$data" "$data.out"
seed request
printf '\n\x1a\n\x03A-1\x12\x142026-03-01T09:00:00Z\x19\x00\x00\x00\x00\x00\x5d\x44\x40!\x00\x00\x00\x00\x00\x7b\x52\xc0*\x05\n\x01A\x10\x02' \
  > fuzz/corpus/request/route-order

for target in scenario journal request; do
  echo "== $target: $minutes min"
  cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=4096
done
