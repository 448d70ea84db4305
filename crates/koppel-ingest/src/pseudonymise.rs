//! File-level pseudonymisation: stream a CSV, spreadsheet or Parquet file in batches,
//! replace the identifier column by keyed-hash pseudonyms, and quarantine the
//! rows whose identifier is invalid.
//!
//! Memory is bounded by the batch size: a reader thread parses the next batch
//! while the current one is hashed (on all cores) and written.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};

use koppel_io::{
    create_private_file, Batch, HeaderChooser, RawCsvReader, ReadError, ReadOptions, TableFormat,
    TableReader, TableWriter, WriteError,
};
use koppel_pseudonym::pseudonym::PSEUDONYM_LEN;
use koppel_pseudonym::{KeyId, Pseudonymiser};
use polars::prelude::*;

use crate::error::TableError;

mod raw_csv;

/// Length of a pseudonym written as hex text.
const PSEUDONYM_HEX_LEN: usize = 2 * PSEUDONYM_LEN;

/// Name of the column that replaces the identifier column.
pub use koppel_schema::analysis::PSEUDONYM as PSEUDONYM_COLUMN;

/// Parquet key-value metadata key holding the key id.
pub use koppel_schema::metadata::KEY_ID as KEY_ID_METADATA;

/// Parquet key-value metadata key holding the pseudonym spec version.
pub use koppel_schema::metadata::SPEC as SPEC_METADATA;

/// Header names municipalities use for the BSN column.
pub const BSN_HEADER_ALIASES: [&str; 4] = ["bsn", "burgerservicenummer", "bsn_nummer", "bsnnummer"];

/// Settings for [`pseudonymise_file`].
#[derive(Clone, Debug)]
pub struct PseudonymiseOptions {
    /// Candidate names of the identifier column, tried in order, each matched
    /// case-insensitively; the first present is used.
    pub columns: Vec<String>,
    /// Where to write rejected rows (mode 0600). `None`: count them only.
    pub rejects: Option<PathBuf>,
    /// Rows per batch; bounds memory.
    pub batch_rows: usize,
    /// The sheet of a workbook to read (default: the first visible
    /// worksheet). Ignored for CSV and Parquet.
    pub sheet: Option<String>,
}

impl Default for PseudonymiseOptions {
    fn default() -> Self {
        PseudonymiseOptions {
            columns: BSN_HEADER_ALIASES.iter().map(|s| s.to_string()).collect(),
            rejects: None,
            batch_rows: 256 * 1024,
            sheet: None,
        }
    }
}

/// What a run did. Holds counts and row numbers only, never identifiers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PseudonymiseSummary {
    /// Data rows read from the input.
    pub rows_read: u64,
    /// Rows written to the output with a pseudonym.
    pub pseudonymised: u64,
    /// Rows rejected (invalid identifier or unreadable row).
    pub rejected: u64,
    /// Rejected rows per reason code.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// BSNs of a workbook typed as numbers that had lost leading zeros and
    /// were restored to nine digits (they then pass the eleven-test).
    pub bsn_zeros_restored: u64,
    /// The first rejected rows: (row number, reason), for on-screen reports.
    pub first_rejects: Vec<(u64, String)>,
    /// The key used.
    pub key_id: Option<KeyId>,
}

/// How many rejected rows a summary lists individually.
const FIRST_REJECTS_KEPT: usize = 20;

/// Why pseudonymisation failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum PseudonymiseError {
    /// The input cannot be read as a table.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// An output cannot be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The identifier column is absent.
    #[error("{path}: no column '{column}' (columns found: {found}); name the identifier column with --column")]
    MissingColumn {
        /// The input.
        path: PathBuf,
        /// The requested column.
        column: String,
        /// The columns present.
        found: String,
    },
    /// The input already has a `pseudonym` column.
    #[error(
        "{path}: already has a column named '{PSEUDONYM_COLUMN}'; is it pseudonymised already?"
    )]
    AlreadyPseudonymised {
        /// The input.
        path: PathBuf,
    },
    /// Input and output are the same file.
    #[error("{0}: the output must not be the input file")]
    SameFile(PathBuf),
    /// A table operation on the input failed.
    #[error(transparent)]
    Table(#[from] TableError),
}

/// Pseudonymise `input` into `output` (CSV or Parquet by extension).
///
/// The identifier column is replaced, in place, by [`PSEUDONYM_COLUMN`]; every
/// other column is kept. Parquet output carries the key id in its key-value
/// metadata ([`KEY_ID_METADATA`]). `rows_read = pseudonymised + rejected` always holds.
/// CSV input is processed undecoded, row ranges in parallel (see
/// `raw_csv`); Parquet input batch by batch as frames.
pub fn pseudonymise_file(
    pseudonymiser: &Pseudonymiser,
    input: &Path,
    output: &Path,
    options: &PseudonymiseOptions,
) -> Result<PseudonymiseSummary, PseudonymiseError> {
    pseudonymise_file_with(pseudonymiser, input, output, options, true)
}

/// [`pseudonymise_file`], with the raw CSV path switchable (off: CSV input
/// goes through the generic frame path, which the tests compare it with).
fn pseudonymise_file_with(
    pseudonymiser: &Pseudonymiser,
    input: &Path,
    output: &Path,
    options: &PseudonymiseOptions,
    raw_csv_path: bool,
) -> Result<PseudonymiseSummary, PseudonymiseError> {
    if same_file(input, output) {
        return Err(PseudonymiseError::SameFile(output.to_path_buf()));
    }
    koppel_io::output_format(output)?;
    let metadata = pseudonym_metadata(pseudonymiser);
    let mut summary = PseudonymiseSummary {
        key_id: Some(pseudonymiser.key_id().clone()),
        ..Default::default()
    };
    let run = Run {
        pseudonymiser,
        input,
        output,
        options,
        metadata: &metadata,
    };
    if raw_csv_path && TableFormat::from_path(input) == Some(TableFormat::Csv) {
        run.raw_csv(&mut summary)?;
    } else {
        run.frames(&mut summary)?;
    }
    log_summary(pseudonymiser, input, output, &summary);
    Ok(summary)
}

/// The key-value metadata of a file of pseudonyms: the key id and the
/// pseudonym spec they were made with.
pub(crate) fn pseudonym_metadata(pseudonymiser: &Pseudonymiser) -> Vec<(String, String)> {
    vec![
        (
            KEY_ID_METADATA.to_string(),
            pseudonymiser.key_id().to_string(),
        ),
        (
            SPEC_METADATA.to_string(),
            koppel_schema::metadata::SPEC_V1.to_string(),
        ),
    ]
}

/// One call of [`pseudonymise_file`]: what every path needs.
struct Run<'a> {
    pseudonymiser: &'a Pseudonymiser,
    input: &'a Path,
    output: &'a Path,
    options: &'a PseudonymiseOptions,
    /// The output's key-value metadata.
    metadata: &'a [(String, String)],
}

impl Run<'_> {
    /// The rejects file, when one is asked for.
    fn rejects(&self) -> Result<Option<RejectsWriter>, PseudonymiseError> {
        Ok(match &self.options.rejects {
            Some(path) => Some(RejectsWriter::create(path)?),
            None => None,
        })
    }

    /// CSV input, undecoded, row ranges in parallel (see `raw_csv`).
    fn raw_csv(&self, summary: &mut PseudonymiseSummary) -> Result<(), PseudonymiseError> {
        let reader = RawCsvReader::open(self.input, self.options.batch_rows)?;
        let id = identifier_column(self.input, reader.columns(), self.options)?;
        let mut rejects = self.rejects()?;
        raw_csv::pseudonymise_csv(
            self.pseudonymiser,
            reader,
            id,
            self.output,
            self.metadata,
            &mut rejects,
            summary,
        )?;
        if let Some(rejects) = rejects {
            rejects.finish()?;
        }
        Ok(())
    }

    /// Any input batch by batch as frames; a reader thread parses batch
    /// n+1 while batch n is hashed and written.
    fn frames(&self, summary: &mut PseudonymiseSummary) -> Result<(), PseudonymiseError> {
        let read = ReadOptions {
            sheet: self.options.sheet.clone(),
            header: Some(title_row_chooser(self.options)),
        };
        let reader = TableReader::open_with(self.input, self.options.batch_rows, &read)?;
        let columns = reader.columns().to_vec();
        let id = IdColumn {
            name: columns[identifier_column(self.input, &columns, self.options)?].clone(),
            in_sheet: reader.format() == TableFormat::Sheet,
            delimiter: reader.delimiter(),
        };
        let mut rejects = self.rejects()?;
        let mut writer: Option<TableWriter> = None;

        let (sender, receiver) = mpsc::sync_channel::<Result<Batch, ReadError>>(1);
        std::thread::scope(|scope| -> Result<(), PseudonymiseError> {
            scope.spawn(move || {
                for batch in reader {
                    if sender.send(batch).is_err() {
                        break;
                    }
                }
            });
            for batch in receiver {
                let frame = self.batch(batch?, &id, summary, rejects.as_mut())?;
                if writer.is_none() {
                    writer = Some(TableWriter::create(
                        self.output,
                        frame.schema(),
                        self.metadata,
                    )?);
                }
                if let Some(writer) = writer.as_mut() {
                    writer.write(&frame)?;
                }
            }
            Ok(())
        })?;

        // An input with no data rows still gets an output with the header/schema.
        let writer = match writer {
            Some(writer) => writer,
            None => {
                let schema: Schema = columns
                    .iter()
                    .map(|c| {
                        let name = if *c == id.name { PSEUDONYM_COLUMN } else { c };
                        Field::new(name.into(), DataType::String)
                    })
                    .collect();
                TableWriter::create(self.output, &schema, self.metadata)?
            }
        };
        writer.finish()?;
        if let Some(rejects) = rejects {
            rejects.finish()?;
        }
        Ok(())
    }

    /// One batch: its unreadable rows and invalid identifiers counted (and
    /// quarantined), the identifier column replaced by the pseudonyms; the
    /// frame of the rows kept.
    fn batch(
        &self,
        batch: Batch,
        id: &IdColumn,
        summary: &mut PseudonymiseSummary,
        mut rejects: Option<&mut RejectsWriter>,
    ) -> Result<DataFrame, PseudonymiseError> {
        let table_error = |source: PolarsError| {
            PseudonymiseError::Table(TableError::Polars {
                path: self.input.to_path_buf(),
                source,
            })
        };
        summary.rows_read += batch.rows_read();
        for row in &batch.malformed {
            summary.record_reject(row.row, row.code, &row.reason);
            if let Some(rejects) = rejects.as_deref_mut() {
                rejects.write(row.row, row.code, &row.reason, &row.original)?;
            }
        }
        let ids = batch
            .frame
            .column(&id.name)
            .and_then(|c| c.cast(&DataType::String))
            .map_err(table_error)?;
        let ids = ids.str().map_err(table_error)?;
        let (restored_ids, short) = if id.in_sheet {
            restore_leading_zeros(ids)
        } else {
            (ids.clone(), Vec::new())
        };
        let result = self
            .pseudonymiser
            .bsn_column(&restored_ids, PSEUDONYM_COLUMN);
        if !short.is_empty() {
            let mut restored = short;
            for &(index, _) in &result.rejected {
                restored[index] = false;
            }
            summary.bsn_zeros_restored += restored.iter().filter(|&&r| r).count() as u64;
        }
        for &(index, problem) in &result.rejected {
            let row = batch.rows[index];
            summary.record_reject(row, problem.code(), &problem.to_string());
            if let Some(rejects) = rejects.as_deref_mut() {
                let original = batch.original_row(index, id.delimiter);
                rejects.write(row, problem.code(), &problem.to_string(), &original)?;
            }
        }
        let mut frame = batch.frame;
        frame
            .replace(&id.name, result.pseudonyms.into_column())
            .map_err(table_error)?;
        frame
            .rename(&id.name, PSEUDONYM_COLUMN.into())
            .map_err(table_error)?;
        let keep = frame
            .column(PSEUDONYM_COLUMN)
            .map_err(table_error)?
            .is_not_null();
        let frame = frame.filter(&keep).map_err(table_error)?;
        summary.pseudonymised += frame.height() as u64;
        Ok(frame)
    }
}

/// The identifier column of a frame input.
struct IdColumn {
    /// Its header.
    name: String,
    /// The input is a workbook (a BSN typed as a number lost its leading
    /// zeros).
    in_sheet: bool,
    /// The delimiter of quarantined original rows.
    delimiter: u8,
}

/// A title row above the header of a sheet: the header is the first row
/// holding the identifier column's name.
fn title_row_chooser(options: &PseudonymiseOptions) -> HeaderChooser {
    let wanted: Vec<String> = options
        .columns
        .iter()
        .map(|c| c.trim().to_lowercase())
        .collect();
    Arc::new(move |rows: &[Vec<String>]| {
        rows.iter()
            .position(|row| {
                row.iter()
                    .any(|c| wanted.contains(&c.trim().to_lowercase()))
            })
            .unwrap_or(0)
    })
}

/// A workbook's BSN column with the leading zeros a number cell dropped
/// put back (runs of fewer than nine digits padded to nine), and which
/// rows were padded. Whether the result is a BSN is the eleven-test's
/// call, as for any value.
fn restore_leading_zeros(ids: &StringChunked) -> (StringChunked, Vec<bool>) {
    let is_short = |t: &str| !t.is_empty() && t.len() < 9 && t.bytes().all(|b| b.is_ascii_digit());
    let short: Vec<bool> = ids
        .iter()
        .map(|v| v.is_some_and(|t| is_short(t.trim())))
        .collect();
    if !short.contains(&true) {
        return (ids.clone(), Vec::new());
    }
    let padded: StringChunked = ids
        .iter()
        .zip(&short)
        .map(|(v, &pad)| match v {
            Some(t) if pad => Some(format!("{:0>9}", t.trim())),
            other => other.map(str::to_string),
        })
        .collect();
    (padded.with_name(ids.name().clone()), short)
}

/// Index of the identifier column: the first of `options.columns` present,
/// matched exactly, else case-insensitively. Refuses an input that already
/// has a pseudonym column.
fn identifier_column(
    input: &Path,
    columns: &[String],
    options: &PseudonymiseOptions,
) -> Result<usize, PseudonymiseError> {
    if columns
        .iter()
        .any(|c| c.eq_ignore_ascii_case(PSEUDONYM_COLUMN))
    {
        return Err(PseudonymiseError::AlreadyPseudonymised {
            path: input.to_path_buf(),
        });
    }
    options
        .columns
        .iter()
        .find_map(|wanted| {
            columns
                .iter()
                .position(|c| c == wanted)
                .or_else(|| columns.iter().position(|c| c.eq_ignore_ascii_case(wanted)))
        })
        .ok_or_else(|| PseudonymiseError::MissingColumn {
            path: input.to_path_buf(),
            column: options.columns.join("' or '"),
            found: columns.join(", "),
        })
}

fn log_summary(
    pseudonymiser: &Pseudonymiser,
    input: &Path,
    output: &Path,
    summary: &PseudonymiseSummary,
) {
    tracing::info!(
        key_id = %pseudonymiser.key_id(),
        input = %input.display(),
        output = %output.display(),
        rows_read = summary.rows_read,
        pseudonymised = summary.pseudonymised,
        rejected = summary.rejected,
        "pseudonymised"
    );
}

impl PseudonymiseSummary {
    fn record_reject(&mut self, row: u64, code: &str, reason: &str) {
        self.rejected += 1;
        *self.rejected_by_reason.entry(code.to_string()).or_default() += 1;
        if self.first_rejects.len() < FIRST_REJECTS_KEPT {
            self.first_rejects.push((row, reason.to_string()));
        }
    }
}

/// The quarantine file: `row,reason_code,reason,original_row`, mode 0600.
pub(crate) struct RejectsWriter {
    path: PathBuf,
    writer: csv::Writer<std::io::BufWriter<std::fs::File>>,
}

impl RejectsWriter {
    pub(crate) fn create(path: &Path) -> Result<RejectsWriter, WriteError> {
        let file = create_private_file(path)?;
        let mut this = RejectsWriter {
            path: path.to_path_buf(),
            writer: csv::Writer::from_writer(std::io::BufWriter::new(file)),
        };
        this.write_fields(&["row", "reason_code", "reason", "original_row"])?;
        Ok(this)
    }

    pub(crate) fn write(
        &mut self,
        row: u64,
        code: &str,
        reason: &str,
        original: &str,
    ) -> Result<(), WriteError> {
        let row = row.to_string();
        self.write_fields(&[&row, code, reason, original])
    }

    fn write_fields(&mut self, fields: &[&str]) -> Result<(), WriteError> {
        self.writer
            .write_record(fields)
            .map_err(|e| self.error(std::io::Error::other(e)))
    }

    pub(crate) fn finish(mut self) -> Result<(), WriteError> {
        self.writer.flush().map_err(|e| self.error(e))?;
        let mut inner = self.writer.into_inner().map_err(|e| WriteError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        inner.flush().map_err(|source| WriteError::Io {
            path: self.path.clone(),
            source,
        })
    }

    fn error(&self, source: std::io::Error) -> WriteError {
        WriteError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
