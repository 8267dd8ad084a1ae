#!/usr/bin/env bash
# The replicas benchmark of BENCHMARKS.md: committed route calls per second and p99 through one,
# two and three `fulfil serve --store` replicas on one PostgreSQL on this machine, and through
# one server with the embedded journal, all in the same run.
#
#   scripts/replica-bench.sh [REPEATS]        (default 3; prints every run, then a table)
#
# FULFIL_BIN picks the binary (default: a release build of this tree); FULFIL_LOADGEN_EXTRA adds
# loadgen flags (e.g. `--request-ids`: every commit with a request id of its own).
#
# Each configuration starts from an empty database (or data folder) and the demo network, warms
# up for 3 s, then runs `fulfil loadgen --commit` for 10 s with 64 clients in all, split evenly
# over the replicas (one generator per replica, run at once; the calls/s are summed, the p99 is
# the highest of the generators'). Each commit is released right after (so stock lasts): every
# call is two changes through the store. PostgreSQL runs with its defaults (fsync on,
# synchronous_commit on), as the journal fsyncs every group.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
bin=${FULFIL_BIN:-./target/release/fulfil}
[ -n "${FULFIL_BIN:-}" ] || cargo build --release --quiet
pgbin=${FULFIL_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
work=$(mktemp -d)
as=()
if [ "$(id -u)" = 0 ]; then chown nobody "$work"; as=(runuser -u nobody --); fi
port=55433
url="postgres://fulfil@127.0.0.1:$port/postgres"
pids=()
stop_servers() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }
cleanup() { stop_servers; "${as[@]}" "$pgbin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

"${as[@]}" "$pgbin/initdb" -D "$work/pg" -U fulfil --auth=trust -E UTF8 >/dev/null
"${as[@]}" "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1" start >/dev/null
psql() { "$pgbin/psql" -h 127.0.0.1 -p "$port" -U fulfil -d postgres -qAt "$@"; }

# start_servers N: N replicas on an empty database (N=0: one server with a journal).
start_servers() {
  stop_servers
  psql -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public;" >/dev/null 2>&1
  local n=$1 i store
  for i in $(seq 0 $(( n > 0 ? n - 1 : 0 ))); do
    rm -rf "$work/data$i" && mkdir -p "$work/data$i"
    if [ "$n" = 0 ]; then store=(); else store=(--store "$url"); fi
    "$bin" serve --listen "127.0.0.1:$((50161 + i))" --data-dir "$work/data$i" "${store[@]}" \
      >"$work/serve$i.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 300); do grep -q "network loaded" "$work/serve$i.log" && break; sleep 0.1; done
  done
}

# run N SECONDS: one generator per replica at once; prints "calls/s p99".
run() {
  local n=$1 secs=$2 k=$(( $1 > 0 ? $1 : 1 )) i
  for i in $(seq 0 $((k - 1))); do
    "$bin" loadgen --server "http://127.0.0.1:$((50161 + i))" --commit --duration "$secs" \
      --concurrency $((64 / k)) ${FULFIL_LOADGEN_EXTRA:-} >"$work/lg$i.out" 2>&1 &
  done
  wait $(jobs -p | grep -v -x -F "$(printf '%s\n' "${pids[@]}")") 2>/dev/null || true
  cat "$work"/lg*.out | awk '
    /^route calls/ { for (f = 1; f <= NF; f++) if ($f == "=") { r = $(f + 1); sub("/s", "", r); s += r } }
    /^latency ms/ { for (f = 1; f <= NF; f++) if ($f == "p99") { if ($(f + 1) > p) p = $(f + 1) } }
    END { printf "%.0f %.2f\n", s, p }'
  rm -f "$work"/lg*.out
}

declare -A results
for n in 0 1 2 3; do
  name=$([ "$n" = 0 ] && echo "journal (1 server)" || echo "PostgreSQL, $n replica(s)")
  echo "== $name"
  start_servers "$n"
  run "$n" 3 >/dev/null
  for r in $(seq "$repeats"); do
    out=$(run "$n" 10)
    echo "run $r: $out (calls/s, p99 ms)"
    results[$n]+="$out"$'\n'
  done
done
stop_servers

echo
echo "| store | committed calls/s (median) | p99 ms (median) | runs (calls/s) |"
echo "|---|---:|---:|---|"
for n in 0 1 2 3; do
  name=$([ "$n" = 0 ] && echo "journal, 1 server" || echo "PostgreSQL, $n replica$([ "$n" = 1 ] || echo s)")
  runs=$(printf '%s' "${results[$n]}")
  calls=$(echo "$runs" | awk '{print $1}' | sort -n)
  p99s=$(echo "$runs" | awk '{print $2}' | sort -n)
  count=$(echo "$calls" | wc -l)
  mid=$(( (count + 1) / 2 ))
  echo "| $name | $(echo "$calls" | sed -n "${mid}p") | $(echo "$p99s" | sed -n "${mid}p") | $(echo "$runs" | awk '{print $1}' | paste -sd, - | sed 's/,/, /g') |"
done
