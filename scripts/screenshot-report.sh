#!/usr/bin/env bash
# Renders the demo researcher report (koppel-report's demo_report example) in
# headless Chromium and writes full-page screenshots, to look at the report as
# a reader does. Not part of `make test` (needs the Debian package `chromium`).
#
#   scripts/screenshot-report.sh [OUT_DIR]     (default /tmp/koppel-report-demo)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-/tmp/koppel-report-demo}"
BROWSER="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$BROWSER" ]; then
  echo "chromium not found (Debian: apt-get install -y chromium)" >&2
  exit 2
fi
rm -rf "$OUT"
mkdir -p "$OUT"
cargo build -q -p koppel-report --example demo_report
for lang in nl en; do
  target/debug/examples/demo_report "$OUT/package-$lang" "$lang"
  for size in 1200,3000 1200,12000 420,3000; do
    name="$OUT/report-$lang-${size/,/x}.png"
    "$BROWSER" --headless --no-sandbox --disable-gpu --hide-scrollbars \
      --screenshot="$name" --window-size="$size" \
      "file://$(realpath "$OUT/package-$lang/report.html")" >/dev/null 2>&1
    echo "$name"
  done
done
