//! The validation report: counts and row-level problems, never an identifier.
//! Rendered as text (the CLI), CSV or a small self-contained HTML page.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::dutch::{rejected_line_en, rejected_line_nl};
use crate::schema::InputKind;

/// One problem in one row. Never holds a BSN: reasons describe the value
/// without quoting it for the `bsn` column, and any quoted value or
/// `trajectory_id` that could be a BSN is withheld.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The input file.
    pub file: String,
    /// Row number: the physical line for CSV (the first line is 1), the row
    /// number the spreadsheet shows for a workbook, the 1-based row index
    /// for Parquet.
    pub row: u64,
    /// Canonical column, empty for whole-row problems.
    pub column: String,
    /// The column's header as written in the file (empty when none).
    pub source_column: String,
    /// Stable machine code (`bsn_eleven_test`, `unparseable_date`, …).
    pub reason_code: String,
    /// Plain-language reason.
    pub reason: String,
    /// The reason in Dutch, naming what the column allows in Dutch.
    pub reason_nl: String,
    /// The row's `trajectory_id`, when the file has one.
    pub trajectory_id: Option<String>,
}

/// A canonical column and the header it was read from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ColumnMapping {
    /// Canonical name.
    pub column: String,
    /// Header in the file, `None` when the (optional) column is absent.
    pub source: Option<String>,
}

/// What validation (or ingest) found in one file.
///
/// `rows_read = accepted + rejected` always holds. A row is rejected once,
/// however many problems it has: `rejected_by_reason` counts rejected rows by
/// their first problem (so it sums to `rejected`), `problems_by_reason`
/// counts every problem. An exact duplicate of an earlier accepted row is
/// rejected with `duplicate_row` (the first occurrence is kept), so
/// `duplicates` is included in `rejected`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValidationReport {
    /// The input file.
    pub file: String,
    /// Input kind.
    pub kind: InputKind,
    /// `csv`, `parquet`, or a workbook's extension (`xlsx`, `ods`, …).
    pub format: String,
    /// The sheet read (workbooks only).
    pub sheet: Option<String>,
    /// Detected text encoding (CSV only).
    pub encoding: Option<String>,
    /// Detected delimiter (CSV only).
    pub delimiter: Option<String>,
    /// The line (row) the header is on; more than 1 when title rows or
    /// blank lines precede it. `None` for Parquet.
    pub header_row: Option<u64>,
    /// Data rows read (blank lines are not rows).
    pub rows_read: u64,
    /// Rows that passed every check.
    pub accepted: u64,
    /// Rows rejected (duplicates included).
    pub rejected: u64,
    /// Rows rejected as exact duplicates of an earlier row.
    pub duplicates: u64,
    /// Blank lines skipped (empty, whitespace or delimiters only).
    pub blank_lines: u64,
    /// Totals rows skipped (no BSN, a cell reading `Totaal`, `Total`, …):
    /// not data rows, so not in `rows_read`.
    pub footer_rows: u64,
    /// The row of the first totals row.
    pub footer_row: Option<u64>,
    /// Rejected rows per reason code (first problem of each row).
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Rejected rows per reason code, each row counted under every reason
    /// it has (so no problem hides behind another).
    pub rows_by_reason: BTreeMap<String, u64>,
    /// Every problem per reason code.
    pub problems_by_reason: BTreeMap<String, u64>,
    /// How each canonical column was found.
    pub columns: Vec<ColumnMapping>,
    /// Columns of the file that are not part of the input contract: not
    /// validated and not written by ingest.
    pub ignored_columns: Vec<String>,
    /// The problems, in row order (at most `max_problems`).
    pub problems: Vec<Problem>,
    /// Number of problems found (also those not listed).
    pub problems_total: u64,
    /// Free-text columns that hold BSNs (a clerk typed or built them into a
    /// trajectory number, say): canonical column → number of values. Such
    /// values never leave the quarantine (trajectory and job numbers are
    /// written as keyed hashes, other free text is not written); the
    /// municipality is warned once per file and column ([`Self::warnings`]).
    pub bsn_in_columns: BTreeMap<String, u64>,
    /// BSNs of a workbook typed as numbers, which had lost their leading
    /// zeros and were restored to nine digits (they then pass the
    /// eleven-test); such rows are accepted and warned about.
    pub bsn_zeros_restored: u64,
    /// The first row with such a BSN.
    pub bsn_zeros_restored_row: Option<u64>,
    /// The key id used (ingest only).
    pub key_id: Option<String>,
}

impl ValidationReport {
    /// True when no row was rejected.
    pub fn is_clean(&self) -> bool {
        self.rejected == 0
    }

    /// The warnings, each as (Dutch, English): one per free-text column
    /// that holds BSNs, and one for BSNs restored to nine digits.
    pub fn warnings(&self) -> Vec<(String, String)> {
        let mut out = self.bsn_in_columns_warnings();
        if let Some(row) = self.bsn_zeros_restored_row {
            let n = self.bsn_zeros_restored;
            let (nl_rows, en_rows) = if n == 1 {
                (format!("1 BSN (regel {row})"), format!("1 BSN (row {row})"))
            } else {
                (
                    format!("{n} BSN's (de eerste op regel {row})"),
                    format!("{n} BSNs (the first on row {row})"),
                )
            };
            out.push((
                format!(
                    "{nl_rows} stond als getal in het werkblad en miste de voorloopnullen; \
                     aangevuld tot 9 cijfers (de elfproef klopt dan). Maak de BSN-kolom \
                     voortaan tekst"
                ),
                format!(
                    "{en_rows} typed as a number in the sheet had lost leading zeros; restored \
                     to 9 digits (the eleven-test then passes). Format the BSN column as text"
                ),
            ));
        }
        out
    }

    fn bsn_in_columns_warnings(&self) -> Vec<(String, String)> {
        self.bsn_in_columns
            .iter()
            .map(|(column, n)| {
                (
                    format!(
                        "kolom {column} bevat BSN's ({n} waarden); gebruik daar een eigen nummer zonder BSN"
                    ),
                    format!(
                        "column {column} contains BSNs ({n} values); use a number there that is not built from the BSN"
                    ),
                )
            })
            .collect()
    }

    /// Problems found but not listed (beyond `max_problems`).
    pub fn problems_omitted(&self) -> u64 {
        self.problems_total - self.problems.len() as u64
    }

    /// The summary as plain text lines (for a terminal).
    pub fn summary_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "file: {} ({}, {})",
            self.file,
            self.kind,
            self.format_line()
        );
        if let Some(line) = self.header_row.filter(|&l| l > 1) {
            let _ = writeln!(
                out,
                "header on line {line} (the lines above it are titles or blank and were skipped)"
            );
        }
        let _ = writeln!(
            out,
            "rows read: {} / accepted: {} / rejected: {}",
            self.rows_read, self.accepted, self.rejected
        );
        if !self.rows_by_reason.is_empty() {
            let _ = writeln!(
                out,
                "rejected rows by reason (a row with several problems counts under each):"
            );
        }
        for (code, count) in &self.rows_by_reason {
            let _ = writeln!(out, "  {count:>10}  {code}  ({})", reason_title(code));
        }
        if let Some(line) = self.footer_row {
            let _ = writeln!(
                out,
                "{}: line {line} (a totals row, not data; not counted as a row)",
                if self.footer_rows == 1 {
                    "footer_row skipped".to_string()
                } else {
                    format!("{} footer rows skipped, the first", self.footer_rows)
                }
            );
        }
        if self.blank_lines > 0 {
            let _ = writeln!(out, "blank lines skipped: {}", self.blank_lines);
        }
        if !self.ignored_columns.is_empty() {
            let _ = writeln!(
                out,
                "columns not used (not part of the {} contract): {}",
                self.kind,
                self.ignored_columns.join(", ")
            );
        }
        for (_, en) in self.warnings() {
            let _ = writeln!(out, "warning: {en}");
        }
        out
    }

    fn format_line(&self) -> String {
        let mut parts = vec![self.format.clone()];
        if let Some(s) = &self.sheet {
            parts.push(format!("sheet '{s}'"));
        }
        if let Some(e) = &self.encoding {
            parts.push(e.clone());
        }
        if let Some(d) = &self.delimiter {
            parts.push(format!("delimiter '{d}'"));
        }
        parts.join(", ")
    }

    /// The problems as CSV: `file,row,column,source_column,reason_code,reason,trajectory_id`.
    pub fn to_csv(&self) -> String {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let _ = writer.write_record([
            "file",
            "row",
            "column",
            "source_column",
            "reason_code",
            "reason",
            "trajectory_id",
        ]);
        for p in &self.problems {
            let row = p.row.to_string();
            let _ = writer.write_record([
                p.file.as_str(),
                &row,
                &p.column,
                &p.source_column,
                &p.reason_code,
                &p.reason,
                p.trajectory_id.as_deref().unwrap_or(""),
            ]);
        }
        let bytes = writer.into_inner().unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }

    /// A small self-contained HTML page (inline CSS, no scripts, no network)
    /// for a municipal clerk: a summary in Dutch and English and a table of
    /// every problem by row.
    pub fn to_html(&self) -> String {
        let file_name = Path::new(&self.file)
            .file_name()
            .map_or_else(|| self.file.clone(), |n| n.to_string_lossy().into_owned());
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"nl\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>Controle {f} — koppel validate</title>\n<style>\n\
             body{{font-family:system-ui,Segoe UI,Arial,sans-serif;margin:2em auto;max-width:70em;color:#1b1b1b;padding:0 1em}}\n\
             h1{{font-size:1.5em}} .ok{{background:#e6f4ea;border-left:6px solid #1e8e3e;padding:.8em}}\n\
             .bad{{background:#fdecea;border-left:6px solid #c5221f;padding:.8em}}\n\
             table{{border-collapse:collapse;margin:1em 0;width:100%}} th,td{{border:1px solid #ccc;padding:.35em .6em;text-align:left;vertical-align:top}}\n\
             th{{background:#f1f3f4}} td.n{{text-align:right;font-variant-numeric:tabular-nums}} .en{{color:#555;font-size:.9em}}\n\
             </style>\n</head>\n<body>\n<h1>Controle van <code>{f}</code></h1>\n",
            f = esc(&file_name)
        );
        let _ = writeln!(
            h,
            "<p>Soort bestand / kind: <b>{}</b> · {}</p>",
            esc(self.kind.as_str()),
            esc(&self.format_line())
        );
        if self.is_clean() {
            let (nl, en) = if self.rows_read == 1 {
                (
                    "De enige regel is goedgekeurd.".to_string(),
                    "The only row was accepted.".to_string(),
                )
            } else {
                (
                    format!("Alle {} regels zijn goedgekeurd.", self.rows_read),
                    format!("All {} rows were accepted.", self.rows_read),
                )
            };
            let _ = writeln!(
                h,
                "<p class=\"ok\">{nl} Het bestand kan worden aangeleverd.<br>\
                 <span class=\"en\">{en} The file can be uploaded.</span></p>"
            );
        } else {
            let _ = writeln!(
                h,
                "<p class=\"bad\">{} Verbeter deze regels in het bronbestand \
                 en controleer het bestand opnieuw.<br><span class=\"en\">{} \
                 Correct these rows in the source file and validate it again.</span></p>",
                rejected_line_nl(self.rejected, self.rows_read),
                rejected_line_en(self.rejected, self.rows_read)
            );
        }
        if let Some(line) = self.header_row.filter(|&l| l > 1) {
            let _ = writeln!(
                h,
                "<p>De kopregel staat op regel {line}; de regels erboven (titel of leeg) zijn overgeslagen.<br>\
                 <span class=\"en\">The header is on line {line}; the lines above it (title or blank) were skipped.</span></p>"
            );
        }
        if let Some(line) = self.footer_row {
            let _ = writeln!(
                h,
                "<p>Regel {line} is een totaalregel en geen gegevensregel; die is overgeslagen.<br>\
                 <span class=\"en\">Line {line} is a totals row, not data; it was skipped (footer_row).</span></p>"
            );
        }
        for (nl, en) in self.warnings() {
            let _ = writeln!(
                h,
                "<p class=\"bad\">Let op: {}.<br><span class=\"en\">Warning: {}.</span></p>",
                esc(&nl),
                esc(&en)
            );
        }
        h.push_str("<h2>Samenvatting <span class=\"en\">/ summary</span></h2>\n<table>\n");
        let _ = write!(
            h,
            "<tr><th>Gelezen regels <span class=\"en\">rows read</span></th><td class=\"n\">{}</td></tr>\n\
             <tr><th>Goedgekeurd <span class=\"en\">accepted</span></th><td class=\"n\">{}</td></tr>\n\
             <tr><th>Afgekeurd <span class=\"en\">rejected</span></th><td class=\"n\">{}</td></tr>\n",
            self.rows_read, self.accepted, self.rejected
        );
        if self.blank_lines > 0 {
            let _ = writeln!(
                h,
                "<tr><th>Lege regels overgeslagen <span class=\"en\">blank lines skipped</span></th><td class=\"n\">{}</td></tr>",
                self.blank_lines
            );
        }
        h.push_str("</table>\n");
        if !self.rows_by_reason.is_empty() {
            h.push_str(
                "<h2>Afgekeurd per reden <span class=\"en\">/ rejected rows by reason</span></h2>\n\
                 <p class=\"en\">Een regel met meer problemen telt bij elke reden mee. \
                 A row with several problems counts under each reason.</p>\n\
                 <table>\n<tr><th>Reden</th><th>Code</th><th>Aantal regels</th></tr>\n",
            );
            for (code, count) in &self.rows_by_reason {
                let _ = writeln!(
                    h,
                    "<tr><td>{}<br><span class=\"en\">{}</span></td><td><code>{}</code></td><td class=\"n\">{}</td></tr>",
                    esc(reason_title_nl(code)),
                    esc(reason_title(code)),
                    esc(code),
                    count
                );
            }
            h.push_str("</table>\n");
        }
        if !self.ignored_columns.is_empty() {
            let _ = writeln!(
                h,
                "<p>Kolommen die niet worden gebruikt <span class=\"en\">(columns not used)</span>: {}</p>",
                esc(&self.ignored_columns.join(", "))
            );
        }
        if !self.problems.is_empty() {
            h.push_str(
                "<h2>Problemen per regel <span class=\"en\">/ problems by row</span></h2>\n\
                 <p class=\"en\">Regelnummer = regel (rij) in het bestand zoals een spreadsheet die toont (de eerste regel = 1). \
                 Het BSN wordt nooit getoond.</p>\n\
                 <table>\n<tr><th>Regel</th><th>Kolom</th><th>Probleem</th><th>Trajectnummer</th></tr>\n",
            );
            for p in &self.problems {
                let column = if p.source_column.is_empty() {
                    p.column.clone()
                } else {
                    p.source_column.clone()
                };
                let _ = writeln!(
                    h,
                    "<tr><td class=\"n\">{}</td><td>{}</td><td>{}<br><span class=\"en\">{}</span></td><td>{}</td></tr>",
                    p.row,
                    esc(&column),
                    esc(&p.reason_nl),
                    esc(&p.reason),
                    esc(p.trajectory_id.as_deref().unwrap_or(""))
                );
            }
            h.push_str("</table>\n");
            if self.problems_omitted() > 0 {
                let _ = writeln!(
                    h,
                    "<p>… en nog {} problemen die hier niet zijn opgenomen <span class=\"en\">(and {} more not listed)</span>.</p>",
                    self.problems_omitted(),
                    self.problems_omitted()
                );
            }
        }
        h.push_str("<p class=\"en\">Gemaakt met / made with <code>koppel validate</code>.</p>\n</body>\n</html>\n");
        h
    }
}

/// A short English title for a reason code.
pub fn reason_title(code: &str) -> &'static str {
    match code {
        "bsn_missing" => "BSN is empty",
        "bsn_spreadsheet_damage" => "BSN damaged by a spreadsheet",
        "bsn_non_digit" => "BSN contains other characters",
        "bsn_wrong_length" => "BSN does not have 8 or 9 digits",
        "bsn_all_zeros" => "BSN is all zeros",
        "bsn_eleven_test" => "BSN fails the eleven-test",
        "missing_value" => "required value is empty",
        "unparseable_date" => "not a valid date",
        "date_out_of_range" => "date outside the allowed years",
        "end_before_start" => "end date before start date",
        "invalid_municipality_code" => "not a municipality code",
        "unknown_municipality" => "unknown municipality code",
        "unknown_instrument" => "unknown instrument",
        "invalid_value" => "value not allowed",
        "not_a_number" => "not a number",
        "number_out_of_range" => "number out of range",
        "duplicate_row" => "exact copy of an earlier row",
        "field_count" => "wrong number of fields",
        "merged_cells" => "merged cells",
        "encoding" => "unreadable characters",
        "row_too_long" => "row too long",
        "unclosed_quote" => "quote not closed",
        _ => "other problem",
    }
}

/// A short Dutch title for a reason code (for the HTML report).
pub fn reason_title_nl(code: &str) -> &'static str {
    match code {
        "bsn_missing" => "BSN ontbreekt",
        "bsn_spreadsheet_damage" => {
            "BSN beschadigd door spreadsheet (bijv. 1,23457E+08): maak de kolom tekst en exporteer opnieuw"
        }
        "bsn_non_digit" => "BSN bevat andere tekens dan cijfers",
        "bsn_wrong_length" => "BSN heeft geen 8 of 9 cijfers",
        "bsn_all_zeros" => "BSN bestaat alleen uit nullen",
        "bsn_eleven_test" => "BSN voldoet niet aan de elfproef (tikfout?)",
        "missing_value" => "Verplicht veld is leeg",
        "unparseable_date" => "Geen geldige datum (gebruik DD-MM-JJJJ of JJJJ-MM-DD)",
        "date_out_of_range" => "Datum valt buiten de toegestane jaren",
        "end_before_start" => "Einddatum ligt vóór de startdatum",
        "invalid_municipality_code" => "Geen gemeentecode (verwacht GM + 4 cijfers)",
        "unknown_municipality" => "Onbekende gemeentecode",
        "unknown_instrument" => "Onbekend instrument",
        "invalid_value" => "Waarde niet toegestaan",
        "not_a_number" => "Geen getal",
        "number_out_of_range" => "Getal buiten het toegestane bereik",
        "duplicate_row" => "Dubbele regel (precies gelijk aan een eerdere regel)",
        "field_count" => "Verkeerd aantal velden (scheidingsteken of aanhalingstekens?)",
        "merged_cells" => {
            "Samengevoegde cellen: de waarde staat alleen in de eerste cel; maak de samenvoeging \
             ongedaan en vul elke regel"
        }
        "encoding" => "Onleesbare tekens (tekenset)",
        "row_too_long" => "Regel is te lang",
        "unclosed_quote" => "Aanhalingsteken niet gesloten (bestand afgebroken?)",
        _ => "Ander probleem",
    }
}

/// Escape text for HTML.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
