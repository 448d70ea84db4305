//! Why a whole file cannot be validated or ingested. Row-level problems are
//! not errors: they are [`crate::Problem`]s in the report.

use std::fmt;
use std::path::PathBuf;

use koppel_io::{ReadError, WriteError};

/// A required column that is absent, with what might have been meant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingColumn {
    /// Canonical name.
    pub column: String,
    /// Headers accepted for it.
    pub accepted: Vec<String>,
    /// A header of the file that looks like one of them, with the accepted
    /// name it resembles most.
    pub suggestion: Option<(String, String)>,
}

impl fmt::Display for MissingColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<&str> = self.accepted.iter().take(6).map(String::as_str).collect();
        write!(
            f,
            "'{}' (accepted headers: {}{})",
            self.column,
            shown.join(", "),
            if self.accepted.len() > shown.len() {
                ", …"
            } else {
                ""
            }
        )?;
        if let Some((found, alias)) = &self.suggestion {
            write!(
                f,
                "; the file has a column '{found}': did you mean '{alias}'?"
            )?;
        }
        Ok(())
    }
}

/// Why validation or ingest failed for the file as a whole. Every message
/// names the file; none quotes a field value.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The input cannot be read as a table (not CSV/Parquet, binary, empty,
    /// bad header, I/O).
    #[error(transparent)]
    Read(#[from] ReadError),
    /// An output cannot be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A configuration file is unreadable or inconsistent.
    #[error("configuration {path}: {reason}")]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The instrument catalogue is refused (not TOML of the expected
    /// shape, an unknown group, an empty name, a name of two instruments).
    #[error("configuration {path}: {source}")]
    Instruments {
        /// The catalogue file.
        path: PathBuf,
        /// Why it was refused.
        #[source]
        source: koppel_schema::instruments::CatalogueError,
    },
    /// Required columns are absent.
    #[error("{path}: missing required column{}: {}{hint}", if missing.len() > 1 { "s" } else { "" },
        missing.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    MissingColumns {
        /// The input.
        path: PathBuf,
        /// The columns that are missing.
        missing: Vec<MissingColumn>,
        /// Extra advice (e.g. about the delimiter), empty or starting with ". ".
        hint: String,
    },
    /// Two headers name the same canonical column.
    #[error("{path}: columns '{first}' and '{second}' both mean '{column}'; keep one of them")]
    AmbiguousColumn {
        /// The input.
        path: PathBuf,
        /// Canonical name.
        column: String,
        /// First header.
        first: String,
        /// Second header.
        second: String,
    },
    /// The input has a `pseudonym` column (already pseudonymised).
    #[error("{0}: has a 'pseudonym' column: it is already pseudonymised; ingest reads files with a BSN column")]
    AlreadyPseudonymised(PathBuf),
    /// The input has a header but no data rows.
    #[error("{0}: the file has a header line but no data rows")]
    NoDataRows(PathBuf),
    /// An output would overwrite the input.
    #[error("{0}: an output must not be the input file")]
    SameFile(PathBuf),
    /// A table operation on the input failed.
    #[error(transparent)]
    Table(#[from] TableError),
}

/// A table operation on one file failed. Ingest and pseudonymise both end
/// in it, so the two commands word such failures alike.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// A table operation failed.
    #[error("{path}: {reason}")]
    Failed {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// polars failed building or converting a table of the file.
    #[error("{path}: {source}")]
    Polars {
        /// The file.
        path: PathBuf,
        /// polars' error.
        #[source]
        source: polars::prelude::PolarsError,
    },
}
