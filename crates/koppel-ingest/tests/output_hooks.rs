//! `ingest_file_with_hooks`: the observer sees every accepted row once, in
//! output order, and the extract holds exactly the rows the selection
//! chose, in the same order, with the output's schema and metadata. A
//! file that cannot be read leaves no extract behind either.

use std::path::Path;
use std::sync::Mutex;

use koppel_ingest::{ingest_file_with_hooks, ExtractOutput, IngestOptions, InputKind, OutputHooks};
use koppel_synth::{generate, RegisterFormat, SynthConfig};
use polars::prelude::*;

mod support;
use support::{pseudonymiser, read_parquet};

#[test]
fn the_extract_holds_the_chosen_rows_and_the_observer_sees_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        persons: 3_000,
        municipalities: 2,
        seed: 3,
        format: RegisterFormat::Csv,
        ..SynthConfig::default()
    };
    generate(&config, dir.path()).unwrap();
    let input = dir.path().join("registers/employment.csv");
    let out = dir.path().join("employment.parquet");
    let extract = dir.path().join("extract.parquet");
    // Small batches, so that the hooks see many of them.
    let options = IngestOptions {
        batch_rows: 1_000,
        ..IngestOptions::default()
    };
    let seen = Mutex::new(Vec::<String>::new());
    let observe = |frame: &DataFrame| {
        let p = frame.column("pseudonym")?.str()?;
        let mut seen = seen.lock().unwrap();
        seen.extend(p.iter().map(|v| v.unwrap_or_default().to_string()));
        Ok(())
    };
    // Rows of pseudonyms starting with a digit below 4: about a quarter.
    let select = |frame: &DataFrame| {
        let p = frame.column("pseudonym")?.str()?;
        Ok(p.iter()
            .map(|v| v.is_some_and(|v| v.as_bytes()[0] < b'4'))
            .collect::<BooleanChunked>())
    };
    let hooks = OutputHooks {
        observe: Some(&observe),
        extract: Some(ExtractOutput {
            path: &extract,
            select: &select,
        }),
    };
    let report = ingest_file_with_hooks(
        InputKind::Employment,
        &input,
        &pseudonymiser(5),
        &out,
        &dir.path().join("quarantine.csv"),
        &options,
        &hooks,
    )
    .unwrap();
    let written = read_parquet(&out);
    assert_eq!(written.height() as u64, report.accepted);
    assert!(written.height() > 3_000, "{}", written.height());
    let pseudonyms: Vec<String> = written
        .column("pseudonym")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap().to_string())
        .collect();
    assert_eq!(
        *seen.lock().unwrap(),
        pseudonyms,
        "observer: every row, in order"
    );

    let expected = written.filter(&select(&written).unwrap()).unwrap();
    let got = read_parquet(&extract);
    assert!(expected.height() > 0 && expected.height() < written.height());
    assert!(got.equals_missing(&expected), "extract rows differ");
    assert_eq!(
        koppel_io::read_parquet_metadata(&extract).unwrap(),
        koppel_io::read_parquet_metadata(&out).unwrap()
    );
}

#[test]
fn an_unreadable_input_leaves_no_extract() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("empty.csv");
    std::fs::write(&input, "").unwrap();
    let extract = dir.path().join("extract.parquet");
    let select = |frame: &DataFrame| Ok(BooleanChunked::full("k".into(), true, frame.height()));
    let hooks = OutputHooks {
        observe: None,
        extract: Some(ExtractOutput {
            path: &extract,
            select: &select,
        }),
    };
    let result = ingest_file_with_hooks(
        InputKind::Employment,
        &input,
        &pseudonymiser(5),
        &dir.path().join("out.parquet"),
        &dir.path().join("quarantine.csv"),
        &IngestOptions::default(),
        &hooks,
    );
    assert!(result.is_err());
    assert!(!Path::new(&extract).exists());
}
