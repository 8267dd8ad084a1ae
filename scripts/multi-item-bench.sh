#!/usr/bin/env bash
# The published multi-item fulfilment benchmark: for each n (items) and T (orders) and seed,
# generate the instance, route it myopically (optimal) and with lookahead (the true expected
# demand as forecast.csv), solve it in hindsight (reoptimize), and print the share of the
# myopic→hindsight gap lookahead closes (with the generated policy's hold_back = true, and
# with hold_back = false).
#
#   scripts/multi-item-bench.sh [FULFIL] [SEEDS] [TIME_LIMIT]
# FULFIL defaults to target/release/fulfil; SEEDS to "1 2 3"; TIME_LIMIT (reoptimize) to 60.
set -euo pipefail
bin=${1:-target/release/fulfil}
seeds=${2:-1 2 3}
limit=${3:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cost() { sed -n 's/^total cost *\([0-9.]*\).*/\1/p' "$1" | head -1; }
printf "%-4s %-5s %-4s %10s %10s %10s %10s %10s %8s %8s %10s\n" n T seed myopic lookahead hindsight bound "la-nohold" closed "closed-nh" status
for n in 2 5 10; do
  for t in 100 1000; do
    for seed in $seeds; do
      dir="$work/n$n-t$t-s$seed"
      "$bin" gen --profile multi-item --items "$n" --orders "$t" --days 10 --seed "$seed" --out "$dir" 2>/dev/null
      "$bin" route --scenario "$dir" --out /dev/null 2>"$dir/opt.txt"
      "$bin" route --scenario "$dir" --policy lookahead --out /dev/null 2>"$dir/la.txt"
      sed -i 's/^hold_back = true/hold_back = false/' "$dir/policy.toml"
      "$bin" route --scenario "$dir" --policy lookahead --out /dev/null 2>"$dir/nh.txt"
      "$bin" reoptimize --scenario "$dir" --time-limit "$limit" --out /dev/null 2>"$dir/hs.txt"
      my=$(cost "$dir/opt.txt"); la=$(cost "$dir/la.txt"); nh=$(cost "$dir/nh.txt")
      hs=$(sed -n 's/^batch cost *\([0-9.]*\).*/\1/p' "$dir/hs.txt")
      lb=$(sed -n 's/^lower bound *\([0-9.]*\).*/\1/p' "$dir/hs.txt")
      st=$(sed -n 's/^status *\([a-z_]*\).*/\1/p' "$dir/hs.txt")
      closed=$(awk -v m="$my" -v l="$la" -v h="$hs" 'BEGIN { if (m - h > 1e-9) printf "%.1f%%", 100 * (m - l) / (m - h); else print "-" }')
      closed_nh=$(awk -v m="$my" -v l="$nh" -v h="$hs" 'BEGIN { if (m - h > 1e-9) printf "%.1f%%", 100 * (m - l) / (m - h); else print "-" }')
      printf "%-4s %-5s %-4s %10s %10s %10s %10s %10s %8s %8s %10s\n" "$n" "$t" "$seed" "$my" "$la" "$hs" "$lb" "$nh" "$closed" "$closed_nh" "$st"
    done
  done
done
