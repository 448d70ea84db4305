#!/usr/bin/env bash
# make bench-disclosure-loss: information loss of the demo table set
# (pipelines/demo.toml) at four cohort sizes. For each size: one synthetic
# municipality (koppel synth --municipalities 1, cached under
# target/bench/loss/), the demo pipeline up to its aggregate stage, then the
# bench_disclosure_loss example protects every tables.json and prints one row
# per size. Dev profile (koppel-disclosure is built at opt-level 2 there).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bench=$root/target/bench/loss
koppel=$root/target/debug/koppel
mkdir -p "$bench"
if [ ! -f "$bench/secrets/koppel.key" ]; then
  mkdir -p "$bench/secrets"
  chmod 700 "$bench/secrets"
  "$koppel" key new --out "$bench/secrets/koppel.key"
fi
args=()
# Persons per size: about 0.8% of residents leave assistance in 2022.
for persons in ${LOSS_SIZES:-7300 20000 63000 380000}; do
  dir=$bench/p$persons
  if [ ! -f "$dir/synth/registers/persons.parquet" ]; then
    rm -rf "$dir/synth"
    "$koppel" synth --out "$dir/synth" --persons "$persons" --municipalities 1 --seed 1 >/dev/null
  fi
  sed -e "s#\.\./demo-out/synth#$dir/synth#g" \
      -e "s#^key_file = .*#key_file = \"$bench/secrets/koppel.key\"#" \
      -e "s#^output = .*#output = \"$dir/run\"#" \
      -e "s#^config_dir = .*#config_dir = \"$root/config\"#" \
      pipelines/demo.toml > "$dir/pipeline.toml"
  "$koppel" run "$dir/pipeline.toml" --until aggregate --quiet >/dev/null
  leavers=$(python3 -c "import json,sys; t=json.load(open(sys.argv[1])); print(int(next(r['value'] for r in t[0]['rows'] if r['state']=='Total' and all(l=='Total' for l in r['levels']))))" "$dir/run/aggregate/tables.json")
  args+=("$leavers leavers=$dir/run/aggregate/tables.json")
done
target/debug/examples/bench_disclosure_loss "${args[@]}"
