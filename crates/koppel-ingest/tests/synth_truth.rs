//! Acceptance (issue #5): on uploads from `koppel synth --fault-rate 0.02`
//! the rejected rows are exactly those in `truth/faults.csv` (a BSN absent
//! from the registers is a linkage matter, not a rejection), with the same
//! column and reason, and `read = accepted + rejected` per file. The
//! registers validate cleanly, and ingest writes the contract schema.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use koppel_ingest::{
    ingest_file, output_schema, validate_file, InputKind, ValidateOptions, KEY_ID_METADATA,
    KIND_METADATA,
};
use koppel_pseudonym::{Key, Pseudonymiser};
use koppel_synth::{generate, RegisterFormat, SynthConfig};

mod support;
use support::{ingest_trajectories, pseudonymiser, read_parquet};

fn synth(dir: &Path, format: RegisterFormat) {
    let config = SynthConfig {
        persons: 12_000,
        municipalities: 12,
        seed: 7,
        fault_rate: 0.02,
        format,
        ..SynthConfig::default()
    };
    generate(&config, dir).expect("synth runs");
}

/// `truth/faults.csv` as file → row → (column, fault), rejections only.
fn truth(dir: &Path) -> BTreeMap<String, BTreeMap<u64, (String, String)>> {
    let mut out: BTreeMap<String, BTreeMap<u64, (String, String)>> = BTreeMap::new();
    let mut reader = csv::Reader::from_path(dir.join("truth/faults.csv")).unwrap();
    for record in reader.records() {
        let r = record.unwrap();
        if &r[3] == "bsn_not_in_registers" {
            continue;
        }
        out.entry(r[0].to_string())
            .or_default()
            .insert(r[1].parse().unwrap(), (r[2].to_string(), r[3].to_string()));
    }
    out
}

#[test]
fn rejected_rows_are_exactly_the_injected_faults() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), RegisterFormat::Parquet);
    let expected = truth(dir.path());
    // Several batches per file: duplicates across batches.
    let options = ValidateOptions {
        batch_rows: 500,
        ..ValidateOptions::default()
    };
    let mut files = 0;
    let mut faults = 0;
    for entry in std::fs::read_dir(dir.path().join("uploads")).unwrap() {
        let path = entry.unwrap().path();
        let rel = format!("uploads/{}", path.file_name().unwrap().to_string_lossy());
        let report = validate_file(InputKind::Trajectories, &path, &options).unwrap();
        assert_eq!(report.rows_read, report.accepted + report.rejected, "{rel}");
        let got: BTreeMap<u64, (String, String)> = report
            .problems
            .iter()
            .map(|p| (p.row, (p.column.clone(), p.reason_code.clone())))
            .collect();
        assert_eq!(
            report.problems.len() as u64,
            report.rejected,
            "{rel}: one problem per faulty row"
        );
        let want = expected.get(&rel).cloned().unwrap_or_default();
        assert_eq!(got, want, "{rel}");
        assert_eq!(
            report.duplicates,
            want.values().filter(|v| v.1 == "duplicate_row").count() as u64
        );
        assert!(report.ignored_columns.is_empty(), "{rel}");
        files += 1;
        faults += want.len();
    }
    assert_eq!(files, 12);
    assert!(
        faults > 20,
        "the test needs faults of every kind ({faults})"
    );
    let kinds: BTreeSet<&str> = expected
        .values()
        .flat_map(|m| m.values().map(|v| v.1.as_str()))
        .collect();
    assert_eq!(kinds.len(), 7, "{kinds:?}");
}

#[test]
fn registers_validate_cleanly_in_both_formats_and_ingest_writes_the_contract() {
    let key = Key::from_bytes([3u8; 32]);
    let pseudonymiser = Pseudonymiser::new(&key);
    for (format, ext) in [
        (RegisterFormat::Parquet, "parquet"),
        (RegisterFormat::Csv, "csv"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        synth(dir.path(), format);
        for kind in [
            InputKind::Persons,
            InputKind::Benefits,
            InputKind::Employment,
        ] {
            let input = dir.path().join(format!("registers/{kind}.{ext}"));
            let options = ValidateOptions::default();
            let report = validate_file(kind, &input, &options).unwrap();
            assert!(
                report.is_clean(),
                "{kind} {ext}: {:?}",
                &report.problems[..report.problems.len().min(5)]
            );
            let out = dir.path().join(format!("{kind}.pseudo.parquet"));
            let quarantine = dir.path().join(format!("{kind}.quarantine.csv"));
            let ingested =
                ingest_file(kind, &input, &pseudonymiser, &out, &quarantine, &options).unwrap();
            assert_eq!(ingested.accepted, report.rows_read);
            let frame = read_parquet(&out);
            assert_eq!(frame.height() as u64, report.rows_read);
            assert_eq!(frame.schema().as_ref(), &output_schema(kind));
            let metadata = koppel_io::read_parquet_metadata(&out).unwrap();
            assert!(metadata.contains(&(KEY_ID_METADATA.to_string(), key.id().to_string())));
            assert!(metadata.contains(&(KIND_METADATA.to_string(), kind.to_string())));
        }
    }
}

#[test]
fn ingested_uploads_are_pseudonymised_and_canonical() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), RegisterFormat::Parquet);
    let pseudonymiser = pseudonymiser(9);
    let catalogue = koppel_synth::Catalogue::builtin();
    let codes: BTreeSet<String> = catalogue
        .instruments
        .iter()
        .map(|i| i.code.clone())
        .collect();
    for entry in std::fs::read_dir(dir.path().join("uploads")).unwrap() {
        let path = entry.unwrap().path();
        let out = dir.path().join("out.parquet");
        let quarantine = dir.path().join("quarantine.csv");
        let report = ingest_trajectories(&path, &pseudonymiser, &out, &quarantine);
        let frame = read_parquet(&out);
        assert_eq!(frame.height() as u64, report.accepted);
        let pseudonyms = frame.column("pseudonym").unwrap().str().unwrap().clone();
        assert!(pseudonyms.iter().all(|p| p.is_some_and(|p| p.len() == 32
            && p.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))));
        for instrument in frame.column("instrument").unwrap().str().unwrap().iter() {
            assert!(codes.contains(instrument.unwrap()));
        }
        for m in frame.column("municipality").unwrap().str().unwrap().iter() {
            let m = m.unwrap();
            assert!(m.len() == 6 && m.starts_with("GM"));
        }
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&quarantine).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let quarantined = csv::Reader::from_path(&quarantine)
            .unwrap()
            .records()
            .count() as u64;
        assert_eq!(quarantined, report.rejected);
    }
}
