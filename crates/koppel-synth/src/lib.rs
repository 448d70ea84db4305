//! Deterministic synthetic registers and municipal trajectory uploads for
//! koppel (`koppel synth`), calibrated to docs/calibration.md and streamable at national
//! scale.
//!
//! # Output layout (contract)
//!
//! [`generate`] writes under the output directory `DIR`:
//!
//! | path | content |
//! |---|---|
//! | `registers/persons.parquet` | one row per person |
//! | `registers/benefits.parquet` | benefit spells overlapping the window |
//! | `registers/employment.parquet` | employment spells overlapping the window |
//! | `uploads/trajectories_GMxxxx.csv` | one upload per municipality |
//! | `truth/faults.csv` | every injected upload fault, and nothing else |
//! | `truth/files.csv` | the dialect of every upload file |
//! | `truth/effects.csv` | true effect of each instrument on those who started it |
//! | `truth/effects_by_group.csv` | the same per age band, sex, duration band and segment |
//!
//! With [`RegisterFormat::Csv`] the registers are `.csv` (UTF-8, comma,
//! header line, dates `YYYY-MM-DD`, missing values empty).
//!
//! **Register columns** are exactly docs/input-contracts.md. `persons`: `bsn` (text, 9
//! digits), `birth_date` (Date), `sex` (`M`/`V`), `household_type`, `origin`,
//! `education_level`, `municipality` (`GM` + 4 digits), `death_date`,
//! `emigration_date` (Date, null unless within the window). `benefits`:
//! `bsn`, `benefit_type`, `start_date`, `end_date` (null = ongoing at the end
//! of the window), `municipality` (paying municipality; assistance types only,
//! else null), `end_reason` (null when ongoing or not recorded). `employment`:
//! `bsn`, `job_id` (text, unique), `start_date`, `end_date`, `employment_type`,
//! `contract`, `hours_per_week` (Float64), `monthly_wage` (Float64, euros),
//! `sector` (SBI letter). Spells keep their real start date even when it lies
//! before the window (a stock on the first day has its full duration).
//! Assistance spells are sometimes split (administrative re-registration with
//! a gap of at most 21 days, or a move to another municipality, end reason
//! `moved`, next spell the next day): merging per docs/definitions.md (gap ≤ 31 days)
//! restores the episode. Every register BSN passes the eleven-test; about one
//! in 64 starts with a zero.
//!
//! **Uploads** have the nine docs/input-contracts.md trajectory columns in canonical order,
//! under one of three headers ([`uploads::HEADER_EN`], [`uploads::HEADER_NL`]
//! `BSN;Gemeente;Trajectnummer;Instrument;Aanbieder;Startdatum;Einddatum;Reden beëindiging;Doelgroep`,
//! [`uploads::HEADER_NL2`] `Burgerservicenummer;Gemeentecode;Dossiernummer;Re-integratie-instrument;Uitvoerder;Startdatum;Einddatum;Reden beëindiging;Segment`).
//! The first municipality sends the plain form (UTF-8, comma, English header,
//! ISO dates, instrument codes); the others a seeded mix of semicolons,
//! Windows-1252 or UTF-8 with BOM, CRLF, `DD-MM-YYYY` dates, Dutch labels or
//! aliases from `config/instruments.toml`, and 8-digit BSNs where a leading
//! zero was dropped (valid per docs/pseudonymisation.md, so not a fault). `end_reason` and
//! `segment` values are always canonical. Every third municipality (the
//! first, fourth, ...) numbers its trajectories after the client's BSN, as
//! some really do (`T123456782-01`: `T`, the 9-digit BSN, `-`, a sequence
//! number); the others use an opaque number. An ongoing trajectory has an empty
//! end date and `end_reason = ongoing`. Trajectories overlapping the window
//! or the 24 months before it are included.
//!
//! **`truth/faults.csv`**: columns `file,row,column,fault`, sorted by file
//! and row. `file` is the path relative to `DIR` (e.g.
//! `uploads/trajectories_GM0363.csv`); `row` is the CSV line number with the
//! header as line 1 (first data row = 2; no field contains a line break);
//! `column` is the canonical column (`bsn`, `start_date`, `end_date`,
//! `instrument`, or empty for `duplicate_row`); `fault` is one of
//! `bsn_eleven_test`, `bsn_missing`, `bsn_spreadsheet_damage`,
//! `bsn_not_in_registers`, `end_before_start`, `unknown_instrument`,
//! `unparseable_date`, `duplicate_row` (the second of two identical lines).
//! A row carries at most one fault. **`truth/files.csv`**: `file,
//! municipality, encoding, delimiter, header, date_format, instrument_style,
//! bsn_leading_zero_dropped, line_ending, data_rows`.
//!
//! **`truth/effects.csv`, `truth/effects_by_group.csv`**: for every
//! treated trajectory start (a start of instrument X on a day of the
//! evaluation period while on assistance, no X in the 12 months before) the
//! generator simulates the same person again from the start of that
//! assistance episode with the same random streams and that one trajectory
//! switched off, and reports per instrument (and subgroup), horizon (6, 12,
//! 18, 24 months after the start date) and outcome (`werk`,
//! `off_assistance`) the treated count and the mean difference between the
//! two worlds. The evaluation period defaults to 24 months after `--from`
//! up to 24 months before `--to` (`--effect-from`, `--effect-to`), so the
//! 24 months before every start and every horizon lie in the window. Who
//! starts which instrument depends only on what the registers and uploads
//! show on the start date, so a matched comparison can recover these
//! effects while the naive one cannot; see [`truth`] for the columns and
//! [`model`] for the selection and the counterfactual runs.
//!
//! # Determinism and scale
//!
//! Every person has their own random stream derived from `(seed, index)`
//! (and separate streams for upload faults and dialects), persons are
//! generated in parallel batches ([`SynthConfig::batch_size`]) and written in
//! index order with fixed writer settings (Zstd, default statistics, one
//! row group per batch), so the same configuration always gives byte-identical
//! files, whatever the thread count. Changing `--fault-rate` never changes the
//! registers. Memory is bounded by one batch plus the fault list: 18 million
//! persons peak at about 330 MB (see `BENCHMARKS.md`).
//!
//! # Calibration (docs/calibration.md)
//!
//! See [`model`] for the dynamics; `tests/calibration.rs` measures the
//! figures from the written registers (200,000 persons, 2018–2023 averages):
//! stock 2.2% of residents (44% men, 46% single, 14% single parents), inflow
//! 33% and outflow 34% of stock, outflow to work 11.5% of stock, duration
//! <0.5y 14% and >5y 35% (mean 55 months), re-entry within 6 months 9.4% of
//! leavers (3.2% of stock), part-time work alongside assistance 9.5%, 60% of
//! recipients over 45 in small municipalities, 32% of inflow straight after
//! WW, 0.51 jobs per resident, 75% of the stock in a trajectory within a year
//! (56% of them in two or more); six months after outflow: werk 45.9%,
//! bijstand 4.4%, bijstand met werk 3.3%, WW 2.1%, overig 44.3% (WW 0.5%
//! already at three months: work held alongside assistance counts towards
//! WW rights when the job found on leaving ends).
//!
//! The design figures cannot all hold at once: the one-municipality outflow
//! table has 20% on assistance six months after leaving (bijstand 16%,
//! with work 4%), while the national benchmark has 8–9% of leavers
//! re-entering within six months. Under the state rules, assistance at
//! R + 6 months implies a new episode started in (R, R + 6 months], i.e. a
//! re-entry, so bijstand + bijstand met werk at six months is at most the
//! re-entry share (here 7.7% against 9.4%). The generator follows the
//! re-entry benchmark and the table's WW and assistance-with-work shares;
//! bijstand alone therefore stays near 4–5%, and the points the table has on
//! assistance beyond that go to werk and overig.

pub mod date;
pub mod instruments;
pub mod model;
pub mod municipalities;
pub mod registers;
pub mod rng;
pub mod truth;
pub mod types;
pub mod uploads;

use std::path::Path;

use rayon::prelude::*;

pub use instruments::Catalogue;
pub use registers::RegisterFormat;

use date::Day;
use model::{generate_person_with_truth, InstrumentKind, ModelParams};
use registers::{benefits_frame, employment_frame, persons_frame, RegisterWriter};
use types::History;
use uploads::Uploads;

/// Most persons the generator accepts (BSN injectivity bound, with room for
/// BSNs that must be absent from the registers).
pub const MAX_PERSONS: u64 = 80_000_000;

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A parameter is out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Reading or writing a file failed.
    #[error("{0}")]
    Io(String),
    /// The instrument catalogue is invalid.
    #[error("instrument catalogue {}: {source}", path.display())]
    Catalogue {
        /// The catalogue file.
        path: std::path::PathBuf,
        /// Why it was refused.
        #[source]
        source: koppel_schema::instruments::CatalogueError,
    },
    /// polars failed to build or write a frame.
    #[error("polars: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
}

/// Parameters of one run.
#[derive(Clone, Debug)]
pub struct SynthConfig {
    /// Number of persons (residents) in the population register.
    pub persons: u64,
    /// Number of municipalities (the first `M` of [`municipalities::MUNICIPALITIES`]).
    pub municipalities: usize,
    /// Master seed.
    pub seed: u64,
    /// First day of the window.
    pub from: Day,
    /// Last day of the window (the extract date).
    pub to: Day,
    /// Register file format.
    pub format: RegisterFormat,
    /// Probability that an upload row gets a fault, in `0..=1`.
    pub fault_rate: f64,
    /// Persons per batch: bounds memory. It changes only the Parquet
    /// row-group layout (one row group per batch), never the data; CSV output
    /// is byte-identical for any batch size.
    pub batch_size: usize,
    /// Instrument catalogue.
    pub catalogue: Catalogue,
    /// First start date of the evaluation period of `truth/effects*.csv`
    /// (default: 24 months after `from`, so the 24 months before every
    /// start lie in the window).
    pub effect_from: Option<Day>,
    /// Last start date of the evaluation period (default: 24 months before
    /// `to`, so every horizon lies in the window).
    pub effect_to: Option<Day>,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            persons: 50_000,
            municipalities: 10,
            seed: 1,
            from: date::from_ymd(2015, 1, 1),
            to: date::from_ymd(2024, 12, 31),
            format: RegisterFormat::Parquet,
            fault_rate: 0.02,
            batch_size: 250_000,
            catalogue: Catalogue::builtin(),
            effect_from: None,
            effect_to: None,
        }
    }
}

impl SynthConfig {
    /// The evaluation period of the effect truth (first and last start
    /// date, inclusive), defaults applied.
    pub fn effect_period(&self) -> (Day, Day) {
        (
            self.effect_from
                .unwrap_or_else(|| date::add_months(self.from, 24)),
            self.effect_to
                .unwrap_or_else(|| date::add_months(self.to, -24)),
        )
    }

    /// Check every parameter; the message says what is wrong and what is allowed.
    pub fn validate(&self) -> Result<(), SynthError> {
        let bad = |m: String| Err(SynthError::InvalidArgument(m));
        if self.persons == 0 || self.persons > MAX_PERSONS {
            return bad(format!(
                "--persons must be between 1 and {MAX_PERSONS}, got {}",
                self.persons
            ));
        }
        let max_m = municipalities::MUNICIPALITIES.len();
        if self.municipalities == 0 || self.municipalities > max_m {
            return bad(format!(
                "--municipalities must be between 1 and {max_m}, got {}",
                self.municipalities
            ));
        }
        if self.from >= self.to {
            return bad(format!(
                "--from ({}) must be before --to ({})",
                date::format_iso(self.from),
                date::format_iso(self.to)
            ));
        }
        let (fy, ty) = (date::year_of(self.from), date::year_of(self.to));
        if !(1950..=2100).contains(&fy) || !(1950..=2100).contains(&ty) {
            return bad("--from and --to must lie between 1950 and 2100".into());
        }
        if self.to - self.from > 50 * 366 {
            return bad("the window from --from to --to may span at most 50 years".into());
        }
        if !(self.fault_rate.is_finite() && (0.0..=1.0).contains(&self.fault_rate)) {
            return bad(format!(
                "--fault-rate must be between 0 and 1, got {}",
                self.fault_rate
            ));
        }
        if self.batch_size == 0 {
            return bad("batch size must be at least 1".into());
        }
        if self.catalogue.instruments.is_empty() {
            return bad("the instrument catalogue is empty".into());
        }
        let (ef, et) = self.effect_period();
        if self.effect_from.is_some() || self.effect_to.is_some() {
            if ef > et {
                return bad(format!(
                    "the evaluation period runs from {} to {}: its start must not be after its end",
                    date::format_iso(ef),
                    date::format_iso(et)
                ));
            }
            if ef < self.from || et > self.to {
                return bad(format!(
                    "the evaluation period ({} to {}) must lie within --from and --to",
                    date::format_iso(ef),
                    date::format_iso(et)
                ));
            }
        }
        Ok(())
    }
}

/// What a run wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Rows in `persons`.
    pub persons: u64,
    /// Rows in `benefits`.
    pub benefit_spells: u64,
    /// Rows in `employment`.
    pub employment_spells: u64,
    /// Data rows over all uploads (duplicates included).
    pub upload_rows: u64,
    /// Lines in `truth/faults.csv` (header excluded).
    pub faults: u64,
    /// Number of upload files.
    pub upload_files: usize,
}

/// Generate everything into `out` (created if needed). See the crate docs
/// for the layout.
pub fn generate(config: &SynthConfig, out: &Path) -> Result<Summary, SynthError> {
    generate_with_progress(config, out, &mut |_, _| {})
}

/// As [`generate`], calling `progress(done, total)` after every batch.
pub fn generate_with_progress(
    config: &SynthConfig,
    out: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Summary, SynthError> {
    config.validate()?;
    let munis = municipalities::select(config.municipalities);
    let ext = config.format.extension();
    for sub in ["registers", "uploads", "truth"] {
        let dir = out.join(sub);
        std::fs::create_dir_all(&dir)
            .map_err(|e| SynthError::Io(format!("cannot create {}: {e}", dir.display())))?;
        remove_stale(&dir)?;
    }
    let params = ModelParams {
        seed: config.seed,
        from: config.from,
        to: config.to,
        municipalities: munis,
        instruments: InstrumentKind::of_catalogue(&config.catalogue),
    };
    let empty: Vec<History> = Vec::new();
    let reg = |name: &str| out.join("registers").join(format!("{name}.{ext}"));
    let mut w_persons = RegisterWriter::create(
        &reg(koppel_schema::kind::PERSONS),
        config.format,
        &persons_frame(&empty, munis)?.schema().clone(),
    )?;
    let mut w_benefits = RegisterWriter::create(
        &reg(koppel_schema::kind::BENEFITS),
        config.format,
        &benefits_frame(&empty, munis)?.schema().clone(),
    )?;
    let mut w_jobs = RegisterWriter::create(
        &reg(koppel_schema::kind::EMPLOYMENT),
        config.format,
        &employment_frame(&empty)?.schema().clone(),
    )?;
    let mut uploads = Uploads::create(
        out,
        munis,
        config.seed,
        config.persons,
        config.fault_rate,
        &config.catalogue,
    )?;
    let mut summary = Summary {
        upload_files: munis.len(),
        ..Summary::default()
    };
    let period = config.effect_period();
    let mut truth = truth::EffectTruth::default();
    let mut start = 0u64;
    while start < config.persons {
        let end = (start + config.batch_size as u64).min(config.persons);
        let (batch, treated): (Vec<History>, Vec<Vec<model::TreatedStart>>) = (start..end)
            .into_par_iter()
            .map(|i| generate_person_with_truth(&params, i, period))
            .unzip();
        for t in treated.iter().flatten() {
            truth.add(t);
        }
        drop(treated);
        let (mut p, mut b, mut j) = (
            persons_frame(&batch, munis)?,
            benefits_frame(&batch, munis)?,
            employment_frame(&batch)?,
        );
        summary.persons += p.height() as u64;
        summary.benefit_spells += b.height() as u64;
        summary.employment_spells += j.height() as u64;
        w_persons.write(&mut p)?;
        w_benefits.write(&mut b)?;
        w_jobs.write(&mut j)?;
        uploads.write_batch(&batch)?;
        drop(batch);
        start = end;
        progress(start, config.persons);
    }
    w_persons.finish()?;
    w_benefits.finish()?;
    w_jobs.finish()?;
    summary.upload_rows = uploads.rows();
    summary.faults = uploads.fault_count() as u64;
    uploads.finish(out)?;
    let codes: Vec<String> = config
        .catalogue
        .instruments
        .iter()
        .map(|i| i.code.clone())
        .collect();
    truth.write(&out.join("truth"), &codes)?;
    Ok(summary)
}

/// Remove files a previous run may have left (e.g. uploads of municipalities
/// no longer selected, or registers in the other format).
fn remove_stale(dir: &Path) -> Result<(), SynthError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| SynthError::Io(format!("cannot list {}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = matches!(
            name.as_str(),
            "persons.parquet"
                | "persons.csv"
                | "benefits.parquet"
                | "benefits.csv"
                | "employment.parquet"
                | "employment.csv"
                | "faults.csv"
                | "files.csv"
                | "effects.csv"
                | "effects_by_group.csv"
        ) || (name.starts_with("trajectories_GM") && name.ends_with(".csv"));
        if ours {
            std::fs::remove_file(entry.path()).map_err(|e| {
                SynthError::Io(format!("cannot remove {}: {e}", entry.path().display()))
            })?;
        }
    }
    Ok(())
}
