//! End-to-end tests of `koppel synth` (issue #3): output layout, determinism
//! through the CLI, and clear errors (exit code 2, no panic) on bad arguments.

use std::path::Path;
use std::process::Output;

mod support;
use support::koppel;

fn synth(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "synth",
        "--out",
        out.to_str().unwrap(),
        "--persons",
        "3000",
        "--municipalities",
        "4",
    ];
    args.extend_from_slice(extra);
    koppel(&args)
}

#[test]
fn synth_writes_the_documented_layout() {
    let dir = tempfile::tempdir().unwrap();
    let out = synth(dir.path(), &["--fault-rate", "0.1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "registers/persons.parquet",
        "registers/benefits.parquet",
        "registers/employment.parquet",
        "truth/faults.csv",
        "truth/files.csv",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    for code in ["GM0363", "GM1859", "GM0599", "GM0193"] {
        assert!(
            dir.path()
                .join(format!("uploads/trajectories_{code}.csv"))
                .is_file(),
            "{code}"
        );
    }
    let csv = tempfile::tempdir().unwrap();
    let out = synth(csv.path(), &["--format", "csv"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let persons = std::fs::read_to_string(csv.path().join("registers/persons.csv")).unwrap();
    assert!(persons.starts_with(
        "bsn,birth_date,sex,household_type,origin,education_level,municipality,death_date,emigration_date\n"
    ));
}

#[test]
fn synth_is_deterministic_through_the_cli() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert!(synth(a.path(), &["--seed", "5"]).status.success());
    assert!(synth(b.path(), &["--seed", "5"]).status.success());
    for f in [
        "registers/persons.parquet",
        "registers/benefits.parquet",
        "registers/employment.parquet",
        "truth/faults.csv",
    ] {
        assert_eq!(
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn synth_refuses_bad_arguments_clearly() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, expected) in [
        (
            &["--from", "2024-01-01", "--to", "2020-01-01"][..],
            "--from",
        ),
        (&["--fault-rate", "1.5"][..], "--fault-rate"),
        (&["--from", "2020-13-01"][..], "--from"),
        (&["--municipalities", "0"][..], "--municipalities"),
        (&["--persons", "0"][..], "--persons"),
    ] {
        let mut args = vec!["synth", "--out", dir.path().to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = koppel(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(
            stderr.contains(expected) && !stderr.contains("panicked"),
            "{extra:?}: {stderr}"
        );
    }
}
