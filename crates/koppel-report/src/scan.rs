//! The identifier scan of a written package (defence in depth: the tables
//! hold aggregates only, but a misconfigured table could use an identifier
//! column as a dimension, and a caller's text could carry one).
//!
//! Flags, in every text file, in every cell of every Parquet file and in
//! every cell of every sheet of an `.xlsx` workbook (read back, since its
//! text is compressed):
//! - a pseudonym-shaped token: a maximal run of exactly 32 hex digits
//!   (docs/pseudonymisation.md writes pseudonyms as 32 lowercase hex characters);
//! - a BSN-shaped token: a maximal run of 9 digits that passes the
//!   eleven-test and is not all zeros (not applied to `manifest.json`,
//!   whose provenance may hold file sizes; it is checked for pseudonyms).

use std::path::Path;

use polars::prelude::*;

use crate::{io_err, walk_files, ReportError};

/// Whether nine digits pass the BSN eleven-test (docs/pseudonymisation.md).
pub fn passes_eleven_test(digits: &[u8]) -> bool {
    if digits.len() != 9 || digits.iter().all(|&d| d == b'0') {
        return false;
    }
    let mut sum: i64 = 0;
    for (i, &d) in digits.iter().enumerate() {
        let w = if i == 8 { -1 } else { 9 - i as i64 };
        sum += w * (d - b'0') as i64;
    }
    sum % 11 == 0
}

/// Identifier-shaped tokens in a text (descriptions, not the tokens).
pub fn find_identifiers(text: &str, bsn: bool) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphanumeric() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let tok = &b[start..i];
            if tok.len() == 32 && tok.iter().all(u8::is_ascii_hexdigit) {
                out.push(format!("a pseudonym-shaped token at byte {start}"));
            }
            // A BSN stands alone: nine digits between non-alphanumerics.
            if bsn
                && tok.len() == 9
                && tok.iter().all(u8::is_ascii_digit)
                && passes_eleven_test(tok)
            {
                out.push(format!("a BSN-shaped number at byte {start}"));
            }
        } else {
            i += 1;
        }
    }
    out
}

fn parquet_strings(path: &Path) -> Result<Vec<String>, ReportError> {
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| ReportError::Table(format!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    for c in df.columns() {
        out.push(c.name().to_string());
        if let Ok(s) = c.cast(&DataType::String) {
            if let Ok(ca) = s.str() {
                out.extend(ca.iter().flatten().map(str::to_string));
            }
        }
    }
    Ok(out)
}

/// The texts of every cell (numbers as they print) and every sheet name of
/// an `.xlsx` workbook.
fn xlsx_strings(path: &Path) -> Result<Vec<String>, ReportError> {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let unreadable = |source| ReportError::XlsxRead {
        path: path.to_path_buf(),
        source,
    };
    let mut wb: Xlsx<_> = open_workbook(path).map_err(unreadable)?;
    let mut out = Vec::new();
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).map_err(unreadable)?;
        out.push(name);
        out.extend(range.used_cells().map(|(_, _, cell)| match cell {
            Data::Float(v) => format!("{v}"),
            other => other.to_string(),
        }));
    }
    Ok(out)
}

/// Scans every file of a package; returns the findings.
pub fn scan_package(dir: &Path) -> Result<Vec<String>, ReportError> {
    let mut findings = Vec::new();
    walk_files(dir, |p| {
        let rel = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
        let is_manifest = p.file_name().is_some_and(|n| n == "manifest.json");
        let texts = if p.extension().is_some_and(|e| e == "parquet") {
            parquet_strings(&p)?
        } else if p.extension().is_some_and(|e| e == "xlsx") {
            xlsx_strings(&p)?
        } else {
            let bytes = std::fs::read(&p).map_err(io_err(&p))?;
            vec![String::from_utf8_lossy(&bytes).into_owned()]
        };
        for t in texts {
            for f in find_identifiers(&t, !is_manifest) {
                findings.push(format!("{rel}: {f}"));
            }
        }
        Ok(())
    })?;
    Ok(findings)
}
