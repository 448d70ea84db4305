//! Person-level data in a package: identifier columns, and values shaped
//! like a pseudonym or a BSN, in every file.

use std::path::Path;

use crate::{CheckError, Report, Rule};

/// Column names that hold person-level data (compared case-insensitively).
const PERSON_LEVEL_COLUMNS: [&str; 11] = [
    "bsn",
    "burgerservicenummer",
    "pseudonym",
    "pseudo_id",
    "person_id",
    "trajectory_id",
    "job_id",
    "unrounded",
    "contributors",
    "birth_date",
    "postcode",
];

/// Refuses identifier columns.
pub(crate) fn check_columns(file: &str, columns: &[String], report: &mut Report) {
    for c in columns {
        let lower = c.trim().to_ascii_lowercase();
        if PERSON_LEVEL_COLUMNS.contains(&lower.as_str()) {
            report.add(
                file,
                Rule::PersonLevel,
                format!("column {c:?} holds person-level data and may not be in a package"),
            );
        }
    }
}

/// Counts of identifier-shaped tokens.
#[derive(Default)]
struct Shapes {
    pseudonyms: usize,
    bsns: usize,
}

impl Shapes {
    /// Maximal runs of 32 hex characters (a pseudonym's written form) and
    /// maximal runs of nine digits, not part of a longer word, that pass the
    /// eleven-test (a BSN).
    fn scan(&mut self, text: &str, bsn: bool) {
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if !b[i].is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let token = &b[start..i];
            if token.len() == 32 && token.iter().all(u8::is_ascii_hexdigit) {
                self.pseudonyms += 1;
            }
            if bsn && token.len() == 9 && token.iter().all(u8::is_ascii_digit) && eleven(token) {
                self.bsns += 1;
            }
        }
    }

    fn report(&self, file: &str, report: &mut Report) {
        if self.pseudonyms > 0 {
            report.add(
                file,
                Rule::PersonLevel,
                format!(
                    "{} value(s) shaped like a pseudonym (32 hex characters)",
                    self.pseudonyms
                ),
            );
        }
        if self.bsns > 0 {
            report.add(
                file,
                Rule::PersonLevel,
                format!(
                    "{} number(s) shaped like a BSN (nine digits passing the eleven-test)",
                    self.bsns
                ),
            );
        }
    }
}

fn eleven(d: &[u8]) -> bool {
    if d.iter().all(|&x| x == b'0') {
        return false;
    }
    let mut sum: i64 = 0;
    for (i, &x) in d.iter().enumerate() {
        let w = if i == 8 { -1 } else { 9 - i as i64 };
        sum += w * i64::from(x - b'0');
    }
    sum.rem_euclid(11) == 0
}

/// Scans the string values of a table.
pub(crate) fn check_values<'a>(
    file: &str,
    texts: impl Iterator<Item = &'a str>,
    report: &mut Report,
) {
    let mut shapes = Shapes::default();
    for t in texts {
        shapes.scan(t, true);
    }
    shapes.report(file, report);
}

/// Scans a non-Parquet file as text. Manifests are scanned for pseudonyms
/// only: their provenance holds file sizes, which may look like a BSN.
pub(crate) fn check_file(dir: &Path, file: &str, report: &mut Report) -> Result<(), CheckError> {
    let path = dir.join(file);
    let bytes = std::fs::read(&path).map_err(|source| CheckError::Io {
        path: path.clone(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let mut shapes = Shapes::default();
    shapes.scan(&text, !file.ends_with("manifest.json"));
    if file.ends_with(".csv") {
        // The header row names the columns.
        let header: Vec<String> = text
            .trim_start_matches('\u{feff}')
            .lines()
            .next()
            .unwrap_or("")
            .split([';', ','])
            .map(|c| c.trim_matches('"').to_string())
            .collect();
        check_columns(file, &header, report);
    }
    shapes.report(file, report);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_found_as_whole_tokens() {
        let mut s = Shapes::default();
        s.scan("0123456789abcdef0123456789abcdef", true);
        s.scan("a 123456782 b", true);
        s.scan("T123456782 sha 0123456789abcdef0123456789abcdef00", true);
        s.scan("123456789", true);
        assert_eq!((s.pseudonyms, s.bsns), (1, 1));
    }
}
