//! What koppel-ingest's integration tests share: made-up BSNs, a test
//! pseudonymiser, one call of `ingest_file` on a trajectories upload, a
//! Parquet reader, and the checks of the faulty Dutch upload that the CSV
//! and the workbook tests both make.

// Each test file uses a part of this module.
#![allow(dead_code)]

use std::path::Path;

use koppel_ingest::{ingest_file, IngestOptions, InputKind, ValidationReport};
use koppel_pseudonym::bsn::complete_with_check_digit;
use koppel_pseudonym::{Key, Pseudonymiser};
use polars::prelude::{DataFrame, ParquetReader, SerReader};

/// A valid BSN made from `seed` (nine digits); with `zero_first` its first
/// digit is 0, as a clerk's spreadsheet drops it from a number cell.
pub fn dutch_bsn(seed: u32, zero_first: bool) -> String {
    let mut digits = [0u8; 8];
    let mut n = 1_234_567 + seed * 7_919;
    for d in digits.iter_mut().skip(usize::from(zero_first)).rev() {
        *d = (n % 10) as u8;
        n /= 10;
    }
    loop {
        if let Some(bsn) = complete_with_check_digit(digits) {
            return bsn.as_str().to_string();
        }
        digits[7] = (digits[7] + 1) % 10;
    }
}

/// A pseudonymiser with the key of 32 bytes `byte`.
pub fn pseudonymiser(byte: u8) -> Pseudonymiser {
    Pseudonymiser::new(&Key::from_bytes([byte; 32]))
}

/// Ingests the trajectories file `input` with the default options into
/// `out` (Parquet) and `quarantine`.
pub fn ingest_trajectories(
    input: &Path,
    pseudonymiser: &Pseudonymiser,
    out: &Path,
    quarantine: &Path,
) -> ValidationReport {
    ingest_file(
        InputKind::Trajectories,
        input,
        pseudonymiser,
        out,
        quarantine,
        &IngestOptions::default(),
    )
    .unwrap()
}

/// A whole Parquet file.
pub fn read_parquet(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap()
}

/// The checks of the Dutch upload of twenty trajectories with faults in
/// rows 5 (unknown municipality and end reason), 9 (unknown end reason)
/// and 12 (a BSN failing the eleven-test), whether it came as CSV or as a
/// workbook: the rows and columns named, every problem of row 5 counted,
/// Dutch reasons.
pub fn check_dutch_faults(report: &ValidationReport) {
    assert_eq!((report.rows_read, report.rejected), (20, 3));
    let rows: Vec<(u64, &str, &str)> = report
        .problems
        .iter()
        .map(|p| (p.row, p.column.as_str(), p.reason_code.as_str()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (5, "municipality", "invalid_municipality_code"),
            (5, "end_reason", "invalid_value"),
            (9, "end_reason", "invalid_value"),
            (12, "bsn", "bsn_eleven_test"),
        ]
    );
    // The per-reason summary shows the end-reason problem of row 5 too,
    // although its municipality came first.
    assert_eq!(report.rows_by_reason["invalid_value"], 2);
    assert_eq!(report.rows_by_reason["invalid_municipality_code"], 1);
    assert!(report.problems[0]
        .reason_nl
        .contains("naam van de gemeente"));
    let html = report.to_html();
    assert!(html.contains("3 van de 20 regels zijn afgekeurd"), "{html}");
}
