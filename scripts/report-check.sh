#!/usr/bin/env bash
# Renders the simulation report of the demo network in headless Chromium, checks what the browser
# laid out, and saves a screenshot to docs/simulation-report.png (the one README shows).
#
#   scripts/report-check.sh            # builds the release binary first
#   FULFIL_BIN=target/debug/fulfil scripts/report-check.sh
#
# Needs Debian's `chromium` (`apt-get install -y chromium`). Checks, on the page as Chromium
# renders it (a copy of the report with a measuring script appended; the report itself has no
# script): the states' outline has a real size, every node circle lies inside its map, the daily
# charts have date labels and the breakdown tables are there. Fails otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${FULFIL_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet --bin fulfil
  bin=target/release/fulfil
fi
command -v chromium >/dev/null || { echo "report-check: chromium is needed (apt-get install -y chromium)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$bin" simulate --scenario data/demo \
  --changes data/whatif/close-nyc-stores.toml \
  --changes data/whatif/worked-example.toml \
  --changes data/whatif/stores-closed-sundays.toml \
  --report "$out/report.html" --quiet
chrome=(chromium --headless --no-sandbox --disable-gpu --disable-background-networking
        --disable-component-update --disable-sync --no-first-run --hide-scrollbars
        --user-data-dir="$out/profile")
cp "$out/report.html" "$out/check.html"
cat >> "$out/check.html" <<'JS'
<script>
const r = [];
const s = document.getElementById('us-states').getBBox();
r.push('states ' + Math.round(s.width) + 'x' + Math.round(s.height));
let outside = 0, circles = 0;
document.querySelectorAll('svg.map').forEach(m => {
  const vb = m.viewBox.baseVal;
  m.querySelectorAll('circle').forEach(c => {
    circles++;
    const b = c.getBBox();
    if (b.x < 0 || b.y < 0 || b.x + b.width > vb.width || b.y + b.height > vb.height) outside++;
  });
});
r.push('circles ' + circles + ' outside ' + outside);
r.push('dates ' + document.querySelectorAll('text.date').length);
r.push('causes ' + document.querySelectorAll('table.causes tr').length);
r.push('notes ' + document.querySelectorAll('p.note').length);
document.body.insertAdjacentHTML('beforeend', '<pre id="check">' + r.join('\n') + '</pre>');
</script>
JS
"${chrome[@]}" --dump-dom "file://$out/check.html" 2>/dev/null > "$out/dom.html"
check=$(sed 's/<[^>]*>//g' "$out/dom.html" | grep -E '^(states|circles|dates|causes|notes) ')
echo "$check"
read -r _ w_h <<<"$(grep '^states' <<<"$check")"
w=${w_h%x*}; h=${w_h#*x}
[ "$w" -gt 400 ] && [ "$h" -gt 200 ] || { echo "report-check: the states' outline is ${w}x${h}" >&2; exit 1; }
grep -q ' outside 0$' <<<"$check" || { echo "report-check: node circles outside their map" >&2; exit 1; }
[ "$(grep '^circles' <<<"$check" | cut -d' ' -f2)" -gt 100 ] || { echo "report-check: too few nodes drawn" >&2; exit 1; }
[ "$(grep '^dates' <<<"$check" | cut -d' ' -f2)" -ge 20 ] || { echo "report-check: date labels missing" >&2; exit 1; }
[ "$(grep '^causes' <<<"$check" | cut -d' ' -f2)" -ge 3 ] || { echo "report-check: no cause breakdown" >&2; exit 1; }
[ "$(grep '^notes' <<<"$check" | cut -d' ' -f2)" -ge 2 ] || { echo "report-check: the closed-store pickup notes are missing" >&2; exit 1; }
"${chrome[@]}" --window-size=1280,5700 --screenshot="$out/report.png" "file://$out/report.html" 2>/dev/null
test -s "$out/report.png"
cp "$out/report.png" docs/simulation-report.png
echo "report-check: passed; wrote docs/simulation-report.png"
