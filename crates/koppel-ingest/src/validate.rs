//! Row validation of every input kind, and the two entry points:
//! [`validate_file`] (no key: what `koppel validate` runs) and
//! [`ingest_file`] (validate + pseudonymise in one pass).
//!
//! A reader thread parses batch n+1 while batch n is validated in parallel
//! chunks on the rayon pool; only the duplicate index (16 bytes per accepted
//! row) grows with the file, everything else is bounded by the batch size.
//!
//! # Where the time goes, and what keeps it down
//!
//! At national scale (62 million register rows in Parquet) every per-row
//! cost counts. A perf profile of the stage showed, besides the HMAC and
//! the Parquet writer's compression, work that only existed because of how
//! rows were compared and looked up; the pass now avoids it:
//!
//! - **Typed row keys.** Exact duplicates of a Parquet row are found by
//!   hashing its cells as they are typed (`KeyColumn`: text as text,
//!   dates, integers and booleans as their 64-bit value, floats as their
//!   bits) instead of formatting every date and number of every row as text
//!   first (8 % of the stage's processor time went to date formatting).
//! - **The duplicate index sized once.** A Parquet file says how many rows
//!   it has; the index is allocated for them up front instead of being
//!   rehashed (and its memory zeroed again) each time it doubles (6 %).
//! - **Labels looked up once per chunk.** A value label (`M`, `Man`, ...)
//!   that is not the canonical spelling is normalised and looked up the
//!   first time it is seen in a chunk of rows, then remembered
//!   (`Scratch`).
//! - **A person's rows share one HMAC.** Registers list a person's rows
//!   together, so the pseudonym of the previous row's BSN is reused.
//! - **Cheap negatives.** A BSN cell is not searched for a totals label
//!   (it has no letters), and only free-text columns are searched for BSNs.
//!
//! The output bytes are unchanged by these (same rows kept, same values,
//! same Parquet writer settings).

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;
use std::sync::{mpsc, Arc};

use koppel_io::{
    decode_field, Batch, RawBatch, RawCsvReader, ReadError, ReadOptions, TableFormat, TableReader,
    TableWriter, TextEncoding,
};
use koppel_pseudonym::{normalise_bsn, Bsn, Pseudonymiser};
use koppel_schema::calendar;
use polars::prelude::*;
use rayon::prelude::*;

use crate::config::IngestConfig;
use crate::dutch::{dutch_reason, Allowed};
use crate::error::{IngestError, MissingColumn, TableError};
use crate::layout::{header_chooser, is_total_label};
use crate::pseudonymise::{pseudonym_metadata, RejectsWriter, PSEUDONYM_COLUMN};
use crate::redact::{contains_bsn, looks_like_identifier, quote};
use crate::report::{ColumnMapping, Problem, ValidationReport};
use crate::schema::{header_key, ColumnSpec, InputKind, ValueType, ASSISTANCE_TYPES};

/// Parquet key-value metadata key holding the input kind.
pub use koppel_schema::metadata::KIND as KIND_METADATA;

/// Rows per parallel unit of work.
const CHUNK_ROWS: usize = 16 * 1024;

/// Settings of [`validate_file`] and [`ingest_file`].
#[derive(Clone, Debug)]
pub struct ValidateOptions {
    /// Aliases, municipality codes and instruments.
    pub config: Arc<IngestConfig>,
    /// Rows per batch; bounds memory.
    pub batch_rows: usize,
    /// Most problems listed in the report (all are counted).
    pub max_problems: usize,
    /// Latest year a date may lie in (default: next year).
    pub max_year: i32,
    /// Accept a file with a header but no data rows (default: refuse).
    pub allow_empty: bool,
    /// The sheet of a workbook to read (matched case-insensitively;
    /// default: the first visible worksheet). Ignored for CSV and Parquet.
    pub sheet: Option<String>,
}

/// Settings of [`ingest_file`]: the same as validation.
pub type IngestOptions = ValidateOptions;

impl ValidateOptions {
    /// Options with the given configuration and defaults otherwise.
    pub fn with_config(config: IngestConfig) -> ValidateOptions {
        ValidateOptions {
            config: Arc::new(config),
            batch_rows: 256 * 1024,
            max_problems: 100_000,
            max_year: current_year() + 1,
            allow_empty: false,
            sheet: None,
        }
    }

    /// Options with the configuration of [`IngestConfig::from_env`].
    pub fn from_env() -> Result<ValidateOptions, IngestError> {
        Ok(ValidateOptions::with_config(IngestConfig::from_env()?))
    }
}

impl Default for ValidateOptions {
    /// The compiled-in configuration (it is checked by unit tests).
    fn default() -> Self {
        let config = IngestConfig::builtin().unwrap_or_else(|_| IngestConfig {
            columns: Default::default(),
            municipalities: Default::default(),
            instruments: Default::default(),
            values: Default::default(),
            source: "empty".to_string(),
        });
        ValidateOptions::with_config(config)
    }
}

/// Validate `path` as input of `kind`, without a key: every row is accepted
/// or rejected with its reasons. `Err` only when the file cannot be read at
/// all or lacks required columns.
pub fn validate_file(
    kind: InputKind,
    path: &Path,
    options: &ValidateOptions,
) -> Result<ValidationReport, IngestError> {
    run(kind, path, options, None)
}

/// Validate and pseudonymise `input` in one pass: accepted rows go to
/// `out_parquet` (a `pseudonym` column then the canonical columns of `kind`,
/// key id, spec and kind in the key-value metadata, written atomically),
/// rejected rows to `quarantine_csv` (mode 0600:
/// `row,reason_code,reason,original_row`; it holds identifiers and stays
/// with the operator). The report holds no identifier.
pub fn ingest_file(
    kind: InputKind,
    input: &Path,
    pseudonymiser: &Pseudonymiser,
    out_parquet: &Path,
    quarantine_csv: &Path,
    options: &IngestOptions,
) -> Result<ValidationReport, IngestError> {
    ingest_file_with_hooks(
        kind,
        input,
        pseudonymiser,
        out_parquet,
        quarantine_csv,
        options,
        &OutputHooks::default(),
    )
}

/// A second output of [`ingest_file_with_hooks`]: the accepted rows that
/// `select` chooses, batch by batch as they are written, in their order.
pub struct ExtractOutput<'a> {
    /// The Parquet file to write (same columns and metadata as the main
    /// output).
    pub path: &'a Path,
    /// Which rows of a batch of the main output to copy.
    pub select: Selector<'a>,
}

/// What [`ingest_file_with_hooks`] does with every batch of accepted rows
/// besides writing it (on the writer thread, in output order).
#[derive(Default)]
pub struct OutputHooks<'a> {
    /// Shown every batch written.
    pub observe: Option<Observer<'a>>,
    /// A second output of chosen rows.
    pub extract: Option<ExtractOutput<'a>>,
}

/// [`ingest_file`], also showing every written batch to `hooks` (the
/// pipeline's register extracts: module `extract` of koppel-link).
pub fn ingest_file_with_hooks(
    kind: InputKind,
    input: &Path,
    pseudonymiser: &Pseudonymiser,
    out_parquet: &Path,
    quarantine_csv: &Path,
    options: &IngestOptions,
    hooks: &OutputHooks<'_>,
) -> Result<ValidationReport, IngestError> {
    let extract_path = hooks.extract.as_ref().map(|e| e.path);
    for output in [Some(out_parquet), Some(quarantine_csv), extract_path]
        .into_iter()
        .flatten()
    {
        if same_file(input, output) {
            return Err(IngestError::SameFile(output.to_path_buf()));
        }
    }
    if TableFormat::from_path(out_parquet) != Some(TableFormat::Parquet) {
        return Err(IngestError::Write(koppel_io::WriteError::UnknownFormat(
            out_parquet.to_path_buf(),
        )));
    }
    let result = run(
        kind,
        input,
        options,
        Some(Outputs {
            pseudonymiser,
            parquet: out_parquet,
            quarantine: quarantine_csv,
            hooks,
        }),
    );
    if result.is_err() {
        // A file that cannot be read (no header, no data rows, wrong
        // encoding, ...) leaves no half-written output behind.
        for output in [Some(out_parquet), Some(quarantine_csv), extract_path]
            .into_iter()
            .flatten()
        {
            let _ = std::fs::remove_file(output);
        }
    }
    result
}

struct Outputs<'a> {
    pseudonymiser: &'a Pseudonymiser,
    parquet: &'a Path,
    quarantine: &'a Path,
    hooks: &'a OutputHooks<'a>,
}

/// A batch observer of [`OutputHooks`].
pub type Observer<'a> = &'a (dyn Fn(&DataFrame) -> PolarsResult<()> + Sync);

/// A row selection of [`ExtractOutput`].
pub type Selector<'a> = &'a (dyn Fn(&DataFrame) -> PolarsResult<BooleanChunked> + Sync);

/// The hooks on the writer thread: the observer, the extract's writer and
/// row selection.
type WriterHooks<'a> = (Option<Observer<'a>>, Option<(TableWriter, Selector<'a>)>);

/// The output schema of `kind`: `pseudonym`, then the canonical columns
/// other than `bsn` that ingest writes (dates `Date`, hours and wages
/// `Float64`, else String; trajectory and job numbers as keyed hashes).
pub fn output_schema(kind: InputKind) -> Schema {
    let mut fields = vec![Field::new(PSEUDONYM_COLUMN.into(), DataType::String)];
    for spec in kind.columns()[1..].iter().filter(|s| s.written) {
        let dtype = if spec.ty.is_date() {
            DataType::Date
        } else if spec.ty.is_number() {
            DataType::Float64
        } else {
            DataType::String
        };
        fields.push(Field::new(spec.name.into(), dtype));
    }
    fields.into_iter().collect()
}

/// Where each canonical column is in the input.
struct Mapping {
    /// Per canonical column: input column index.
    index: Vec<Option<usize>>,
    /// Per canonical column: header as written.
    header: Vec<String>,
    ignored: Vec<String>,
}

fn map_columns(
    kind: InputKind,
    path: &Path,
    columns: &[String],
    config: &IngestConfig,
) -> Result<Mapping, IngestError> {
    if columns
        .iter()
        .any(|c| c.eq_ignore_ascii_case(PSEUDONYM_COLUMN))
    {
        return Err(IngestError::AlreadyPseudonymised(path.to_path_buf()));
    }
    let specs = kind.columns();
    let names: Vec<Vec<String>> = specs
        .iter()
        .map(|s| config.columns.names(kind, s.name))
        .collect();
    let keys: Vec<Vec<String>> = names
        .iter()
        .map(|n| n.iter().map(|a| header_key(a)).collect())
        .collect();
    let mut index: Vec<Option<usize>> = vec![None; specs.len()];
    let mut header = vec![String::new(); specs.len()];
    let mut ignored = Vec::new();
    for (i, column) in columns.iter().enumerate() {
        let key = header_key(column);
        match keys.iter().position(|k| k.contains(&key)) {
            Some(s) => {
                if let Some(first) = index[s] {
                    return Err(IngestError::AmbiguousColumn {
                        path: path.to_path_buf(),
                        column: specs[s].name.to_string(),
                        first: columns[first].clone(),
                        second: column.clone(),
                    });
                }
                index[s] = Some(i);
                header[s] = column.clone();
            }
            None => ignored.push(column.clone()),
        }
    }
    let mut missing = Vec::new();
    for (s, spec) in specs.iter().enumerate() {
        if spec.column_required && index[s].is_none() {
            let suggestion = ignored
                .iter()
                .flat_map(|found| {
                    let found_key = header_key(found);
                    names[s].iter().zip(&keys[s]).map(move |(alias, key)| {
                        let score = strsim::normalized_damerau_levenshtein(&found_key, key).max(
                            if !found_key.is_empty()
                                && (key.contains(&found_key) || found_key.contains(key.as_str()))
                            {
                                0.7
                            } else {
                                0.0
                            },
                        );
                        (score, found.clone(), alias.clone())
                    })
                })
                .filter(|(score, _, _)| *score >= 0.6)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, found, alias)| (found, alias));
            missing.push(MissingColumn {
                column: spec.name.to_string(),
                accepted: names[s].clone(),
                suggestion,
            });
        }
    }
    if !missing.is_empty() {
        let hint = if columns.len() == 1 {
            format!(
                ". Only one column was found ('{}'): is the file separated by commas or semicolons?",
                columns[0].chars().take(60).collect::<String>()
            )
        } else {
            String::new()
        };
        return Err(IngestError::MissingColumns {
            path: path.to_path_buf(),
            missing,
            hint,
        });
    }
    Ok(Mapping {
        index,
        header,
        ignored,
    })
}

/// One value of a row as read.
enum Cell<'a> {
    Null,
    Text(Cow<'a, str>),
    Date(i32),
    Number(f64),
    Undecodable,
}

/// The columns of a Parquet batch, pre-cast for row access.
enum FrameColumn {
    Text(StringChunked),
    Date(Int32Chunked),
    Number(Float64Chunked),
}

/// A batch of either format, with row access by canonical column.
enum Source {
    Csv(RawBatch),
    Frame {
        batch: Batch,
        /// Per canonical column.
        columns: Vec<Option<FrameColumn>>,
        /// Every input column as it is compared for exact-duplicate
        /// detection (and, text columns only, searched for totals labels).
        all_columns: Vec<KeyColumn>,
    },
}

/// An input column of a Parquet batch as the row key reads it. Text columns
/// are compared as text; numbers, dates, times and booleans by their
/// physical value, so that a duplicate check never formats a date or a
/// number as text (two cells of one column are equal exactly when these
/// values are). A column of another type is compared as its text.
enum KeyColumn {
    Text(StringChunked),
    Int(Int64Chunked),
    Float(Float64Chunked),
}

impl KeyColumn {
    fn of(column: &Column) -> PolarsResult<KeyColumn> {
        let dtype = column.dtype();
        Ok(match dtype {
            DataType::String => KeyColumn::Text(column.str()?.rechunk().into_owned()),
            DataType::Float32 | DataType::Float64 => KeyColumn::Float(
                column
                    .cast(&DataType::Float64)?
                    .f64()?
                    .rechunk()
                    .into_owned(),
            ),
            DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::Date
            | DataType::Datetime(_, _)
            | DataType::Duration(_)
            | DataType::Time => {
                let physical = column.to_physical_repr();
                KeyColumn::Int(
                    physical
                        .cast(&DataType::Int64)?
                        .i64()?
                        .rechunk()
                        .into_owned(),
                )
            }
            _ => KeyColumn::Text(
                column
                    .cast(&DataType::String)?
                    .str()?
                    .rechunk()
                    .into_owned(),
            ),
        })
    }

    /// Append the cell's tag (null or not) and value to a row key.
    fn push_key(&self, row: usize, out: &mut Vec<u8>) {
        match self {
            KeyColumn::Text(ca) => match ca.get(row) {
                None => out.push(0),
                Some(text) => {
                    out.push(1);
                    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
                    out.extend_from_slice(text.as_bytes());
                }
            },
            KeyColumn::Int(ca) => match ca.get(row) {
                None => out.push(0),
                Some(x) => {
                    out.push(1);
                    out.extend_from_slice(&x.to_le_bytes());
                }
            },
            KeyColumn::Float(ca) => match ca.get(row) {
                None => out.push(0),
                Some(x) => {
                    // Every NaN reads as the same text: compare them equal.
                    let bits = if x.is_nan() {
                        f64::NAN.to_bits()
                    } else {
                        x.to_bits()
                    };
                    out.push(1);
                    out.extend_from_slice(&bits.to_le_bytes());
                }
            },
        }
    }
}

impl Source {
    fn len(&self) -> usize {
        match self {
            Source::Csv(b) => b.len(),
            Source::Frame { batch, .. } => batch.frame.height(),
        }
    }

    fn line(&self, row: usize) -> u64 {
        match self {
            Source::Csv(b) => b.rows[row],
            Source::Frame { batch, .. } => batch.rows[row],
        }
    }

    fn cell(&self, mapping: &Mapping, spec: usize, row: usize) -> Cell<'_> {
        match self {
            Source::Csv(b) => match mapping.index[spec] {
                None => Cell::Null,
                Some(c) => match decode_field(b.field(row, c), b.encoding()) {
                    None => Cell::Undecodable,
                    Some(text) => {
                        let trimmed = trim_cow(text);
                        if trimmed.is_empty() {
                            Cell::Null
                        } else {
                            Cell::Text(trimmed)
                        }
                    }
                },
            },
            Source::Frame { columns, .. } => match &columns[spec] {
                None => Cell::Null,
                Some(FrameColumn::Text(ca)) => match ca.get(row).map(str::trim) {
                    None | Some("") => Cell::Null,
                    Some(text) => Cell::Text(Cow::Borrowed(text)),
                },
                Some(FrameColumn::Date(ca)) => ca.get(row).map_or(Cell::Null, Cell::Date),
                Some(FrameColumn::Number(ca)) => ca.get(row).map_or(Cell::Null, Cell::Number),
            },
        }
    }

    /// The exact bytes of a row, field lengths included, for hashing.
    fn row_key(&self, row: usize, out: &mut Vec<u8>) {
        out.clear();
        match self {
            Source::Csv(b) => {
                let (data, bounds) = b.row_bytes(row);
                for w in bounds.windows(2) {
                    out.extend_from_slice(&(w[1] - w[0]).to_le_bytes());
                }
                out.extend_from_slice(data);
            }
            Source::Frame { all_columns, .. } => {
                for column in all_columns {
                    column.push_key(row, out);
                }
            }
        }
    }

    /// True when some cell of the row (any column) reads as the label of a
    /// totals row.
    fn has_total_label(&self, row: usize) -> bool {
        match self {
            Source::Csv(b) => (0..b.width()).any(|c| {
                decode_field(b.field(row, c), b.encoding()).is_some_and(|t| is_total_label(&t))
            }),
            // A number, date or boolean is never a totals label.
            Source::Frame { all_columns, .. } => all_columns.iter().any(|column| match column {
                KeyColumn::Text(ca) => ca.get(row).is_some_and(is_total_label),
                _ => false,
            }),
        }
    }

    fn original_row(&self, row: usize, delimiter: u8) -> String {
        match self {
            Source::Csv(b) => b.original_row(row),
            Source::Frame { batch, .. } => batch.original_row(row, delimiter),
        }
    }
}

fn trim_cow(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
        Cow::Owned(s) => {
            let t = s.trim();
            if t.len() == s.len() {
                Cow::Owned(s)
            } else {
                Cow::Owned(t.to_string())
            }
        }
    }
}

fn frame_source(
    batch: Batch,
    mapping: &Mapping,
    kind: InputKind,
    input_columns: &[String],
) -> PolarsResult<Source> {
    let mut columns = Vec::with_capacity(mapping.index.len());
    for (spec, index) in kind.columns().iter().zip(&mapping.index) {
        let Some(i) = index else {
            columns.push(None);
            continue;
        };
        let column = batch.frame.column(&input_columns[*i])?;
        let dtype = column.dtype().clone();
        refuse_nested(&input_columns[*i], &dtype)?;
        let prepared =
            if spec.ty.is_date() && matches!(dtype, DataType::Date | DataType::Datetime(_, _)) {
                let days = column.cast(&DataType::Date)?.cast(&DataType::Int32)?;
                FrameColumn::Date(days.i32()?.rechunk().into_owned())
            } else if spec.ty.is_number() && dtype.is_primitive_numeric() {
                FrameColumn::Number(
                    column
                        .cast(&DataType::Float64)?
                        .f64()?
                        .rechunk()
                        .into_owned(),
                )
            } else {
                FrameColumn::Text(
                    column
                        .cast(&DataType::String)?
                        .str()?
                        .rechunk()
                        .into_owned(),
                )
            };
        columns.push(Some(prepared));
    }
    let mut all_columns = Vec::with_capacity(batch.frame.width());
    for column in batch.frame.columns() {
        refuse_nested(column.name(), column.dtype())?;
        all_columns.push(KeyColumn::of(column)?);
    }
    Ok(Source::Frame {
        batch,
        columns,
        all_columns,
    })
}

/// A Parquet column holding lists, arrays or structs has no single value per
/// cell to check: refuse it by name (the cast to text would fail with a
/// message naming neither the column nor its type).
fn refuse_nested(name: &str, dtype: &DataType) -> PolarsResult<()> {
    if dtype.is_nested() || matches!(dtype, DataType::Binary | DataType::BinaryOffset) {
        return Err(PolarsError::ComputeError(
            format!(
                "column '{name}' holds values of type {dtype}; koppel reads one text, number \
                 or date per cell: write the column as plain values"
            )
            .into(),
        ));
    }
    Ok(())
}

/// A problem found in one row (before it gets the file name).
struct RowProblem {
    /// Canonical column index, `None` for whole-row problems.
    spec: Option<usize>,
    code: &'static str,
    reason: String,
}

/// A parsed value of a valid cell.
#[derive(Clone)]
enum Value<'a> {
    Null,
    Text(Cow<'a, str>),
    Static(&'static str),
    Date(i32),
    Number(f64),
    Bsn(Bsn),
}

/// Per-chunk memory of [`Validator::check`]: a text buffer, and per column
/// the value labels already looked up (an enumeration has a handful of
/// distinct labels; normalising each cell's label again cost more than the
/// rest of its check).
struct Scratch {
    text: String,
    labels: Vec<Vec<(Box<str>, Option<&'static str>)>>,
}

/// Most distinct labels remembered per column and chunk.
const LABELS_REMEMBERED: usize = 64;

impl Scratch {
    fn new(columns: usize) -> Scratch {
        Scratch {
            text: String::new(),
            labels: vec![Vec::new(); columns],
        }
    }

    /// The canonical value of `label` in column `spec`, by `lookup` the
    /// first time a label is seen.
    fn label(
        &mut self,
        spec: usize,
        label: &str,
        lookup: impl FnOnce(&str) -> Option<&'static str>,
    ) -> Option<&'static str> {
        let seen = &mut self.labels[spec];
        if let Some((_, found)) = seen.iter().find(|(l, _)| l.as_ref() == label) {
            return *found;
        }
        let found = lookup(label);
        if seen.len() < LABELS_REMEMBERED {
            seen.push((label.into(), found));
        }
        found
    }
}

/// What a parallel chunk produced.
struct ChunkResult {
    /// Batch row indices of rows with no problem so far, in order.
    valid: Vec<u32>,
    /// Row hash of each valid row (duplicate detection).
    hashes: Vec<(u64, u64)>,
    /// Output columns of the valid rows (ingest only).
    columns: Option<Vec<Column>>,
    /// Rows with problems.
    rejected: Vec<(u32, Vec<RowProblem>)>,
    /// Totals rows (not data).
    footers: Vec<u32>,
    /// Per canonical column: values that hold a BSN (free-text columns only).
    bsn_values: Vec<u64>,
    /// Batch row indices of accepted BSNs of a workbook that had lost
    /// leading zeros (typed as a number) and were restored to nine digits.
    zeros_restored: Vec<u32>,
}

/// The output columns of a chunk's valid rows as they are built (ingest
/// only): text in builders, dates and numbers as plain vectors, per
/// canonical column.
struct OutputColumns {
    text: Vec<Option<StringChunkedBuilder>>,
    dates: Vec<Vec<Option<i32>>>,
    numbers: Vec<Vec<Option<f64>>>,
    /// Registers list a person's rows together: the pseudonym of the
    /// previous row's BSN is reused instead of hashed again.
    last_pseudonym: Option<(Bsn, [u8; 32])>,
}

impl OutputColumns {
    /// Empty columns for up to `rows` rows of `specs`.
    fn new(specs: &[ColumnSpec], rows: usize) -> OutputColumns {
        OutputColumns {
            text: specs
                .iter()
                .map(|s| {
                    (s.written && !s.ty.is_date() && !s.ty.is_number())
                        .then(|| StringChunkedBuilder::new(s.name.into(), rows))
                })
                .collect(),
            dates: specs.iter().map(|_| Vec::new()).collect(),
            numbers: specs.iter().map(|_| Vec::new()).collect(),
            last_pseudonym: None,
        }
    }

    /// Append a valid row's values: the BSN as its pseudonym, a local
    /// identifier as its keyed hash, everything else as checked.
    fn push(&mut self, specs: &[ColumnSpec], values: &[Value<'_>], pseudonymiser: &Pseudonymiser) {
        for (s, value) in values.iter().enumerate() {
            match value {
                Value::Bsn(bsn) => {
                    let hex = match self.last_pseudonym {
                        Some((last, hex)) if last == *bsn => hex,
                        _ => {
                            let hex = pseudonymiser.bsn(bsn).to_hex();
                            self.last_pseudonym = Some((*bsn, hex));
                            hex
                        }
                    };
                    if let (Some(b), Ok(text)) = (self.text[s].as_mut(), std::str::from_utf8(&hex))
                    {
                        b.append_value(text);
                    }
                }
                Value::Date(d) => self.dates[s].push(Some(*d)),
                Value::Number(x) => self.numbers[s].push(Some(*x)),
                Value::Null if specs[s].ty.is_date() => self.dates[s].push(None),
                Value::Null if specs[s].ty.is_number() => self.numbers[s].push(None),
                Value::Null => {
                    if let Some(b) = self.text[s].as_mut() {
                        b.append_null();
                    }
                }
                Value::Text(t) => {
                    if let Some(b) = self.text[s].as_mut() {
                        match specs[s].ty {
                            ValueType::LocalId(kind) => {
                                let hex = pseudonymiser.of_kind(kind, t).to_hex();
                                b.append_value(std::str::from_utf8(&hex).unwrap_or(""));
                            }
                            _ => b.append_value(t.as_ref()),
                        }
                    }
                }
                Value::Static(t) => {
                    if let Some(b) = self.text[s].as_mut() {
                        b.append_value(t);
                    }
                }
            }
        }
    }

    /// The written columns, in output order (the BSN column renamed to
    /// the pseudonym column); `rows` is the number of rows pushed.
    fn finish(mut self, specs: &[ColumnSpec], rows: usize) -> Vec<Column> {
        let mut columns = Vec::with_capacity(specs.len());
        for (s, spec) in specs.iter().enumerate().filter(|(_, s)| s.written) {
            let name = if s == 0 { PSEUDONYM_COLUMN } else { spec.name };
            let column = if spec.ty.is_date() {
                Int32Chunked::from_iter_options(name.into(), self.dates[s].iter().copied())
                    .into_date()
                    .into_column()
            } else if spec.ty.is_number() {
                Float64Chunked::from_iter_options(name.into(), self.numbers[s].iter().copied())
                    .into_column()
            } else {
                match self.text[s].take() {
                    Some(b) => {
                        let mut ca = b.finish();
                        ca.rename(name.into());
                        ca.into_column()
                    }
                    None => Column::full_null(name.into(), rows, &DataType::String),
                }
            };
            columns.push(column);
        }
        columns
    }
}

struct Validator<'a> {
    kind: InputKind,
    mapping: &'a Mapping,
    config: &'a IngestConfig,
    max_year: i32,
    pseudonymiser: Option<&'a Pseudonymiser>,
    /// The input is a workbook: a BSN typed as a number has lost its
    /// leading zeros, and a date cell may carry a time of day.
    sheet: bool,
    /// Canonical index of `start_date`, `end_date`, `benefit_type`, `municipality`.
    start: Option<usize>,
    end: Option<usize>,
    benefit_type: Option<usize>,
    municipality: Option<usize>,
}

impl Validator<'_> {
    /// Check rows `rows` of a batch: footers set aside, each other row's
    /// cells checked, valid rows hashed for duplicate detection and (when
    /// ingesting) their output values built.
    fn chunk(&self, source: &Source, rows: std::ops::Range<usize>) -> ChunkResult {
        let specs = self.kind.columns();
        let n = rows.len();
        let mut output = self.pseudonymiser.map(|_| OutputColumns::new(specs, n));
        let mut result = ChunkResult {
            valid: Vec::with_capacity(n),
            hashes: Vec::with_capacity(n),
            columns: None,
            rejected: Vec::new(),
            footers: Vec::new(),
            bsn_values: vec![0; specs.len()],
            zeros_restored: Vec::new(),
        };
        let mut values: Vec<Value<'_>> = Vec::with_capacity(specs.len());
        let mut problems: Vec<RowProblem> = Vec::new();
        let mut scratch = Scratch::new(specs.len());
        let mut key = Vec::new();
        for row in rows {
            if self.is_footer(source, row) {
                result.footers.push(row as u32);
                continue;
            }
            values.clear();
            self.check_cells(
                source,
                row,
                &mut values,
                &mut problems,
                &mut scratch,
                &mut result,
            );
            self.cross_checks(&values, &mut problems);
            if !problems.is_empty() {
                result
                    .rejected
                    .push((row as u32, std::mem::take(&mut problems)));
                continue;
            }
            source.row_key(row, &mut key);
            let h = xxhash_rust::xxh3::xxh3_128(&key);
            result.hashes.push((h as u64, (h >> 64) as u64));
            result.valid.push(row as u32);
            if let (Some(pseudonymiser), Some(output)) = (self.pseudonymiser, output.as_mut()) {
                output.push(specs, &values, pseudonymiser);
            }
        }
        result.columns = output.map(|o| o.finish(specs, result.valid.len()));
        result
    }

    /// Check every cell of `row` into `values` (one per canonical column,
    /// `Null` for a bad cell), its problems into `problems`; counts BSNs in
    /// free text and restored leading zeros in `result`.
    fn check_cells<'s>(
        &self,
        source: &'s Source,
        row: usize,
        values: &mut Vec<Value<'s>>,
        problems: &mut Vec<RowProblem>,
        scratch: &mut Scratch,
        result: &mut ChunkResult,
    ) {
        for (s, spec) in self.kind.columns().iter().enumerate() {
            let cell = source.cell(self.mapping, s, row);
            let short_number = self.sheet
                && spec.ty == ValueType::Bsn
                && matches!(&cell, Cell::Text(t) if t.len() < 9 && t.bytes().all(|b| b.is_ascii_digit()));
            let value = match self.check(s, spec.ty, spec.value_required, cell, scratch) {
                Ok(v @ Value::Bsn(_)) if short_number => {
                    result.zeros_restored.push(row as u32);
                    v
                }
                Ok(Value::Text(text)) => {
                    // Free text only: codes (municipality, instrument)
                    // are checked against their lists.
                    let free = matches!(spec.ty, ValueType::Text | ValueType::LocalId(_));
                    if free && contains_bsn(&text) {
                        result.bsn_values[s] += 1;
                    }
                    Value::Text(text)
                }
                Ok(v) => v,
                Err((code, reason)) => {
                    problems.push(RowProblem {
                        spec: Some(s),
                        code,
                        reason,
                    });
                    Value::Null
                }
            };
            values.push(value);
        }
    }

    /// A totals row below the data: no BSN (or a totals label in its place)
    /// and a totals label in some cell.
    fn is_footer(&self, source: &Source, row: usize) -> bool {
        let bsn_empty = match source.cell(self.mapping, 0, row) {
            Cell::Null => true,
            Cell::Text(text) => is_total_label(&text),
            _ => false,
        };
        bsn_empty && source.has_total_label(row)
    }

    /// Check one cell; the parsed value, or (code, reason).
    fn check<'c>(
        &self,
        spec: usize,
        ty: ValueType,
        required: bool,
        cell: Cell<'c>,
        scratch: &mut Scratch,
    ) -> Result<Value<'c>, (&'static str, String)> {
        let text = match cell {
            Cell::Undecodable => {
                return Err((
                    "encoding",
                    "the value is not valid UTF-8 text (the file mixes encodings)".to_string(),
                ))
            }
            Cell::Null => {
                if ty == ValueType::Bsn {
                    return Err((
                        koppel_pseudonym::BsnProblem::Missing.code(),
                        koppel_pseudonym::BsnProblem::Missing.to_string(),
                    ));
                }
                if required {
                    return Err(("missing_value", "a value is required".to_string()));
                }
                return Ok(Value::Null);
            }
            Cell::Date(days) => {
                return match ty {
                    ValueType::Date { min_year } => {
                        self.check_year(days, min_year).map(|_| Value::Date(days))
                    }
                    _ => Ok(Value::Text(Cow::Owned(calendar::format_iso(days)))),
                }
            }
            Cell::Number(x) => {
                return match ty {
                    ValueType::Hours | ValueType::Wage => check_number(ty, x),
                    _ => Ok(Value::Text(Cow::Owned(x.to_string()))),
                }
            }
            Cell::Text(text) => text,
        };
        match ty {
            ValueType::Bsn => {
                // A BSN typed into a spreadsheet as a number loses its
                // leading zeros (012345672 -> 12345672, 001234567 ->
                // 1234567). Eight digits get their zero back for every
                // input; in a workbook shorter runs of digits are padded
                // too, and kept only if the eleven-test then passes.
                let padded;
                let digits =
                    if self.sheet && text.len() < 8 && text.bytes().all(|b| b.is_ascii_digit()) {
                        padded = format!("{text:0>9}");
                        padded.as_str()
                    } else {
                        text.as_ref()
                    };
                normalise_bsn(digits)
                    .map(Value::Bsn)
                    .map_err(|p| (p.code(), p.to_string()))
            }
            ValueType::Text | ValueType::LocalId(_) => Ok(Value::Text(text)),
            ValueType::Municipality => {
                let code = match municipality_code(&text) {
                    Some(code) => code,
                    None => {
                        return match self.config.municipalities.code_of_name(&text) {
                            Some(code) => Ok(Value::Text(Cow::Owned(code.to_string()))),
                            None => Err((
                                "invalid_municipality_code",
                                format!(
                                    "{} is neither a CBS municipality code (GM + 4 digits) \
                                     nor the name of a municipality",
                                    quote(&text)
                                ),
                            )),
                        }
                    }
                };
                match self.config.municipalities.get(&code) {
                    Some(m) => Ok(Value::Text(Cow::Owned(m.code.clone()))),
                    None => Err((
                        "unknown_municipality",
                        format!("municipality code {code} does not exist (not current, nor merged away since 2015)"),
                    )),
                }
            }
            ValueType::Instrument => match self.config.instruments.lookup(&text, &mut scratch.text)
            {
                Some(code) => Ok(Value::Text(Cow::Owned(code.to_string()))),
                None => Err((
                    "unknown_instrument",
                    format!(
                        "instrument {} is not a code, label or alias in the instrument catalogue",
                        quote(&text)
                    ),
                )),
            },
            ValueType::Date { min_year } => {
                // A workbook's date cell with a time of day reads
                // `YYYY-MM-DD HH:MM:SS`: the day is what counts.
                let date = match (self.sheet, text.split_once(' ')) {
                    (true, Some((date, time))) if time.contains(':') => date,
                    _ => text.as_ref(),
                };
                let days = parse_date(date).ok_or_else(|| {
                    (
                        "unparseable_date",
                        format!(
                            "{} is not a date (use DD-MM-YYYY or YYYY-MM-DD)",
                            quote(&text)
                        ),
                    )
                })?;
                self.check_year(days, min_year)?;
                Ok(Value::Date(days))
            }
            ValueType::Enum(allowed) => allowed
                .iter()
                .find(|a| a.eq_ignore_ascii_case(&text))
                .copied()
                .or_else(|| {
                    scratch.label(spec, &text, |label| {
                        let column = self.kind.columns()[spec].name;
                        let index = self.config.values.lookup(self.kind, column, label)?;
                        allowed.get(index).copied()
                    })
                })
                .map(Value::Static)
                .ok_or_else(|| {
                    (
                        "invalid_value",
                        format!(
                            "{} is not allowed in column '{}' (allowed: {})",
                            quote(&text),
                            self.kind.columns()[spec].name,
                            allowed.join(", ")
                        ),
                    )
                }),
            ValueType::Hours | ValueType::Wage => {
                let x = parse_number(&text)
                    .ok_or_else(|| ("not_a_number", format!("{} is not a number", quote(&text))))?;
                check_number(ty, x)
            }
        }
    }

    fn check_year(&self, days: i32, min_year: i32) -> Result<(), (&'static str, String)> {
        let year = calendar::civil_from_days(days).0;
        if year < min_year || year > self.max_year {
            return Err((
                "date_out_of_range",
                format!(
                    "date {} lies outside {min_year}..{}",
                    calendar::format_iso(days),
                    self.max_year
                ),
            ));
        }
        Ok(())
    }

    fn cross_checks(&self, values: &[Value<'_>], problems: &mut Vec<RowProblem>) {
        if let (Some(s), Some(e)) = (self.start, self.end) {
            if let (Value::Date(start), Value::Date(end)) = (&values[s], &values[e]) {
                if end < start {
                    problems.push(RowProblem {
                        spec: Some(e),
                        code: "end_before_start",
                        reason: format!(
                            "end date {} is before start date {}",
                            calendar::format_iso(*end),
                            calendar::format_iso(*start)
                        ),
                    });
                }
            }
        }
        if let (Some(t), Some(m)) = (self.benefit_type, self.municipality) {
            if let (Value::Static(kind), Value::Null) = (&values[t], &values[m]) {
                if ASSISTANCE_TYPES.contains(kind) && !problems.iter().any(|p| p.spec == Some(m)) {
                    problems.push(RowProblem {
                        spec: Some(m),
                        code: "missing_value",
                        reason: format!("a {kind} spell must name the paying municipality"),
                    });
                }
            }
        }
    }
}

fn check_number(ty: ValueType, x: f64) -> Result<Value<'static>, (&'static str, String)> {
    let ok = match ty {
        ValueType::Hours => (0.0..=80.0).contains(&x),
        _ => x >= 0.0 && x.is_finite(),
    };
    if ok {
        Ok(Value::Number(x))
    } else if ty == ValueType::Hours {
        Err((
            "number_out_of_range",
            format!("{x} hours per week is outside 0–80"),
        ))
    } else {
        Err((
            "number_out_of_range",
            format!("wage {x} is negative or not finite"),
        ))
    }
}

/// `GMxxxx` from `GM0363`, `gm363`, `0363` or `363`.
fn municipality_code(text: &str) -> Option<String> {
    let t = text.trim();
    let digits = match (t.get(..2), t.get(2..)) {
        (Some(prefix), Some(rest)) if prefix.eq_ignore_ascii_case("GM") => rest.trim_start(),
        _ => t,
    };
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!("GM{digits:0>4}"))
}

/// A date `YYYY-MM-DD`, or `DD-MM-YYYY` / `D-M-YYYY`, as days since 1970-01-01.
pub fn parse_date(text: &str) -> Option<i32> {
    let mut parts = text.split('-');
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let num = |s: &str, min: usize, max: usize| -> Option<u32> {
        if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (y, m, d) = if a.len() == 4 {
        (num(a, 4, 4)?, num(b, 1, 2)?, num(c, 1, 2)?)
    } else {
        (num(c, 4, 4)?, num(b, 1, 2)?, num(a, 1, 2)?)
    };
    calendar::date(y as i32, m, d)
}

fn current_year() -> i32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    calendar::civil_from_days((secs / 86_400) as i32).0
}

/// A number with a decimal point or a decimal comma (`12,5`).
fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    let x: f64 = if t.contains(',') && !t.contains('.') {
        t.replacen(',', ".", 1).parse().ok()?
    } else {
        t.parse().ok()?
    };
    x.is_finite().then_some(x)
}

/// The duplicate index: 64 bits of the row hash as key, 24 more bits and
/// the row number as value (88 bits compared in all: collisions are
/// negligible), 16 bytes per accepted row.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A rejected row: line, batch row index (none for malformed rows), problems.
type Rejection = (
    u64,
    Option<usize>,
    Vec<(Option<usize>, &'static str, String)>,
);

type DuplicateIndex = HashMap<u64, u64, BuildHasherDefault<IdentityHasher>>;

const ROW_BITS: u32 = 40;

/// Accumulates the report while batches are processed.
struct Collector {
    file: String,
    report: ValidationReport,
    max_problems: usize,
    trajectory_id: Option<usize>,
    mapping_headers: Vec<String>,
    /// Per canonical column: what it allows, for the Dutch reasons.
    allowed_nl: Vec<Allowed>,
    duplicates: DuplicateIndex,
    /// Per canonical column: values holding a BSN.
    bsn_values: Vec<u64>,
}

impl Collector {
    fn reject(
        &mut self,
        row: u64,
        problems: &[(Option<usize>, &'static str, String)],
        trajectory_id: Option<String>,
    ) {
        self.report.rejected += 1;
        if let Some((_, code, _)) = problems.first() {
            *self
                .report
                .rejected_by_reason
                .entry((*code).to_string())
                .or_default() += 1;
        }
        for (i, (spec, code, reason)) in problems.iter().enumerate() {
            *self
                .report
                .problems_by_reason
                .entry((*code).to_string())
                .or_default() += 1;
            if !problems[..i].iter().any(|p| p.1 == *code) {
                *self
                    .report
                    .rows_by_reason
                    .entry((*code).to_string())
                    .or_default() += 1;
            }
            self.report.problems_total += 1;
            if self.report.problems.len() < self.max_problems {
                let (column, source_column, allowed) = match spec {
                    Some(s) => (
                        self.report.columns[*s].column.clone(),
                        self.mapping_headers[*s].clone(),
                        &self.allowed_nl[*s],
                    ),
                    None => (String::new(), String::new(), &Allowed::Nothing),
                };
                self.report.problems.push(Problem {
                    file: self.file.clone(),
                    row,
                    column,
                    source_column,
                    reason_code: (*code).to_string(),
                    reason: reason.clone(),
                    reason_nl: dutch_reason(code, allowed),
                    trajectory_id: trajectory_id.clone(),
                });
            }
        }
    }

    /// Fold one validated batch into the report and the quarantine file:
    /// the output frames of the batch and which of their rows to keep (an
    /// exact copy of an earlier row is dropped).
    fn absorb(
        &mut self,
        source: &Source,
        mapping: &Mapping,
        results: Vec<ChunkResult>,
        mut quarantine: Option<&mut RejectsWriter>,
        out_delimiter: u8,
    ) -> Result<(Vec<DataFrame>, Vec<bool>), IngestError> {
        let (malformed, blank) = match source {
            Source::Csv(b) => (b.malformed.clone(), b.blank_lines),
            Source::Frame { batch, .. } => (batch.malformed.clone(), batch.blank_lines),
        };
        self.report.blank_lines += blank;
        let footers: usize = results.iter().map(|r| r.footers.len()).sum();
        self.report.rows_read += (source.len() - footers + malformed.len()) as u64;
        // Rejections of this batch, merged in row order.
        let mut rejections: Vec<Rejection> = Vec::new();
        for m in &malformed {
            rejections.push((m.row, None, vec![(None, m.code, m.reason.clone())]));
        }
        let mut keep: Vec<bool> = Vec::new();
        let mut frames: Vec<DataFrame> = Vec::new();
        for result in results {
            for (s, n) in result.bsn_values.iter().enumerate() {
                self.bsn_values[s] += n;
            }
            if let Some(&first) = result.zeros_restored.first() {
                self.report.bsn_zeros_restored += result.zeros_restored.len() as u64;
                let line = source.line(first as usize);
                let seen = self.report.bsn_zeros_restored_row.get_or_insert(line);
                *seen = (*seen).min(line);
            }
            for &row in &result.footers {
                let line = source.line(row as usize);
                self.report.footer_rows += 1;
                self.report.footer_row.get_or_insert(line);
            }
            for (row, problems) in result.rejected {
                let row = row as usize;
                rejections.push((
                    source.line(row),
                    Some(row),
                    problems
                        .into_iter()
                        .map(|p| (p.spec, p.code, p.reason))
                        .collect(),
                ));
            }
            for (&row, &(h1, h2)) in result.valid.iter().zip(&result.hashes) {
                let row = row as usize;
                let line = source.line(row);
                let check = h2 >> ROW_BITS << ROW_BITS;
                let value = check | (line & ((1 << ROW_BITS) - 1));
                let slot = self.duplicates.entry(h1);
                match slot {
                    Entry::Occupied(ref e) if *e.get() >> ROW_BITS << ROW_BITS == check => {
                        let existing = *e.get();
                        let first = existing & ((1 << ROW_BITS) - 1);
                        self.report.duplicates += 1;
                        rejections.push((
                            line,
                            Some(row),
                            vec![(
                                None,
                                "duplicate_row",
                                format!("exact copy of row {first} (that row is kept)"),
                            )],
                        ));
                        keep.push(false);
                    }
                    _ => {
                        slot.or_insert(value);
                        keep.push(true);
                    }
                }
            }
            if let Some(columns) = result.columns {
                let height = result.valid.len();
                frames.push(DataFrame::new(height, columns).map_err(|source| {
                    IngestError::Table(TableError::Polars {
                        path: self.file.clone().into(),
                        source,
                    })
                })?);
            }
        }
        rejections.sort_by_key(|r| r.0);
        for (line, row, problems) in &rejections {
            let trajectory_id = match (self.trajectory_id, row) {
                (Some(t), Some(r)) => match source.cell(mapping, t, *r) {
                    Cell::Text(text) if looks_like_identifier(&text) => {
                        Some("(not shown: it could be a BSN)".to_string())
                    }
                    Cell::Text(text) => Some(text.into_owned()),
                    _ => None,
                },
                _ => None,
            };
            self.reject(*line, problems, trajectory_id);
            if let Some(q) = quarantine.as_deref_mut() {
                let original = match row {
                    Some(r) => source.original_row(*r, out_delimiter),
                    None => malformed
                        .iter()
                        .find(|m| m.row == *line)
                        .map(|m| m.original.clone())
                        .unwrap_or_default(),
                };
                let reason: Vec<&str> = problems.iter().map(|p| p.2.as_str()).collect();
                q.write(*line, problems[0].1, &reason.join("; "), &original)?;
            }
        }
        self.report.accepted += keep.iter().filter(|&&k| k).count() as u64;
        Ok((frames, keep))
    }
}

/// What the Dutch reasons say a column allows.
fn allowed_nl(kind: InputKind, config: &IngestConfig) -> Vec<Allowed> {
    kind.columns()
        .iter()
        .map(|spec| match spec.ty {
            ValueType::Enum(_) => config
                .values
                .dutch_names(kind, spec.name)
                .map_or(Allowed::Nothing, Allowed::OneOf),
            ValueType::Municipality => Allowed::Municipality,
            ValueType::Instrument => Allowed::Instrument(config.instruments.dutch_labels()),
            _ => Allowed::Nothing,
        })
        .collect()
}

/// An input opened in the reader that suits its format; CSV is read raw
/// (decoded in the workers).
enum Input {
    Csv(Box<RawCsvReader>),
    Table(TableReader),
}

/// An opened input and what the report says about how it was read.
struct OpenedInput {
    input: Input,
    columns: Vec<String>,
    format: String,
    encoding: Option<String>,
    delimiter: Option<u8>,
    header_row: Option<u64>,
    sheet: Option<String>,
}

fn open_input(
    kind: InputKind,
    path: &Path,
    options: &ValidateOptions,
) -> Result<OpenedInput, IngestError> {
    let format = TableFormat::from_path(path)
        .ok_or_else(|| IngestError::Read(ReadError::UnknownFormat(path.to_path_buf())))?;
    let batch_rows = options.batch_rows.max(1);
    let chooser = header_chooser(kind, &options.config);
    let format_name = TableFormat::name_of(path);
    Ok(match format {
        TableFormat::Csv => {
            let reader = RawCsvReader::open_with(path, batch_rows, Some(&chooser))?;
            let dialect = reader.dialect();
            OpenedInput {
                columns: reader.columns().to_vec(),
                format: format_name,
                encoding: Some(match dialect.encoding {
                    TextEncoding::Utf8 if dialect.bom => "utf-8 (with BOM)".to_string(),
                    TextEncoding::Utf8 => "utf-8".to_string(),
                    TextEncoding::Windows1252 => "windows-1252".to_string(),
                    TextEncoding::Ascii => "ascii".to_string(),
                }),
                delimiter: Some(dialect.delimiter),
                header_row: Some(reader.header_line()),
                sheet: None,
                input: Input::Csv(Box::new(reader)),
            }
        }
        TableFormat::Parquet | TableFormat::Sheet => {
            let read = ReadOptions {
                sheet: options.sheet.clone(),
                header: Some(chooser),
            };
            let reader = TableReader::open_with(path, batch_rows, &read)?;
            OpenedInput {
                columns: reader.columns().to_vec(),
                format: format_name,
                encoding: None,
                delimiter: None,
                header_row: (format == TableFormat::Sheet).then(|| reader.header_row()),
                sheet: reader.sheet().map(str::to_string),
                input: Input::Table(reader),
            }
        }
    })
}

/// The report before any row is read.
/// Rows a Parquet file says it holds (0 for other formats or when unknown):
/// the duplicate index is sized for them at once, so it is never rehashed
/// while it grows (at 32 M rows that rehashing, and the zeroing of the
/// memory of each larger table, cost more than the lookups).
fn expected_rows(path: &Path) -> usize {
    if TableFormat::from_path(path) != Some(TableFormat::Parquet) {
        return 0;
    }
    std::fs::File::open(path)
        .ok()
        .and_then(|file| ParquetReader::new(file).num_rows().ok())
        .unwrap_or(0)
}

fn empty_report(
    kind: InputKind,
    path: &Path,
    opened: &OpenedInput,
    mapping: &Mapping,
    key_id: Option<String>,
) -> ValidationReport {
    ValidationReport {
        file: path.display().to_string(),
        kind,
        format: opened.format.clone(),
        sheet: opened.sheet.clone(),
        encoding: opened.encoding.clone(),
        delimiter: opened.delimiter.map(|d| match d {
            b'\t' => "tab".to_string(),
            d => char::from(d).to_string(),
        }),
        header_row: opened.header_row,
        rows_read: 0,
        accepted: 0,
        rejected: 0,
        duplicates: 0,
        blank_lines: 0,
        footer_rows: 0,
        footer_row: None,
        rejected_by_reason: BTreeMap::new(),
        rows_by_reason: BTreeMap::new(),
        problems_by_reason: BTreeMap::new(),
        columns: kind
            .columns()
            .iter()
            .zip(&mapping.index)
            .map(|(s, i)| ColumnMapping {
                column: s.name.to_string(),
                source: i.map(|i| opened.columns[i].clone()),
            })
            .collect(),
        ignored_columns: mapping.ignored.clone(),
        problems: Vec::new(),
        problems_total: 0,
        bsn_in_columns: BTreeMap::new(),
        bsn_zeros_restored: 0,
        bsn_zeros_restored_row: None,
        key_id,
    }
}

/// Output frames of a batch and which of their rows to keep.
type WriteJob = (Vec<DataFrame>, Vec<bool>);

/// Write on a separate thread: batch n is encoded while n+1 is validated.
fn spawn_writer<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    mut writer: TableWriter,
    hooks: WriterHooks<'scope>,
    path: &'scope Path,
) -> (
    mpsc::SyncSender<WriteJob>,
    std::thread::ScopedJoinHandle<'scope, Result<(), IngestError>>,
) {
    let table_error = move |source: PolarsError| {
        IngestError::Table(TableError::Polars {
            path: path.to_path_buf(),
            source,
        })
    };
    let (tx, rx) = mpsc::sync_channel::<WriteJob>(1);
    let (observe, mut extract) = hooks;
    let handle = scope.spawn(move || -> Result<(), IngestError> {
        for (frames, keep) in rx {
            let mut it = frames.into_iter();
            let Some(mut frame) = it.next() else {
                continue;
            };
            for f in it {
                frame.vstack_mut_owned(f).map_err(table_error)?;
            }
            if keep.iter().any(|k| !k) {
                let mask = BooleanChunked::from_slice("keep".into(), &keep);
                frame = frame.filter(&mask).map_err(table_error)?;
            }
            frame.rechunk_mut_par();
            if frame.height() > 0 {
                writer.write(&frame)?;
                if let Some(observe) = observe {
                    observe(&frame).map_err(table_error)?;
                }
                if let Some((extract, select)) = extract.as_mut() {
                    let mask = select(&frame).map_err(table_error)?;
                    let rows = frame.filter(&mask).map_err(table_error)?;
                    if rows.height() > 0 {
                        extract.write(&rows)?;
                    }
                }
            }
        }
        writer.finish()?;
        if let Some((extract, _)) = extract {
            extract.finish()?;
        }
        Ok(())
    });
    (tx, handle)
}

/// Read ahead on a separate thread: batch n+1 is parsed while batch n is
/// validated.
fn spawn_reader<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    input: Input,
    mapping: &'scope Mapping,
    kind: InputKind,
    columns: &'scope [String],
    path: &'scope Path,
) -> mpsc::Receiver<Result<Source, IngestError>> {
    let (sender, receiver) = mpsc::sync_channel::<Result<Source, IngestError>>(1);
    scope.spawn(move || {
        let send = |item| sender.send(item).is_ok();
        match input {
            Input::Csv(reader) => {
                for batch in *reader {
                    if !send(batch.map(Source::Csv).map_err(IngestError::from)) {
                        break;
                    }
                }
            }
            Input::Table(reader) => {
                for batch in reader {
                    let item = batch.map_err(IngestError::from).and_then(|b| {
                        frame_source(b, mapping, kind, columns).map_err(|source| {
                            IngestError::Table(TableError::Polars {
                                path: path.to_path_buf(),
                                source,
                            })
                        })
                    });
                    if !send(item) {
                        break;
                    }
                }
            }
        }
    });
    receiver
}

fn run(
    kind: InputKind,
    path: &Path,
    options: &ValidateOptions,
    outputs: Option<Outputs<'_>>,
) -> Result<ValidationReport, IngestError> {
    let opened = open_input(kind, path, options)?;
    let config = options.config.as_ref();
    let mapping = map_columns(kind, path, &opened.columns, config)?;
    let specs = kind.columns();
    let position = |name: &str| specs.iter().position(|s| s.name == name);
    let validator = Validator {
        kind,
        mapping: &mapping,
        config,
        max_year: options.max_year,
        pseudonymiser: outputs.as_ref().map(|o| o.pseudonymiser),
        sheet: opened.sheet.is_some(),
        start: position("start_date"),
        end: position("end_date"),
        benefit_type: position("benefit_type"),
        municipality: position("municipality"),
    };
    let key_id = outputs
        .as_ref()
        .map(|o| o.pseudonymiser.key_id().to_string());
    let mut collector = Collector {
        file: path.display().to_string(),
        report: empty_report(kind, path, &opened, &mapping, key_id),
        max_problems: options.max_problems,
        trajectory_id: position("trajectory_id").filter(|&t| mapping.index[t].is_some()),
        mapping_headers: mapping.header.clone(),
        allowed_nl: allowed_nl(kind, config),
        duplicates: DuplicateIndex::with_capacity_and_hasher(
            expected_rows(path),
            Default::default(),
        ),
        bsn_values: vec![0; specs.len()],
    };
    let mut writer = None;
    let mut extract = None;
    let mut quarantine = None;
    if let Some(o) = &outputs {
        let mut metadata = pseudonym_metadata(o.pseudonymiser);
        metadata.push((KIND_METADATA.to_string(), kind.as_str().to_string()));
        writer = Some(TableWriter::create(
            o.parquet,
            &output_schema(kind),
            &metadata,
        )?);
        if let Some(e) = &o.hooks.extract {
            extract = Some((
                TableWriter::create(e.path, &output_schema(kind), &metadata)?,
                e.select,
            ));
        }
        quarantine = Some(RejectsWriter::create(o.quarantine)?);
    }
    let OpenedInput {
        input,
        columns,
        delimiter,
        sheet,
        ..
    } = opened;
    // Rejected rows of a workbook go to the quarantine file `;`-separated,
    // as Dutch Excel writes CSV.
    let out_delimiter = delimiter.unwrap_or(if sheet.is_some() { b';' } else { b',' });
    std::thread::scope(|scope| -> Result<(), IngestError> {
        let (write_tx, write_handle) = match writer.take() {
            Some(w) => {
                let observe = outputs.as_ref().and_then(|o| o.hooks.observe);
                let (tx, handle) = spawn_writer(scope, w, (observe, extract.take()), path);
                (Some(tx), Some(handle))
            }
            None => (None, None),
        };
        let receiver = spawn_reader(scope, input, &mapping, kind, &columns, path);
        for source in receiver {
            let source = source?;
            let n = source.len();
            let ranges: Vec<std::ops::Range<usize>> = (0..n)
                .step_by(CHUNK_ROWS)
                .map(|s| s..(s + CHUNK_ROWS).min(n))
                .collect();
            let results: Vec<ChunkResult> = ranges
                .into_par_iter()
                .map(|r| validator.chunk(&source, r))
                .collect();
            let job = collector.absorb(
                &source,
                &mapping,
                results,
                quarantine.as_mut(),
                out_delimiter,
            )?;
            if let Some(tx) = write_tx.as_ref() {
                if tx.send(job).is_err() {
                    break;
                }
            }
            tracing::debug!(
                file = %path.display(),
                rows_read = collector.report.rows_read,
                "batch validated"
            );
        }
        drop(write_tx);
        if let Some(handle) = write_handle {
            handle.join().map_err(|_| {
                IngestError::Table(TableError::Failed {
                    path: path.to_path_buf(),
                    reason: "the output writer stopped unexpectedly".to_string(),
                })
            })??;
        }
        Ok(())
    })?;

    if collector.report.rows_read == 0 && !options.allow_empty {
        return Err(IngestError::NoDataRows(path.to_path_buf()));
    }
    if let Some(q) = quarantine {
        q.finish()?;
    }
    let mut report = collector.report;
    note_bsn_columns(&mut report, kind, &collector.bsn_values, path);
    debug_assert_eq!(report.rows_read, report.accepted + report.rejected);
    tracing::info!(
        file = %path.display(),
        kind = %kind,
        rows_read = report.rows_read,
        accepted = report.accepted,
        rejected = report.rejected,
        duplicates = report.duplicates,
        key_id = report.key_id.as_deref().unwrap_or("-"),
        "{}",
        if outputs.is_some() { "ingested" } else { "validated" }
    );
    Ok(report)
}

/// Warn of, and list in the report, the free-text columns in which
/// `bsn_values` (per canonical column) counted values holding a BSN.
fn note_bsn_columns(
    report: &mut ValidationReport,
    kind: InputKind,
    bsn_values: &[u64],
    path: &Path,
) {
    for (spec, &n) in kind.columns().iter().zip(bsn_values) {
        if n > 0 {
            tracing::warn!(
                file = %path.display(),
                column = spec.name,
                values = n,
                "column {} contains BSNs: {}",
                spec.name,
                if spec.written { "written as keyed hashes" } else { "not written" }
            );
            report.bsn_in_columns.insert(spec.name.to_string(), n);
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_in_both_orders_and_reject_impossible_days() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("02-01-1970"), Some(1));
        assert_eq!(parse_date("2-1-1970"), Some(1));
        assert_eq!(parse_date("29-02-2020"), parse_date("2020-02-29"));
        for bad in [
            "31-02-2021",
            "30-02-2019",
            "00-00-0000",
            "#WAARDE!",
            "15-13-2019",
            "2019-13-15",
            "2019-02-30",
            "2021/01/01",
            "1-1-21",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        for days in [-1, 0, 59, 18_000, 20_000, -25_000] {
            let (y, m, d) = calendar::civil_from_days(days);
            assert_eq!(parse_date(&format!("{d}-{m}-{y:04}")), Some(days));
        }
    }

    #[test]
    fn municipality_codes_are_normalised() {
        assert_eq!(municipality_code("GM0363").as_deref(), Some("GM0363"));
        assert_eq!(municipality_code("gm363").as_deref(), Some("GM0363"));
        assert_eq!(municipality_code("363").as_deref(), Some("GM0363"));
        assert_eq!(municipality_code("Amsterdam"), None);
        assert_eq!(municipality_code("GM03630"), None);
        assert_eq!(municipality_code("cÿTM81"), None);
    }

    /// Parquet rows are compared by their typed values: rows that differ
    /// only in a date, a number, a boolean, an extra column or a null are
    /// kept; exact copies are rejected and counted; labels of a text cell
    /// still mark a totals row.
    #[test]
    fn parquet_duplicates_compare_typed_values() {
        let bsn = |n: u64| koppel_pseudonym::bsn::synthetic_bsn(n).as_str().to_string();
        let b = [bsn(1), bsn(1), bsn(1), bsn(1), bsn(1), bsn(1), bsn(2)];
        let start = [100, 100, 101, 100, 100, 100, 100];
        let end = [
            Some(200),
            Some(200),
            Some(200),
            None,
            Some(200),
            Some(200),
            Some(200),
        ];
        let hours = [20.0, 20.0, 20.0, 20.0, 20.5, 20.0, 20.0];
        let flag = [true, true, true, true, true, false, true];
        let mut frame = df!(
            "bsn" => b.as_slice(),
            "job_id" => ["J1"; 7],
            "start_date" => start.as_slice(),
            "end_date" => end.as_slice(),
            "employment_type" => ["employee"; 7],
            "contract" => ["permanent"; 7],
            "hours_per_week" => hours.as_slice(),
            "monthly_wage" => [1500.25; 7],
            "sector" => ["Q"; 7],
            "flag" => flag.as_slice(),
        )
        .unwrap();
        for name in ["start_date", "end_date"] {
            let dates = frame.column(name).unwrap().cast(&DataType::Date).unwrap();
            frame.with_column(dates).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("employment.parquet");
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .finish(&mut frame)
            .unwrap();
        let options = ValidateOptions {
            batch_rows: 4,
            ..ValidateOptions::default()
        };
        let report = validate_file(InputKind::Employment, &path, &options).unwrap();
        assert_eq!(report.rows_read, 7);
        assert_eq!(report.duplicates, 1, "{:?}", report.problems);
        assert_eq!(report.problems[0].row, 2);
        assert_eq!(report.problems[0].reason_code, "duplicate_row");
        assert_eq!(report.accepted, 6);
    }

    #[test]
    fn totals_labels_need_letters() {
        assert!(is_total_label("Totaal"));
        assert!(is_total_label("Grand Total:"));
        for no in ["123456782", "", "  ", "12-03-2020", "1.234,50"] {
            assert!(!is_total_label(no), "{no}");
        }
    }

    #[test]
    fn numbers_accept_decimal_commas() {
        assert_eq!(parse_number("12,5"), Some(12.5));
        assert_eq!(parse_number("1811.34"), Some(1811.34));
        assert_eq!(parse_number("-3"), Some(-3.0));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("NaN"), None);
    }
}
