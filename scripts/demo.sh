#!/usr/bin/env bash
# make demo: koppel end to end on generated synthetic data.
#
# Today this runs the stages that exist: synthetic registers and municipal
# uploads (koppel synth), a fresh key, and the pseudonymisation of every upload
# with quarantined rejects. Linkage, disclosure control and the researcher
# report join this script with the pipeline issue (koppel run pipelines/demo.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

out=demo-out
echo "== building koppel (dev profile)"
cargo build -q -p koppel-cli
koppel=target/debug/koppel

rm -rf "$out"
mkdir -p "$out/secrets" "$out/pseudonymised" "$out/quarantine"
chmod 700 "$out/secrets" "$out/quarantine"

echo "== synthetic registers and uploads (20,000 persons, 3 municipalities)"
"$koppel" synth --out "$out/synth" --persons 20000 --municipalities 3 --seed 1

echo "== new pseudonymisation key"
"$koppel" key new --out "$out/secrets/koppel.key"

for upload in "$out"/synth/uploads/*.csv; do
  name=$(basename "$upload" .csv)
  echo "== pseudonymise $name"
  "$koppel" pseudonymise --key "$out/secrets/koppel.key" --in "$upload" \
    --out "$out/pseudonymised/$name.parquet" --rejects "$out/quarantine/$name.rejects.csv"
done

cat <<MSG

Done. What this demo produced:
  synthetic registers and uploads  $out/synth/
  pseudonymised uploads (Parquet)  $out/pseudonymised/
  quarantined rejects (mode 0600)  $out/quarantine/   (holds BSNs: operator only)
  key (mode 0600)                  $out/secrets/koppel.key
The researcher report (report.html) is not produced yet: it arrives with the
pipeline and report issues, when this demo becomes 'koppel run pipelines/demo.toml'.
MSG
