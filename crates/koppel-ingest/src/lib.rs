//! The ingest stage: the only part of koppel that sees direct identifiers.
//!
//! It reads municipal uploads and register extracts (CSV in any common
//! dialect, or Parquet), maps their headers to the canonical columns of
//! docs/input-contracts.md through `config/columns.toml`, validates every row
//! ([`validate_file`], what `koppel validate` runs, needs no key), and in the
//! pipeline validates and replaces the BSN by a keyed-hash pseudonym in one
//! pass ([`ingest_file`]), writing rejected rows to an owner-only quarantine
//! file that stays with the operator. Reports and logs carry row numbers,
//! columns and reasons, never an identifier.
//!
//! # Output of [`ingest_file`]
//!
//! A Parquet file (Zstd) whose first column is `pseudonym` (String, 32
//! lowercase hex characters, replacing the BSN), followed by the canonical
//! columns of the kind in docs/input-contracts.md order (see [`output_schema`]): dates as
//! `Date`, `hours_per_week` and `monthly_wage` as `Float64`, everything else
//! String; `municipality` as `GM` + 4 digits, trajectories' `instrument` as
//! its code in `config/instruments.toml`, enumerations as their canonical
//! values, empty optional fields null. Columns of the input that are not in
//! the contract are dropped and listed in the report (`ignored_columns`).
//! Identifiers a municipality or register made up itself are never written
//! as they are, because clerks often build them from the BSN
//! (`T123456782-01`): `trajectory_id` and `job_id` are written as keyed
//! hashes under their own prefixes (`tid:`, `job:`), and the free-text
//! `provider` (no later stage reads it) is validated but not written. A
//! file whose free-text column holds BSNs is warned about once per column
//! in its report (`bsn_in_columns`; [`redact`] decides what holds a BSN).
//! Key-value metadata: `koppel.key_id`, `koppel.pseudonym_spec` (`v1`) and
//! `koppel.kind`. Written to a temporary file and renamed into place.
//! [`ingest_file_with_hooks`] also shows every written batch to an observer
//! and can copy chosen rows into a second file of the same format, on the
//! writer thread: how `koppel run` collects the persons of the register
//! extracts and writes them (crate koppel-link, module `extract`).
//!
//! # Accounting
//!
//! `rows_read = accepted + rejected` for every file. An exact duplicate of an
//! earlier accepted row (every field byte-identical) is rejected as
//! `duplicate_row` and the first occurrence kept, so duplicates count as
//! rejected rows. Blank lines (empty, whitespace or delimiters only) are not
//! rows; they are counted separately.

pub mod config;
pub mod dutch;
pub mod error;
pub mod layout;
pub mod pseudonymise;
pub mod redact;
pub mod report;
pub mod schema;
pub mod validate;

pub use config::{
    ColumnAliases, IngestConfig, Instruments, Municipalities, Municipality, ValueLabels,
    CONFIG_DIR_ENV,
};
pub use error::{IngestError, MissingColumn, TableError};
pub use pseudonymise::{
    pseudonymise_file, PseudonymiseError, PseudonymiseOptions, PseudonymiseSummary,
    BSN_HEADER_ALIASES, KEY_ID_METADATA, PSEUDONYM_COLUMN, SPEC_METADATA,
};
pub use report::{ColumnMapping, Problem, ValidationReport};
pub use schema::{ColumnSpec, InputKind, ValueType};
pub use validate::{
    ingest_file, ingest_file_with_hooks, output_schema, validate_file, ExtractOutput,
    IngestOptions, OutputHooks, ValidateOptions, KIND_METADATA,
};
