//! Benchmark of the effect stage on a run directory's ingest output:
//! `bench_effect RUN_DIR [PERIOD_FROM PERIOD_TO]` reads
//! `RUN_DIR/ingest/{persons,benefits,employment,trajectories}/*.parquet`,
//! estimates every instrument and writes the matched file to
//! `RUN_DIR/bench-effect/`. Wall time and peak memory are measured by
//! `scripts/measure.sh` (see `make bench-effect`).

use std::path::{Path, PathBuf};

use koppel_effect::EffectConfig;
use koppel_link::{Bands, CivilDate, LinkInputs};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(run) = args.get(1).map(PathBuf::from) else {
        eprintln!("usage: bench_effect RUN_DIR [PERIOD_FROM PERIOD_TO]");
        std::process::exit(2);
    };
    let date = |i: usize, default: &str| {
        CivilDate::parse(args.get(i).map_or(default, String::as_str)).ok_or("bad date")
    };
    let config = EffectConfig::new(date(2, "2019-01-01")?, date(3, "2022-12-31")?);
    let ingest = run.join("ingest");
    let inputs = LinkInputs {
        persons: files(&ingest.join("persons")),
        benefits: files(&ingest.join("benefits")),
        employment: files(&ingest.join("employment")),
        trajectories: files(&ingest.join("trajectories")),
    };
    let started = std::time::Instant::now();
    let (summary, results) = koppel_effect::run(
        &inputs,
        &config,
        &Bands::default(),
        &run.join("bench-effect"),
    )?;
    let treated: u64 = summary.support.iter().map(|s| s.counts.treated).sum();
    let matched: u64 = summary.support.iter().map(|s| s.counts.matched).sum();
    println!(
        "effect stage: {} instruments, {treated} treated starts, {matched} matched, {} estimates, {} matched-file rows, {:.1} s",
        summary.support.len(),
        results.effects.len(),
        summary.matched_rows,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
