//! Keys, BSN normalisation and validation, and keyed-hash pseudonyms — the
//! koppel pseudonymisation spec v1 (docs/pseudonymisation.md, documented in the README).
//!
//! ```
//! use koppel_pseudonym::{Key, Pseudonymiser};
//! let key = Key::from_bytes([7u8; 32]);
//! let pseudonymiser = Pseudonymiser::new(&key);
//! let pseudonym = pseudonymiser.raw_bsn("123.456.782").unwrap();
//! assert_eq!(pseudonym.to_string().len(), 32);
//! ```

pub mod bsn;
pub mod hmac;
pub mod key;
pub mod pseudonym;

pub use bsn::{normalise_bsn, Bsn, BsnProblem};
pub use key::{Key, KeyError, KeyId, KEY_LEN};
pub use pseudonym::{BsnColumnPseudonyms, IdKind, Pseudonym, Pseudonymiser};
