//! Reading the inputs for a set of persons only.
//!
//! The registers are national (18 M persons, 12 M benefit spells, 32 M
//! employment spells) while a cohort is small (about 120,000 persons for an
//! outflow year). The link stage therefore never materialises a register:
//! each input file is streamed once through the polars streaming engine and
//! every batch is reduced, as it arrives, to the rows of the persons in a
//! [`PersonSet`] (a hash set of pseudonyms), while the same pass counts the
//! rows, the rows the stage ignores and the latest dates (for
//! [`crate::LinkSummary`]). What remains is a few hundred thousand rows that
//! the lazy plans of [`crate::plan`] then process in memory.
//!
//! Which persons are needed is decided first by [`persons_matching`], a
//! streaming filter whose predicate only reads the date and type columns of
//! the benefits register (polars decodes the pseudonym of matching rows
//! only). For every cohort definition that predicate selects a superset of
//! the cohort (see [`cohort_candidates`]); all spells of those persons are
//! kept, so episodes and every outcome come out exactly as on the full
//! registers.
//!
//! Other stages that read the same spells (the effect stage) use the same
//! two functions with their own person sets: [`persons_matching`] to find
//! the persons, [`read_for_persons`] to read their rows of every input.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use koppel_schema::calendar;
use polars::prelude::*;

use crate::config::{Cohort, LinkConfig};
use crate::plan::{invalid_rows, LinkFrames, KINDS, OPEN, PSEUDONYM};
use crate::LinkError;

/// The path to hand polars for scanning `file` so that it reads the file
/// with positioned reads of the row groups it decodes (buffers freed after
/// decoding) instead of memory-mapping it.
///
/// A memory-mapped register's pages count towards the process's resident
/// memory once touched: the 1.1 GB pseudonymised employment register then
/// added ≈ 0.9 GiB to the link stage's peak (2.8 GiB instead of 2.0 GiB at
/// national scale) without holding any of its data longer. polars reads a
/// `file://` URI through its object-store reader, which uses positioned
/// reads; the output is the same either way. This is decided per scan: no
/// process-wide switch (polars' `POLARS_FORCE_ASYNC` would need the
/// environment changed while polars' threads run, which is not sound).
///
/// polars parses such a URI as an object-store path, which refuses `.` and
/// `..` segments and treats `%` specially, so the URI is used only for a
/// plain canonical path (absolute, of ASCII letters, digits, `/`, `_`, `-`
/// and `.`); any other path is returned as its canonical form (or as given
/// when it cannot be resolved) and read through polars' memory map.
pub fn positioned_read_path(file: &std::path::Path) -> String {
    match std::fs::canonicalize(file) {
        Ok(canonical) if plain_path(&canonical) => format!("file://{}", canonical.display()),
        Ok(canonical) => canonical.display().to_string(),
        Err(_) => file.display().to_string(),
    }
}

/// Whether polars can read `path` through its object-store path parser.
fn plain_path(path: &std::path::Path) -> bool {
    let Some(text) = path.to_str() else {
        return false;
    };
    path.is_absolute()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'))
        && text
            .split('/')
            .skip(1)
            .all(|segment| !matches!(segment, "" | "." | ".."))
}

/// Name of the helper column that flags rows a stage ignores.
const INVALID: &str = "__koppel_invalid";

fn perr(step: &'static str) -> impl Fn(PolarsError) -> LinkError {
    move |source| LinkError::Polars { step, source }
}

/// A set of pseudonyms, for reducing inputs to those persons.
///
/// koppel's pseudonyms are 32 hexadecimal digits (a 128-bit keyed hash).
/// Those are stored as their 32 bytes, read as four `u64` words, in a hash
/// set whose hash mixes the words with one multiplication: the pseudonym
/// already is a keyed hash, so hashing it again byte by byte only costs
/// time. In front of the set sits a bitmap with 16 bits per person (one bit
/// set per person, chosen by the same hash) that fits in the processor's
/// cache: most register rows belong to persons outside the set, and for
/// ≈ 94 % of those one bit test answers without touching the set.
/// Membership tests over the 62 million register rows of a national run are
/// the hottest loop of the link stage. Strings of another length are kept
/// in a plain string set, so the set is exact for every input.
#[derive(Clone, Debug, Default)]
pub struct PersonSet {
    keys: std::collections::HashSet<Key, std::hash::BuildHasherDefault<KeyHasher>>,
    /// Bit `hash & (bits.len() * 64 - 1)` is set for every key.
    bits: Vec<u64>,
    other: PlHashSet<String>,
}

/// The 32 bytes of a pseudonym as four words.
type Key = [u64; 4];

/// The hash of a key: the words mixed by a multiplication (the key is
/// already uniformly distributed; this only folds it into 64 bits).
fn key_hash(k: &Key) -> u64 {
    let m = (k[0] ^ k[1].rotate_left(17) ^ k[2].rotate_left(31) ^ k[3].rotate_left(47))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    m ^ (m >> 29)
}

/// Hasher of [`PersonSet`] keys: receives the words of a key (as `Hash` of
/// `[u64; 4]` writes them, after the length) and mixes them like
/// [`key_hash`].
#[derive(Default)]
struct KeyHasher {
    words: [u64; 4],
    n: usize,
}

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        key_hash(&self.words)
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.words[self.n % 4] ^= i;
        self.n += 1;
    }
    fn write_usize(&mut self, _len: usize) {
        // The length prefix of an array hash is always 4: ignored.
    }
}

/// The key of a 32-byte pseudonym, or `None` for any other length.
fn key(pseudonym: &str) -> Option<Key> {
    let bytes: &[u8; 32] = pseudonym.as_bytes().try_into().ok()?;
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
        u64::from_le_bytes(w)
    };
    Some([word(0), word(1), word(2), word(3)])
}

impl PersonSet {
    /// The distinct non-null pseudonyms of a String column.
    pub fn from_column(column: &Column) -> Result<PersonSet, LinkError> {
        let mut out = PersonSet::default();
        out.extend_from_column(column)?;
        Ok(out)
    }

    /// Add the non-null pseudonyms of a String column.
    pub fn extend_from_column(&mut self, column: &Column) -> Result<(), LinkError> {
        let values = column.str().map_err(perr("reading pseudonyms"))?;
        self.keys.reserve(values.len());
        for p in values.iter().flatten() {
            self.insert(p);
        }
        Ok(())
    }

    /// Add one pseudonym.
    pub fn insert(&mut self, pseudonym: &str) {
        match key(pseudonym) {
            Some(k) => {
                if self.keys.insert(k) {
                    if self.keys.len() * 16 > self.bits.len() * 64 {
                        self.rebuild_bits();
                    } else {
                        self.set_bit(&k);
                    }
                }
            }
            None => {
                if !self.other.contains(pseudonym) {
                    self.other.insert(pseudonym.to_string());
                }
            }
        }
    }

    fn set_bit(&mut self, k: &Key) {
        let i = (key_hash(k) as usize) & (self.bits.len() * 64 - 1);
        self.bits[i / 64] |= 1 << (i % 64);
    }

    /// Size the bitmap to 16 bits per key (a power of two, at least 4,096
    /// bits) and set the bit of every key.
    fn rebuild_bits(&mut self) {
        let bits = (self.keys.len() * 16).next_power_of_two().max(4096);
        self.bits = vec![0; bits / 64];
        let keys: Vec<Key> = self.keys.iter().copied().collect();
        for k in &keys {
            self.set_bit(k);
        }
    }

    /// Add every person of `other`.
    pub fn extend(&mut self, other: &PersonSet) {
        self.keys.extend(other.keys.iter().copied());
        self.rebuild_bits();
        self.other.extend(other.other.iter().cloned());
    }

    /// Whether `pseudonym` is in the set.
    pub fn contains(&self, pseudonym: &str) -> bool {
        match key(pseudonym) {
            Some(k) => {
                if self.bits.is_empty() {
                    return false;
                }
                let i = (key_hash(&k) as usize) & (self.bits.len() * 64 - 1);
                self.bits[i / 64] & (1 << (i % 64)) != 0 && self.keys.contains(&k)
            }
            None => self.other.contains(pseudonym),
        }
    }

    /// The membership mask of a String column (null: false).
    pub fn mask(&self, column: &StringChunked) -> BooleanChunked {
        let mut out: Vec<bool> = Vec::with_capacity(column.len());
        screened(
            &self.bits,
            column.iter(),
            |k| self.keys.contains(k).then_some(()),
            |p| self.other.contains(p).then_some(()),
            |_, found| out.push(found.is_some()),
        );
        BooleanChunked::from_slice(column.name().clone(), &out)
    }

    /// Number of persons.
    pub fn len(&self) -> usize {
        self.keys.len() + self.other.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every pseudonym in the set, sorted.
    pub fn sorted(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .keys
            .iter()
            .filter_map(|k| {
                let bytes: Vec<u8> = k.iter().flat_map(|w| w.to_le_bytes()).collect();
                // The bytes of a `str` (see `key`): always valid UTF-8.
                String::from_utf8(bytes).ok()
            })
            .chain(self.other.iter().cloned())
            .collect();
        out.sort_unstable();
        out
    }
}

/// Pseudonyms looked up per batch of this many rows (see [`screened`]).
const BATCH: usize = 32;

/// Looks up every value of `values` in a set with bitmap `bits` (as in
/// [`PersonSet`]; empty: the set has no 32-byte keys), calling `emit(row,
/// found)` in row order. Per batch of [`BATCH`] rows, the bitmap words of
/// all 32-byte pseudonyms are read first, in a loop of independent loads
/// that the processor overlaps; then `exact` confirms a key whose bit is
/// set. Pseudonyms of other lengths go to `other`. On the national
/// registers the bitmap of the 1.1 M upload persons (2.2 MB) does not stay
/// in the core's cache, and testing one row at a time waited for one cache
/// miss after another.
fn screened<'a, T>(
    bits: &[u64],
    values: impl Iterator<Item = Option<&'a str>>,
    exact: impl Fn(&Key) -> Option<T>,
    other: impl Fn(&str) -> Option<T>,
    mut emit: impl FnMut(usize, Option<T>),
) {
    let mask = (bits.len() * 64).wrapping_sub(1);
    let mut batch: [Option<&str>; BATCH] = [None; BATCH];
    let mut keys: [Option<Key>; BATCH] = [None; BATCH];
    let mut set: [bool; BATCH] = [false; BATCH];
    let mut row = 0usize;
    let mut values = values.peekable();
    while values.peek().is_some() {
        let mut n = 0;
        for (slot, v) in batch.iter_mut().zip(values.by_ref()) {
            *slot = v;
            n += 1;
        }
        for j in 0..n {
            keys[j] = batch[j].and_then(key);
            set[j] = match &keys[j] {
                Some(k) if !bits.is_empty() => {
                    let i = (key_hash(k) as usize) & mask;
                    bits[i / 64] & (1 << (i % 64)) != 0
                }
                _ => false,
            };
        }
        for j in 0..n {
            let found = match (batch[j], &keys[j]) {
                (None, _) => None,
                (Some(_), Some(k)) => set[j].then(|| exact(k)).flatten(),
                (Some(p), None) => other(p),
            };
            emit(row + j, found);
        }
        row += n;
    }
}

/// Dense numbers for pseudonyms (0, 1, 2, … in order of first insertion),
/// hashed as in [`PersonSet`]: a 32-byte pseudonym as four words with one
/// multiplication, any other string in a plain map (copied: such strings
/// only come from inputs pseudonymised outside koppel). Linkage quality
/// numbers the five million upload rows' persons with it at national scale,
/// and the link stage its cohort candidates.
#[derive(Debug, Default)]
pub(crate) struct PersonIndex {
    keys: std::collections::HashMap<Key, u32, std::hash::BuildHasherDefault<KeyHasher>>,
    other: PlHashMap<String, u32>,
    /// After [`PersonIndex::add_filter`]: a bitmap as in [`PersonSet`], so
    /// that most lookups of persons not in the index are one bit test.
    bits: Vec<u64>,
}

impl PersonIndex {
    /// The number of `pseudonym`, numbering it next when it is new.
    pub(crate) fn number(&mut self, pseudonym: &str) -> u32 {
        let next = self.len() as u32;
        match key(pseudonym) {
            Some(k) => *self.keys.entry(k).or_insert_with(|| {
                // A filter built before no longer covers every key.
                self.bits = Vec::new();
                next
            }),
            None => match self.other.get(pseudonym) {
                Some(&n) => n,
                None => {
                    self.other.insert(pseudonym.to_string(), next);
                    next
                }
            },
        }
    }

    /// Puts a bitmap of 16 bits per person in front of [`PersonIndex::get`]
    /// (numbering another person drops it again). For lookups of many
    /// pseudonyms of which few are in the index.
    pub(crate) fn add_filter(&mut self) {
        let bits = (self.keys.len() * 16).next_power_of_two().max(4096);
        self.bits = vec![0; bits / 64];
        for k in self.keys.keys() {
            let i = (key_hash(k) as usize) & (bits - 1);
            self.bits[i / 64] |= 1 << (i % 64);
        }
    }

    /// The number of `pseudonym`, if it has one.
    pub(crate) fn get(&self, pseudonym: &str) -> Option<u32> {
        match key(pseudonym) {
            Some(k) => {
                if !self.bits.is_empty() {
                    let i = (key_hash(&k) as usize) & (self.bits.len() * 64 - 1);
                    if self.bits[i / 64] & (1 << (i % 64)) == 0 {
                        return None;
                    }
                }
                self.keys.get(&k).copied()
            }
            None => self.other.get(pseudonym).copied(),
        }
    }

    /// Calls `found(row, number)` for every value of `values` that has a
    /// number, in row order (batched as [`screened`]; needs
    /// [`PersonIndex::add_filter`] first to be fast, and is exact either
    /// way).
    pub(crate) fn for_each_numbered<'a>(
        &self,
        values: impl Iterator<Item = Option<&'a str>>,
        mut found: impl FnMut(usize, u32),
    ) {
        let all;
        let bits = if self.bits.is_empty() && !self.keys.is_empty() {
            // No filter: every bit set, so every key goes to the map.
            all = vec![u64::MAX; 64];
            &all[..]
        } else {
            &self.bits[..]
        };
        screened(
            bits,
            values,
            |k| self.keys.get(k).copied(),
            |p| self.other.get(p).copied(),
            |row, number| {
                if let Some(n) = number {
                    found(row, n)
                }
            },
        );
    }

    /// How many persons are numbered.
    pub(crate) fn len(&self) -> usize {
        self.keys.len() + self.other.len()
    }
}

/// Which rows a [`reduce_frame`] pass keeps.
#[derive(Clone, Debug)]
pub enum Keep {
    /// Every row (small inputs such as the trajectory uploads).
    All,
    /// The rows of these persons (rows without a pseudonym are dropped).
    Persons(Arc<PersonSet>),
}

/// What one pass over an input saw (all rows, not only the kept ones).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PassCounts {
    /// Rows read.
    pub rows: u64,
    /// Rows the link stage ignores: no pseudonym, no start date, or an end
    /// before the start (ingest refuses these, so normally 0).
    pub ignored: u64,
    /// Rows kept.
    pub kept: u64,
    /// Latest `start_date` (day number), spells and trajectories only.
    pub max_start: Option<i32>,
    /// Latest `end_date` (day number), spells and trajectories only.
    pub max_end: Option<i32>,
}

impl PassCounts {
    pub(crate) fn add(&mut self, other: &PassCounts) {
        self.rows += other.rows;
        self.ignored += other.ignored;
        self.kept += other.kept;
        self.max_start = self.max_start.max(other.max_start);
        self.max_end = self.max_end.max(other.max_end);
    }
}

/// Counts of one batch of rows (`INVALID` flags, optional date columns).
pub(crate) fn batch_counts(
    invalid: &Series,
    start: Option<&Series>,
    end: Option<&Series>,
) -> PolarsResult<PassCounts> {
    let max = |s: Option<&Series>| -> PolarsResult<Option<i32>> {
        Ok(match s {
            Some(s) => s.cast(&DataType::Int32)?.i32()?.max(),
            None => None,
        })
    };
    Ok(PassCounts {
        rows: invalid.len() as u64,
        ignored: invalid.bool()?.sum().unwrap_or(0) as u64,
        kept: 0,
        max_start: max(start)?,
        max_end: max(end)?,
    })
}

/// Watches every row of a [`Keep::Persons`] pass, kept or not (see
/// [`reduce_frame_observed`]): receives the fields pseudonym, ignored-row
/// flag, start and end date (day numbers; null for the persons register)
/// and then the extra columns asked for, batch by batch, from polars'
/// threads.
pub(crate) type Observe = Arc<dyn Fn(&[Series]) -> PolarsResult<()> + Send + Sync>;

/// The filter of a [`Keep::Persons`] pass: a function of the pseudonym,
/// the `INVALID` flag and the dates that counts every row it sees into
/// `counts`, shows it to `observe` and is true for the rows of the persons
/// in `set`. It runs in polars' parallel pipelines (and in the Parquet
/// reader when polars pushes it down, which then decodes the other columns
/// of kept rows only).
fn person_filter(
    kind: &str,
    set: Arc<PersonSet>,
    counts: Arc<Mutex<PassCounts>>,
    observe: Option<(&[&str], Observe)>,
) -> Expr {
    let date = |name: &str| match kind {
        "persons" => lit(NULL).cast(DataType::Int32).alias(name),
        _ => col(name).cast(DataType::Int32),
    };
    let mut fields = vec![
        col(PSEUDONYM),
        invalid_rows(kind).alias(INVALID),
        date("start_date"),
        date("end_date"),
    ];
    let observe = observe.map(|(extra, f)| {
        fields.extend(extra.iter().map(|c| col(*c)));
        f
    });
    as_struct(fields).map(
        move |c: Column| {
            let fields = c.struct_()?.fields_as_series();
            let c = batch_counts(&fields[1], Some(&fields[2]), Some(&fields[3]))?;
            counts
                .lock()
                .expect("no panic while holding the lock")
                .add(&c);
            if let Some(observe) = &observe {
                observe(&fields)?;
            }
            let mask = set.mask(fields[0].str()?);
            Ok(mask.with_name(PSEUDONYM.into()).into_column())
        },
        |_, f| Ok(Field::new(f.name().clone(), DataType::Boolean)),
    )
}

/// Copy the kept strings of a filtered batch into buffers of their own.
///
/// polars stores strings as views into shared data buffers, and a filter
/// keeps the views of the kept rows but the whole buffers of the batch. A
/// reduced register would then hold every decoded string of the register
/// (2.5 GiB of the national employment register for 0.4 M kept rows), so
/// the string columns of each kept batch are compacted as they arrive.
fn compact(df: DataFrame) -> PolarsResult<DataFrame> {
    let columns = df
        .columns()
        .iter()
        .map(|c| {
            Ok(match c.dtype() {
                DataType::String => {
                    let ca = c.str()?;
                    StringChunked::from_chunk_iter(
                        c.name().clone(),
                        ca.downcast_iter().map(|a| a.clone().gc()),
                    )
                    .into_column()
                }
                _ => c.clone(),
            })
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    DataFrame::new(df.height(), columns)
}

/// Stream `frame` (an input of `kind` as [`crate::plan::normalise`] gives
/// it) once, keeping the rows `keep` selects, in input order. Memory holds
/// the batches in flight plus the kept rows.
pub fn reduce_frame(
    kind: &str,
    frame: LazyFrame,
    keep: &Keep,
) -> Result<(DataFrame, PassCounts), LinkError> {
    reduce_frame_observed(kind, frame, keep, None)
}

/// [`reduce_frame`], with every row of a [`Keep::Persons`] pass (kept or
/// not) shown to `observe` along with the `extra` columns: what a pass
/// must learn about other persons than those it keeps, without keeping
/// their rows.
pub(crate) fn reduce_frame_observed(
    kind: &str,
    frame: LazyFrame,
    keep: &Keep,
    observe: Option<(&[&str], Observe)>,
) -> Result<(DataFrame, PassCounts), LinkError> {
    let schema = frame
        .clone()
        .collect_schema()
        .map_err(perr("reading inputs"))?;
    let counts: Arc<Mutex<PassCounts>> = Arc::default();
    let parts: Arc<Mutex<Vec<DataFrame>>> = Arc::default();
    let sink = {
        let parts = parts.clone();
        let counts = counts.clone();
        let count_here = matches!(keep, Keep::All);
        PlanCallback::new(move |df: DataFrame| {
            let df = if count_here {
                let c = batch_counts(
                    df.column(INVALID)?.as_materialized_series(),
                    df.column("start_date")
                        .ok()
                        .map(|c| c.as_materialized_series()),
                    df.column("end_date")
                        .ok()
                        .map(|c| c.as_materialized_series()),
                )?;
                counts
                    .lock()
                    .expect("no panic while holding the lock")
                    .add(&c);
                df.drop(INVALID)?
            } else {
                df
            };
            if df.height() > 0 {
                let df = if count_here { df } else { compact(df)? };
                parts
                    .lock()
                    .expect("no panic while holding the lock")
                    .push(df);
            }
            Ok(false)
        })
    };
    let plan = match keep {
        Keep::All => frame.with_column(invalid_rows(kind).alias(INVALID)),
        Keep::Persons(set) => {
            frame.filter(person_filter(kind, set.clone(), counts.clone(), observe))
        }
    };
    plan.sink_batches(sink, true, None)
        .map_err(perr("reading inputs"))?
        .collect_with_engine(Engine::Streaming)
        .map_err(perr("reading inputs"))?;
    let frames = std::mem::take(&mut *parts.lock().expect("sink finished"));
    let mut counts = std::mem::take(&mut *counts.lock().expect("sink finished"));
    let mut out = DataFrame::empty_with_schema(&schema);
    for part in &frames {
        out.vstack_mut(part).map_err(perr("reading inputs"))?;
    }
    out.rechunk_mut();
    counts.kept = out.height() as u64;
    Ok((out, counts))
}

/// The inputs of [`read_for_persons`], reduced and in memory, plus what
/// the passes saw per input kind.
pub struct Reduced {
    /// The kept rows as (in-memory) lazy frames.
    pub frames: LinkFrames,
    /// Per kind (`persons`, `benefits`, `employment`, `trajectories`).
    pub counts: BTreeMap<&'static str, PassCounts>,
}

/// Read every input once, keeping per kind the rows `keep(kind)` selects.
/// `frames` are the lazy scans (as from [`crate::scan_inputs`]).
pub fn read_for_persons(
    frames: &LinkFrames,
    keep: impl Fn(&str) -> Keep,
) -> Result<Reduced, LinkError> {
    let mut counts = BTreeMap::new();
    let mut out = Vec::new();
    for kind in KINDS {
        let frame = match kind {
            "persons" => &frames.persons,
            "benefits" => &frames.benefits,
            "employment" => &frames.employment,
            _ => &frames.trajectories,
        };
        let started = std::time::Instant::now();
        let (df, c) = reduce_frame(kind, frame.clone(), &keep(kind))?;
        tracing::debug!(
            kind,
            rows = c.rows,
            kept = c.kept,
            seconds = started.elapsed().as_secs_f64(),
            "link: input reduced"
        );
        let mut total = PassCounts::default();
        total.add(&c);
        counts.insert(kind, total);
        out.push(df.lazy());
    }
    let mut it = out.into_iter();
    let mut next = || it.next().expect("four kinds");
    Ok(Reduced {
        frames: LinkFrames {
            persons: next(),
            benefits: next(),
            employment: next(),
            trajectories: next(),
        },
        counts,
    })
}

/// The distinct pseudonyms of the rows of `frame` that satisfy `predicate`,
/// streamed (with a predicate on other columns, polars decodes the
/// pseudonyms of matching rows only).
pub fn persons_matching(frame: LazyFrame, predicate: Expr) -> Result<PersonSet, LinkError> {
    let df = frame
        .filter(predicate.and(col(PSEUDONYM).is_not_null()))
        .select([col(PSEUDONYM)])
        .unique(None, UniqueKeepStrategy::Any)
        .collect_with_engine(Engine::Streaming)
        .map_err(perr("selecting persons"))?
        .unwrap_single();
    PersonSet::from_column(df.column(PSEUDONYM).map_err(perr("selecting persons"))?)
}

/// Persons who may belong to the cohort: a superset, so that reading all
/// rows of these persons gives exactly the cohort of the full registers.
///
/// - outflow Y: an assistance spell ends in Y (an episode ends on the end
///   of one of its spells);
/// - inflow Y: an assistance spell starts in Y;
/// - stock D: an assistance spell from at most `gap_days + 1` days after D
///   to at most `gap_days + 1` days before it (D inside a spell, or inside
///   a bridged gap next to one);
/// - trajectory Y: a trajectory ends in Y (`trajectories` are the uploads).
pub fn cohort_candidates(
    benefits: LazyFrame,
    trajectories: LazyFrame,
    config: &LinkConfig,
) -> Result<PersonSet, LinkError> {
    let start = col("start_date").cast(DataType::Int32);
    let end = col("end_date").cast(DataType::Int32).fill_null(lit(OPEN));
    let within = |e: Expr, year: i32| {
        let a = calendar::days_from_civil(year, 1, 1);
        let b = calendar::days_from_civil(year, 12, 31);
        e.clone().gt_eq(lit(a)).and(e.lt_eq(lit(b)))
    };
    let assist = config
        .assistance_types
        .iter()
        .fold(lit(false), |acc, t| {
            acc.or(col("benefit_type").eq(lit(t.clone())))
        })
        .and(invalid_rows("benefits").not());
    let (frame, predicate) = match &config.cohort {
        Cohort::Outflow { year } => (benefits, assist.and(within(end, *year))),
        Cohort::Inflow { year } => (benefits, assist.and(within(start, *year))),
        Cohort::Stock { date } => {
            let slack = config.gap_days as i32 + 1;
            (
                benefits,
                assist.and(
                    start
                        .lt_eq(lit(date.0.saturating_add(slack)))
                        .and(end.gt_eq(lit(date.0.saturating_sub(slack)))),
                ),
            )
        }
        Cohort::Trajectory { year } => (
            trajectories,
            invalid_rows("trajectories")
                .not()
                .and(within(col("end_date").cast(DataType::Int32), *year)),
        ),
    };
    persons_matching(frame, predicate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_absolute_paths_are_read_through_polars_object_store() {
        use std::path::Path;
        assert!(plain_path(Path::new(
            "/work/run-1/ingest/000_persons.parquet"
        )));
        assert!(plain_path(Path::new("/tmp/.tmpaHl/run/x.parquet")));
        for not in [
            "/tmp/./run/x.parquet",
            "/tmp/../x.parquet",
            "/tmp//x.parquet",
            "/tmp/a b.parquet",
            "/tmp/a%20b.parquet",
            "/tmp/é.parquet",
            "run/x.parquet",
        ] {
            assert!(!plain_path(Path::new(not)), "{not}");
        }
    }

    /// A plain path is scanned through a `file://` URI (positioned reads),
    /// any other path through polars' memory map; both read the same rows.
    #[test]
    fn scans_read_the_same_rows_through_either_path() {
        let dir = tempfile::tempdir().unwrap();
        let mut df = df! { "x" => [1i32, 2, 3], "y" => ["a", "b", "c"] }.unwrap();
        let plain = dir.path().join("plain.parquet");
        let spaced_dir = dir.path().join("with space");
        std::fs::create_dir(&spaced_dir).unwrap();
        let spaced = spaced_dir.join("x.parquet");
        for file in [&plain, &spaced] {
            let mut f = std::fs::File::create(file).unwrap();
            ParquetWriter::new(&mut f).finish(&mut df).unwrap();
        }
        let dotted = dir.path().join(".").join("plain.parquet");
        let plain_uri = positioned_read_path(&dotted);
        assert!(plain_uri.starts_with("file:///"), "{plain_uri}");
        assert!(!plain_uri.contains("/./"), "{plain_uri}");
        let spaced_path = positioned_read_path(&spaced);
        assert!(!spaced_path.starts_with("file:"), "{spaced_path}");
        for path in [plain_uri, spaced_path] {
            let read =
                LazyFrame::scan_parquet(PlRefPath::new(path.as_str()), ScanArgsParquet::default())
                    .unwrap()
                    .collect()
                    .unwrap();
            assert!(read.equals(&df), "{path}");
        }
        let missing = dir.path().join("missing.parquet");
        assert_eq!(
            positioned_read_path(&missing),
            missing.display().to_string()
        );
    }

    #[test]
    fn person_index_numbers_densely_in_order_of_first_sight() {
        let a = "0123456789abcdef0123456789abcdef";
        let b = "fedcba9876543210fedcba9876543210";
        let mut index = PersonIndex::default();
        assert_eq!(index.number(a), 0);
        assert_eq!(index.number("short"), 1);
        assert_eq!(index.number(a), 0);
        assert_eq!(index.number(b), 2);
        assert_eq!(index.number("short"), 1);
        assert_eq!(index.len(), 3);
        assert_eq!(index.get(b), Some(2));
        assert_eq!(index.get("short"), Some(1));
        assert_eq!(index.get("0123456789ABCDEF0123456789ABCDEF"), None);
        assert_eq!(index.get(""), None);
        // Behind a bitmap the answers are the same, for many persons too;
        // numbering another person afterwards keeps every lookup exact.
        let many: Vec<String> = (0..20_000u32).map(|i| format!("{i:032x}")).collect();
        for p in &many[..10_000] {
            index.number(p);
        }
        index.add_filter();
        assert!(many[..10_000]
            .iter()
            .enumerate()
            .all(|(i, p)| index.get(p) == Some(i as u32 + 3)));
        assert!(many[10_000..].iter().all(|p| index.get(p).is_none()));
        assert_eq!(index.get(b), Some(2));
        assert_eq!(index.number(&many[10_000]), 10_003);
        assert_eq!(index.get(&many[10_000]), Some(10_003));
    }

    #[test]
    fn person_set_is_exact_for_hex_and_other_pseudonyms() {
        let hex = "0123456789abcdef0123456789abcdef";
        let upper = "0123456789ABCDEF0123456789ABCDEF";
        let column = Column::new(
            PSEUDONYM.into(),
            [Some(hex), Some("short"), None, Some(hex)],
        );
        let set = PersonSet::from_column(&column).unwrap();
        assert_eq!(set.len(), 2);
        assert!(set.contains(hex));
        assert!(set.contains("short"));
        // Same digits in upper case are another string, so another person.
        assert!(!set.contains(upper));
        assert!(!PersonSet::default().contains(hex));
        assert!(!set.contains("0123456789abcdef0123456789abcdee"));
        assert!(!set.contains("0123456789abcdef0123456789abcdef0"));
        let probe = StringChunked::new(PSEUDONYM.into(), [Some(hex), Some(upper), None]);
        let mask: Vec<_> = set.mask(&probe).iter().collect();
        assert_eq!(mask, [Some(true), Some(false), Some(false)]);
        // Many persons: every one is found, others are not.
        let many: Vec<String> = (0..10_000u32).map(|i| format!("{i:032x}")).collect();
        let column = Column::new(PSEUDONYM.into(), many.clone());
        let mut big = PersonSet::from_column(&column).unwrap();
        big.extend(&set);
        assert_eq!(big.len(), 10_002);
        assert!(many.iter().all(|p| big.contains(p)) && big.contains(hex));
        assert!((10_000..20_000u32).all(|i| !big.contains(&format!("{i:032x}"))));
        // Masks and numbering over columns longer than a batch, with nulls
        // and other lengths mixed in, agree with row-by-row lookups.
        let probe: Vec<Option<String>> = (0..1_000u32)
            .map(|i| match i % 7 {
                0 => None,
                1 => Some("short".to_string()),
                2 => Some(format!("{:032x}", 15_000 + i)),
                _ => Some(format!("{:032x}", i * 9)),
            })
            .collect();
        let column = StringChunked::new(PSEUDONYM.into(), &probe);
        let expected: Vec<bool> = probe
            .iter()
            .map(|p| p.as_deref().is_some_and(|p| big.contains(p)))
            .collect();
        let mask: Vec<bool> = big.mask(&column).iter().map(|m| m == Some(true)).collect();
        assert_eq!(mask, expected);
        assert!(expected.iter().filter(|&&e| e).count() > 400);
        let mut index = PersonIndex::default();
        for i in 0..10_000u32 {
            index.number(&format!("{i:032x}"));
        }
        index.number("short");
        for filtered in [false, true] {
            if filtered {
                index.add_filter();
            }
            let mut seen = Vec::new();
            index.for_each_numbered(column.iter(), |row, n| seen.push((row, n)));
            let expected: Vec<(usize, u32)> = probe
                .iter()
                .enumerate()
                .filter_map(|(row, p)| Some((row, index.get(p.as_deref()?)?)))
                .collect();
            assert_eq!(seen, expected);
        }
    }

    /// The register passes on Parquet files of several row groups, as the
    /// link stage scans them: the person filter runs inside the Parquet
    /// reader (so the other columns are decoded for the kept rows only) and
    /// counts every row exactly once (no row group statistics shown to it
    /// as rows).
    #[test]
    fn passes_filter_inside_the_reader_and_count_every_row_once() {
        let dir = tempfile::tempdir().unwrap();
        let n = 1_000usize;
        let pseudonyms: Vec<String> = (0..n)
            .map(|i| format!("{:032x}", (i / 4) * 7_919))
            .collect();
        let start: Vec<i32> = (0..n as i32).map(|i| 18_000 + i).collect();
        let end: Vec<Option<i32>> = (0..n as i32)
            .map(|i| (i % 3 != 0).then_some(18_100 + i))
            .collect();
        let mut benefits = DataFrame::new(
            n,
            vec![
                Column::new(PSEUDONYM.into(), &pseudonyms),
                Column::new("benefit_type".into(), vec!["bijstand"; n]),
                Int32Chunked::from_vec("start_date".into(), start)
                    .into_date()
                    .into_column(),
                Int32Chunked::from_iter_options("end_date".into(), end.into_iter())
                    .into_date()
                    .into_column(),
                Column::new("municipality".into(), vec!["GM0363"; n]),
            ],
        )
        .unwrap();
        let path = dir.path().join("benefits.parquet");
        let mut f = std::fs::File::create(&path).unwrap();
        ParquetWriter::new(&mut f)
            .with_row_group_size(Some(128))
            .finish(&mut benefits)
            .unwrap();
        // scan_inputs needs a persons register too.
        let persons = dir.path().join("persons.parquet");
        let mut one = df! { PSEUDONYM => [pseudonyms[0].as_str()] }.unwrap();
        for c in [
            "sex",
            "household_type",
            "origin",
            "education_level",
            "municipality",
        ] {
            one.with_column(Column::new(c.into(), ["unknown"])).unwrap();
        }
        for c in ["birth_date", "death_date", "emigration_date"] {
            one.with_column(
                Int32Chunked::from_vec(c.into(), vec![0])
                    .into_date()
                    .into_column(),
            )
            .unwrap();
        }
        let mut f = std::fs::File::create(&persons).unwrap();
        ParquetWriter::new(&mut f).finish(&mut one).unwrap();
        let inputs = crate::LinkInputs {
            persons: vec![persons],
            benefits: vec![path.clone()],
            employment: vec![],
            trajectories: vec![],
        };
        let frame = crate::scan_inputs(&inputs).unwrap().benefits;
        let mut set = PersonSet::default();
        for p in pseudonyms.iter().step_by(40) {
            set.insert(p);
        }
        let set = Arc::new(set);
        // The optimised plan has the filter in the scan (a `SELECTION` of
        // the Parquet scan), not as a separate filter above it.
        let counts: Arc<Mutex<PassCounts>> = Arc::default();
        let plan = frame
            .clone()
            .filter(person_filter("benefits", set.clone(), counts, None))
            .explain(true)
            .unwrap();
        assert!(!plan.contains("FILTER"), "{plan}");
        assert!(plan.contains("SELECTION"), "{plan}");
        let (df, counts) = reduce_frame("benefits", frame, &Keep::Persons(set.clone())).unwrap();
        assert_eq!(counts.rows, n as u64);
        assert_eq!(counts.ignored, 0);
        assert_eq!(counts.kept, 4 * set.len() as u64);
        assert_eq!(counts.max_start, Some(18_000 + n as i32 - 1));
        let kept: Vec<&str> = df
            .column(PSEUDONYM)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|p| p.unwrap())
            .collect();
        assert!(kept.iter().all(|p| set.contains(p)));
        assert_eq!(kept.len(), 4 * set.len());
    }
}
