//! Helpers for koppel's end-to-end tests (compiled as `koppel-cli` integration
//! tests, see its Cargo.toml): the `koppel` binary,
//! small synthetic data sets, and scans of files for BSNs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use polars::prelude::*;

/// The `koppel` binary cargo built for these tests (same profile and
/// features as the test itself, so it is never stale).
pub fn koppel_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_koppel"))
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `koppel ARGS` with extra environment variables.
pub fn koppel(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(koppel_binary());
    command
        .args(args)
        .env_remove("KOPPEL_CRASH_AFTER")
        .env_remove("KOPPEL_CRASH_IN");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run koppel")
}

/// stdout + stderr as text.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Generates synthetic registers and uploads into `dir` and returns every BSN
/// in the persons register (normalised, 9 digits).
pub fn synth(dir: &Path, persons: u64, municipalities: u64, seed: u64) -> HashSet<String> {
    let out = koppel(
        &[
            "synth",
            "--out",
            dir.to_str().unwrap(),
            "--persons",
            &persons.to_string(),
            "--municipalities",
            &municipalities.to_string(),
            "--seed",
            &seed.to_string(),
        ],
        &[],
    );
    assert!(out.status.success(), "koppel synth: {}", text(&out));
    let persons = dir.join("registers/persons.parquet");
    let df = LazyFrame::scan_parquet(
        PlRefPath::new(persons.to_str().unwrap()),
        ScanArgsParquet::default(),
    )
    .unwrap()
    .select([col("bsn").cast(DataType::String)])
    .collect()
    .unwrap();
    df.column("bsn")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(|b| format!("{b:0>9}"))
        .collect()
}

/// Every file under `dir` (recursively), except under the `skip` directories.
pub fn files(dir: &Path, skip: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if skip.iter().any(|s| d.starts_with(s)) {
            continue;
        }
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// BSNs (9-digit forms in `bsns`) written in `bytes`: every 9-digit window
/// of a digit run (a BSN inside a longer number is found too), and runs of
/// exactly 8 digits (the leading-zero-dropped form) not touching a hex
/// letter, so chance digit runs inside hex pseudonyms do not count.
pub fn bsns_in_bytes(bytes: &[u8], bsns: &HashSet<String>) -> Vec<String> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let run = &bytes[start..i];
            for w in run.windows(9) {
                let s = String::from_utf8_lossy(w).into_owned();
                if bsns.contains(&s) {
                    found.push(s);
                }
            }
            let hex_letter = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_hexdigit());
            if run.len() == 8
                && !hex_letter(start.checked_sub(1).and_then(|j| bytes.get(j)))
                && !hex_letter(bytes.get(i))
            {
                let s = format!("0{}", String::from_utf8_lossy(run));
                if bsns.contains(&s) {
                    found.push(s);
                }
            }
        } else {
            i += 1;
        }
    }
    found
}

/// BSNs found in a file: Parquet files are decoded (every column as text),
/// other files scanned as bytes.
pub fn bsns_in_file(path: &Path, bsns: &HashSet<String>) -> Vec<String> {
    if path.extension().is_some_and(|e| e == "parquet") {
        let file = std::fs::File::open(path).unwrap();
        let df = ParquetReader::new(file).finish().unwrap();
        let mut found = Vec::new();
        for column in df.columns() {
            let Ok(text) = column.cast(&DataType::String) else {
                continue;
            };
            for value in text.str().unwrap().iter().flatten() {
                found.extend(bsns_in_bytes(value.as_bytes(), bsns));
            }
        }
        // Key-value metadata and anything else outside the column data.
        found.extend(bsns_in_bytes(&std::fs::read(path).unwrap(), bsns));
        found
    } else {
        bsns_in_bytes(&std::fs::read(path).unwrap(), bsns)
    }
}
