#!/usr/bin/env bash
# Two builds of fulfil side by side in one alternated run, for BENCHMARKS.md's one table:
# `route` orders/s on one core and on all (the run's own `elapsed`) on a small and a large
# scenario, the load of the large network (whole process of a one-order `route`, time and peak
# memory), then committed calls/s and p99 through scripts/service-ab.sh on the small scenario.
#
#   scripts/one-table.sh OLD NEW SMALL LARGE LARGE_ONE_ORDER [ROUNDS]
#   e.g. scripts/one-table.sh /tmp/fulfil-e95 target/release/fulfil /tmp/demo-v1 /tmp/large-v1 /tmp/large-v1-load 5
set -euo pipefail
a=$1; b=$2; small=$3; large=$4; load=$5; rounds=${6:-5}
elapsed() { grep -o 'elapsed *[0-9.]*' | awk '{print $2}'; }
for i in $(seq "$rounds"); do
  for bin in "$a" "$b"; do
    for s in "$small" "$large"; do
      one=$(RAYON_NUM_THREADS=1 "$bin" route --scenario "$s" --out /dev/null 2>&1 | elapsed)
      all=$("$bin" route --scenario "$s" --out /dev/null 2>&1 | elapsed)
      echo "route $i $bin $(basename "$s") one=$one all=$all"
    done
    t=$(mktemp)
    /usr/bin/time -f '%e s, peak %M KiB' -o "$t" "$bin" route --scenario "$load" --out /dev/null >/dev/null 2>&1
    echo "load $i $bin $(cat "$t")"; rm -f "$t"
  done
done
FULFIL_SCENARIO="$small" "$(dirname "$0")/service-ab.sh" "$a" "$b" 3 -- --scenario "$small" | sed 's/^/calls /'
