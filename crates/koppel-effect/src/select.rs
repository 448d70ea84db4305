//! Treated starts, monthly comparison pools and coarsened-exact matching.
//!
//! **Pool rows.** For every month m of the evaluation period, every
//! assistance spell covering a day of m gives one *pool row*: the person,
//! the spell's days, and the covariates measured on the first day of m (so
//! none of them can be affected by a start in m; treated and comparison
//! persons are measured on the same day).
//!
//! **Treated.** A trajectory of instrument (group) X starting on day s in
//! the period, with no start of X in the `washout_months` before s, of a
//! person in the persons register with an assistance spell covering s. Its
//! pool row is the one of month(s) with the spell covering s.
//!
//! **Matching.** A treated start's *cell* is its month, its covariates
//! (the configured matching variables) and its start date s; its controls
//! are the pool rows of the same month and covariates whose spell covers s,
//! of persons who do not start X in that month (they may start it later).
//! Controls share the cell's treated count as weight. A treated start whose
//! cell has no control is unmatched (reported, not dropped silently).

use std::collections::{BTreeMap, HashMap, HashSet};

use koppel_link::{Band, Bands, UNKNOWN};
use rayon::prelude::*;

use crate::config::{Covariate, EffectConfig, COVARIATES};
use crate::estimate::{control_weight, Unit};
use crate::history::{add_months, completed_months, episodes, first_day, month_of, work_days};
use crate::load::{Dict, Histories};
use crate::EffectError;

/// A pool row: one person's assistance spell in one month.
#[derive(Clone, Copy, Debug)]
pub struct PoolRow {
    /// Person id.
    pub person: u32,
    /// Month number.
    pub month: i32,
    /// First day of the spell.
    pub spell_start: i32,
    /// Last day of the spell.
    pub spell_end: i32,
    /// Covariate level codes, in [`COVARIATES`] order.
    pub cov: [u16; 10],
    /// Age in completed years on the first day of the month (-1 unknown).
    pub age_years: i16,
    /// Completed months of the assistance episode on the first day.
    pub duration_months: u16,
    /// Days in work in the history window.
    pub work_days: u16,
}

/// The levels (labels) of each covariate, indexed by code.
#[derive(Clone, Debug)]
pub struct Levels(pub [Vec<String>; 10]);

impl Levels {
    /// The label of `code` of covariate `c`.
    pub fn label(&self, c: Covariate, code: u16) -> &str {
        &self.0[c.index()][code as usize]
    }
}

/// Pool rows of every known person (person-major, by month and spell).
pub struct Pool {
    /// The rows.
    pub rows: Vec<PoolRow>,
    /// Rows of person p: `rows[offsets[p]..offsets[p + 1]]`.
    pub offsets: Vec<u32>,
    /// Covariate labels.
    pub levels: Levels,
    /// Persons with assistance in the period but no persons-register record.
    pub without_person_record: u64,
}

impl Pool {
    /// Rows of person `p`.
    pub fn of(&self, p: u32) -> &[PoolRow] {
        &self.rows[self.offsets[p as usize] as usize..self.offsets[p as usize + 1] as usize]
    }
}

fn band_index(value: f64, bands: &[Band]) -> u16 {
    bands
        .iter()
        .position(|b| b.to.is_none_or(|t| value < t))
        .unwrap_or(bands.len().saturating_sub(1)) as u16
}

fn labels(bands: &[Band]) -> Vec<String> {
    let mut v: Vec<String> = bands.iter().map(|b| b.label.clone()).collect();
    v.push(UNKNOWN.to_string());
    v
}

/// Persons per parallel chunk of the pool build.
const POOL_CHUNK: u32 = 4096;

/// Build the pool rows of the evaluation period.
pub fn pool(h: &Histories, config: &EffectConfig, bands: &Bands) -> Result<Pool, EffectError> {
    let mut regions = Dict::default();
    let mut region_of = Vec::new();
    for m in &h.municipalities.values {
        let name = config
            .regions
            .iter()
            .find(|(_, list)| list.contains(m))
            .map_or(m.as_str(), |(r, _)| r.as_str());
        region_of.push(regions.code(name));
    }
    let mut segments = h.segments.clone();
    let unknown_segment = segments.code(UNKNOWN);
    let levels = Levels([
        regions.values,
        h.sexes.values.clone(),
        labels(&bands.age),
        h.households.values.clone(),
        h.origins.values.clone(),
        h.educations.values.clone(),
        labels(&bands.duration),
        segments.values,
        vec!["no".into(), "yes".into()],
        config.work_band_labels(),
    ]);
    for (c, list) in COVARIATES.iter().zip(&levels.0) {
        if list.len() >= 4096 {
            return Err(EffectError::Config(format!(
                "covariate {c} has {} distinct values; at most 4095 can be matched on",
                list.len()
            )));
        }
    }
    let (from, to) = (month_of(config.period_from.0), month_of(config.period_to.0));
    let hist = config.history_months as i32;
    // Pool rows of one person, appended to `rows`.
    let person_rows = |p: u32, rows: &mut Vec<PoolRow>| {
        let a = h.persons[p as usize];
        let spells = h.assistance.of(p);
        let eps = episodes(spells, config.gap_days);
        let trajs = h.trajectories.of(p);
        let jobs = h.jobs.of(p);
        for s in spells {
            let first = month_of(s.start).max(from);
            let last = month_of(s.end).min(to);
            let ep = eps
                .iter()
                .find(|(es, ee)| *es <= s.start && s.start <= *ee)
                .map_or(s.start, |e| e.0);
            for month in first..=last {
                let tc = first_day(month);
                let window = add_months(tc, -hist);
                let age = a.birth.map(|b| completed_months(b, tc) / 12);
                let dur = completed_months(ep, tc);
                // Trajectories that ran in the history window: the latest
                // (by start, then end) gives the segment.
                let latest = trajs
                    .iter()
                    .filter(|t| t.start < tc && t.end >= window)
                    .max_by_key(|t| (t.start, t.end));
                let prior = latest.is_some();
                let wd = work_days(jobs, window, tc - 1);
                let cov = [
                    region_of[s.municipality as usize],
                    a.sex,
                    age.map_or(bands.age.len() as u16, |y| {
                        band_index(f64::from(y), &bands.age)
                    }),
                    a.household,
                    a.origin,
                    a.education,
                    band_index(f64::from(dur), &bands.duration),
                    latest.map_or(unknown_segment, |t| t.segment),
                    u16::from(prior),
                    config.work_band(wd) as u16,
                ];
                rows.push(PoolRow {
                    person: p,
                    month,
                    spell_start: s.start,
                    spell_end: s.end,
                    cov,
                    age_years: age.map_or(-1, |y| y.clamp(-1, 150) as i16),
                    duration_months: dur.clamp(0, 65_535) as u16,
                    work_days: wd.min(65_535) as u16,
                });
            }
        }
    };
    // Persons in chunks on all cores; the chunks are joined in person order.
    let persons = h.pseudonyms.len() as u32;
    let chunks: Vec<(Vec<PoolRow>, Vec<u32>)> = (0..persons.div_ceil(POOL_CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut rows = Vec::new();
            let mut ends = Vec::new();
            for p in c * POOL_CHUNK..((c + 1) * POOL_CHUNK).min(persons) {
                if h.persons[p as usize].known {
                    person_rows(p, &mut rows);
                }
                ends.push(rows.len() as u32);
            }
            (rows, ends)
        })
        .collect();
    let total: usize = chunks.iter().map(|c| c.0.len()).sum();
    let mut rows = Vec::with_capacity(total);
    let mut offsets = Vec::with_capacity(persons as usize + 1);
    offsets.push(0u32);
    for (part, ends) in chunks {
        let base = rows.len() as u32;
        offsets.extend(ends.iter().map(|e| base + e));
        rows.extend(part);
    }
    let without = (0..persons)
        .filter(|&p| !h.persons[p as usize].known)
        .count() as u64;
    Ok(Pool {
        rows,
        offsets,
        levels,
        without_person_record: without,
    })
}

/// An instrument or instrument group evaluated as one treatment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Treatment {
    /// Instrument code or group name.
    pub name: String,
    /// Instrument codes in the treatment.
    pub members: Vec<String>,
}

/// The treatments of the configuration, or every instrument started in
/// the period when none is configured (sorted by code).
pub fn treatments(h: &Histories, config: &EffectConfig) -> Vec<Treatment> {
    if config.instruments.is_empty() && config.groups.is_empty() {
        let mut seen = std::collections::BTreeSet::new();
        for p in 0..h.pseudonyms.len() as u32 {
            for t in h.trajectories.of(p) {
                if t.start >= config.period_from.0 && t.start <= config.period_to.0 {
                    seen.insert(h.instruments.value(t.instrument).to_string());
                }
            }
        }
        return seen
            .into_iter()
            .map(|c| Treatment {
                name: c.clone(),
                members: vec![c],
            })
            .collect();
    }
    let mut out: Vec<Treatment> = config
        .instruments
        .iter()
        .map(|c| Treatment {
            name: c.clone(),
            members: vec![c.clone()],
        })
        .collect();
    out.extend(config.groups.iter().map(|(name, list)| Treatment {
        name: name.clone(),
        members: list.clone(),
    }));
    out
}

/// What selection found for one treatment (counts of starts).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SelectionCounts {
    /// Starts in the period (one per person and start date).
    pub starts: u64,
    /// Left out: a start of the same instrument in the washout months before.
    pub repeat_within_washout: u64,
    /// Left out: not on assistance on the start date.
    pub not_on_assistance: u64,
    /// Left out: no persons-register record.
    pub no_person_record: u64,
    /// Treated starts (the rest).
    pub treated: u64,
    /// Treated starts with at least one control in their cell.
    pub matched: u64,
    /// Treated starts without a control (outside common support).
    pub unmatched: u64,
    /// Distinct comparison persons used.
    pub control_persons: u64,
    /// Comparison rows used (a person may be a control in several cells).
    pub control_rows: u64,
}

/// A treated start.
#[derive(Clone, Copy, Debug)]
pub struct Treated {
    /// Index of its pool row.
    pub row: u32,
    /// Start date (time zero).
    pub start: i32,
}

/// A matching cell.
#[derive(Clone, Copy, Debug)]
pub struct Cell {
    /// Time zero of every unit of the cell.
    pub start: i32,
    /// A pool row of one of its treated (for the covariate levels).
    pub row: u32,
}

/// The matched sample of one treatment.
pub struct Matched {
    /// Counts.
    pub counts: SelectionCounts,
    /// Every treated start (matched or not).
    pub treated: Vec<Treated>,
    /// Persons starting the treatment per month (excluded from its pools).
    pub starters: HashSet<(u32, i32)>,
    /// The cells.
    pub cells: Vec<Cell>,
    /// Units (treated and controls) with pool-row index; `y` is unset.
    pub units: Vec<(Unit, u32)>,
}

/// Select the treated starts of `t` and match them.
pub fn match_treatment(
    h: &Histories,
    pool: &Pool,
    config: &EffectConfig,
    t: &Treatment,
) -> Matched {
    let codes: HashSet<u16> = t
        .members
        .iter()
        .filter_map(|m| h.instruments.get(m))
        .collect();
    let (from, to) = (config.period_from.0, config.period_to.0);
    let mut counts = SelectionCounts::default();
    let mut treated = Vec::new();
    let mut starters = HashSet::new();
    for p in 0..h.pseudonyms.len() as u32 {
        let trajs = h.trajectories.of(p);
        let mut last_start = None;
        for (i, tr) in trajs.iter().enumerate() {
            if !codes.contains(&tr.instrument) || tr.start < from || tr.start > to {
                continue;
            }
            if last_start == Some(tr.start) {
                continue; // one start per person and day
            }
            last_start = Some(tr.start);
            counts.starts += 1;
            let s = tr.start;
            starters.insert((p, month_of(s)));
            let window = add_months(s, -(config.washout_months as i32));
            if trajs[..i]
                .iter()
                .any(|o| codes.contains(&o.instrument) && o.start >= window && o.start < s)
            {
                counts.repeat_within_washout += 1;
                continue;
            }
            if !h.persons[p as usize].known {
                counts.no_person_record += 1;
                continue;
            }
            let base = pool.offsets[p as usize];
            let row = pool
                .of(p)
                .iter()
                .position(|r| r.month == month_of(s) && r.spell_start <= s && s <= r.spell_end);
            match row {
                Some(i) => treated.push(Treated {
                    row: base + i as u32,
                    start: s,
                }),
                None => counts.not_on_assistance += 1,
            }
        }
    }
    counts.treated = treated.len() as u64;
    let key = |row: &PoolRow| {
        let covs = config
            .matching
            .iter()
            .fold(0u128, |k, c| (k << 12) | u128::from(row.cov[c.index()]));
        (row.month, covs)
    };
    // Treated grouped by (key, start, person).
    let mut order: Vec<((i32, u128), i32, u32, usize)> = treated
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let r = &pool.rows[t.row as usize];
            (key(r), t.start, r.person, i)
        })
        .collect();
    order.sort_unstable();
    let needed: HashSet<(i32, u128)> = order.iter().map(|o| o.0).collect();
    let mut candidates: HashMap<(i32, u128), Vec<u32>> = HashMap::new();
    for (i, r) in pool.rows.iter().enumerate() {
        let k = key(r);
        if needed.contains(&k) && !starters.contains(&(r.person, r.month)) {
            candidates.entry(k).or_default().push(i as u32);
        }
    }
    let mut cells = Vec::new();
    let mut units = Vec::new();
    let mut control_persons = HashSet::new();
    let mut i = 0;
    while i < order.len() {
        let (k, s) = (order[i].0, order[i].1);
        let mut j = i;
        while j < order.len() && order[j].0 == k && order[j].1 == s {
            j += 1;
        }
        let mut controls: Vec<u32> = candidates
            .get(&k)
            .map(|list| {
                list.iter()
                    .copied()
                    .filter(|&c| {
                        let r = &pool.rows[c as usize];
                        r.spell_start <= s && s <= r.spell_end
                    })
                    .collect()
            })
            .unwrap_or_default();
        controls.dedup_by_key(|c| pool.rows[*c as usize].person);
        if controls.is_empty() {
            counts.unmatched += (j - i) as u64;
        } else {
            let cell = cells.len() as u32;
            cells.push(Cell {
                start: s,
                row: treated[order[i].3].row,
            });
            counts.matched += (j - i) as u64;
            let w = control_weight(j - i, controls.len());
            for o in &order[i..j] {
                let row = treated[o.3].row;
                units.push((unit(pool, row, cell, true, 1.0), row));
            }
            for c in controls {
                control_persons.insert(pool.rows[c as usize].person);
                units.push((unit(pool, c, cell, false, w), c));
            }
        }
        i = j;
    }
    counts.control_persons = control_persons.len() as u64;
    counts.control_rows = units.iter().filter(|u| !u.0.treated).count() as u64;
    Matched {
        counts,
        treated,
        starters,
        cells,
        units,
    }
}

fn unit(pool: &Pool, row: u32, cell: u32, treated: bool, weight: f64) -> Unit {
    Unit {
        person: pool.rows[row as usize].person,
        cell,
        treated,
        weight,
        y: 0.0,
    }
}

/// Subgroup levels of a set of cells: (dimension, level) → cell ids.
pub fn subgroup_cells(
    pool: &Pool,
    cells: &[Cell],
    subgroups: &[Covariate],
) -> BTreeMap<(usize, u16), Vec<u32>> {
    let mut out: BTreeMap<(usize, u16), Vec<u32>> = BTreeMap::new();
    for (i, c) in cells.iter().enumerate() {
        let r = &pool.rows[c.row as usize];
        for (d, cov) in subgroups.iter().enumerate() {
            out.entry((d, r.cov[cov.index()]))
                .or_default()
                .push(i as u32);
        }
    }
    out
}
