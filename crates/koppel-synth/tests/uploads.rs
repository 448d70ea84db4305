//! Every injected upload fault is listed in `truth/faults.csv`, and nothing
//! else is: an independent checker re-derives the faults from the files.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use koppel_pseudonym::bsn::{normalise_bsn, BsnProblem};
use koppel_synth::date::{from_ymd, parse_iso, Day};
use koppel_synth::{generate, Catalogue, RegisterFormat, SynthConfig};

fn parse_dutch(s: &str) -> Option<Day> {
    let b = s.as_bytes();
    if b.len() != 10 || b[2] != b'-' || b[5] != b'-' {
        return None;
    }
    parse_iso(&format!("{}-{}-{}", &s[6..10], &s[3..5], &s[0..2]))
}

fn read_csv(path: &Path) -> Vec<csv::StringRecord> {
    csv::Reader::from_path(path)
        .unwrap()
        .records()
        .map(Result::unwrap)
        .collect()
}

/// (file, row, column, fault) found by inspecting the files.
fn detect(dir: &Path, catalogue: &Catalogue) -> BTreeSet<(String, u64, String, String)> {
    let register: HashSet<String> = read_csv(&dir.join("registers/persons.csv"))
        .iter()
        .map(|r| r[0].to_string())
        .collect();
    let mut found = BTreeSet::new();
    for f in read_csv(&dir.join("truth/files.csv")) {
        let (file, encoding, delimiter, date_format) = (&f[0], &f[2], &f[3], &f[5]);
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let text = match encoding {
            "windows-1252" => encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned(),
            "utf-8-bom" => {
                assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
                String::from_utf8(bytes[3..].to_vec()).unwrap()
            }
            _ => String::from_utf8(bytes).unwrap(),
        };
        // No field contains a line break, so every line is one record; the
        // header is line 1.
        let parse_line = |line: &str| -> Vec<String> {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .delimiter(delimiter.as_bytes()[0])
                .from_reader(line.as_bytes());
            reader
                .records()
                .next()
                .unwrap()
                .unwrap()
                .iter()
                .map(str::to_string)
                .collect()
        };
        let mut lines = text.lines();
        assert_eq!(
            parse_line(lines.next().unwrap()).join("|"),
            f[4].to_string()
        );
        let mut seen: HashSet<Vec<String>> = HashSet::new();
        let mut rows = 0u64;
        for (i, raw) in lines.enumerate() {
            let line = i as u64 + 2;
            rows += 1;
            let fields = parse_line(raw);
            assert_eq!(fields.len(), 9);
            let mut add = |column: &str, fault: &str| {
                found.insert((
                    file.to_string(),
                    line,
                    column.to_string(),
                    fault.to_string(),
                ));
            };
            if !seen.insert(fields.clone()) {
                add("", "duplicate_row");
                continue;
            }
            match normalise_bsn(&fields[0]) {
                Ok(bsn) if !register.contains(bsn.as_str()) => add("bsn", "bsn_not_in_registers"),
                Ok(_) => {}
                Err(BsnProblem::Missing) => add("bsn", "bsn_missing"),
                Err(BsnProblem::SpreadsheetDamage) => add("bsn", "bsn_spreadsheet_damage"),
                Err(BsnProblem::ElevenTest) => add("bsn", "bsn_eleven_test"),
                Err(other) => add("bsn", other.code()),
            }
            if !catalogue.knows(&fields[3]) {
                add("instrument", "unknown_instrument");
            }
            let parse = |s: &str| {
                if date_format == "DD-MM-YYYY" {
                    parse_dutch(s)
                } else {
                    parse_iso(s)
                }
            };
            let start = parse(&fields[5]);
            let end = if fields[6].is_empty() {
                None
            } else {
                Some(parse(&fields[6]))
            };
            if start.is_none() {
                add("start_date", "unparseable_date");
            }
            if end == Some(None) {
                add("end_date", "unparseable_date");
            }
            if let (Some(s), Some(Some(e))) = (start, end) {
                if e < s {
                    add("end_date", "end_before_start");
                }
            }
            assert!(fields[1].starts_with("GM") && fields[1].len() == 6);
            assert!(["completed", "not_completed", "ongoing", "moved", "other"]
                .contains(&fields[7].as_str()));
            assert_eq!(
                fields[6].is_empty(),
                fields[7] == "ongoing",
                "ongoing iff no end date"
            );
            assert!(
                ["werk", "perspectief", "meedoen", "niet_ingedeeld"].contains(&fields[8].as_str())
            );
        }
        assert_eq!(rows.to_string(), f[9].to_string(), "data_rows of {file}");
    }
    found
}

#[test]
fn truth_lists_every_injected_fault_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let catalogue = Catalogue::builtin();
    let config = SynthConfig {
        persons: 30_000,
        municipalities: 12,
        seed: 7,
        fault_rate: 0.08,
        format: RegisterFormat::Csv,
        ..SynthConfig::default()
    };
    let summary = generate(&config, dir.path()).unwrap();
    let truth: BTreeSet<(String, u64, String, String)> =
        read_csv(&dir.path().join("truth/faults.csv"))
            .iter()
            .map(|r| {
                (
                    r[0].to_string(),
                    r[1].parse().unwrap(),
                    r[2].to_string(),
                    r[3].to_string(),
                )
            })
            .collect();
    assert_eq!(truth.len() as u64, summary.faults);
    let found = detect(dir.path(), &catalogue);
    let missing: Vec<_> = truth.difference(&found).take(5).collect();
    let extra: Vec<_> = found.difference(&truth).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "listed but not found: {missing:?}\nfound but not listed: {extra:?}"
    );
    // Every fault kind occurs, and data rows start at line 2.
    let kinds: HashMap<&str, usize> = truth.iter().fold(HashMap::new(), |mut m, t| {
        *m.entry(t.3.as_str()).or_default() += 1;
        m
    });
    assert_eq!(kinds.len(), 8, "{kinds:?}");
    assert!(truth.iter().all(|t| t.1 >= 2));
    // The fault rate is roughly honoured.
    let rate = summary.faults as f64 / summary.upload_rows as f64;
    assert!((0.06..0.10).contains(&rate), "fault rate {rate}");
}

#[test]
fn clean_uploads_and_registers_have_only_valid_bsns() {
    let dir = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        persons: 20_000,
        municipalities: 6,
        fault_rate: 0.0,
        format: RegisterFormat::Csv,
        from: from_ymd(2018, 1, 1),
        to: from_ymd(2022, 12, 31),
        ..SynthConfig::default()
    };
    let summary = generate(&config, dir.path()).unwrap();
    assert_eq!(summary.faults, 0);
    assert!(summary.upload_rows > 1_000, "{summary:?}");
    for name in ["persons", "benefits", "employment"] {
        for r in read_csv(&dir.path().join(format!("registers/{name}.csv"))) {
            assert_eq!(r[0].len(), 9);
            assert!(
                normalise_bsn(&r[0]).is_ok(),
                "register {name} has an invalid BSN"
            );
        }
    }
    let found = detect(dir.path(), &Catalogue::builtin());
    assert!(
        found.is_empty(),
        "{:?}",
        found.iter().take(5).collect::<Vec<_>>()
    );
    // Some uploads drop the leading zero of BSNs: 8-digit values occur.
    let eight = std::fs::read_dir(dir.path().join("uploads"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .any(|b| {
            b.split(|c| *c == b'\n')
                .skip(1)
                .any(|l| l.iter().position(|c| *c == b';' || *c == b',') == Some(8))
        });
    assert!(eight, "expected some 8-digit BSNs");
}
