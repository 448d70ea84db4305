//! The ingest stage: the only part of koppel that sees direct identifiers.
//!
//! It reads municipal uploads and register extracts, validates them row by
//! row, replaces the BSN by a keyed-hash pseudonym, and writes rejected rows
//! to an owner-only quarantine file that stays with the operator. Reports and
//! logs carry row numbers, columns and reasons, never an identifier.

pub mod pseudonymise;

pub use pseudonymise::{
    pseudonymise_file, PseudonymiseError, PseudonymiseOptions, PseudonymiseSummary,
    BSN_HEADER_ALIASES, KEY_ID_METADATA, PSEUDONYM_COLUMN,
};
