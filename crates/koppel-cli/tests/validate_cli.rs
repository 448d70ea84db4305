//! End-to-end tests of `koppel validate` (issue #5 acceptance): the fixture
//! corpus under `tests/fixtures/ingest/` gives each file's expected reason
//! and exit code, nothing panics, 100 MB single-line files are refused
//! cleanly, and no BSN reaches stdout, stderr, logs or the reports.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

mod support;
use support::{koppel_command, text};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/ingest")
}

fn validate(kind: &str, file: &Path, extra: &[&str]) -> Output {
    koppel_command()
        .args(["--log-format", "json", "-v", "validate", "--kind", kind])
        .arg(file)
        .args(extra)
        .output()
        .expect("koppel runs")
}

/// Every BSN of the fixtures, also as the 8-digit and dotted forms.
fn identifiers() -> Vec<String> {
    let list = fs::read_to_string(fixtures().join("bsns.txt")).unwrap();
    list.lines()
        .filter(|l| !l.is_empty())
        .flat_map(|b| {
            vec![
                b.to_string(),
                b.trim_start_matches('0').to_string(),
                format!("{}.{}.{}", &b[..3], &b[3..6], &b[6..]),
            ]
        })
        .collect()
}

fn assert_no_identifier(what: &str, haystack: &str, identifiers: &[String]) {
    for id in identifiers {
        assert!(!haystack.contains(id.as_str()), "{what} contains a BSN");
    }
}

#[test]
fn every_fixture_gives_its_expected_reason_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let ids = identifiers();
    let mut reader = csv::Reader::from_path(fixtures().join("expected.csv")).unwrap();
    let mut checked = 0;
    for record in reader.records() {
        let r = record.unwrap();
        let (file, kind, code, expected) = (&r[0], &r[1], r[2].parse::<i32>().unwrap(), &r[3]);
        let path = fixtures().join(file);
        let html = dir.path().join(format!("{file}.html"));
        let csv_report = dir.path().join(format!("{file}.report.csv"));
        let out = validate(kind, &path, &["--report", html.to_str().unwrap()]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(
            out.status.code(),
            Some(code),
            "{file}: stdout {stdout} stderr {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        match code {
            0 => assert!(stdout.contains("rejected: 0"), "{file}: {stdout}"),
            1 => {
                assert!(stdout.contains(expected), "{file}: {stdout}");
                let page = fs::read_to_string(&html).unwrap();
                assert!(page.contains(expected) && page.starts_with("<!DOCTYPE html>"));
                assert_no_identifier(file, &page, &ids);
                let out = validate(kind, &path, &["--report", csv_report.to_str().unwrap()]);
                assert_eq!(out.status.code(), Some(1));
                let report = fs::read_to_string(&csv_report).unwrap();
                assert!(report
                    .starts_with("file,row,column,source_column,reason_code,reason,trajectory_id"));
                assert!(report.contains(expected), "{file}: {report}");
                assert_no_identifier(file, &report, &ids);
            }
            _ => {
                assert!(stderr.contains(expected), "{file}: {stderr}");
                assert!(
                    stderr.contains(file),
                    "{file}: the error names the file: {stderr}"
                );
            }
        }
        assert_no_identifier(file, &stdout, &ids);
        assert_no_identifier(file, &stderr, &ids);
        checked += 1;
    }
    assert!(checked >= 20);
}

#[test]
fn rows_are_reported_by_line_with_column_and_trajectory_id() {
    let out = validate("trajectories", &fixtures().join("impossible_date.csv"), &[]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("rows read: 2 / accepted: 1 / rejected: 1"),
        "{stdout}"
    );
    let line = stdout
        .lines()
        .find(|l| l.contains("unparseable_date:"))
        .expect("problem line");
    assert!(line.contains("row 3"), "{line}");
    assert!(line.contains("start_date (Startdatum)"), "{line}");
    assert!(line.contains("T00001"), "{line}");

    let out = validate("trajectories", &fixtures().join("duplicate_rows.csv"), &[]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("row 4") && stdout.contains("exact copy of row 3"),
        "{stdout}"
    );
}

fn write_big(path: &Path, prefix: &[u8], size: usize) {
    let mut f = std::io::BufWriter::new(fs::File::create(path).unwrap());
    f.write_all(prefix).unwrap();
    let chunk = b"abcdefghij;klmnopqrs,".repeat(1 << 14);
    let mut written = prefix.len();
    while written < size {
        let n = chunk.len().min(size - written);
        f.write_all(&chunk[..n]).unwrap();
        written += n;
    }
    f.flush().unwrap();
}

#[test]
fn a_100_mb_single_line_is_refused_without_panic_or_memory_blow_up() {
    let dir = tempfile::tempdir().unwrap();
    let one_line = dir.path().join("one_line.csv");
    write_big(&one_line, b"", 100 << 20);
    let out = validate("trajectories", &one_line, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("longer than 64 KiB"));

    // A good header, then one 100 MB row, then a good row.
    let fixture = fs::read(fixtures().join("valid_semicolon_crlf.csv")).unwrap();
    let text_fixture = String::from_utf8(fixture).unwrap();
    let mut lines = text_fixture.split("\r\n");
    let header = lines.next().unwrap();
    let good = lines.next().unwrap();
    let huge = dir.path().join("huge_row.csv");
    write_big(&huge, format!("{header}\r\n").as_bytes(), 100 << 20);
    fs::OpenOptions::new()
        .append(true)
        .open(&huge)
        .unwrap()
        .write_all(format!("\r\n{good}\r\n").as_bytes())
        .unwrap();
    let out = validate("trajectories", &huge, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("row_too_long"), "{stdout}");
    assert!(
        stdout.contains("rows read: 2 / accepted: 1 / rejected: 1"),
        "{stdout}"
    );
}

#[test]
fn synth_uploads_validate_with_exit_1_and_no_bsn_in_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = koppel_command()
        .args([
            "synth",
            "--persons",
            "3000",
            "--municipalities",
            "4",
            "--seed",
            "3",
            "--fault-rate",
            "0.02",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Every BSN of the population register, in the forms uploads use.
    let persons = polars::prelude::ParquetReader::new(
        fs::File::open(dir.path().join("registers/persons.parquet")).unwrap(),
    );
    use polars::prelude::SerReader;
    let frame = persons.finish().unwrap();
    let bsns: Vec<String> = frame
        .column("bsn")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_string)
        .collect();
    for entry in fs::read_dir(dir.path().join("uploads")).unwrap() {
        let path = entry.unwrap().path();
        let html = dir.path().join("report.html");
        let out = validate("trajectories", &path, &["--report", html.to_str().unwrap()]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            text(&out.stderr)
        );
        let mut all = text(&out.stdout);
        all.push_str(&text(&out.stderr));
        all.push_str(&fs::read_to_string(&html).unwrap());
        for bsn in &bsns {
            assert!(
                !all.contains(bsn.as_str()),
                "{}: output contains a BSN",
                path.display()
            );
            if let Some(short) = bsn.strip_prefix('0') {
                assert!(
                    !all.contains(short),
                    "{}: output contains a BSN",
                    path.display()
                );
            }
        }
    }
}

/// `koppel validate FILE | head -1`: the reader goes away before the command
/// has written its output. No panic (exit 101), the command's own exit code.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many_problems.csv");
    let mut upload = String::from("bsn,municipality,instrument,start_date\n");
    for _ in 0..2000 {
        upload.push_str("123456789,GM0363,nonsense,31-02-2021\n");
    }
    fs::write(&file, upload).unwrap();
    {
        let args = ["validate", "--kind", "trajectories", file.to_str().unwrap()];
        let mut child = koppel_command()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end at once, as `head` does after its line.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
    }
}
