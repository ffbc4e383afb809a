#!/usr/bin/env bash
# Headless-Chromium test of the HTML report.
#   browser_test.sh RENDER_BIN RESULTS_JSON OUT_DIR
#   browser_test.sh --html REPORT.html OUT_DIR     (an already rendered report,
#                                                    e.g. from `fedrad study report`)
# Renders RESULTS_JSON with RENDER_BIN (or copies REPORT.html) into
# OUT_DIR/report.html, opens it in
# headless Chromium (file://, no network) and checks that
#  - the report's inline render check ran and every <svg class="plot"> has a
#    non-empty bounding box, with non-empty data marks (getBBox), and
#  - a full-page screenshot OUT_DIR/report.png (1280 wide, as tall as the page
#    as laid out by Chromium, at least 4000 and at most 20000 pixels) is written and is
#    not trivial (a PNG of that size, > 40 kB).
# Exits 77 (CTest SKIP_RETURN_CODE) when Chromium is not installed.
set -euo pipefail
render_bin=$1 results=$2 out_dir=$3

browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then browser=$(command -v "$b"); break; fi
done
if [ -z "$browser" ]; then
  echo "SKIP: chromium is not installed (Debian: apt-get install chromium)"
  exit 77
fi

mkdir -p "$out_dir"
html="$out_dir/report.html"
if [ "$render_bin" = "--html" ]; then
  cp "$results" "$html"
else
  "$render_bin" "$results" "$html"
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --disable-dev-shm-usage --hide-scrollbars --user-data-dir="$profile")

timeout 120 "$browser" "${flags[@]}" --virtual-time-budget=5000 --dump-dom "file://$html" \
  > "$out_dir/dom.html" 2> "$out_dir/chromium-dom.log" || {
  echo "FAIL: chromium --dump-dom failed; see $out_dir/chromium-dom.log"; tail -5 "$out_dir/chromium-dom.log"; exit 1; }

expected=$(grep -o '<svg class="plot"' "$html" | wc -l)
check=$(grep -o '<pre id="render-check"[^>]*>' "$out_dir/dom.html" || true)
total=$(sed -n 's/.*data-total="\([0-9]*\)".*/\1/p' <<<"$check")
ok=$(sed -n 's/.*data-ok="\([0-9]*\)".*/\1/p' <<<"$check")
echo "plots in the HTML: $expected; rendered by chromium: total=${total:-?} ok=${ok:-?}"
sed -n '/<pre id="render-check"/,/<\/pre>/p' "$out_dir/dom.html" | sed 's/<[^>]*>//g' | head -60
if [ -z "$total" ] || [ "$total" != "$expected" ] || [ "$ok" != "$total" ] || [ "$expected" -lt 1 ]; then
  echo "FAIL: not every plot rendered with a non-empty bounding box"
  exit 1
fi
if grep -q 'data-rendered="no"' "$out_dir/dom.html"; then
  echo "FAIL: a plot was marked data-rendered=no"; exit 1
fi

png="$out_dir/report.png"
page_height=$(sed -n 's/.*data-height="\([0-9]*\)".*/\1/p' <<<"$check")
shot_height=4000
if [ -n "$page_height" ] && [ "$page_height" -gt "$shot_height" ]; then shot_height=$page_height; fi
if [ "$shot_height" -gt 20000 ]; then shot_height=20000; fi
rm -f "$png"
timeout 120 "$browser" "${flags[@]}" --virtual-time-budget=5000 --window-size=1280,$shot_height \
  --screenshot="$png" "file://$html" > "$out_dir/chromium-shot.log" 2>&1 || {
  echo "FAIL: chromium --screenshot failed; see $out_dir/chromium-shot.log"; tail -5 "$out_dir/chromium-shot.log"; exit 1; }
if [ ! -s "$png" ]; then echo "FAIL: no screenshot at $png"; exit 1; fi
magic=$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')
width=$((16#$(od -An -tx1 -j16 -N4 "$png" | tr -d ' \n')))
height=$((16#$(od -An -tx1 -j20 -N4 "$png" | tr -d ' \n')))
bytes=$(stat -c %s "$png")
echo "screenshot: $png ${width}x${height}, $bytes bytes"
if [ "$magic" != "89504e470d0a1a0a" ] || [ "$width" -lt 1000 ] || [ "$height" -lt 3000 ] || [ "$bytes" -lt 40000 ]; then
  echo "FAIL: the screenshot is not a non-trivial PNG"; exit 1
fi
echo "PASS"
