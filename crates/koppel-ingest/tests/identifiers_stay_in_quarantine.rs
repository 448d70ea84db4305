//! A BSN typed or built into a free-text column (trajectory number, provider,
//! job number) never leaves ingest's quarantine: trajectory and job numbers
//! are written as keyed hashes, the provider is not written, and the report
//! warns once per column without quoting a value. The scan below reads every
//! column of every file ingest writes outside the quarantine and looks for
//! the planted BSNs in their 9- and 8-digit forms, also inside longer text.

use std::collections::HashSet;
use std::path::Path;

use koppel_ingest::{ingest_file, validate_file, IngestOptions, InputKind};
use koppel_pseudonym::bsn::{complete_with_check_digit, synthetic_bsn};
use koppel_pseudonym::IdKind;
use polars::prelude::*;

mod support;
use support::{ingest_trajectories, pseudonymiser, read_parquet};

/// Every string form of every value in every column of a Parquet file.
fn parquet_texts(path: &Path) -> Vec<String> {
    let df = read_parquet(path);
    let mut out = Vec::new();
    for column in df.columns() {
        out.push(column.name().to_string());
        let text = column.cast(&DataType::String).unwrap();
        out.extend(text.str().unwrap().iter().flatten().map(str::to_string));
    }
    out
}

/// The planted BSNs (9-digit form) found in `text`, also as 8 digits with
/// the leading zero dropped, also inside longer digit runs.
fn planted_in(text: &str, planted: &HashSet<String>) -> Vec<String> {
    let mut found = Vec::new();
    for bsn in planted {
        if text.contains(bsn.as_str()) || (bsn.starts_with('0') && text.contains(&bsn[1..])) {
            found.push(bsn.clone());
        }
    }
    found
}

/// A valid BSN that starts with a zero.
fn zero_lead_bsn(i: u64) -> String {
    (0..)
        .find_map(|k: u64| {
            let digits = format!("0{:07}", 1_234_567 + 37 * i + k);
            let mut eight = [0u8; 8];
            eight.copy_from_slice(digits.as_bytes());
            complete_with_check_digit(eight)
        })
        .unwrap()
        .as_str()
        .to_string()
}

#[test]
fn bsns_in_free_text_columns_stay_in_the_quarantine() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("trajectories_GM0363.csv");
    let mut planted = HashSet::new();
    let mut csv = String::from("bsn;gemeente;trajectnummer;instrument;aanbieder;startdatum\n");
    for i in 0..60u64 {
        // Every fourth BSN has a leading zero and is written without it.
        let bsn = if i % 4 == 3 {
            zero_lead_bsn(i)
        } else {
            synthetic_bsn(1000 + i).as_str().to_string()
        };
        let person = synthetic_bsn(5000 + i).as_str().to_string();
        let trajectory = match i % 4 {
            0 => format!("T{bsn}-01"),
            1 => bsn.clone(),
            2 => format!("traject {}.{}.{}", &bsn[..3], &bsn[3..6], &bsn[6..]),
            _ => format!("T{}", bsn.trim_start_matches('0')),
        };
        let provider = if i % 5 == 0 {
            format!("Werkbedrijf (client {bsn})")
        } else {
            "Werkbedrijf".to_string()
        };
        // Every tenth row is rejected (bad date): the quarantine keeps it.
        let start = if i % 10 == 9 {
            "31-02-2021"
        } else {
            "01-03-2021"
        };
        csv.push_str(&format!(
            "{person};GM0363;{trajectory};Jobcoaching;{provider};{start}\n"
        ));
        planted.insert(bsn);
    }
    std::fs::write(&input, csv).unwrap();

    let pseudonymiser = pseudonymiser(7);
    let out = dir.path().join("out.parquet");
    let quarantine = dir.path().join("quarantine.csv");
    let report = ingest_trajectories(&input, &pseudonymiser, &out, &quarantine);
    assert_eq!(report.rows_read, 60);
    assert_eq!(report.rejected, 6);

    // Nothing planted in any column of the output.
    let texts = parquet_texts(&out);
    let leaked: Vec<String> = texts.iter().flat_map(|t| planted_in(t, &planted)).collect();
    assert!(leaked.is_empty(), "BSNs in the ingest output: {leaked:?}");
    // The provider is not written; the trajectory number is its `tid:` hash.
    let df = read_parquet(&out);
    assert!(df.column("provider").is_err(), "provider is not written");
    let tids: Vec<&str> = df
        .column("trajectory_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    let first = synthetic_bsn(1000).as_str().to_string();
    assert_eq!(
        tids[0],
        pseudonymiser
            .of_kind(IdKind::Trajectory, &format!("T{first}-01"))
            .to_string()
    );

    // The report (as written to JSON, text and HTML) warns once per column
    // and quotes nothing planted.
    assert_eq!(report.bsn_in_columns.get("trajectory_id"), Some(&60));
    assert_eq!(report.bsn_in_columns.get("provider"), Some(&12));
    let json = serde_json::to_string(&report).unwrap();
    let text = report.summary_text();
    let html = report.to_html();
    for rendered in [&json, &text, &html, &report.to_csv()] {
        let leaked = planted_in(rendered, &planted);
        assert!(leaked.is_empty(), "BSNs in the report: {leaked:?}");
    }
    assert_eq!(html.matches("kolom trajectory_id bevat BSN").count(), 1);
    assert_eq!(
        text.matches("column trajectory_id contains BSNs").count(),
        1
    );

    // ... while the quarantine holds the rejected rows as written.
    let rejects = std::fs::read_to_string(&quarantine).unwrap();
    assert!(!planted_in(&rejects, &planted).is_empty());

    // `koppel validate` (no key) warns the same way.
    let validated =
        validate_file(InputKind::Trajectories, &input, &IngestOptions::default()).unwrap();
    assert_eq!(validated.bsn_in_columns, report.bsn_in_columns);
}

#[test]
fn job_numbers_are_keyed_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("employment.csv");
    let bsn = synthetic_bsn(77).as_str().to_string();
    let person = synthetic_bsn(78).as_str().to_string();
    std::fs::write(
        &input,
        format!(
            "bsn,job_id,start_date,end_date,employment_type,contract,hours_per_week,monthly_wage,sector\n\
             {person},J{bsn},2020-01-01,,employee,permanent,36,3000,G\n"
        ),
    )
    .unwrap();
    let pseudonymiser = pseudonymiser(9);
    let out = dir.path().join("out.parquet");
    let report = ingest_file(
        InputKind::Employment,
        &input,
        &pseudonymiser,
        &out,
        &dir.path().join("q.csv"),
        &IngestOptions::default(),
    )
    .unwrap();
    assert_eq!(report.bsn_in_columns.get("job_id"), Some(&1));
    let df = read_parquet(&out);
    let job = df
        .column("job_id")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    assert_eq!(
        job,
        pseudonymiser
            .of_kind(IdKind::Job, &format!("J{bsn}"))
            .to_string()
    );
}
