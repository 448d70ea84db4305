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
