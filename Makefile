.PHONY: bench bench-synth

# Per-crate benchmark targets; figures are recorded in BENCHMARKS.md.
bench: bench-synth

# koppel synth: 50,000 persons (seconds) and national scale (18 million
# persons, streamed in batches of 250,000; peak RSS must stay < 4 GiB).
# Dev profile on purpose (koppel-synth at opt-level 2, dependencies at 1):
# see BENCHMARKS.md for the figures.
bench-synth:
	cargo build -p koppel-cli
	/usr/bin/time -f 'synth 50k: %e s wall, %M KiB peak RSS' target/debug/koppel synth --out target/bench/synth-50k --persons 50000
	/usr/bin/time -f 'synth national: %e s wall, %M KiB peak RSS' target/debug/koppel synth --out target/bench/synth-national --persons 18000000 --municipalities 50
