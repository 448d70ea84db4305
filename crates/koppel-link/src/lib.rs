//! koppel-link: linkage and cohort outcomes (docs/definitions.md, issue #6).
//!
//! Reads the pseudonymised registers and trajectory uploads written by the
//! ingest stage, merges assistance spells into episodes, selects a cohort
//! (outflow, stock, inflow or trajectory), and derives per cohort person the
//! reference date R, the dimensions, the outcome state and job at every
//! horizon, re-entry and durable-outflow flags and the trajectory exposure.
//! The result is the person-level analysis file (one Parquet row per cohort
//! person, sorted by pseudonym, no BSN) documented column by column in the
//! README section "Person-level analysis file", plus a [`LinkSummary`] with
//! aggregated linkage-quality counts.
//!
//! The cohort is a polars lazy plan ([`cohort_plan`]); the outcomes of its
//! persons are derived by one pass over each person's own rows, grouped by
//! a counting sort ([`outcomes_frame`]; [`analysis_frame`] does both on
//! frames in memory); [`link`] runs them on files.
//! Linkage quality is recorded while the registers are read (module
//! `quality`; [`linkage_quality`] counts the same over frames in memory);
//! [`linkage_quality_plan`] is the same definition as a plan, which the
//! tests compare it with.
//!
//! # Memory: the registers are read for the cohort only
//!
//! [`link`] never holds a register in memory. It streams each input file
//! once ([`reduce`]): the uploads whole; the benefits register first
//! through a filter on dates and types that yields the cohort candidates
//! (a superset of the cohort, see [`reduce::cohort_candidates`]), then
//! every register batch by batch, keeping only the rows of candidates,
//! counting rows, ignored rows and the latest dates in the same pass, and
//! recording for linkage quality what it needs of the upload persons' rows
//! (found in the persons register; their assistance spells as three
//! numbers each) without keeping those rows (module `quality`). The cohort
//! and its outcomes then run in memory on the candidates' rows. So memory
//! grows with the cohort and the uploads, not with the registers, and
//! linkage quality needs no second pass over a register.
//!
//! # Register extracts: a tenth of the registers to read
//!
//! Every cohort consists of assistance or upload persons, and the ingest
//! stage of `koppel run` writes all rows of those persons (1.4 M of 18 M
//! nationally) a second time, into register extracts, while it writes the
//! registers (module [`extract`]). [`link_with_extracts`] passes over the
//! extracts instead of the registers when their index describes exactly
//! its inputs, and takes the whole-register counts of its summary from the
//! index: the same analysis file and summary for a tenth of the decoding
//! (figures in BENCHMARKS.md, "link against DuckDB").
//!
//! These details keep the passes cheap:
//!
//! - **Filters inside the Parquet reader.** Each pass's person filter is
//!   pushed into polars' Parquet reader, which then decodes the columns the
//!   filter reads (pseudonym, dates) for every row and the other columns
//!   only for the rows it keeps: the employment register's job numbers,
//!   wages and hours, most of its 2.5 GB decoded, for 1.3 % of its rows.
//!   Two things would silently stop that or spoil it, and a test guards
//!   both: the inputs are selected with casts only where a type actually
//!   changes (polars does not push a filter below a projection of casts),
//!   and row groups are never skipped on their statistics (polars would
//!   show the filter the statistics as extra rows to count and observe).
//! - **Word keys behind a bitmap.** The person sets hold koppel's
//!   pseudonyms (32 hexadecimal digits of a keyed hash) as their 32 bytes
//!   read as four 64-bit words, hashed by one multiplication, behind a
//!   bitmap of 16 bits per person that stays in the processor's cache: most
//!   register rows belong to persons outside the set and are answered by
//!   one bit test ([`PersonSet`]; strings of another length fall back to an
//!   exact string set). Hashing and comparing 32-byte strings per row took
//!   a third of the stage's processor time before.
//! - **Compacted strings.** polars keeps strings as views into shared
//!   buffers and a filter keeps whole buffers; every kept batch is therefore
//!   copied into buffers of its own, otherwise 0.4 M kept employment rows
//!   pin every decoded string of the 31.9 M-row register (2.5 GiB).
//! - **No second pass.** Rows, ignored rows and the latest dates are counted
//!   by the same filter that selects the rows, and the same filter shows
//!   every row to linkage quality's observer, with the upload persons
//!   numbered densely behind a bitmap, instead of a join of the five
//!   million trajectory rows with the assistance spells by pseudonym.
//! - **Both cores busy.** Single-threaded steps over rows already in memory
//!   run beside polars' work on a scoped thread: numbering the upload
//!   persons and their trajectory windows while polars scans benefits for
//!   the candidates, numbering the candidates while it streams the
//!   registers, the linkage quality count beside the employment pass.
//!   Joins run on the candidates' ranks in pseudonym order (`UInt32`)
//!   instead of 32-character strings; the analysis file gets its
//!   pseudonyms back at the end, byte-identical.
//! - **Outcomes per person.** Every outcome column depends on one person's
//!   rows only. The rows of each input are joined once to the cohort's
//!   person numbers and grouped by a counting sort; one loop over the
//!   persons then reads a handful of rows per person, instead of about
//!   twenty joins and sorts of per-person intermediate frames (horizon
//!   points × spells, episodes, first rows by an order) as polars plans.
//!
//! The alternative — partitioning the registers by pseudonym and running
//! per-person passes over sorted spells — would need the registers sorted
//! or spilled to disk first; the cohort is 0.7 % of the persons register at
//! national scale, so reducing first is both simpler and cheaper.
//!
//! Figures (national scale, 18 M persons, outflow 2022: 140,121 candidates,
//! 1.14 M upload persons; machine shared with other builds, load average
//! ≈ 15 on 2 cores): a 31.4 s stage — candidates and uploads 8.1 s, persons
//! pass 3.2 s, benefits 1.9 s, employment 4.0 s, cohort 1.0 s, outcomes
//! 5.2 s, linkage quality 7.3 s; peak RSS 2.8 GiB, which counts up to 1.1
//! GiB of pages of the memory-mapped employment file (anonymous memory was
//! 4.4 GiB before the kept strings were compacted, 2.2 GiB after). See
//! BENCHMARKS.md for the comparison with an independent DuckDB version of
//! the same job. Since those figures linkage quality is counted over the
//! rows read (10.9 s of a 39.7 s stage before, 2.7 s of 27.5 s after, load
//! ≈ 7) and the registers are read with positioned reads instead of memory
//! maps ([`positioned_read_path`]), which takes the mapped file's pages out of
//! the peak: 2.0–2.1 GiB instead of 2.8 GiB, same output. With the threads
//! above, joins on ranks and transparent huge pages off for the `koppel`
//! process, the stage takes 7.1–7.9 s at 1.8–1.9 GiB (load ≈ 2): choosing
//! the persons 1.3 s, the three register passes 1.2 + 0.9 + 1.6 s,
//! numbering 0.2 s, cohort 0.3 s, outcomes 1.5 s (linkage quality
//! alongside). With the outcomes derived per person (0.4–0.6 s) and linkage
//! quality recorded during the passes (which then keep the candidates'
//! rows only), 6.1–6.7 s at 1.57–1.69 GiB, against 7.2–7.8 s at 1.88–2.01
//! GiB before both changes in the same alternating runs.
//!
//! # Decisions (beyond docs/definitions.md)
//!
//! - **Persons register match.** A cohort candidate without a record in the
//!   persons register is left out of the analysis file (its dimensions and
//!   death/emigration are unknown) and counted in
//!   [`LinkSummary::without_person_record`]. Several records for one
//!   pseudonym: the first by birth date, then the other columns, is used;
//!   counted in [`LinkSummary::duplicate_person_records`].
//! - **Death and emigration.** Persons stay in the cohort. At a horizon H
//!   with a death or emigration date before H their state is `overig`
//!   (whatever the registers say) and they have no job. A death or
//!   emigration on H itself does not count: on that day the person is still
//!   in the population, and the registers show spells covering it.
//! - **Assistance / work / WW at a date** use spells (a day inside a bridged
//!   gap between two spells is not a day on assistance); re-entry uses
//!   episodes.
//! - **Municipality.** Trajectory cohort: the municipality of the cohort
//!   trajectory. Register cohorts: the paying municipality of the
//!   latest-starting assistance spell of the cohort episode that starts on or
//!   before the episode's last day (outflow), the stock date (stock) or the
//!   episode start (inflow); if missing, the persons register's municipality.
//! - **Age and duration** are completed years and completed calendar months
//!   at R, counted as horizons are (the largest m with start + m months ≤ R,
//!   day clamped to month end; so someone born on 29 February turns a year
//!   older on 28 February in other years). Duration uses the cohort episode;
//!   for the trajectory cohort the episode covering the last trajectory day
//!   (`none` if not on assistance then); for the inflow cohort it is 0.
//! - **Censoring.** Horizons after the last day the registers cover
//!   ([`LinkConfig::data_until`]) cannot be observed; they are counted per
//!   horizon in [`LinkSummary::censored_horizons`] and logged as a warning.

pub mod config;
pub mod extract;
mod outcomes;
pub mod plan;
pub mod quality;
pub mod reduce;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use polars::prelude::*;
use reduce::PersonIndex;
use serde::Serialize;

pub use config::{Band, Bands, CivilDate, Cohort, LinkConfig, BUILTIN_BANDS};
pub use plan::{
    analysis_frame, cohort_plan, linkage_quality_plan, normalise, outcomes_frame, LinkFrames,
    KINDS, NONE, PSEUDONYM, STATES, UNKNOWN,
};
pub use quality::linkage_quality;
pub use reduce::{
    cohort_candidates, persons_matching, positioned_read_path, read_for_persons, Keep, PassCounts,
    PersonSet, Reduced,
};

/// Parquet key-value metadata key of the cohort description (analysis file).
pub use koppel_schema::metadata::COHORT as COHORT_METADATA;
/// Parquet key-value metadata key of the pseudonymisation key id.
pub use koppel_schema::metadata::KEY_ID as KEY_ID_METADATA;
/// Parquet key-value metadata key of the input kind (or `analysis`).
pub use koppel_schema::metadata::KIND as KIND_METADATA;
/// Parquet key-value metadata key of the link configuration as JSON.
pub use koppel_schema::metadata::LINK_CONFIG as CONFIG_METADATA;
/// Parquet key-value metadata key of the pseudonymisation spec.
pub use koppel_schema::metadata::SPEC as SPEC_METADATA;

/// Errors of the link stage. Messages name files and columns, never values.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The configuration is invalid.
    #[error("link configuration: {0}")]
    Config(String),
    /// No file was given for a kind that is needed.
    #[error("no {0} input files were given")]
    NoInput(&'static str),
    /// An input file lacks a key id.
    #[error("{file}: no {KEY_ID_METADATA} in the Parquet metadata; only pseudonymised files written by koppel ingest can be linked")]
    NoKeyId {
        /// The file.
        file: PathBuf,
    },
    /// Two inputs were pseudonymised under different keys.
    #[error("key ids differ: {first} has key id {first_id}, {other} has key id {other_id}; pseudonyms of different keys never match, so linking them is refused")]
    KeyMismatch {
        /// The first input file.
        first: PathBuf,
        /// Its key id.
        first_id: String,
        /// The disagreeing file.
        other: PathBuf,
        /// Its key id.
        other_id: String,
    },
    /// An input file is of another kind than where it was listed.
    #[error("{file}: listed as {expected} but its {KIND_METADATA} metadata says {found}")]
    WrongKind {
        /// The file.
        file: PathBuf,
        /// Where it was listed.
        expected: &'static str,
        /// What the file says.
        found: String,
    },
    /// An input cannot be read or lacks a column.
    #[error("{file}: {reason}")]
    Input {
        /// The file (or frame name).
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// The output cannot be written.
    #[error(transparent)]
    Write(#[from] koppel_io::WriteError),
    /// polars failed while running a plan.
    #[error("link {step}: {source}")]
    Polars {
        /// The step.
        step: &'static str,
        /// polars' error.
        source: PolarsError,
    },
}

fn perr(step: &'static str) -> impl Fn(PolarsError) -> LinkError {
    move |source| LinkError::Polars { step, source }
}

/// The pseudonymised input files of the link stage, per kind (ingest
/// output). Several files of one kind are concatenated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkInputs {
    /// `persons` register files.
    pub persons: Vec<PathBuf>,
    /// `benefits` register files.
    pub benefits: Vec<PathBuf>,
    /// `employment` register files.
    pub employment: Vec<PathBuf>,
    /// Pseudonymised trajectory uploads.
    pub trajectories: Vec<PathBuf>,
}

impl LinkInputs {
    fn of(&self, kind: &str) -> &[PathBuf] {
        match kind {
            "persons" => &self.persons,
            "benefits" => &self.benefits,
            "employment" => &self.employment,
            _ => &self.trajectories,
        }
    }
}

/// Linkage quality of one upload municipality (or `total`). Counts of
/// distinct persons only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LinkageRow {
    /// CBS code of the upload municipality, or `total`.
    pub municipality: String,
    /// Distinct persons in the municipality's uploads.
    pub persons_in_uploads: u64,
    /// Of those, found in the persons register.
    pub found_in_persons_register: u64,
    /// Of those, with an assistance spell from `lookback_months` before the
    /// start to `lookback_months` after the end of one of their trajectories
    /// in this municipality.
    pub with_assistance_around_trajectories: u64,
    /// Not found in the persons register.
    pub not_found: u64,
}

/// What [`link`] did (aggregated counts only; serialisable for the manifest).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LinkSummary {
    /// Key id shared by all inputs (and written to the output).
    pub key_id: String,
    /// The cohort, e.g. `outflow 2022`.
    pub cohort: String,
    /// Rows in the analysis file (persons).
    pub cohort_persons: u64,
    /// Persons meeting the cohort definition, before the persons-register
    /// match.
    pub cohort_candidates: u64,
    /// Cohort candidates without a persons-register record (left out).
    pub without_person_record: u64,
    /// Extra persons-register records of cohort persons (one is used).
    pub duplicate_person_records: u64,
    /// Rows per input kind (all files of the kind).
    pub input_rows: BTreeMap<String, u64>,
    /// Rows ignored per input kind: no pseudonym, no start date, or an end
    /// before the start (ingest refuses these, so normally 0).
    pub ignored_rows: BTreeMap<String, u64>,
    /// Last day the registers cover (configured or observed).
    pub data_until: String,
    /// Per horizon (`6m`, ...): cohort persons whose horizon date lies after
    /// `data_until` (their state there is not observed). Normally all 0.
    pub censored_horizons: BTreeMap<String, u64>,
    /// Linkage quality per upload municipality, sorted by code.
    pub linkage: Vec<LinkageRow>,
    /// Linkage quality over all uploads (distinct persons).
    pub linkage_total: LinkageRow,
    /// Wall time of the stage in seconds.
    pub seconds: f64,
}

fn metadata_value(meta: &[(String, String)], key: &str) -> Option<String> {
    meta.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// Check every input's key id (all equal) and kind; returns the key id and
/// the pseudonym spec.
pub fn check_key_ids(inputs: &LinkInputs) -> Result<(String, String), LinkError> {
    let mut first: Option<(PathBuf, String)> = None;
    let mut spec = String::from(koppel_schema::metadata::SPEC_V1);
    for kind in KINDS {
        for file in inputs.of(kind) {
            let meta = koppel_io::read_parquet_metadata(file).map_err(|e| LinkError::Input {
                file: file.display().to_string(),
                reason: e.to_string(),
            })?;
            let id = metadata_value(&meta, KEY_ID_METADATA)
                .ok_or_else(|| LinkError::NoKeyId { file: file.clone() })?;
            if let Some(found) = metadata_value(&meta, KIND_METADATA) {
                if found != kind {
                    return Err(LinkError::WrongKind {
                        file: file.clone(),
                        expected: kind,
                        found,
                    });
                }
            }
            if let Some(s) = metadata_value(&meta, SPEC_METADATA) {
                spec = s;
            }
            match &first {
                None => first = Some((file.clone(), id)),
                Some((f, fid)) if *fid != id => {
                    return Err(LinkError::KeyMismatch {
                        first: f.clone(),
                        first_id: fid.clone(),
                        other: file.clone(),
                        other_id: id,
                    })
                }
                _ => {}
            }
        }
    }
    let (_, id) = first.ok_or(LinkError::NoInput("persons"))?;
    Ok((id, spec))
}

fn empty_frame(kind: &str) -> LazyFrame {
    let fields: Vec<Field> = match kind {
        "employment" => vec![
            Field::new(PSEUDONYM.into(), DataType::String),
            Field::new("job_id".into(), DataType::String),
            Field::new("start_date".into(), DataType::Date),
            Field::new("end_date".into(), DataType::Date),
            Field::new("contract".into(), DataType::String),
            Field::new("hours_per_week".into(), DataType::Float64),
            Field::new("monthly_wage".into(), DataType::Float64),
            Field::new("sector".into(), DataType::String),
        ],
        _ => vec![
            Field::new(PSEUDONYM.into(), DataType::String),
            Field::new("municipality".into(), DataType::String),
            Field::new("instrument".into(), DataType::String),
            Field::new("start_date".into(), DataType::Date),
            Field::new("end_date".into(), DataType::Date),
            Field::new("segment".into(), DataType::String),
        ],
    };
    DataFrame::empty_with_schema(&Schema::from_iter(fields)).lazy()
}

/// Scan the input files lazily (normalised to the columns the link stage
/// reads). `persons` and `benefits` need at least one file; no employment
/// or trajectory files mean none of those records.
pub fn scan_inputs(inputs: &LinkInputs) -> Result<LinkFrames, LinkError> {
    let mut frames = Vec::new();
    for kind in KINDS {
        let files = inputs.of(kind);
        if files.is_empty() {
            if matches!(kind, "persons" | "benefits") {
                return Err(LinkError::NoInput(kind));
            }
            frames.push(empty_frame(kind));
            continue;
        }
        let mut parts = Vec::new();
        for file in files {
            let name = file.display().to_string();
            let path = reduce::positioned_read_path(file);
            // No row group is skipped on its statistics: the passes'
            // filters count and observe every row they are shown, and
            // polars would show them the statistics as rows too.
            let args = ScanArgsParquet {
                use_statistics: false,
                ..ScanArgsParquet::default()
            };
            let lf = LazyFrame::scan_parquet(PlRefPath::new(path.as_str()), args).map_err(|e| {
                LinkError::Input {
                    file: name.clone(),
                    reason: e.to_string(),
                }
            })?;
            parts.push(normalise(kind, lf, &name)?);
        }
        let lf = if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            concat(parts, UnionArgs::default()).map_err(perr("concatenating inputs"))?
        };
        frames.push(lf);
    }
    let mut it = frames.into_iter();
    let mut next = || it.next().expect("four kinds");
    Ok(LinkFrames {
        persons: next(),
        benefits: next(),
        employment: next(),
        trajectories: next(),
    })
}

fn collect(lf: LazyFrame, step: &'static str) -> Result<DataFrame, LinkError> {
    lf.collect_with_engine(Engine::Streaming)
        .map(|r| r.unwrap_single())
        .map_err(perr(step))
}

/// The process's peak resident memory so far in MiB (Linux; 0 elsewhere),
/// for the progress log.
fn peak_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}

fn scalar_u64(df: &DataFrame, name: &str) -> u64 {
    df.column(name)
        .ok()
        .and_then(|c| c.cast(&DataType::UInt64).ok())
        .and_then(|c| c.u64().ok().and_then(|c| c.get(0)))
        .unwrap_or(0)
}

/// Run the link stage: check key ids, build the cohort and its outcomes,
/// write the analysis file atomically to `out` (Parquet, one row per
/// cohort person sorted by pseudonym; metadata: key id, pseudonym spec,
/// kind `analysis`, cohort, link configuration) and return the summary.
pub fn link(
    inputs: &LinkInputs,
    config: &LinkConfig,
    bands: &Bands,
    out: &Path,
) -> Result<LinkSummary, LinkError> {
    link_with_extracts(inputs, None, config, bands, out)
}

/// [`link`], reading the register extracts that ingest wrote (module
/// [`extract`]) instead of the registers when the index at `extracts`
/// describes exactly these inputs. Same analysis file and summary.
pub fn link_with_extracts(
    inputs: &LinkInputs,
    extracts: Option<&Path>,
    config: &LinkConfig,
    bands: &Bands,
    out: &Path,
) -> Result<LinkSummary, LinkError> {
    let started = Instant::now();
    config.validate().map_err(LinkError::Config)?;
    let (key_id, spec) = check_key_ids(inputs)?;
    let usable = extracts
        .filter(|_| extract::covers(&config.cohort))
        .and_then(|index| extract::usable(index, inputs, &config.assistance_types));
    let frames = match &usable {
        Some(found) => {
            check_key_ids(&found.inputs)?;
            tracing::info!("link: reading the register extracts written by ingest");
            scan_inputs(&found.inputs)?
        }
        None => scan_inputs(inputs)?,
    };
    tracing::info!(cohort = %config.cohort.describe(), key_id = %key_id, "link: inputs checked");

    let mut summary = LinkSummary {
        key_id: key_id.clone(),
        cohort: config.cohort.describe(),
        ..LinkSummary::default()
    };
    let mut read = read_inputs(frames, config, started)?;
    if let Some(found) = &usable {
        // The extracts hold the needed rows; the summary reports the
        // registers as a whole, as ingest counted them.
        for (kind, whole) in &found.counts {
            let kept = read.counts.get(kind).map_or(0, |c| c.kept);
            read.counts.insert(
                kind,
                PassCounts {
                    kept,
                    ..whole.clone()
                },
            );
        }
    }
    for kind in KINDS {
        let c = &read.counts[kind];
        summary.input_rows.insert(kind.to_string(), c.rows);
        summary.ignored_rows.insert(kind.to_string(), c.ignored);
        if c.ignored > 0 {
            tracing::warn!(
                kind,
                rows = c.ignored,
                "link: rows without pseudonym or valid dates ignored"
            );
        }
    }
    let frames = &read.frames;
    let df = outcomes(frames, &read.ids, config, bands, &mut summary, started)?;
    (summary.linkage, summary.linkage_total) = read.linkage;
    count_censored_horizons(&df, config, &read.counts, &mut summary)?;

    write_analysis_file(out, &df, config, key_id, spec)?;
    summary.seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        persons = summary.cohort_persons,
        seconds = summary.seconds,
        "link: analysis file written"
    );
    Ok(summary)
}

/// The cohort (stage 1, small, collected once) and the outcomes of its
/// persons (stage 2): the analysis file's rows, with their pseudonyms.
fn outcomes(
    frames: &LinkFrames,
    ids: &PersonIds,
    config: &LinkConfig,
    bands: &Bands,
    summary: &mut LinkSummary,
    started: Instant,
) -> Result<DataFrame, LinkError> {
    let cohort = collect(cohort_plan(frames, config), "cohort")?;
    summary.cohort_candidates = cohort.height() as u64;
    tracing::info!(
        candidates = cohort.height(),
        seconds = started.elapsed().as_secs_f64(),
        peak_mib = peak_mib(),
        "link: cohort selected"
    );
    let mut df = ids.named(outcomes_frame(frames, cohort.clone(), config, bands)?)?;
    df.rechunk_mut();
    summary.cohort_persons = df.height() as u64;
    tracing::info!(
        persons = df.height(),
        seconds = started.elapsed().as_secs_f64(),
        peak_mib = peak_mib(),
        "link: outcomes derived"
    );
    summary.without_person_record = summary.cohort_candidates - summary.cohort_persons;
    summary.duplicate_person_records = duplicate_person_records(frames, cohort)?;
    Ok(df)
}

/// Linkage quality per upload municipality and over all uploads.
type Linkage = (Vec<LinkageRow>, LinkageRow);

/// The inputs as the link stage uses them: the rows of the persons that
/// matter, read in one streaming pass per input.
struct ReadInputs {
    /// The cohort candidates' rows (what the cohort and outcomes read),
    /// their pseudonyms replaced by numbers (see [`PersonIds`]).
    frames: LinkFrames,
    /// The candidates' pseudonyms by number.
    ids: PersonIds,
    /// Linkage quality, counted during the passes (see [`read_inputs`]).
    linkage: Linkage,
    /// What each pass counted, by input kind.
    counts: BTreeMap<&'static str, PassCounts>,
}

/// Reads every input once, reduced to the persons that matter: the
/// uploads whole (the trajectory cohort and linkage quality need them), the
/// registers to the cohort candidates and upload persons (module
/// [`reduce`]).
fn read_inputs(
    frames: LinkFrames,
    config: &LinkConfig,
    started: Instant,
) -> Result<ReadInputs, LinkError> {
    let (traj, traj_counts) =
        reduce::reduce_frame("trajectories", frames.trajectories, &Keep::All)?;
    tracing::info!(
        kind = "trajectories",
        rows = traj_counts.rows,
        kept = traj.height(),
        seconds = started.elapsed().as_secs_f64(),
        peak_mib = peak_mib(),
        "link: input reduced"
    );
    // The upload persons are numbered with their trajectory windows (one
    // thread) while polars scans the benefits register for the candidates.
    let (candidates, uploads) = std::thread::scope(|scope| {
        let uploads = scope.spawn(|| {
            let uploads = quality::Uploads::new(&traj, config);
            let seconds = started.elapsed().as_secs_f64();
            tracing::debug!(seconds, "link: upload persons numbered");
            uploads
        });
        let candidates =
            reduce::cohort_candidates(frames.benefits.clone(), traj.clone().lazy(), config);
        let seconds = started.elapsed().as_secs_f64();
        tracing::debug!(seconds, "link: cohort candidates found");
        match uploads.join() {
            Ok(uploads) => (candidates, uploads),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    let (candidates, uploads) = (Arc::new(candidates?), Arc::new(uploads?));
    tracing::info!(
        candidates = candidates.len(),
        upload_persons = uploads.len(),
        seconds = started.elapsed().as_secs_f64(),
        peak_mib = peak_mib(),
        "link: persons to read selected"
    );
    let mut counts = BTreeMap::from([("trajectories", traj_counts)]);
    let mut read = |kind: &'static str, frame: LazyFrame, observe| {
        let keep = Keep::Persons(candidates.clone());
        let (df, c) = reduce::reduce_frame_observed(kind, frame, &keep, observe)?;
        tracing::info!(
            kind,
            rows = c.rows,
            kept = c.kept,
            seconds = started.elapsed().as_secs_f64(),
            peak_mib = peak_mib(),
            "link: input reduced"
        );
        counts.insert(kind, c);
        Ok::<_, LinkError>(df)
    };
    // Linkage quality: the persons and benefits passes record what it needs
    // of the upload persons' rows (found in the persons register, their
    // assistance spells) while they keep the candidates' rows; it is
    // counted beside the employment pass.
    let facts = Arc::new(quality::UploadFacts::new(&uploads));
    let observe_persons: reduce::Observe = {
        let (uploads, facts) = (uploads.clone(), facts.clone());
        Arc::new(move |fields: &[Series]| {
            uploads.observe_persons(fields[0].str()?, &facts);
            Ok(())
        })
    };
    let observe_benefits: reduce::Observe = {
        let (uploads, facts) = (uploads.clone(), facts.clone());
        let types = config.assistance_types.clone();
        Arc::new(move |fields: &[Series]| {
            let rows = quality::BenefitRows {
                pseudonyms: fields[0].str()?,
                invalid: fields[1].bool()?,
                start: fields[2].i32()?,
                end: fields[3].i32()?,
                types: fields[4].str()?,
            };
            uploads.observe_benefits(&types, rows, &facts);
            Ok(())
        })
    };
    // The candidates are numbered (their pseudonyms sorted, on a thread of
    // its own) while polars streams the registers.
    let (persons, benefits, employment, ids, linkage) = std::thread::scope(|scope| {
        let ids = scope.spawn(|| PersonIds::of(&candidates));
        let registers = (|| {
            let persons = read("persons", frames.persons, Some((&[], observe_persons)))?;
            let benefits = read(
                "benefits",
                frames.benefits,
                Some((&["benefit_type"], observe_benefits)),
            )?;
            let linkage = scope.spawn(|| uploads.count(&facts));
            let employment = read("employment", frames.employment, None)?;
            let linkage = match linkage.join() {
                Ok(linkage) => linkage,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            tracing::info!(
                seconds = started.elapsed().as_secs_f64(),
                peak_mib = peak_mib(),
                "link: linkage quality counted"
            );
            Ok::<_, LinkError>((persons, benefits, employment, linkage))
        })();
        let ids = match ids.join() {
            Ok(ids) => ids,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        registers.map(|(p, b, e, q)| (p, b, e, ids, q))
    })?;
    // The cohort and its outcomes need the candidates' rows only: one lookup
    // per row both selects and numbers them (the uploads hold every upload
    // person's rows).
    let frames = LinkFrames {
        persons: ids.numbered(persons)?.lazy(),
        benefits: ids.numbered(benefits)?.lazy(),
        employment: ids.numbered(employment)?.lazy(),
        trajectories: ids.numbered(traj)?.lazy(),
    };
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        peak_mib = peak_mib(),
        "link: inputs read"
    );
    Ok(ReadInputs {
        frames,
        ids,
        linkage,
        counts,
    })
}

/// The cohort candidates numbered in pseudonym order.
///
/// The cohort and outcome plans join the candidates' rows of four inputs
/// by person about a dozen times. Joining on 32-character pseudonym strings
/// costs hashing and comparing 32 bytes per row; the plans therefore run on
/// the candidates' ranks in sorted pseudonym order (`UInt32`) instead,
/// mapped in one pass per input ([`PersonIds::numbered`], which also drops
/// the rows of other persons), and the analysis file gets its pseudonyms
/// back at the end ([`PersonIds::named`]). Ranks sort as the pseudonyms do,
/// so the file's order and bytes are those of a run on the strings.
struct PersonIds {
    /// The distinct pseudonyms, sorted; a person's number is its index.
    sorted: Vec<String>,
    /// Pseudonym to number.
    index: PersonIndex,
}

impl PersonIds {
    /// Numbers the persons of `set` in pseudonym order.
    fn of(set: &PersonSet) -> PersonIds {
        let sorted = set.sorted();
        let mut index = PersonIndex::default();
        for p in &sorted {
            index.number(p);
        }
        PersonIds { sorted, index }
    }

    /// The rows of `df` of numbered persons, their pseudonyms replaced by
    /// their numbers (rows of other persons and without a pseudonym are
    /// dropped).
    fn numbered(&self, mut df: DataFrame) -> Result<DataFrame, LinkError> {
        let column = df
            .column(PSEUDONYM)
            .and_then(|c| c.str())
            .map_err(perr("numbering persons"))?;
        let numbers: UInt32Chunked = column
            .iter()
            .map(|p| p.and_then(|p| self.index.get(p)))
            .collect();
        let known = numbers.is_not_null();
        df.with_column(numbers.with_name(PSEUDONYM.into()).into_column())
            .map_err(perr("numbering persons"))?;
        df.filter(&known).map_err(perr("numbering persons"))
    }

    /// `df` with its person numbers replaced by their pseudonyms.
    fn named(&self, mut df: DataFrame) -> Result<DataFrame, LinkError> {
        let column = df
            .column(PSEUDONYM)
            .and_then(|c| c.u32())
            .map_err(perr("naming persons"))?;
        let names: StringChunked = column
            .iter()
            .map(|n| n.and_then(|n| self.sorted.get(n as usize).map(String::as_str)))
            .collect();
        df.with_column(names.with_name(PSEUDONYM.into()).into_column())
            .map_err(perr("naming persons"))?;
        Ok(df)
    }
}

/// Persons register records of cohort persons beyond the first (the first
/// by birth date is used).
fn duplicate_person_records(frames: &LinkFrames, cohort: DataFrame) -> Result<u64, LinkError> {
    let dups = collect(
        frames
            .persons
            .clone()
            .filter(col(PSEUDONYM).is_not_null())
            .select([col(PSEUDONYM)])
            .semi_join(
                cohort.lazy().select([col(PSEUDONYM)]),
                col(PSEUDONYM),
                col(PSEUDONYM),
            )
            .select([(len().cast(DataType::Int64)
                - col(PSEUDONYM).n_unique().cast(DataType::Int64))
            .alias("dups")]),
        "duplicate persons",
    )?;
    Ok(scalar_u64(&dups, "dups"))
}

/// Censoring: per horizon, the persons whose horizon date lies after the
/// last day the registers cover (`data_until`, else the latest start or end
/// date read); warns for each horizon with any.
fn count_censored_horizons(
    df: &DataFrame,
    config: &LinkConfig,
    counts: &BTreeMap<&'static str, PassCounts>,
    summary: &mut LinkSummary,
) -> Result<(), LinkError> {
    let until = match config.data_until {
        Some(d) => Some(d.0),
        None => ["benefits", "employment"]
            .iter()
            .flat_map(|k| [counts[k].max_start, counts[k].max_end])
            .max()
            .flatten(),
    };
    let Some(until) = until else {
        return Ok(());
    };
    summary.data_until = CivilDate(until).to_string();
    let exprs: Vec<Expr> = config
        .horizons
        .iter()
        .map(|&k| {
            plan::add_months(col("reference_date").cast(DataType::Int32), k as i64)
                .gt(lit(until))
                .sum()
                .cast(DataType::UInt64)
                .alias(format!("{k}m"))
        })
        .collect();
    let censored = df
        .clone()
        .lazy()
        .select(exprs)
        .collect()
        .map_err(perr("censoring"))?;
    for &k in &config.horizons {
        let n = scalar_u64(&censored, &format!("{k}m"));
        if n > 0 {
            tracing::warn!(horizon = k, persons = n, data_until = %summary.data_until,
                "link: horizon after the end of the register data; state not observed");
        }
        summary.censored_horizons.insert(format!("{k}m"), n);
    }
    Ok(())
}

/// Writes the analysis file atomically, with its metadata (key id,
/// pseudonym spec, kind `analysis`, cohort, link configuration).
fn write_analysis_file(
    out: &Path,
    df: &DataFrame,
    config: &LinkConfig,
    key_id: String,
    spec: String,
) -> Result<(), LinkError> {
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| {
            LinkError::Write(koppel_io::WriteError::Io {
                path: parent.to_path_buf(),
                source,
            })
        })?;
    }
    let config_json = serde_json::to_string(config).unwrap_or_default();
    let metadata = vec![
        (KEY_ID_METADATA.to_string(), key_id),
        (SPEC_METADATA.to_string(), spec),
        (
            KIND_METADATA.to_string(),
            koppel_schema::metadata::KIND_ANALYSIS.to_string(),
        ),
        (COHORT_METADATA.to_string(), config.cohort.describe()),
        (CONFIG_METADATA.to_string(), config_json),
    ];
    let mut writer = koppel_io::TableWriter::create(out, df.schema(), &metadata)?;
    writer.write(df)?;
    writer.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Numbers follow the sorted pseudonyms of the set, rows of other
    /// persons (and without a pseudonym) are dropped, and naming restores
    /// the strings.
    #[test]
    fn person_ids_number_in_pseudonym_order_and_name_back() {
        let a =
            df! { PSEUDONYM => [Some("ccc"), None, Some("aaa"), Some("zzz")], "x" => [1, 2, 3, 4] }
                .unwrap();
        let set = PersonSet::from_column(
            &df! { PSEUDONYM => ["bbb", "aaa", "ccc", "aaa"] }.unwrap()[PSEUDONYM],
        )
        .unwrap();
        let ids = PersonIds::of(&set);
        let numbers = |df: &DataFrame| -> Vec<Option<u32>> {
            df.column(PSEUDONYM)
                .unwrap()
                .u32()
                .unwrap()
                .iter()
                .collect()
        };
        let numbered = ids.numbered(a.clone()).unwrap();
        assert_eq!(numbers(&numbered), [Some(2), Some(0)]);
        assert_eq!(numbered.get_column_names(), a.get_column_names());
        let kept = df! { PSEUDONYM => ["ccc", "aaa"], "x" => [1, 3] }.unwrap();
        assert!(ids.named(numbered).unwrap().equals_missing(&kept));
        // Pseudonyms of 32 hexadecimal digits take the set's fast path.
        let long: Vec<String> = (0..5u32).rev().map(|i| format!("{i:032x}")).collect();
        let frame = df! { PSEUDONYM => long }.unwrap();
        let ids = PersonIds::of(&PersonSet::from_column(&frame[PSEUDONYM]).unwrap());
        let numbers = numbers(&ids.numbered(frame).unwrap());
        assert_eq!(numbers, [Some(4), Some(3), Some(2), Some(1), Some(0)]);
    }
}
