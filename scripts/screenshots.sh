#!/usr/bin/env bash
# Regenerate the images README.md shows: two charts of the shipped
# reservoir-burst scenario, and screenshots of report.html taken with
# headless Chromium (Debian's `chromium` package) from the comparison of
# pool-expiry-burst, where the plain pool fails two assertions: the
# thresholds, their verdicts and the shaded measure_after span show.
#
#   scripts/screenshots.sh            # writes docs/images/*.png
#
# Everything is written from fresh runs in a temporary directory; the
# browser gets a new empty profile for every shot and no network.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || {
  echo "scripts/screenshots.sh: needs chromium (Debian: apt-get install chromium)" >&2
  exit 2
}
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=./target/release/poolsim
$bin run scenarios/reservoir-burst.yaml --out "$work/burst" --quiet
$bin compare scenarios/pool-expiry-burst.yaml --out "$work/expiry" --quiet
mkdir -p docs/images
cp "$work/burst/charts/pool-01-history.png" docs/images/reservoir-burst-pool-history.png
cp "$work/burst/charts/discards-refills.png" docs/images/reservoir-burst-discards-refills.png

# shot PAGE ANCHOR HEIGHT OUT: a 1280-pixel-wide screenshot of PAGE, scrolled
# to the element with id ANCHOR (empty: the top). Chromium's --screenshot
# does not scroll to a fragment, so the page is shown in an iframe that does.
shot() {
  local page=$1 anchor=$2 height=$3 out=$4
  local dir wrapper
  dir=$(dirname "$page")
  wrapper="$dir/shot-$RANDOM.html"
  printf '<!doctype html><html><body style="margin:0"><iframe src="%s%s" style="border:0;width:1280px;height:%spx"></iframe></body></html>\n' \
    "$(basename "$page")" "${anchor:+#$anchor}" "$height" > "$wrapper"
  local profile
  profile=$(mktemp -d)
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars --window-size=1280,"$height" \
    --screenshot="$PWD/$out" "file://$wrapper" >/dev/null 2>&1
  rm -rf "$profile" "$wrapper"
  test -s "$out" || { echo "no screenshot written: $out" >&2; exit 1; }
  echo "wrote $out"
}
shot "$work/expiry/pool/report.html" "" 980 docs/images/report-pool-expiry-burst-top.png
shot "$work/expiry/pool/report.html" chart-pool-01-history 700 docs/images/report-pool-expiry-burst-pool.png
shot "$work/expiry/report.html" chart-checkout-latency-distribution 700 docs/images/report-compare-latency.png
