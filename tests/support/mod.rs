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
/// of a digit run (a BSN inside a longer number or text is found too:
/// `T123456782-01`, `A123456782`), and runs of exactly 8 digits (the
/// leading-zero-dropped form, also inside text: `T12345672-01`). Digit runs
/// inside a hex token of 16 or more characters (a pseudonym, a keyed hash, a
/// SHA-256) do not count: a 64-character hex string holds a run of 9 or more
/// digits about once in five, and with thousands of them some run matches
/// one of thousands of BSNs by chance (this made the pipeline test flaky).
pub fn bsns_in_bytes(bytes: &[u8], bsns: &HashSet<String>) -> Vec<String> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        // One alphanumeric token; its digit runs.
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let token = &bytes[start..i];
        if token.len() >= 16 && token.iter().all(u8::is_ascii_hexdigit) {
            continue;
        }
        for run in token.split(|b| !b.is_ascii_digit()) {
            for w in run.windows(9) {
                let s = String::from_utf8_lossy(w).into_owned();
                if bsns.contains(&s) {
                    found.push(s);
                }
            }
            if run.len() == 8 {
                let s = format!("0{}", String::from_utf8_lossy(run));
                if bsns.contains(&s) {
                    found.push(s);
                }
            }
        }
    }
    found
}

/// BSNs found in a file: Parquet files are decoded (every column as text),
/// other files scanned as bytes.
/// The Thrift footer of a Parquet file (the whole file if it is not one).
fn parquet_footer(bytes: &[u8]) -> &[u8] {
    let n = bytes.len();
    if n < 12 || &bytes[n - 4..] != b"PAR1" {
        return bytes;
    }
    let len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    if len + 8 > n {
        return bytes;
    }
    &bytes[n - 8 - len..n - 8]
}

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
        // The footer (schema, key-value metadata, statistics) is read raw.
        // The compressed pages are not: a compressor's literal runs splice
        // the tails and heads of neighbouring hex pseudonyms into digit runs
        // that match a BSN by chance; their values are scanned above.
        let bytes = std::fs::read(path).unwrap();
        found.extend(bsns_in_bytes(parquet_footer(&bytes), bsns));
        found
    } else {
        bsns_in_bytes(&std::fs::read(path).unwrap(), bsns)
    }
}
