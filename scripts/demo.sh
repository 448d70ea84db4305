#!/usr/bin/env bash
# make demo: koppel end to end on generated synthetic data.
#
# Builds koppel, generates synthetic registers and uploads for three
# municipalities, makes a key, and runs pipelines/demo.toml (ingest → link →
# aggregate → protect → export). Prints where the researcher package and its
# report are, and what the researcher gets.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo=${CARGO:-cargo}
out=demo-out

echo "== building koppel (the first build compiles the dependencies: 10-25 minutes on 2 cores)"
"$cargo" build -p koppel-cli
# Ask cargo where it put the binary: CARGO_TARGET_DIR or a cargo config may
# move the target directory away from ./target.
target_dir=$("$cargo" metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
koppel="${target_dir:-target}/debug/koppel"
if [ ! -x "$koppel" ]; then
  echo "error: cargo built koppel, but there is no binary at $koppel" >&2
  exit 1
fi

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

cat <<MSG

Done. Open $out/run/export/package/report.html in a browser.
  run directory and manifests   $out/run/   (check with: koppel verify $out/run)
  ingest quarantine (BSNs!)     $out/run/ingest/quarantine/   (operator only, mode 0700)
  synthetic inputs              $out/synth/
  the koppel binary             $koppel
Running 'make demo' again skips every stage that is up to date.
MSG
