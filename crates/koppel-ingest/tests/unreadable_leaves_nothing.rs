//! A file that cannot be read at all (exit 2 in `koppel validate`) makes
//! `ingest_file` fail without leaving a half-written Parquet file or
//! quarantine behind, so the pipeline never mistakes one for output.

use std::path::Path;

use koppel_ingest::{ingest_file, IngestOptions, InputKind};
use koppel_pseudonym::{Key, Pseudonymiser};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/ingest")
        .join(name)
}

#[test]
fn unreadable_inputs_leave_no_output() {
    let key = Key::from_bytes([7u8; 32]);
    let pseudonymiser = Pseudonymiser::new(&key);
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "header_only.csv",
        "empty.csv",
        "binary_junk.csv",
        "not_parquet.parquet",
    ] {
        let out = dir.path().join(format!("{name}.out.parquet"));
        let quarantine = dir.path().join(format!("{name}.quarantine.csv"));
        let result = ingest_file(
            InputKind::Trajectories,
            &fixture(name),
            &pseudonymiser,
            &out,
            &quarantine,
            &IngestOptions::default(),
        );
        assert!(result.is_err(), "{name} was accepted");
        assert!(!out.exists(), "{name}: {} left behind", out.display());
        assert!(!quarantine.exists(), "{name}: quarantine left behind");
    }
    // A readable file still writes both.
    let out = dir.path().join("valid.parquet");
    let quarantine = dir.path().join("valid.quarantine.csv");
    ingest_file(
        InputKind::Trajectories,
        &fixture("valid_semicolon_crlf.csv"),
        &pseudonymiser,
        &out,
        &quarantine,
        &IngestOptions::default(),
    )
    .unwrap();
    assert!(out.is_file());
}

/// A Parquet `bsn` column of lists is refused with its name and type.
#[test]
fn a_list_typed_column_is_named() {
    use koppel_ingest::{validate_file, ValidateOptions};
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("persons.parquet");
    let lists = Series::new(
        "bsn".into(),
        [
            Series::new("".into(), &["123456782"]),
            Series::new("".into(), &["111222333"]),
        ]
        .as_slice(),
    );
    let mut df = DataFrame::new(
        2,
        vec![
            lists.into_column(),
            Column::new("birth_date".into(), &["1980-01-01", "1990-01-01"]),
            Column::new("sex".into(), &["M", "V"]),
            Column::new("household_type".into(), &["single", "single"]),
            Column::new("origin".into(), &["nl", "nl"]),
            Column::new("education_level".into(), &["low", "low"]),
            Column::new("municipality".into(), &["GM0363", "GM0363"]),
        ],
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    let error = validate_file(InputKind::Persons, &path, &ValidateOptions::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("'bsn'") && error.contains("list"), "{error}");
    assert!(!error.contains("123456782"), "{error}");
}
