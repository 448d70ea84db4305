//! Pseudonyms per docs/pseudonymisation.md: `HMAC-SHA256(key, kind_prefix + value)`, first 16
//! bytes, written as 32 lowercase hex characters.

use std::fmt;

use polars::prelude::*;
use rayon::prelude::*;

use crate::bsn::{normalise_bsn, Bsn, BsnProblem};
use crate::hmac::KeyedHmac;
use crate::key::{Key, KeyId};

/// Length of a pseudonym in bytes (hex text is twice as long).
pub const PSEUDONYM_LEN: usize = 16;

/// Kinds of identifier, each hashed under its own prefix so that a pseudonym
/// of one kind never equals one of another kind (domain separation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// A normalised 9-digit BSN: prefix `bsn:`.
    Bsn,
    /// A fallback quasi-identifier key (birth date, sex, postcode, house
    /// number, normalised by the caller): prefix `qid:`.
    Qid,
    /// A municipality's own trajectory number (trimmed as written): prefix
    /// `tid:`. Clerks often build it from the BSN, so ingest never keeps the
    /// number itself.
    Trajectory,
    /// An employer's job number from the employment register (trimmed as
    /// written): prefix `job:`.
    Job,
}

impl IdKind {
    /// The prefix hashed before the value.
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Bsn => "bsn:",
            IdKind::Qid => "qid:",
            IdKind::Trajectory => "tid:",
            IdKind::Job => "job:",
        }
    }
}

/// A pseudonym: the first 16 bytes of the HMAC.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym([u8; PSEUDONYM_LEN]);

impl Pseudonym {
    /// The raw 16 bytes.
    pub fn as_bytes(&self) -> &[u8; PSEUDONYM_LEN] {
        &self.0
    }

    /// The 32 lowercase hex characters, without allocating.
    pub fn to_hex(&self) -> [u8; 2 * PSEUDONYM_LEN] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 2 * PSEUDONYM_LEN];
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = DIGITS[usize::from(b >> 4)];
            out[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
        }
        out
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex();
        // Hex digits are ASCII.
        f.write_str(std::str::from_utf8(&hex).unwrap_or_default())
    }
}

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pseudonym({self})")
    }
}

/// Computes pseudonyms under one key. The keyed HMAC state (with each kind's
/// prefix already absorbed) is computed once; each value clones it.
#[derive(Clone)]
pub struct Pseudonymiser {
    key_id: KeyId,
    bsn: KeyedHmac,
    qid: KeyedHmac,
    trajectory: KeyedHmac,
    job: KeyedHmac,
}

/// Result of pseudonymising a column of raw BSNs.
#[derive(Debug)]
pub struct BsnColumnPseudonyms {
    /// One pseudonym per input row, null where the row was rejected.
    pub pseudonyms: StringChunked,
    /// Rejected rows: (0-based index within the column, reason), ascending.
    pub rejected: Vec<(usize, BsnProblem)>,
}

/// Rows per unit of parallel work: large enough to amortise scheduling,
/// small enough to balance across cores.
const PARALLEL_CHUNK_ROWS: usize = 32 * 1024;

impl Pseudonymiser {
    /// Prepare the keyed states for `key`.
    pub fn new(key: &Key) -> Pseudonymiser {
        let keyed = KeyedHmac::new(key.bytes());
        Pseudonymiser {
            key_id: key.id(),
            bsn: keyed.with_prefix(IdKind::Bsn.prefix().as_bytes()),
            qid: keyed.with_prefix(IdKind::Qid.prefix().as_bytes()),
            trajectory: keyed.with_prefix(IdKind::Trajectory.prefix().as_bytes()),
            job: keyed.with_prefix(IdKind::Job.prefix().as_bytes()),
        }
    }

    /// The id of the key in use, to record alongside every output.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The pseudonym of a valid BSN.
    #[inline]
    pub fn bsn(&self, bsn: &Bsn) -> Pseudonym {
        truncate(self.bsn.mac(bsn.as_bytes()))
    }

    /// The pseudonym of an already-normalised identifier of the given kind.
    pub fn of_kind(&self, kind: IdKind, normalised: &str) -> Pseudonym {
        let state = match kind {
            IdKind::Bsn => &self.bsn,
            IdKind::Qid => &self.qid,
            IdKind::Trajectory => &self.trajectory,
            IdKind::Job => &self.job,
        };
        truncate(state.mac(normalised.as_bytes()))
    }

    /// Normalise, validate and pseudonymise a raw BSN.
    pub fn raw_bsn(&self, raw: &str) -> Result<Pseudonym, BsnProblem> {
        normalise_bsn(raw).map(|bsn| self.bsn(&bsn))
    }

    /// Pseudonymise a whole column of raw BSN text, in parallel over all cores
    /// (the rayon pool). Null input counts as [`BsnProblem::Missing`]. The
    /// output column is named `output_name`.
    pub fn bsn_column(&self, column: &StringChunked, output_name: &str) -> BsnColumnPseudonyms {
        let values: Vec<Option<&str>> = column.iter().collect();
        let parts: Vec<(StringChunked, Vec<(usize, BsnProblem)>)> = values
            .par_chunks(PARALLEL_CHUNK_ROWS)
            .enumerate()
            .map(|(part_index, part)| {
                let offset = part_index * PARALLEL_CHUNK_ROWS;
                let mut rejected = Vec::new();
                let hexes: Vec<Option<[u8; 2 * PSEUDONYM_LEN]>> = part
                    .iter()
                    .enumerate()
                    .map(|(i, value)| {
                        match value.map_or(Err(BsnProblem::Missing), |raw| self.raw_bsn(raw)) {
                            Ok(pseudonym) => Some(pseudonym.to_hex()),
                            Err(problem) => {
                                rejected.push((offset + i, problem));
                                None
                            }
                        }
                    })
                    .collect();
                let chunk = StringChunked::from_iter_options(
                    output_name.into(),
                    hexes
                        .iter()
                        .map(|h| h.as_ref().and_then(|h| std::str::from_utf8(h).ok())),
                );
                (chunk, rejected)
            })
            .collect();
        let mut pseudonyms = StringChunked::full_null(output_name.into(), 0);
        let mut rejected = Vec::new();
        for (chunk, part_rejected) in parts {
            // Same dtype on both sides: appending cannot fail.
            let _ = pseudonyms.append(&chunk);
            rejected.extend(part_rejected);
        }
        BsnColumnPseudonyms {
            pseudonyms,
            rejected,
        }
    }
}

fn truncate(mac: [u8; 32]) -> Pseudonym {
    let mut out = [0u8; PSEUDONYM_LEN];
    out.copy_from_slice(&mac[..PSEUDONYM_LEN]);
    Pseudonym(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        Key::from_bytes(bytes)
    }

    #[test]
    fn kinds_are_domain_separated() {
        let p = Pseudonymiser::new(&key());
        let kinds = [IdKind::Bsn, IdKind::Qid, IdKind::Trajectory, IdKind::Job];
        for (i, a) in kinds.iter().enumerate() {
            for b in &kinds[i + 1..] {
                assert_ne!(p.of_kind(*a, "123456782"), p.of_kind(*b, "123456782"));
            }
        }
        let bsn = normalise_bsn("123456782").unwrap();
        assert_eq!(p.bsn(&bsn), p.of_kind(IdKind::Bsn, "123456782"));
    }

    #[test]
    fn written_forms_of_one_bsn_share_a_pseudonym() {
        let p = Pseudonymiser::new(&key());
        let a = p.raw_bsn("012345672").unwrap();
        assert_eq!(p.raw_bsn("12345672").unwrap(), a);
        assert_eq!(p.raw_bsn("0123.45.672").unwrap(), a);
        assert_eq!(a.to_string().len(), 32);
    }

    #[test]
    fn column_matches_scalar_path_and_lists_rejects_in_order() {
        let p = Pseudonymiser::new(&key());
        let raws: Vec<Option<String>> = (0..100_000u64)
            .map(|i| match i % 7 {
                0 => None,
                1 => Some("123456789".to_string()),
                2 => Some("1.23457E+08".to_string()),
                _ => Some(crate::bsn::synthetic_bsn(i).as_str().to_string()),
            })
            .collect();
        let column =
            StringChunked::from_iter_options("bsn".into(), raws.iter().map(|r| r.as_deref()));
        let out = p.bsn_column(&column, "pseudonym");
        assert_eq!(out.pseudonyms.len(), raws.len());
        assert_eq!(out.pseudonyms.name().as_str(), "pseudonym");
        let mut expected_rejects = Vec::new();
        for (i, (raw, got)) in raws.iter().zip(out.pseudonyms.iter()).enumerate() {
            match raw
                .as_deref()
                .map_or(Err(BsnProblem::Missing), |r| p.raw_bsn(r))
            {
                Ok(ps) => assert_eq!(got, Some(ps.to_string().as_str())),
                Err(problem) => {
                    assert_eq!(got, None);
                    expected_rejects.push((i, problem));
                }
            }
        }
        assert_eq!(out.rejected, expected_rejects);
    }
}
