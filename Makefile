# koppel — the two set-up commands are `make demo` and `make test` (see README).
.PHONY: all build test fmt lint demo bench bench-pseudonym bench-synth bench-disclosure bench-disclosure-loss bench-pipeline bench-ingest bench-effect bench-link-peer clean

CARGO ?= cargo
HAS_NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)

all: build

build:
	$(CARGO) build --release -p koppel-cli

# Formatting, lints as errors, then every test (nextest when installed; doctests
# separately, as nextest does not run them).
#
# Lints and tests share one build: when clippy-driver is installed, it wraps
# rustc for the workspace's own crates during the test build (what `cargo
# clippy` does, but with code generation), so the dependencies (polars above
# all) are compiled once, not once in check mode for clippy and again for the
# tests. `-D warnings` therefore fails the test build exactly as
# `cargo clippy --workspace --all-targets -- -D warnings` would.
CLIPPY_DRIVER := $(shell rustup which clippy-driver 2>/dev/null || command -v clippy-driver 2>/dev/null)
ifeq ($(CLIPPY_DRIVER),)
LINT := $(CARGO) clippy --workspace --all-targets -- -D warnings
LINTED :=
else
LINT := @echo "clippy (-D warnings) runs inside the test build: $(CLIPPY_DRIVER)"
LINTED := RUSTC_WORKSPACE_WRAPPER=$(CLIPPY_DRIVER) CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
endif

test:
	$(CARGO) fmt --all --check
	$(LINT)
ifeq ($(HAS_NEXTEST),yes)
	$(LINTED) $(CARGO) nextest run --workspace --all-targets --no-fail-fast
	$(LINTED) $(CARGO) test --workspace --doc
else
	$(LINTED) $(CARGO) test --workspace --all-targets
	$(LINTED) $(CARGO) test --workspace --doc
endif

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The main job end to end on generated synthetic data.
demo:
	bash scripts/demo.sh

# Benchmarks, not tests: they print figures that are recorded in BENCHMARKS.md.
bench: bench-pseudonym bench-synth bench-disclosure bench-pipeline bench-ingest

# Pseudonyms per core and per column (release), then `koppel pseudonymise` on a
# 10-million-row, 8-column CSV: wall time, rows/s and peak RSS.
bench-pseudonym:
	$(CARGO) build --release -p koppel-cli -p koppel-pseudonym -p koppel-ingest --examples --bins
	target/release/examples/pseudonym_throughput 20000000
	mkdir -p target/bench
	test -f target/bench/upload-10m.csv || target/release/examples/bench_upload target/bench/upload-10m.csv 10000000
	test -f target/bench/bench.key || target/release/koppel key new --out target/bench/bench.key
	rm -f target/bench/upload-10m.parquet
	bash scripts/measure.sh "pseudonymise 10M rows CSV->Parquet" 10000000 \
	  target/release/koppel pseudonymise --key target/bench/bench.key \
	  --in target/bench/upload-10m.csv --out target/bench/upload-10m.parquet \
	  --rejects target/bench/upload-10m.rejects.csv
	bash scripts/measure.sh "pseudonymise 10M rows CSV->CSV" 10000000 \
	  target/release/koppel pseudonymise --key target/bench/bench.key \
	  --in target/bench/upload-10m.csv --out target/bench/upload-10m.out.csv \
	  --rejects target/bench/upload-10m.rejects.csv

# koppel synth: 50,000 persons (seconds) and national scale (18 million
# persons, streamed in batches of 250,000; peak RSS must stay < 4 GiB).
# Dev profile on purpose (koppel-synth at opt-level 2, dependencies at 1):
# see BENCHMARKS.md for the figures.
bench-synth:
	$(CARGO) build -p koppel-cli
	bash scripts/measure.sh "synth 50k" 50000 target/debug/koppel synth --out target/bench/synth-50k --persons 50000
	bash scripts/measure.sh "synth national" 18000000 target/debug/koppel synth --out target/bench/synth-national --persons 18000000 --municipalities 50

# Disclosure control: 4-dimensional table sets (1,680, 3,024 and 11,880
# cells with margins) protected by the audit-driven greedy and by the naive
# baseline, both LP-audited. Other sizes: pass four dimension sizes.
bench-disclosure:
	$(CARGO) build --release -p koppel-disclosure --example bench_disclosure
	target/release/examples/bench_disclosure 4 5 6 7
	target/release/examples/bench_disclosure 5 6 7 8
	target/release/examples/bench_disclosure 8 9 10 11

# Information loss of disclosure control: the demo table set at about 50, 150,
# 475 and 3,100 leavers (one synthetic municipality each): cells published,
# cohort total and whole-cohort states per horizon, wall time, violations,
# secondary cells still publishable alone (LOSS_ALONE=1: one full audit per
# secondary cell, minutes). Then the 8x9x10x11 set in the same (dev) profile.
# Built like the tests (whole workspace, every target) so that the build of
# `make test` is reused.
bench-disclosure-loss:
	$(CARGO) build --workspace --all-targets
	bash scripts/bench_disclosure_loss.sh
	target/debug/examples/bench_disclosure 8 9 10 11

# National scale: koppel synth --persons 18000000 (once), then the outflow
# pipeline (every stage, --force) in release; koppel run prints per-stage wall
# time and peak memory. Targets: pipeline after synth <= 15 min, peak <= 12 GiB.
NATIONAL := $(CURDIR)/target/bench/national
# Recipe lines making the national data and its key once (after the release
# build); shared by the benchmarks that run on them.
define national_data
	test -f $(NATIONAL)/registers/persons.parquet || bash scripts/measure.sh "synth national (release)" 18000000 \
	  target/release/koppel synth --out $(NATIONAL) --persons 18000000 --municipalities 50
	test -f $(NATIONAL)/secrets/koppel.key || (mkdir -p $(NATIONAL)/secrets && chmod 700 $(NATIONAL)/secrets && \
	  target/release/koppel key new --out $(NATIONAL)/secrets/koppel.key)
endef
bench-pipeline:
	$(CARGO) build --release -p koppel-cli
	$(national_data)
	KOPPEL_DATA=$(NATIONAL) KOPPEL_KEY=$(NATIONAL)/secrets/koppel.key KOPPEL_RUN=$(CURDIR)/target/bench/runs/outflow-cohort \
	  bash scripts/measure.sh "pipeline outflow-cohort (all stages)" 18000000 \
	  target/release/koppel --log-format json run pipelines/outflow-cohort.toml --force --quiet
	python3 scripts/stage_times.py target/bench/runs/outflow-cohort

# The link stage side by side with an independent DuckDB SQL version of the
# same job (bench/link_peer.py; duckdb is installed in bench/.venv, never
# committed) on the national ingest output of bench-pipeline (made here when
# missing): wall time and peak RSS of both, the ratio, and a check that both
# wrote the same analysis file. Targets: koppel <= 0.67 x DuckDB's wall time,
# peak <= 2 GiB.
LINK_RUN := $(CURDIR)/target/bench/runs/outflow-cohort
PEER_OUT := $(CURDIR)/target/bench/link-peer
bench-link-peer:
	$(CARGO) build --release -p koppel-cli
	test -x bench/.venv/bin/python || (python3 -m venv bench/.venv && bench/.venv/bin/pip install -q duckdb)
	$(national_data)
	# Ingest (with its register extracts) is rerun only when out of date.
	KOPPEL_DATA=$(NATIONAL) KOPPEL_KEY=$(NATIONAL)/secrets/koppel.key \
	  KOPPEL_RUN=$(LINK_RUN) target/release/koppel run pipelines/outflow-cohort.toml --until ingest --quiet
	mkdir -p $(PEER_OUT) && rm -f $(PEER_OUT)/figures.jsonl
	KOPPEL_DATA=$(NATIONAL) KOPPEL_KEY=$(NATIONAL)/secrets/koppel.key KOPPEL_RUN=$(LINK_RUN) MEASURE_JSON=$(PEER_OUT)/figures.jsonl \
	  bash scripts/measure.sh "koppel link" 0 \
	  target/release/koppel run pipelines/outflow-cohort.toml --from link --until link --quiet
	MEASURE_JSON=$(PEER_OUT)/figures.jsonl bash scripts/measure.sh "duckdb link" 0 \
	  bench/.venv/bin/python bench/link_peer.py run $(LINK_RUN)/ingest $(PEER_OUT)/analysis.parquet --year 2022
	bench/.venv/bin/python bench/link_peer.py compare $(LINK_RUN)/link/analysis.parquet $(PEER_OUT)/analysis.parquet
	bench/.venv/bin/python bench/link_peer.py ratio $(PEER_OUT)/figures.jsonl $(LINK_RUN)/link/manifest.json

# koppel validate / ingest (issue #5): validate_file and ingest_file (validate +
# pseudonymise + Parquet) on a 10-million-row Dutch Excel-style upload
# (semicolons, Windows-1252, CRLF, DD-MM-YYYY, ~1% faulty rows), then the CLI;
# then `koppel validate` on a 1,000,000-row .xlsx workbook (numbers, date cells).
# Target: >= 1 million rows/s on 2 cores. Exit 1 of koppel validate (rows
# rejected) is expected here.
bench-ingest:
	$(CARGO) build --release -p koppel-cli -p koppel-ingest --examples --bins
	target/release/examples/bench_ingest target/bench/upload-nl-10m.csv 10000000
	bash scripts/measure.sh "koppel validate 10M rows CSV" 10000000 \
	  sh -c 'target/release/koppel validate --kind trajectories --max-problems 1000 target/bench/upload-nl-10m.csv >/dev/null; test $$? -le 1'
	target/release/examples/bench_xlsx target/bench/upload-nl-1m.xlsx 1000000
	bash scripts/measure.sh "koppel validate 1M rows xlsx" 1000000 \
	  sh -c 'target/release/koppel validate --kind trajectories --max-problems 1000 target/bench/upload-nl-1m.xlsx >/dev/null; test $$? -le 1'

# The effect stage at national scale: pipelines/trajectory-effects.toml run by
# the release CLI (the feature set of `make build`, so polars is not rebuilt
# for an example) on the national data of bench-pipeline, ingest first when
# its run directory has none; then link and effect (--from link reruns both), every
# instrument, starts 2019-2022. Stage figures come from the manifests.
# Targets: effect stage <= 2 minutes, peak <= 8 GiB.
EFFECT_RUN := $(CURDIR)/target/bench/runs/trajectory-effects
bench-effect:
	$(CARGO) build --release -p koppel-cli
	$(national_data)
	# Ingest (with its register extracts) is rerun only when out of date.
	KOPPEL_DATA=$(NATIONAL) KOPPEL_KEY=$(NATIONAL)/secrets/koppel.key \
	  KOPPEL_RUN=$(EFFECT_RUN) target/release/koppel run pipelines/trajectory-effects.toml --until ingest --quiet
	KOPPEL_DATA=$(NATIONAL) KOPPEL_KEY=$(NATIONAL)/secrets/koppel.key KOPPEL_RUN=$(EFFECT_RUN) \
	  bash scripts/measure.sh "trajectory-effects link + effect (starts 2019-2022)" 18000000 \
	  target/release/koppel run pipelines/trajectory-effects.toml --from link --until effect --quiet
	python3 scripts/stage_times.py $(EFFECT_RUN)

clean:
	$(CARGO) clean
	rm -rf demo-out
