//! National-scale link benchmark (`make bench-link`).
//!
//! `bench_link prepare SYNTH_DIR KEY_FILE WORK_DIR`: ingests the synth
//! registers and uploads of `SYNTH_DIR` with `koppel_ingest::ingest_file`
//! (validation + pseudonyms, the real ingest output format) into
//! `WORK_DIR/ingest/{kind}/*.parquet` (skipped when already there).
//!
//! `bench_link run WORK_DIR [COHORT]`: runs `koppel_link::link` on those
//! files (cohort `outflow` 2022 by default; also `stock`, `inflow`,
//! `trajectory`), writes `WORK_DIR/analysis-COHORT.parquet` and prints the
//! summary (counts only) as JSON and the wall time.

use std::path::{Path, PathBuf};
use std::time::Instant;

use koppel_ingest::{ingest_file, IngestOptions, InputKind};
use koppel_link::{link, Bands, CivilDate, Cohort, LinkConfig, LinkInputs};
use koppel_pseudonym::{Key, Pseudonymiser};

fn usage() -> ! {
    eprintln!("usage: bench_link prepare SYNTH_DIR KEY_FILE WORK_DIR | bench_link run WORK_DIR [outflow|stock|inflow|trajectory]");
    std::process::exit(2)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn prepare(synth: &Path, key_file: &Path, work: &Path) {
    let key = Key::load(key_file).unwrap_or_else(|e| panic!("key: {e}"));
    let pseudonymiser = Pseudonymiser::new(&key);
    let options = IngestOptions::default();
    let mut jobs: Vec<(InputKind, PathBuf, &str)> = Vec::new();
    for kind in ["persons", "benefits", "employment"] {
        let k = match kind {
            "persons" => InputKind::Persons,
            "benefits" => InputKind::Benefits,
            _ => InputKind::Employment,
        };
        jobs.push((
            k,
            synth.join("registers").join(format!("{kind}.parquet")),
            kind,
        ));
    }
    let mut uploads: Vec<PathBuf> = std::fs::read_dir(synth.join("uploads"))
        .expect("uploads directory")
        .flatten()
        .map(|e| e.path())
        .collect();
    uploads.sort();
    for u in uploads {
        jobs.push((InputKind::Trajectories, u, "trajectories"));
    }
    for (kind, input, name) in jobs {
        let dir = work.join("ingest").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let stem = input.file_stem().unwrap().to_string_lossy().into_owned();
        let out = dir.join(format!("{stem}.parquet"));
        if out.exists() {
            continue;
        }
        let t = Instant::now();
        let report = ingest_file(
            kind,
            &input,
            &pseudonymiser,
            &out,
            &work.join(format!("{stem}.quarantine.csv")),
            &options,
        )
        .unwrap_or_else(|e| panic!("ingest {}: {e}", input.display()));
        eprintln!(
            "ingested {} ({} rows read) in {:.1?}",
            input.display(),
            report.rows_read,
            t.elapsed()
        );
    }
}

fn run(work: &Path, cohort: &str) {
    let ingest = work.join("ingest");
    let inputs = LinkInputs {
        persons: files(&ingest.join("persons")),
        benefits: files(&ingest.join("benefits")),
        employment: files(&ingest.join("employment")),
        trajectories: files(&ingest.join("trajectories")),
    };
    let cohort_def = match cohort {
        "outflow" => Cohort::Outflow { year: 2022 },
        "stock" => Cohort::Stock {
            date: CivilDate::parse("2021-12-31").unwrap(),
        },
        "inflow" => Cohort::Inflow { year: 2022 },
        "trajectory" => Cohort::Trajectory { year: 2022 },
        _ => usage(),
    };
    let config = LinkConfig::new(cohort_def);
    let t = Instant::now();
    let summary = link(
        &inputs,
        &config,
        &Bands::default(),
        &work.join(format!("analysis-{cohort}.parquet")),
    )
    .unwrap_or_else(|e| {
        eprintln!("link failed: {e}");
        std::process::exit(1)
    });
    eprintln!("{}", serde_json::to_string_pretty(&summary).unwrap());
    eprintln!(
        "link {cohort}: {} persons in {:.1?}",
        summary.cohort_persons,
        t.elapsed()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("prepare") if args.len() == 4 => prepare(
            Path::new(&args[1]),
            Path::new(&args[2]),
            Path::new(&args[3]),
        ),
        Some("run") if args.len() >= 2 => run(
            Path::new(&args[1]),
            args.get(2).map_or("outflow", String::as_str),
        ),
        _ => usage(),
    }
}
