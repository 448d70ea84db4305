//! koppel-effect: what works for whom — effects of re-integration
//! trajectories by sequential coarsened-exact matching.
//!
//! Municipalities choose who gets which instrument, so outcomes by
//! trajectory do not measure effects. This crate compares, month by month,
//! persons who start an instrument with persons on assistance on the same
//! day who are alike on every matching variable and do not start it that
//! month (they may start it later: the estimate is the effect of starting
//! now rather than not now, which avoids immortal-time bias).
//!
//! - [`select`]: pool rows (covariates on the first day of the month),
//!   treated starts, matching cells and weights, common support.
//! - [`outcome`]: outcomes at time zero + k months, durable outflow, the
//!   placebo.
//! - [`estimate`]: the weighted estimator and its person-clustered variance,
//!   standardised mean differences.
//! - [`evaluate`] runs everything on normalised input frames and returns
//!   unprotected results: per treatment × dimension × level × outcome the
//!   treated n, matched control n, shares, effect with a 95% interval and the
//!   naive difference (treated versus everyone else on assistance), the
//!   balance of every matching variable before and after weighting, and the
//!   matched person-level file (operator only). Disclosure control and
//!   rounding are applied downstream (see [`publish`]).

pub mod config;
pub mod estimate;
pub mod history;
pub mod load;
pub mod outcome;
pub mod publish;
pub mod select;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use koppel_link::{Bands, LinkFrames, LinkInputs};
use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use config::{Covariate, EffectConfig, COVARIATES};
use estimate::{smd, Design, Moments, Scratch};
use history::{first_day, month_label};
use load::Histories;
use outcome::{outcome_specs, outcome_values, OutcomeSpec};
pub use select::SelectionCounts;
use select::{Matched, Pool, PoolRow, Treatment};

/// Dimension (and level) name of the overall estimate.
pub const TOTAL: &str = "Total";

/// Errors of the effect stage. Messages name files and columns, never values.
#[derive(Debug, thiserror::Error)]
pub enum EffectError {
    /// The configuration is invalid.
    #[error("effect configuration: {0}")]
    Config(String),
    /// Reading the inputs failed.
    #[error(transparent)]
    Link(#[from] koppel_link::LinkError),
    /// polars failed.
    #[error("effect {step}: {source}")]
    Polars {
        /// The step.
        step: &'static str,
        /// polars' error.
        #[source]
        source: PolarsError,
    },
    /// Writing an output failed.
    #[error(transparent)]
    Write(#[from] koppel_io::WriteError),
    /// Disclosure control of the effect tables failed.
    #[error("effect disclosure control: {0}")]
    Disclosure(#[source] koppel_disclosure::table::DisclosureError),
}

/// One unprotected estimate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EffectRow {
    /// Instrument code or group name.
    pub instrument: String,
    /// `Total` or a subgroup dimension.
    pub dimension: String,
    /// `Total` or the subgroup level.
    pub level: String,
    /// Months after time zero (-12 for the placebo).
    pub horizon_months: i32,
    /// The outcome.
    pub outcome: String,
    /// Matched treated starts with the outcome observed.
    pub treated_n: u64,
    /// Distinct matched comparison persons.
    pub control_n: u64,
    /// Matched treated starts with the outcome.
    pub treated_with: u64,
    /// Share of the matched treated with the outcome (0–1).
    pub treated_share: f64,
    /// Weighted share of the comparison persons (0–1).
    pub control_share: f64,
    /// Effect in percentage points.
    pub effect_pp: f64,
    /// Standard error in percentage points.
    pub se_pp: f64,
    /// Lower end of the 95% interval (pp).
    pub ci_low_pp: f64,
    /// Upper end of the 95% interval (pp).
    pub ci_high_pp: f64,
    /// Naive difference (all treated starts versus everyone else on
    /// assistance mid-month in the same months), pp.
    pub naive_pp: Option<f64>,
}

/// Balance of one covariate (level) for one treatment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BalanceRow {
    /// Instrument code or group name.
    pub instrument: String,
    /// `covariate=level` for matching variables; `age_years`,
    /// `assistance_months`, `work_days` for the continuous measures.
    pub variable: String,
    /// SMD of all treated versus everyone on assistance (null if undefined).
    pub smd_before: Option<f64>,
    /// SMD of the matched treated versus the weighted controls.
    pub smd_after: Option<f64>,
}

/// Selection and matching counts of one treatment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SupportRow {
    /// Instrument code or group name.
    pub instrument: String,
    /// Instrument codes of the treatment.
    pub members: Vec<String>,
    /// The counts.
    #[serde(flatten)]
    pub counts: SelectionCounts,
}

/// Everything [`evaluate`] found (unprotected; operator only).
pub struct EffectResults {
    /// Estimates.
    pub effects: Vec<EffectRow>,
    /// Balance diagnostics.
    pub balance: Vec<BalanceRow>,
    /// Selection and common-support counts per treatment.
    pub support: Vec<SupportRow>,
    /// The matched file: one row per treated start (matched or not) and per
    /// control row, with pseudonym, cell, weight, covariates and outcomes.
    pub matched: DataFrame,
    /// Persons with assistance in the period but no persons-register record.
    pub without_person_record: u64,
    /// The day after which outcomes are not observed.
    pub data_until: String,
}

fn perr(step: &'static str) -> impl Fn(PolarsError) -> EffectError {
    move |source| EffectError::Polars { step, source }
}

/// Run the effect estimation on normalised input frames.
pub fn evaluate(
    frames: &LinkFrames,
    config: &EffectConfig,
    bands: &Bands,
) -> Result<EffectResults, EffectError> {
    evaluate_with_registers_until(frames, config, bands, None)
}

/// [`evaluate`] where `frames` hold only part of the registers (ingest's
/// register extracts, module `koppel_link::extract`): `registers_until`
/// is the latest date of the whole benefits and employment registers,
/// used where the frames' own latest date would be.
pub fn evaluate_with_registers_until(
    frames: &LinkFrames,
    config: &EffectConfig,
    bands: &Bands,
    registers_until: Option<Option<i32>>,
) -> Result<EffectResults, EffectError> {
    config.validate().map_err(EffectError::Config)?;
    let started = Instant::now();
    let mut h = load::load(frames, config)?;
    if let Some(until) = registers_until {
        h.observed_until = until;
    }
    let until = config
        .data_until
        .map(|d| d.0)
        .or(h.observed_until)
        .unwrap_or(config.period_to.0);
    tracing::info!(
        persons = h.pseudonyms.len(),
        seconds = started.elapsed().as_secs_f64(),
        "effect: histories loaded"
    );
    let pool = select::pool(&h, config, bands)?;
    let specs = outcome_specs(&config.horizons);
    let naive = NaivePool::new(&h, &pool, config, &specs, until);
    tracing::info!(
        pool_rows = pool.rows.len(),
        seconds = started.elapsed().as_secs_f64(),
        "effect: comparison pools built"
    );
    let mut results = EffectResults {
        effects: Vec::new(),
        balance: Vec::new(),
        support: Vec::new(),
        matched: DataFrame::empty(),
        without_person_record: pool.without_person_record,
        data_until: koppel_link::CivilDate(until).to_string(),
    };
    let mut matched_parts = Vec::new();
    for t in select::treatments(&h, config) {
        let m = select::match_treatment(&h, &pool, config, &t);
        let ctx = Ctx {
            h: &h,
            pool: &pool,
            config,
            specs: &specs,
            until,
        };
        let ys = ctx.unit_outcomes(&m);
        let treated_ys = ctx.treated_outcomes(&m);
        results
            .effects
            .extend(ctx.effects(&t, &m, &ys, &treated_ys, &naive));
        results.balance.extend(ctx.balance(&t, &m, &naive));
        matched_parts.push(ctx.matched_frame(&t, &m, &ys)?);
        tracing::info!(instrument = %t.name, treated = m.counts.treated, matched = m.counts.matched,
            unmatched = m.counts.unmatched, "effect: instrument evaluated");
        results.support.push(SupportRow {
            instrument: t.name.clone(),
            members: t.members.clone(),
            counts: m.counts,
        });
    }
    results.matched = if matched_parts.is_empty() {
        DataFrame::empty()
    } else {
        let lfs: Vec<LazyFrame> = matched_parts.into_iter().map(DataFrame::lazy).collect();
        concat(lfs, UnionArgs::default())
            .and_then(LazyFrame::collect)
            .map_err(perr("matched file"))?
    };
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "effect: estimates done"
    );
    Ok(results)
}

/// What [`run`] did (aggregated counts only).
#[derive(Clone, Debug, Serialize)]
pub struct EffectSummary {
    /// Key id of the inputs.
    pub key_id: String,
    /// Selection counts per treatment.
    pub support: Vec<SupportRow>,
    /// Persons with assistance in the period but no persons-register record.
    pub without_person_record: u64,
    /// Last day with observed outcomes.
    pub data_until: String,
    /// Rows of the matched file.
    pub matched_rows: u64,
}

/// Run the effect stage on ingest output files: write the matched file
/// (`matched.parquet`, pseudonymised, operator only) and the unprotected
/// `estimates.json` (effects and balance) into `out_dir`, and return the
/// summary with the results.
pub fn run(
    inputs: &LinkInputs,
    config: &EffectConfig,
    bands: &Bands,
    out_dir: &Path,
) -> Result<(EffectSummary, EffectResults), EffectError> {
    run_with_extracts(inputs, None, config, bands, out_dir)
}

/// [`run`], reading ingest's register extracts instead of the registers
/// when the index at `extracts` describes exactly these inputs (module
/// `koppel_link::extract`; the population, persons with an assistance
/// spell, is within the extracts). Same results.
pub fn run_with_extracts(
    inputs: &LinkInputs,
    extracts: Option<&Path>,
    config: &EffectConfig,
    bands: &Bands,
    out_dir: &Path,
) -> Result<(EffectSummary, EffectResults), EffectError> {
    let (key_id, spec) = koppel_link::check_key_ids(inputs)?;
    let usable = extracts
        .and_then(|index| koppel_link::extract::usable(index, inputs, &config.assistance_types));
    let mut results = match &usable {
        Some(found) => {
            koppel_link::check_key_ids(&found.inputs)?;
            tracing::info!("effect: reading the register extracts written by ingest");
            let frames = koppel_link::scan_inputs(&found.inputs)?;
            evaluate_with_registers_until(&frames, config, bands, Some(found.registers_until()))?
        }
        None => evaluate(&koppel_link::scan_inputs(inputs)?, config, bands)?,
    };
    std::fs::create_dir_all(out_dir).map_err(|source| {
        EffectError::Write(koppel_io::WriteError::Io {
            path: out_dir.to_path_buf(),
            source,
        })
    })?;
    let metadata = vec![
        (koppel_link::KEY_ID_METADATA.to_string(), key_id.clone()),
        (koppel_link::SPEC_METADATA.to_string(), spec),
        (
            koppel_link::KIND_METADATA.to_string(),
            koppel_schema::metadata::KIND_MATCHED.to_string(),
        ),
    ];
    let path = out_dir.join("matched.parquet");
    results.matched.rechunk_mut();
    let mut writer = koppel_io::TableWriter::create(&path, results.matched.schema(), &metadata)?;
    writer.write(&results.matched)?;
    writer.finish()?;
    let summary = EffectSummary {
        key_id,
        support: results.support.clone(),
        without_person_record: results.without_person_record,
        data_until: results.data_until.clone(),
        matched_rows: results.matched.height() as u64,
    };
    Ok((summary, results))
}

/// Items per parallel chunk of the outcome passes.
const OUTCOME_CHUNK: usize = 8192;

/// Pool rows measured mid-month (the naive comparison and the "before"
/// balance): everyone on assistance on the 15th of a month of the period.
struct NaivePool {
    /// Indices of the rows in the pool, person-major.
    rows: Vec<u32>,
    /// Outcomes per row (specs order).
    ys: Vec<i8>,
    /// Sums per (dimension slot, level): Total is slot 0, subgroup d is d + 1.
    sums: BTreeMap<(usize, u16), Vec<Moments>>,
    /// Balance sums over all rows.
    balance: BalanceAcc,
}

impl NaivePool {
    fn new(
        h: &Histories,
        pool: &Pool,
        config: &EffectConfig,
        specs: &[OutcomeSpec],
        until: i32,
    ) -> NaivePool {
        let mut rows = Vec::new();
        let mut sums: BTreeMap<(usize, u16), Vec<Moments>> = BTreeMap::new();
        let mut balance = BalanceAcc::new(config, &pool.levels);
        let mut cand: Vec<(u32, i32, u32)> = pool
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                let mid = first_day(r.month) + 14;
                r.spell_start <= mid && mid <= r.spell_end
            })
            .map(|(i, r)| (r.person, r.month, i as u32))
            .collect();
        cand.sort_unstable();
        cand.dedup_by_key(|c| (c.0, c.1));
        // Outcomes on all cores (each row on its own), sums in row order.
        let n_out = specs.len();
        let ys: Vec<i8> = cand
            .par_chunks(OUTCOME_CHUNK)
            .flat_map_iter(|chunk| {
                let mut ys = Vec::with_capacity(chunk.len() * n_out);
                for &(p, month, _) in chunk {
                    let mid = first_day(month) + 14;
                    outcome_values(h, p, mid, specs, until, config.gap_days, &mut ys);
                }
                ys
            })
            .collect();
        // Sums per (slot, level), dense by level while adding.
        let mut dense: Vec<Vec<Option<Vec<Moments>>>> =
            vec![Vec::new(); config.subgroups.len() + 1];
        for (k, &(_, _, i)) in cand.iter().enumerate() {
            let r = &pool.rows[i as usize];
            rows.push(i);
            for (slot, level) in slots(r, &config.subgroups) {
                let by_level = &mut dense[slot];
                if by_level.len() <= level as usize {
                    by_level.resize(level as usize + 1, None);
                }
                let acc =
                    by_level[level as usize].get_or_insert_with(|| vec![Moments::default(); n_out]);
                for (o, y) in ys[k * n_out..(k + 1) * n_out].iter().enumerate() {
                    if *y >= 0 {
                        acc[o].add(f64::from(*y), 1.0);
                    }
                }
            }
            balance.add(r, 1.0);
        }
        for (slot, by_level) in dense.into_iter().enumerate() {
            for (level, acc) in by_level.into_iter().enumerate() {
                if let Some(acc) = acc {
                    sums.insert((slot, level as u16), acc);
                }
            }
        }
        NaivePool {
            rows,
            ys,
            sums,
            balance,
        }
    }

    /// Naive rows of starters (person, month), with their outcomes.
    fn starters<'a>(
        &'a self,
        pool: &'a Pool,
        m: &'a Matched,
        n_out: usize,
    ) -> impl Iterator<Item = (&'a PoolRow, &'a [i8])> + 'a {
        let mut keys: Vec<(u32, i32)> = m.starters.iter().copied().collect();
        keys.sort_unstable();
        keys.into_iter().filter_map(move |(p, month)| {
            let i = self
                .rows
                .binary_search_by(|&r| {
                    let row = &pool.rows[r as usize];
                    (row.person, row.month).cmp(&(p, month))
                })
                .ok()?;
            let row = &pool.rows[self.rows[i] as usize];
            Some((row, &self.ys[i * n_out..(i + 1) * n_out]))
        })
    }
}

/// Dimension slots of a row: (0, 0) for the total, (d + 1, level) per subgroup.
fn slots(r: &PoolRow, subgroups: &[Covariate]) -> Vec<(usize, u16)> {
    let mut v = vec![(0, 0)];
    v.extend(
        subgroups
            .iter()
            .enumerate()
            .map(|(d, c)| (d + 1, r.cov[c.index()])),
    );
    v
}

/// Weighted level counts of every matching covariate and moments of the
/// continuous measures.
#[derive(Clone)]
struct BalanceAcc {
    covs: Vec<Covariate>,
    n: f64,
    levels: Vec<Vec<f64>>,
    cont: [Moments; 3],
}

const CONTINUOUS: [&str; 3] = ["age_years", "assistance_months", "work_days"];

impl BalanceAcc {
    fn new(config: &EffectConfig, levels: &select::Levels) -> BalanceAcc {
        BalanceAcc {
            covs: config.matching.clone(),
            n: 0.0,
            levels: config
                .matching
                .iter()
                .map(|c| vec![0.0; levels.0[c.index()].len()])
                .collect(),
            cont: [Moments::default(); 3],
        }
    }

    fn add(&mut self, r: &PoolRow, w: f64) {
        self.n += w;
        for (i, c) in self.covs.iter().enumerate() {
            self.levels[i][r.cov[c.index()] as usize] += w;
        }
        if r.age_years >= 0 {
            self.cont[0].add(f64::from(r.age_years), w);
        }
        self.cont[1].add(f64::from(r.duration_months), w);
        self.cont[2].add(f64::from(r.work_days), w);
    }

    fn share(&self, i: usize, l: usize) -> (f64, f64) {
        let p = if self.n > 0.0 {
            self.levels[i][l] / self.n
        } else {
            0.0
        };
        (p, p * (1.0 - p))
    }
}

struct Ctx<'a> {
    h: &'a Histories,
    pool: &'a Pool,
    config: &'a EffectConfig,
    specs: &'a [OutcomeSpec],
    until: i32,
}

impl Ctx<'_> {
    fn unit_outcomes(&self, m: &Matched) -> Vec<i8> {
        self.outcomes_of(&m.units, |(u, _)| {
            (u.person, m.cells[u.cell as usize].start)
        })
    }

    fn treated_outcomes(&self, m: &Matched) -> Vec<i8> {
        self.outcomes_of(&m.treated, |t| {
            (self.pool.rows[t.row as usize].person, t.start)
        })
    }

    /// Outcomes of items given as (person, time zero), on all cores, in
    /// item order.
    fn outcomes_of<T: Sync>(&self, items: &[T], at: impl Fn(&T) -> (u32, i32) + Sync) -> Vec<i8> {
        items
            .par_chunks(OUTCOME_CHUNK)
            .flat_map_iter(|chunk| {
                let mut ys = Vec::with_capacity(chunk.len() * self.specs.len());
                for item in chunk {
                    let (p, t0) = at(item);
                    outcome_values(
                        self.h,
                        p,
                        t0,
                        self.specs,
                        self.until,
                        self.config.gap_days,
                        &mut ys,
                    );
                }
                ys
            })
            .collect()
    }

    fn effects(
        &self,
        t: &Treatment,
        m: &Matched,
        ys: &[i8],
        treated_ys: &[i8],
        naive: &NaivePool,
    ) -> Vec<EffectRow> {
        let n_out = self.specs.len();
        // Units are contiguous per cell.
        let mut ranges = vec![(0usize, 0usize); m.cells.len()];
        let mut i = 0;
        while i < m.units.len() {
            let c = m.units[i].0.cell;
            let mut j = i;
            while j < m.units.len() && m.units[j].0.cell == c {
                j += 1;
            }
            ranges[c as usize] = (i, j);
            i = j;
        }
        let mut groups: Vec<((usize, u16), Vec<u32>)> =
            vec![((0, 0), (0..m.cells.len() as u32).collect())];
        groups.extend(
            select::subgroup_cells(self.pool, &m.cells, &self.config.subgroups)
                .into_iter()
                .map(|((d, l), cells)| ((d + 1, l), cells)),
        );
        // Naive: all treated starts versus the pool minus the starters.
        let mut treated_all: BTreeMap<(usize, u16), Vec<Moments>> = BTreeMap::new();
        for (k, tr) in m.treated.iter().enumerate() {
            let r = &self.pool.rows[tr.row as usize];
            for key in slots(r, &self.config.subgroups) {
                let acc = treated_all
                    .entry(key)
                    .or_insert_with(|| vec![Moments::default(); n_out]);
                for (o, y) in treated_ys[k * n_out..(k + 1) * n_out].iter().enumerate() {
                    if *y >= 0 {
                        acc[o].add(f64::from(*y), 1.0);
                    }
                }
            }
        }
        let mut pool_sums = naive.sums.clone();
        for (r, y) in naive.starters(self.pool, m, n_out) {
            for key in slots(r, &self.config.subgroups) {
                if let Some(acc) = pool_sums.get_mut(&key) {
                    for (o, v) in y.iter().enumerate() {
                        if *v >= 0 {
                            acc[o].remove(f64::from(*v), 1.0);
                        }
                    }
                }
            }
        }
        // Outcomes by outcome (column-major) for linear passes.
        let n_units = m.units.len();
        let columns: Vec<Vec<i8>> = (0..n_out)
            .map(|o| (0..n_units).map(|k| ys[k * n_out + o]).collect())
            .collect();
        // Groups on all cores; rows in group order.
        let per_group = |((slot, level), cells): &((usize, u16), Vec<u32>)| {
            let mut out = Vec::new();
            let mut scratch = Scratch::default();
            let (dimension, level_label) = if *slot == 0 {
                (TOTAL.to_string(), TOTAL.to_string())
            } else {
                let c = self.config.subgroups[slot - 1];
                (
                    c.name().to_string(),
                    self.pool.levels.label(c, *level).to_string(),
                )
            };
            // Units of the group's cells (cells ascending, contiguous units).
            let source: Vec<u32> = cells
                .iter()
                .flat_map(|&c| {
                    let (a, b) = ranges[c as usize];
                    a as u32..b as u32
                })
                .collect();
            let design = Design::new(source.iter().map(|&k| m.units[k as usize].0));
            for (o, spec) in self.specs.iter().enumerate() {
                let col = &columns[o];
                let y = |i: usize| {
                    let v = col[source[design.source(i)] as usize];
                    // Negative: the horizon lies after the end of the data.
                    (v >= 0).then_some(f64::from(v))
                };
                let Some(e) = design.estimate(y, &mut scratch) else {
                    continue;
                };
                let naive_pp = match (
                    treated_all.get(&(*slot, *level)).map(|v| v[o]),
                    pool_sums.get(&(*slot, *level)).map(|v| v[o]),
                ) {
                    (Some(tm), Some(pm)) if tm.w > 0.0 && pm.w > 0.5 => {
                        Some(100.0 * (tm.mean() - pm.mean()))
                    }
                    _ => None,
                };
                let (lo, hi) = e.interval();
                out.push(EffectRow {
                    instrument: t.name.clone(),
                    dimension: dimension.clone(),
                    level: level_label.clone(),
                    horizon_months: spec.horizon,
                    outcome: spec.name.to_string(),
                    treated_n: e.treated_n,
                    control_n: e.control_n,
                    treated_with: e.treated_sum.round() as u64,
                    treated_share: e.treated_mean,
                    control_share: e.control_mean,
                    effect_pp: 100.0 * e.effect,
                    se_pp: 100.0 * e.se,
                    ci_low_pp: 100.0 * lo,
                    ci_high_pp: 100.0 * hi,
                    naive_pp,
                });
            }
            out
        };
        groups.par_iter().map(per_group).flatten_iter().collect()
    }

    fn balance(&self, t: &Treatment, m: &Matched, naive: &NaivePool) -> Vec<BalanceRow> {
        let mut before_t = BalanceAcc::new(self.config, &self.pool.levels);
        for tr in &m.treated {
            before_t.add(&self.pool.rows[tr.row as usize], 1.0);
        }
        let mut before_c = naive.balance.clone();
        for (r, _) in naive.starters(self.pool, m, self.specs.len()) {
            before_c.add(r, -1.0);
        }
        let mut after_t = BalanceAcc::new(self.config, &self.pool.levels);
        let mut after_c = after_t.clone();
        for (u, row) in &m.units {
            let r = &self.pool.rows[*row as usize];
            if u.treated {
                after_t.add(r, 1.0);
            } else {
                after_c.add(r, u.weight);
            }
        }
        let mut out = Vec::new();
        if before_t.n == 0.0 {
            return out;
        }
        for (i, c) in self.config.matching.iter().enumerate() {
            for l in 0..before_t.levels[i].len() {
                if before_t.levels[i][l] == 0.0 && before_c.levels[i][l] <= 0.0 {
                    continue;
                }
                let (pt, vt) = before_t.share(i, l);
                let (pc, vc) = before_c.share(i, l);
                let (at, _) = after_t.share(i, l);
                let (ac, _) = after_c.share(i, l);
                out.push(BalanceRow {
                    instrument: t.name.clone(),
                    variable: format!("{}={}", c.name(), self.pool.levels.label(*c, l as u16)),
                    smd_before: smd(pt, pc, vt, vc),
                    smd_after: if after_t.n > 0.0 {
                        smd(at, ac, vt, vc)
                    } else {
                        None
                    },
                });
            }
        }
        for (k, name) in CONTINUOUS.iter().enumerate() {
            let (bt, bc) = (before_t.cont[k], before_c.cont[k]);
            let (at, ac) = (after_t.cont[k], after_c.cont[k]);
            out.push(BalanceRow {
                instrument: t.name.clone(),
                variable: name.to_string(),
                smd_before: smd(bt.mean(), bc.mean(), bt.var(), bc.var()),
                smd_after: if at.w > 0.0 {
                    smd(at.mean(), ac.mean(), bt.var(), bc.var())
                } else {
                    None
                },
            });
        }
        out
    }

    fn matched_frame(
        &self,
        t: &Treatment,
        m: &Matched,
        ys: &[i8],
    ) -> Result<DataFrame, EffectError> {
        let n_out = self.specs.len();
        let matched_rows: std::collections::HashSet<u32> = m
            .units
            .iter()
            .filter(|u| u.0.treated)
            .map(|u| u.1)
            .collect();
        let unmatched: Vec<&select::Treated> = m
            .treated
            .iter()
            .filter(|tr| !matched_rows.contains(&tr.row))
            .collect();
        let n = m.units.len() + unmatched.len();
        let mut person = Vec::with_capacity(n);
        let mut role = Vec::with_capacity(n);
        let mut t0 = Vec::with_capacity(n);
        let mut cell: Vec<Option<u32>> = Vec::with_capacity(n);
        let mut weight: Vec<Option<f64>> = Vec::with_capacity(n);
        let mut rows = Vec::with_capacity(n);
        let mut outs: Vec<Vec<Option<i8>>> = vec![Vec::with_capacity(n); n_out];
        for (k, (u, row)) in m.units.iter().enumerate() {
            person.push(self.h.pseudonyms[u.person as usize].as_str());
            role.push(if u.treated { "treated" } else { "control" });
            t0.push(m.cells[u.cell as usize].start);
            cell.push(Some(u.cell));
            weight.push(Some(u.weight));
            rows.push(*row);
            for (o, col) in outs.iter_mut().enumerate() {
                let y = ys[k * n_out + o];
                col.push((y >= 0).then_some(y));
            }
        }
        for tr in unmatched {
            let p = self.pool.rows[tr.row as usize].person;
            person.push(self.h.pseudonyms[p as usize].as_str());
            role.push("unmatched");
            t0.push(tr.start);
            cell.push(None);
            weight.push(None);
            rows.push(tr.row);
            let mut y = Vec::new();
            outcome_values(
                self.h,
                p,
                tr.start,
                self.specs,
                self.until,
                self.config.gap_days,
                &mut y,
            );
            for (o, col) in outs.iter_mut().enumerate() {
                col.push((y[o] >= 0).then_some(y[o]));
            }
        }
        let mut columns: Vec<Column> = vec![
            Column::new("instrument".into(), vec![t.name.as_str(); n]),
            Column::new(koppel_link::PSEUDONYM.into(), person),
            Column::new("role".into(), role),
            Column::new(
                "month".into(),
                rows.iter()
                    .map(|r| month_label(self.pool.rows[*r as usize].month))
                    .collect::<Vec<_>>(),
            ),
            Column::new("time_zero".into(), t0)
                .cast(&DataType::Date)
                .map_err(perr("matched file"))?,
            Column::new("cell".into(), cell),
            Column::new("weight".into(), weight),
        ];
        for c in COVARIATES {
            columns.push(Column::new(
                c.name().into(),
                rows.iter()
                    .map(|r| {
                        self.pool
                            .levels
                            .label(c, self.pool.rows[*r as usize].cov[c.index()])
                    })
                    .collect::<Vec<_>>(),
            ));
        }
        for (spec, col) in self.specs.iter().zip(outs) {
            let name = if spec.horizon < 0 {
                format!("{}_minus{}m", spec.name, -spec.horizon)
            } else {
                format!("{}_{}m", spec.name, spec.horizon)
            };
            columns.push(Column::new(name.into(), col));
        }
        DataFrame::new(n, columns).map_err(perr("matched file"))
    }
}
