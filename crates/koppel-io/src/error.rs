//! Errors for files that cannot be read as a table at all. Row-level problems
//! are not errors: they are [`crate::MalformedRow`]s.

use std::path::PathBuf;

/// Why a file cannot be read as a table. Messages name the file and, where it
/// helps, the position; they never quote field values.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The extension is not one koppel reads.
    #[error(
        "{0}: unknown file type; koppel reads .csv (or .txt/.tsv), spreadsheets \
         (.xlsx, .xlsm, .xlsb, .xls, .ods) and .parquet files"
    )]
    UnknownFormat(PathBuf),
    /// The operating system could not read the file.
    #[error("{path}: cannot read the file: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is empty: no header line.
    #[error("{0}: the file is empty (no header line)")]
    Empty(PathBuf),
    /// The file holds binary data, not text.
    #[error(
        "{0}: this is not a text (CSV) file: it contains binary data (NUL bytes); \
         export the sheet as CSV (comma or semicolon separated)"
    )]
    NotText(PathBuf),
    /// The header is unusable.
    #[error("{path}: bad header line: {reason}")]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The Parquet file could not be read.
    #[error("{path}: not a readable Parquet file: {reason}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The Parquet reader's message.
        reason: String,
    },
    /// The spreadsheet workbook or sheet could not be read.
    #[error("{path}: {reason}")]
    Sheet {
        /// The file.
        path: PathBuf,
        /// What is wrong, in plain language.
        reason: String,
        /// The spreadsheet reader's own error, when it reported one.
        #[source]
        source: Option<Box<calamine::Error>>,
    },
    /// The CSV parser failed mid-file (an I/O error while streaming).
    #[error("{path}: reading stopped at line {line}: {reason}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// Line where reading stopped.
        line: u64,
        /// What went wrong.
        reason: String,
    },
}
