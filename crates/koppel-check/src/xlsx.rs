//! `tables.xlsx`, the workbook for analysts, checked like the CSVs: every
//! cell is scanned for person-level values, and every table sheet must show
//! exactly the published figures of the Parquet table it names.
//!
//! The workbook's layout: the first sheet is the cover (texts only); every
//! other sheet names its table's package path (`tables/NAME`) in cell A2,
//! holds the table's header in row 4 and its rows from row 5, figures as
//! numbers and suppressed figures as the text `.`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use calamine::{open_workbook_auto, Data, Reader};

use crate::figures::{check_shown, ShownRows};
use crate::tables::Table;
use crate::{scan, Report, Rule};

/// The row (0-based) holding a table sheet's package path.
const PATH_ROW: u32 = 1;
/// The row (0-based) holding a table sheet's header.
const HEADER_ROW: u32 = 3;

/// A cell as text, numbers as they print (`40`, `12.5`).
fn text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(v) => format!("{v}"),
        Data::Int(v) => format!("{v}"),
        other => other.to_string(),
    }
}

/// Checks the workbook `rel` (relative to `dir`) against the package's
/// long-form tables, by Parquet file.
pub(crate) fn check_workbook(
    dir: &Path,
    rel: &str,
    tables: &BTreeMap<String, Table>,
    report: &mut Report,
) {
    let mut workbook = match open_workbook_auto(dir.join(rel)) {
        Ok(w) => w,
        Err(e) => {
            report.add(rel, Rule::Format, format!("not a readable workbook ({e})"));
            return;
        }
    };
    let names = workbook.sheet_names();
    scan::check_values(rel, names.iter().map(String::as_str), report);
    let mut seen = BTreeSet::new();
    for (index, name) in names.iter().enumerate() {
        let file = format!("{rel} [sheet {name}]");
        let range = match workbook.worksheet_range(name) {
            Ok(r) => r,
            Err(e) => {
                report.add(file, Rule::Format, format!("cannot be read ({e})"));
                continue;
            }
        };
        let texts: Vec<String> = range.used_cells().map(|(_, _, c)| text(c)).collect();
        scan::check_values(&file, texts.iter().map(String::as_str), report);
        if index == 0 {
            // The cover: titles, definitions and the list of tables.
            continue;
        }
        let cell = |row: u32, col: u32| range.get_value((row, col)).map(text).unwrap_or_default();
        let path = cell(PATH_ROW, 0);
        let parquet = format!("{path}.parquet");
        let Some(table) = tables.get(&parquet) else {
            report.add(
                file.clone(),
                Rule::Figures,
                format!(
                    "cell A{}: {path:?} is not a table of the package: its figures cannot be verified",
                    PATH_ROW + 1
                ),
            );
            continue;
        };
        if !seen.insert(parquet.clone()) {
            report.add(
                file.clone(),
                Rule::Figures,
                format!("{path} is shown twice"),
            );
        }
        let width = range.end().map_or(0, |(_, c)| c + 1);
        let height = range.end().map_or(0, |(r, _)| r + 1);
        let header: Vec<String> = (0..width).map(|c| cell(HEADER_ROW, c)).collect();
        scan::check_columns(&file, &header, report);
        let lines = (HEADER_ROW + 1..height)
            .map(|r| {
                let mut fields: Vec<String> = (0..width).map(|c| cell(r, c)).collect();
                while fields.last().is_some_and(String::is_empty) {
                    fields.pop();
                }
                (r as usize + 1, Ok(fields))
            })
            .filter(|(_, f)| f.as_ref().is_ok_and(|f| !f.is_empty()))
            .collect();
        let shown = ShownRows {
            header,
            lines,
            decimal_comma: false,
        };
        check_shown(&file, &shown, table, report);
    }
}
