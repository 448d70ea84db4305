//! End-to-end tests of `koppel key` and `koppel pseudonymise` (issue #2 acceptance).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use koppel_pseudonym::bsn::{complete_with_check_digit, synthetic_bsn};

mod support;
use support::{koppel, new_key, text};

/// A generated upload: the CSV bytes, every identifier written in it (to scan
/// outputs for), and the expected reject code per data row number.
struct Upload {
    bytes: Vec<u8>,
    identifiers: Vec<String>,
    expected_rejects: BTreeMap<u64, &'static str>,
    rows: u64,
}

/// `rows` data rows with valid, invalid and damaged BSNs. `windows1252` writes
/// a semicolon-separated Windows-1252 file as Excel on a Dutch machine does.
fn generate_upload(rows: u64, windows1252: bool) -> Upload {
    let sep = if windows1252 { ";" } else { "," };
    let mut out: Vec<u8> = Vec::new();
    out.extend_from_slice(
        format!("Trajectnummer{sep}BSN{sep}Gemeente{sep}Instrument{sep}Startdatum{sep}Opmerking\n")
            .as_bytes(),
    );
    let mut identifiers = Vec::new();
    let mut expected_rejects = BTreeMap::new();
    for i in 0..rows {
        let line = i + 2; // header is line 1
        let valid = synthetic_bsn(i).as_str().to_string();
        let (written, reject) = match i % 10 {
            0 => {
                // Change the check digit: fails the eleven-test.
                let mut digits = valid.clone().into_bytes();
                digits[8] = if digits[8] == b'9' {
                    b'0'
                } else {
                    digits[8] + 1
                };
                (String::from_utf8(digits).unwrap(), Some("bsn_eleven_test"))
            }
            1 => ("1.23457E+08".to_string(), Some("bsn_spreadsheet_damage")),
            2 => (String::new(), Some("bsn_missing")),
            3 => {
                // A BSN with a leading zero, written without it (8 digits): valid.
                let first = [
                    0,
                    (i % 9 + 1) as u8,
                    2,
                    3,
                    (i % 7) as u8,
                    5,
                    6,
                    (i % 10) as u8,
                ];
                match complete_with_check_digit(first) {
                    Some(b) => (b.as_str()[1..].to_string(), None),
                    None => (valid.clone(), None),
                }
            }
            4 => (
                format!("{}.{}.{}", &valid[..4], &valid[4..6], &valid[6..]),
                None,
            ),
            5 => (format!("{}x", &valid[..8]), Some("bsn_non_digit")),
            6 => (valid[..7].to_string(), Some("bsn_wrong_length")),
            _ => (valid.clone(), None),
        };
        if let Some(code) = reject {
            expected_rejects.insert(line, code);
        }
        let digits: String = written.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 8 && !written.contains('E') {
            identifiers.push(digits);
        }
        out.extend_from_slice(format!("T{i:06}{sep}{written}{sep}").as_bytes());
        // A municipality name with an accent, encoded per the file's encoding.
        if windows1252 {
            out.extend_from_slice(b"S\xfadwest-Frysl\xe2n");
        } else {
            out.extend_from_slice("Súdwest-Fryslân".as_bytes());
        }
        out.extend_from_slice(
            format!(
                "{sep}loonkostensubsidie{sep}01-0{}-2021{sep}\"note{sep} with delimiter\"\n",
                i % 9 + 1
            )
            .as_bytes(),
        );
    }
    Upload {
        bytes: out,
        identifiers,
        expected_rejects,
        rows,
    }
}

/// No input BSN appears anywhere, except as a chance substring of a
/// pseudonym: a pseudonym is 32 random hexadecimal digits, and with a fresh
/// key per test some pseudonym contains one of the 9-digit BSNs in a few
/// percent of runs. A match is ignored only when the whole run of letters
/// and digits around it is such a 32-digit hexadecimal token.
fn assert_no_identifier(haystack: &str, identifiers: &[String], what: &str) {
    let bytes = haystack.as_bytes();
    let inside_pseudonym = |at: usize, len: usize| {
        let mut start = at;
        while start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
            start -= 1;
        }
        let mut end = at + len;
        while end < bytes.len() && bytes[end].is_ascii_alphanumeric() {
            end += 1;
        }
        end - start == 32 && bytes[start..end].iter().all(u8::is_ascii_hexdigit)
    };
    for id in identifiers {
        let leaked = haystack
            .match_indices(id.as_str())
            .any(|(at, _)| !inside_pseudonym(at, id.len()));
        assert!(!leaked, "an input BSN appears in {what}");
    }
}

fn parse_counts(stdout: &str) -> (u64, u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("rows read:"))
        .expect("summary line");
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    (numbers[0], numbers[1], numbers[2])
}

fn read_rejects(path: &Path) -> BTreeMap<u64, String> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        reader.headers().unwrap(),
        vec!["row", "reason_code", "reason", "original_row"]
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].parse().unwrap(), r[1].to_string())
        })
        .collect()
}

fn run_pseudonymise(key: &Path, input: &Path, output: &Path, rejects: &Path) -> Output {
    koppel(&[
        "--log-format",
        "json",
        "-v",
        "pseudonymise",
        "--key",
        key.to_str().unwrap(),
        "--in",
        input.to_str().unwrap(),
        "--out",
        output.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
        "--column",
        "bsn",
    ])
}

fn check_run(windows1252: bool, extension: &str) {
    let dir = tempfile::tempdir().unwrap();
    let key = new_key(dir.path());
    let upload = generate_upload(5_000, windows1252);
    let input = dir.path().join("upload.csv");
    fs::write(&input, &upload.bytes).unwrap();
    let output = dir.path().join(format!("out.{extension}"));
    let rejects = dir.path().join("rejects.csv");

    let run = run_pseudonymise(&key, &input, &output, &rejects);
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert!(run.status.success(), "{stderr}");

    // Counts add up and match the generated faults.
    let (read, pseudonymised, rejected) = parse_counts(&stdout);
    assert_eq!(read, upload.rows);
    assert_eq!(read, pseudonymised + rejected);
    assert_eq!(rejected, upload.expected_rejects.len() as u64);

    // The rejects file lists exactly the faulty rows with the right reasons, mode 0600.
    let got: BTreeMap<u64, String> = read_rejects(&rejects);
    let expected: BTreeMap<u64, String> = upload
        .expected_rejects
        .iter()
        .map(|(r, c)| (*r, c.to_string()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        fs::metadata(&rejects).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // No input BSN in stdout, stderr (JSON logs) or the output file.
    assert_no_identifier(&stdout, &upload.identifiers, "stdout");
    assert_no_identifier(&stderr, &upload.identifiers, "stderr / logs");
    let output_bytes = fs::read(&output).unwrap();
    assert_no_identifier(&text(&output_bytes), &upload.identifiers, "the output file");

    // Logs are JSON lines carrying the key id.
    let key_id = text(&koppel(&["key", "id", key.to_str().unwrap()]).stdout)
        .trim()
        .to_string();
    assert!(
        stderr.lines().all(|l| l.trim_start().starts_with('{')),
        "{stderr}"
    );
    assert!(stderr.contains(&key_id));

    // Every other column is kept, in place; rows are the accepted ones.
    if extension == "parquet" {
        let metadata = koppel_io::read_parquet_metadata(&output).unwrap();
        assert!(metadata.contains(&("koppel.key_id".to_string(), key_id.clone())));
    }
    let mut reader = koppel_io::TableReader::open(&output, 1 << 20).unwrap();
    let frame = reader.next().unwrap().unwrap().frame;
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "Trajectnummer",
            "pseudonym",
            "Gemeente",
            "Instrument",
            "Startdatum",
            "Opmerking"
        ]
    );
    assert_eq!(frame.height() as u64, pseudonymised);
    let first = |column: &str| {
        frame
            .column(column)
            .unwrap()
            .str()
            .unwrap()
            .get(0)
            .unwrap()
            .to_string()
    };
    assert_eq!(first("Gemeente"), "Súdwest-Fryslân");
    assert!(first("Opmerking").contains("with delimiter"));
    let pseudonyms = frame.column("pseudonym").unwrap().str().unwrap().clone();
    assert!(pseudonyms
        .iter()
        .all(|p| p.is_some_and(|p| p.len() == 32 && p.bytes().all(|b| b.is_ascii_hexdigit()))));

    // Determinism: the same input and key give byte-identical output.
    let again = dir.path().join(format!("again.{extension}"));
    let rejects_again = dir.path().join("rejects-again.csv");
    let rerun = run_pseudonymise(&key, &input, &again, &rejects_again);
    assert!(rerun.status.success());
    assert_eq!(fs::read(&again).unwrap(), output_bytes);
    assert_eq!(
        fs::read(&rejects_again).unwrap(),
        fs::read(&rejects).unwrap()
    );
}

#[test]
fn utf8_comma_csv_to_csv() {
    check_run(false, "csv");
}

#[test]
fn windows1252_semicolon_csv_to_parquet() {
    check_run(true, "parquet");
}

#[test]
fn parquet_input_round_trips_and_keeps_pseudonyms_stable() {
    let dir = tempfile::tempdir().unwrap();
    let key = new_key(dir.path());
    let upload = generate_upload(1_000, false);
    let csv_in = dir.path().join("upload.csv");
    fs::write(&csv_in, &upload.bytes).unwrap();
    // Make a Parquet upload by renaming the pseudonymised column back: simplest is to
    // pseudonymise the same rows from CSV and from a Parquet copy of the CSV.
    let mut reader = koppel_io::TableReader::open(&csv_in, 1 << 20).unwrap();
    let frame = reader.next().unwrap().unwrap().frame;
    let pq_in = dir.path().join("upload.parquet");
    let mut writer = koppel_io::TableWriter::create(&pq_in, frame.schema(), &[]).unwrap();
    writer.write(&frame).unwrap();
    writer.finish().unwrap();

    let from_csv = dir.path().join("a.csv");
    let from_pq = dir.path().join("b.csv");
    let r1 = run_pseudonymise(&key, &csv_in, &from_csv, &dir.path().join("r1.csv"));
    let r2 = run_pseudonymise(&key, &pq_in, &from_pq, &dir.path().join("r2.csv"));
    assert!(
        r1.status.success() && r2.status.success(),
        "{}",
        text(&r2.stderr)
    );
    assert_eq!(
        parse_counts(&text(&r1.stdout)),
        parse_counts(&text(&r2.stdout))
    );
    assert_eq!(fs::read(&from_csv).unwrap(), fs::read(&from_pq).unwrap());
    // Parquet row numbers are 1-based row indices.
    let rejects = read_rejects(&dir.path().join("r2.csv"));
    assert_eq!(rejects.keys().next(), Some(&1));
}

#[test]
fn key_new_never_overwrites_and_key_id_is_stable() {
    let dir = tempfile::tempdir().unwrap();
    let key = new_key(dir.path());
    let before = fs::read(&key).unwrap();
    assert_eq!(
        fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = koppel(&["key", "new", "--out", key.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already exists"));
    assert_eq!(fs::read(&key).unwrap(), before);
    let id1 = koppel(&["key", "id", key.to_str().unwrap()]);
    let id2 = koppel(&["key", "id", key.to_str().unwrap()]);
    assert_eq!(id1.stdout, id2.stdout);
    assert_eq!(text(&id1.stdout).trim().len(), 16);
    // The key itself is never printed.
    let hex = String::from_utf8(before).unwrap();
    assert!(!text(&id1.stdout).contains(hex.trim()));
}

#[test]
fn group_readable_key_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let key = new_key(dir.path());
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let input = dir.path().join("upload.csv");
    fs::write(&input, generate_upload(10, false).bytes).unwrap();
    let output = dir.path().join("out.csv");
    let run = run_pseudonymise(&key, &input, &output, &dir.path().join("r.csv"));
    assert_eq!(run.status.code(), Some(2));
    let stderr = text(&run.stderr);
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(!output.exists());
}

#[test]
fn unreadable_inputs_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let key = new_key(dir.path());
    let cases: [(&str, &[u8], &str); 4] = [
        ("empty.csv", b"", "empty"),
        ("junk.csv", b"\x00\x01\x02PK\x03\x04", "not a text"),
        ("nobsn.csv", b"naam,plaats\nA,B\n", "no column 'bsn'"),
        ("data.xlsx", b"PK", "empty or incomplete"),
    ];
    for (name, bytes, message) in cases {
        let input = dir.path().join(name);
        fs::write(&input, bytes).unwrap();
        let output = dir.path().join("out.csv");
        let run = run_pseudonymise(&key, &input, &output, &dir.path().join("r.csv"));
        assert_eq!(run.status.code(), Some(2), "{name}");
        assert!(
            text(&run.stderr).contains(message),
            "{name}: {}",
            text(&run.stderr)
        );
        assert!(!output.exists(), "{name}");
    }
}

/// The leak check itself: a BSN as a field, in text or next to
/// punctuation is found; the same digits inside a 32-digit hexadecimal
/// pseudonym are not a leak.
#[test]
fn the_leak_check_finds_fields_and_ignores_chance_substrings_of_pseudonyms() {
    let ids = vec!["123456782".to_string()];
    let pseudonym = "ab12345678212345678901234567890f";
    assert_eq!(pseudonym.len(), 32);
    assert_no_identifier(&format!("{pseudonym},T000001"), &ids, "a pseudonym");
    for leak in [
        "123456782,x",
        "x;123456782",
        "note 123456782 here",
        "T123456782",
        "ab123456782123456789012345678901f",
    ] {
        let caught = std::panic::catch_unwind(|| assert_no_identifier(leak, &ids, "text"));
        assert!(caught.is_err(), "{leak}");
    }
}
