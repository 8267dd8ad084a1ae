#!/usr/bin/env bash
# Renders the simulation report of the demo network in headless Chromium and saves a screenshot
# to docs/simulation-report.png (the one README shows). Needs Debian's `chromium`
# (`apt-get install -y chromium`). Fails if Chromium cannot open the report.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
cargo run --release --quiet -- simulate --scenario data/demo \
  --changes data/whatif/close-nyc-stores.toml \
  --changes data/whatif/ground-rates-up-6pct.toml \
  --changes data/whatif/no-ship-from-store.toml \
  --changes data/whatif/stores-closed-sundays.toml \
  --report "$out/report.html" --quiet
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,3000 \
  --screenshot="$out/report.png" "file://$out/report.html" 2>/dev/null
test -s "$out/report.png"
cp "$out/report.png" docs/simulation-report.png
echo "wrote docs/simulation-report.png"
