#!/usr/bin/env bash
# make demo: koppel end to end on generated synthetic data.
#
# Generates synthetic registers and uploads for three municipalities, makes a
# key, and runs pipelines/demo.toml (ingest → link → aggregate → protect →
# export). Prints where the researcher package and report are.
set -euo pipefail
cd "$(dirname "$0")/.."

out=demo-out
echo "== building koppel"
cargo build -q -p koppel-cli
koppel=target/debug/koppel

mkdir -p "$out"
persons=400000
if [ "$(cat "$out/synth/.persons" 2>/dev/null)" != "$persons" ]; then
  echo "== synthetic registers and uploads ($persons persons, 3 municipalities)"
  rm -rf "$out/synth"
  "$koppel" synth --out "$out/synth" --persons "$persons" --municipalities 3 --seed 1
  echo "$persons" > "$out/synth/.persons"
fi

if [ ! -f "$out/secrets/koppel.key" ]; then
  echo "== new pseudonymisation key (mode 0600)"
  mkdir -p "$out/secrets"
  chmod 700 "$out/secrets"
  "$koppel" key new --out "$out/secrets/koppel.key"
fi

echo "== koppel run pipelines/demo.toml"
"$koppel" run pipelines/demo.toml

package="$out/run/export/package"
cat <<MSG

Done. What this demo produced:
  researcher package      $package/
    report (open in a browser)  $package/report.html
    tables (CSV + Parquet)      $package/tables/
  run directory + manifests     $out/run/   (check with: $koppel verify $out/run)
  ingest quarantine (BSNs!)     $out/run/ingest/quarantine/   (operator only, mode 0700)
  synthetic inputs              $out/synth/
Rerunning 'make demo' skips every stage that is up to date.
MSG
