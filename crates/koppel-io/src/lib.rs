//! Tabular input and output for koppel.
//!
//! Reading: [`TableReader`] opens a CSV, Parquet or spreadsheet file (`.xlsx`,
//! `.xlsm`, `.xlsb`, `.xls`, `.ods`; see [`TableFormat::Sheet`]) and yields [`Batch`]es of
//! a bounded number of rows, so files larger than memory stream through. CSV
//! dialects are detected ([`sniff_csv`]): delimiter `,` `;` tab or `|`, UTF-8
//! with or without BOM or Windows-1252, quoted fields, empty lines. Every data
//! row is accounted for: it either lands in the batch frame or is listed as a
//! [`MalformedRow`] with its source row number and a reason.
//!
//! Writing: [`TableWriter`] writes CSV (comma, UTF-8) or Parquet batch by batch
//! to a temporary file and renames it into place on [`TableWriter::finish`], so
//! a crash never leaves a half-written output under the final name. Parquet
//! files can carry key-value metadata (the pseudonymisation key id).
//!
//! Row numbers: for CSV, the physical line on which the record starts,
//! counting the header as line 1 (so the first data row is 2, as in a
//! spreadsheet), whatever the line endings; for a spreadsheet, the row number
//! the spreadsheet shows; for Parquet, the 1-based row index. A header
//! chooser ([`HeaderChooser`]) may pick the header among the first rows of a
//! CSV file or sheet, so a title row above the header is skipped.
//! [`RawCsvReader`] gives undecoded, column-wise [`RawBatch`]es for
//! consumers that decode and validate in parallel (the ingest stage).

mod csv_read;
mod csv_write;
mod error;
mod parquet_read;
mod sheet_read;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;

pub use csv_read::{
    decode_field, sniff_csv, CsvDialect, RawBatch, RawCsvReader, RowsText, TextEncoding,
    MAX_HEADER_BYTES, MAX_RECORD_BYTES,
};
pub use csv_write::push_csv_field;
pub use error::ReadError;
pub use parquet_read::{parquet_rows, read_parquet_metadata};
pub use sheet_read::{column_letters, number_text};
pub use write::{create_private_file, output_format, AtomicFile, TableWriter, WriteError};

/// Rows a header chooser is shown.
pub const HEADER_CANDIDATES: usize = 20;

/// Chooses the header among the first non-blank rows of a file: given up to
/// [`HEADER_CANDIDATES`] rows (cell texts), the index of the header row.
/// Rows above it are titles and are skipped.
pub type HeaderChooser = Arc<dyn Fn(&[Vec<String>]) -> usize + Send + Sync>;

/// How [`TableReader::open_with`] reads a file.
#[derive(Clone, Default)]
pub struct ReadOptions {
    /// The sheet of a workbook to read (matched case-insensitively);
    /// default: the first visible worksheet. Ignored for CSV and Parquet.
    pub sheet: Option<String>,
    /// Picks the header among the first rows of a CSV file or sheet;
    /// default: the first non-blank row.
    pub header: Option<HeaderChooser>,
}

/// File formats koppel reads and writes, chosen by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    /// `.csv` (also `.txt` and `.tsv` for reading).
    Csv,
    /// `.parquet` or `.pq`.
    Parquet,
    /// A spreadsheet workbook (reading only): `.xlsx`, `.xlsm`, `.xlsb`,
    /// `.xls` or `.ods`.
    Sheet,
}

impl TableFormat {
    /// The format of `path` by its extension (case-insensitive).
    pub fn from_path(path: &Path) -> Option<TableFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "txt" | "tsv" => Some(TableFormat::Csv),
            "parquet" | "pq" => Some(TableFormat::Parquet),
            "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => Some(TableFormat::Sheet),
            _ => None,
        }
    }

    /// A short lowercase name: `csv`, `parquet` or `sheet`.
    pub fn name(self) -> &'static str {
        match self {
            TableFormat::Csv => "csv",
            TableFormat::Parquet => "parquet",
            TableFormat::Sheet => "sheet",
        }
    }

    /// The name a report shows for `path`: `csv`, `parquet`, or a
    /// workbook's own extension (`xlsx`, `ods`, …).
    pub fn name_of(path: &Path) -> String {
        match TableFormat::from_path(path) {
            Some(TableFormat::Sheet) => path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("sheet")
                .to_ascii_lowercase(),
            Some(format) => format.name().to_string(),
            None => String::new(),
        }
    }
}

/// A row that could not be turned into a table row, with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MalformedRow {
    /// Source row number (see the crate docs).
    pub row: u64,
    /// Stable machine code, e.g. `field_count`.
    pub code: &'static str,
    /// Plain-language reason. Never contains field values.
    pub reason: String,
    /// The row as read (decoded text, fields joined by the delimiter). It may
    /// contain identifiers: it is only ever written to a quarantine file.
    pub original: String,
}

/// Up to `batch_rows` consecutive data rows of the input.
#[derive(Debug)]
pub struct Batch {
    /// The well-formed rows, with the input's column names. CSV and sheet
    /// columns are strings (empty fields are null); Parquet
    /// columns keep their types.
    pub frame: DataFrame,
    /// Source row number of each frame row.
    pub rows: Vec<u64>,
    /// Rows of this stretch of input that could not be read as table rows.
    pub malformed: Vec<MalformedRow>,
    /// Blank rows skipped in this stretch of input (not data rows).
    pub blank_lines: u64,
}

impl Batch {
    /// Rows of input this batch accounts for (well-formed plus malformed).
    pub fn rows_read(&self) -> u64 {
        (self.frame.height() + self.malformed.len()) as u64
    }

    /// Render frame row `index` as delimited text, for a quarantine file.
    pub fn original_row(&self, index: usize, delimiter: u8) -> String {
        render_row(&self.frame, index, delimiter)
    }
}

/// A batched reader over a CSV, Parquet or spreadsheet file.
pub struct TableReader {
    path: PathBuf,
    inner: ReaderKind,
}

enum ReaderKind {
    Csv(Box<csv_read::RawCsvReader>),
    Parquet(parquet_read::ParquetBatchReader),
    Sheet(Box<sheet_read::SheetBatchReader>),
}

impl TableReader {
    /// Open `path`, detecting its format by extension and (for CSV) its
    /// dialect. Fails when the file cannot be read as a table at all.
    pub fn open(path: &Path, batch_rows: usize) -> Result<TableReader, ReadError> {
        TableReader::open_with(path, batch_rows, &ReadOptions::default())
    }

    /// Open `path` as [`TableReader::open`] does, with a sheet and a header
    /// chooser.
    pub fn open_with(
        path: &Path,
        batch_rows: usize,
        options: &ReadOptions,
    ) -> Result<TableReader, ReadError> {
        let batch_rows = batch_rows.max(1);
        let inner =
            match TableFormat::from_path(path) {
                Some(TableFormat::Csv) => ReaderKind::Csv(Box::new(
                    csv_read::RawCsvReader::open_with(path, batch_rows, options.header.as_ref())?,
                )),
                Some(TableFormat::Parquet) => {
                    ReaderKind::Parquet(parquet_read::ParquetBatchReader::open(path, batch_rows)?)
                }
                Some(TableFormat::Sheet) => {
                    ReaderKind::Sheet(Box::new(sheet_read::SheetBatchReader::open(
                        path,
                        options.sheet.as_deref(),
                        batch_rows,
                        options.header.as_ref(),
                    )?))
                }
                None => return Err(ReadError::UnknownFormat(path.to_path_buf())),
            };
        Ok(TableReader {
            path: path.to_path_buf(),
            inner,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The input's column names, in order.
    pub fn columns(&self) -> &[String] {
        match &self.inner {
            ReaderKind::Csv(r) => r.columns(),
            ReaderKind::Parquet(r) => r.columns(),
            ReaderKind::Sheet(r) => r.columns(),
        }
    }

    /// The line (row) the header is on: 1 unless title or blank rows
    /// precede it; 0 for Parquet, which has no header line.
    pub fn header_row(&self) -> u64 {
        match &self.inner {
            ReaderKind::Csv(r) => r.header_line(),
            ReaderKind::Parquet(_) => 0,
            ReaderKind::Sheet(r) => r.header_row(),
        }
    }

    /// The sheet being read (workbooks only).
    pub fn sheet(&self) -> Option<&str> {
        match &self.inner {
            ReaderKind::Sheet(r) => Some(r.sheet()),
            _ => None,
        }
    }

    /// The input's format.
    pub fn format(&self) -> TableFormat {
        match &self.inner {
            ReaderKind::Csv(_) => TableFormat::Csv,
            ReaderKind::Parquet(_) => TableFormat::Parquet,
            ReaderKind::Sheet(_) => TableFormat::Sheet,
        }
    }

    /// The detected CSV dialect (`None` for Parquet).
    pub fn dialect(&self) -> Option<&CsvDialect> {
        match &self.inner {
            ReaderKind::Csv(r) => Some(r.dialect()),
            ReaderKind::Parquet(_) | ReaderKind::Sheet(_) => None,
        }
    }

    /// The delimiter to use when rendering original rows of this input
    /// (`;` for a workbook, as Dutch Excel writes CSV).
    pub fn delimiter(&self) -> u8 {
        match &self.inner {
            ReaderKind::Sheet(_) => b';',
            _ => self.dialect().map_or(b',', |d| d.delimiter),
        }
    }
}

impl Iterator for TableReader {
    type Item = Result<Batch, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            ReaderKind::Csv(r) => r.next_frame_batch(),
            ReaderKind::Parquet(r) => r.next(),
            ReaderKind::Sheet(r) => r.next(),
        }
    }
}

/// Join a frame row's values with `delimiter`, quoting as CSV does.
fn render_row(frame: &DataFrame, index: usize, delimiter: u8) -> String {
    let mut out = Vec::new();
    {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(&mut out);
        let fields: Vec<String> = frame
            .columns()
            .iter()
            .map(|column| match column.get(index) {
                Ok(AnyValue::Null) | Err(_) => String::new(),
                Ok(AnyValue::String(s)) => s.to_string(),
                Ok(AnyValue::StringOwned(s)) => s.to_string(),
                Ok(other) => other.to_string(),
            })
            .collect();
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(&fields);
        let _ = writer.flush();
    }
    let mut text = String::from_utf8_lossy(&out).into_owned();
    if text.ends_with('\n') {
        text.pop();
    }
    text
}
