//! Information loss per table: how much of each count table is published
//! (cells, and persons in the table's base cells), and for a table that ends
//! mostly suppressed (a small cohort), the coarser table that would publish:
//! one dimension fewer (its cells are margins of this table, so their
//! statuses are known from this run), or adjacent levels of one dimension
//! merged in pairs (estimated from the minimum count: merged cells that would
//! no longer be primary).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cells::{CellSet, Status};
use crate::rules::{count_is_primary, Rules};
use crate::table::{Table, TOTAL};

/// Below this published share of its cells a table counts as mostly
/// suppressed and gets a suggestion.
pub const MOSTLY_SUPPRESSED: f64 = 0.5;

/// Information loss of one count table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableLoss {
    /// The table's name.
    pub table: String,
    /// Its count cells (rows).
    pub cells: usize,
    /// Rows published.
    pub published: usize,
    /// Rows suppressed (primary or secondary).
    pub suppressed: usize,
    /// `published / cells`.
    pub published_share: f64,
    /// Persons the table describes at one horizon: the sum of its base
    /// cells (see [`base_cell`]) at a horizon, the largest over horizons
    /// (the cohort for a states or flag table; persons in work for a job
    /// table).
    pub persons: f64,
    /// Persons in published base cells at the horizon where they are
    /// fewest: at every horizon at least this many persons are in published
    /// base cells (never more than `persons`).
    pub persons_published: f64,
    /// The smallest share, over horizons, of the persons in base cells who
    /// are in published ones (1 for an empty table).
    pub persons_share: f64,
    /// Per horizon (`*` for a table without horizons): persons in base
    /// cells and persons in published base cells.
    #[serde(default)]
    pub by_horizon: Vec<HorizonLoss>,
    /// Whether less than half of the cells are published.
    pub mostly_suppressed: bool,
    /// For a mostly suppressed table: a coarser table that would publish more.
    pub coarser: Option<Coarser>,
}

/// Persons in a table's base cells at one horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HorizonLoss {
    /// The horizon label (`6m`, `6m>12m` for a flow, `*` for none).
    pub horizon: String,
    /// Persons in the base cells.
    pub persons: f64,
    /// Persons in published base cells.
    pub persons_published: f64,
}

/// Whether a row is one of its table's base cells: every dimension at a
/// level and the measure's split at a level (a state, `yes`/`no`, a job
/// field's level, a transition `a>b`). At one horizon the base cells of a
/// table count every person it describes exactly once. In a job table the
/// rows of measure `persons` (the two work states it is linked to) are not
/// base cells: they count the same persons as its job levels.
pub fn base_cell(table: &Table, row: &crate::table::Row) -> bool {
    let job_table = table.rows.iter().any(|r| r.measure.starts_with("job_"));
    row.levels.iter().all(|l| l != TOTAL)
        && row
            .state
            .as_deref()
            .is_some_and(|s| s != TOTAL && s.split(crate::table::FLOW_SEP).all(|p| p != TOTAL))
        && (!job_table || row.measure.starts_with("job_"))
}

/// A coarser version of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coarser {
    /// The dimensions it keeps (empty: the whole cohort only).
    pub dims: Vec<String>,
    /// When levels are merged: the dimension and its groups of levels.
    pub merged: Option<(String, Vec<Vec<String>>)>,
    /// Share of its cells that would be published.
    pub published_share: f64,
    /// `true`: estimated from the minimum count alone (merged levels, which
    /// would need a new protection run); `false`: measured in this run.
    pub estimated: bool,
}

/// The information loss of every count table (`indices[t]`: each row's
/// cell, `None` for magnitude tables, which are skipped).
pub fn table_losses(
    tables: &[Table],
    indices: &[Option<Vec<usize>>],
    cells: &CellSet,
    status: &[Status],
    rules: &Rules,
) -> Vec<TableLoss> {
    tables
        .iter()
        .zip(indices)
        .filter_map(|(t, idx)| {
            idx.as_ref()
                .map(|idx| loss_of(t, idx, cells, status, rules))
        })
        .collect()
}

fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole
    } else {
        1.0
    }
}

fn loss_of(
    table: &Table,
    idx: &[usize],
    cells: &CellSet,
    status: &[Status],
    rules: &Rules,
) -> TableLoss {
    let published = idx
        .iter()
        .filter(|&&c| status[c] == Status::Published)
        .count();
    let mut horizons: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (row, &c) in table.rows.iter().zip(idx) {
        if base_cell(table, row) {
            let h = horizons
                .entry(row.horizon.clone().unwrap_or_else(|| "*".into()))
                .or_default();
            h.0 += cells.values[c];
            if status[c] == Status::Published {
                h.1 += cells.values[c];
            }
        }
    }
    let persons = horizons.values().map(|h| h.0).fold(0.0, f64::max);
    let persons_published = horizons
        .values()
        .map(|h| h.1)
        .reduce(f64::min)
        .unwrap_or(0.0);
    let persons_share = horizons
        .values()
        .map(|h| share(h.1, h.0))
        .reduce(f64::min)
        .unwrap_or(1.0);
    let by_horizon = horizons
        .into_iter()
        .map(|(horizon, (persons, persons_published))| HorizonLoss {
            horizon,
            persons,
            persons_published,
        })
        .collect();
    let published_share = share(published as f64, idx.len() as f64);
    let mostly_suppressed = published_share < MOSTLY_SUPPRESSED;
    TableLoss {
        table: table.spec.name.clone(),
        cells: idx.len(),
        published,
        suppressed: idx.len() - published,
        published_share,
        persons,
        persons_published,
        persons_share,
        by_horizon,
        mostly_suppressed,
        coarser: mostly_suppressed.then(|| coarser(table, idx, status, rules)),
    }
}

/// The finest candidate that publishes at least half of its cells; failing
/// that, the candidate that publishes the largest share.
fn coarser(table: &Table, idx: &[usize], status: &[Status], rules: &Rules) -> Coarser {
    let dims = &table.spec.dims;
    let mut candidates: Vec<(usize, Coarser)> = Vec::new();
    // One dimension dropped: the rows with that dimension at Total.
    for drop in 0..dims.len() {
        let (mut n, mut published) = (0usize, 0usize);
        for (row, &c) in table.rows.iter().zip(idx) {
            if row.levels[drop] == TOTAL {
                n += 1;
                published += (status[c] == Status::Published) as usize;
            }
        }
        let kept: Vec<String> = dims
            .iter()
            .enumerate()
            .filter(|&(d, _)| d != drop)
            .map(|(_, d)| d.clone())
            .collect();
        candidates.push((
            n,
            Coarser {
                dims: kept,
                merged: None,
                published_share: share(published as f64, n as f64),
                estimated: false,
            },
        ));
    }
    // Adjacent levels merged in pairs, in each dimension with 3+ levels.
    for d in 0..dims.len() {
        if let Some(candidate) = merged_pairs(table, d, rules) {
            candidates.push(candidate);
        }
    }
    let finest_publishing = candidates
        .iter()
        .filter(|(_, c)| c.published_share >= MOSTLY_SUPPRESSED)
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.dims.len().cmp(&a.1.dims.len())));
    let best = finest_publishing.or_else(|| {
        candidates
            .iter()
            .max_by(|a, b| a.1.published_share.total_cmp(&b.1.published_share))
    });
    best.map(|(_, c)| c.clone()).unwrap_or(Coarser {
        dims: Vec::new(),
        merged: None,
        published_share: 0.0,
        estimated: false,
    })
}

/// A cell of a table with two adjacent levels merged: levels, horizon,
/// measure and state.
type MergedKey = (Vec<String>, Option<String>, String, Option<String>);

/// Dimension `d` with adjacent levels (in the table's order) merged in
/// pairs: the merged table's cell count and the share that would not be
/// primary.
fn merged_pairs(table: &Table, d: usize, rules: &Rules) -> Option<(usize, Coarser)> {
    let mut levels: Vec<&str> = Vec::new();
    for row in &table.rows {
        let l = row.levels[d].as_str();
        if l != TOTAL && !levels.contains(&l) {
            levels.push(l);
        }
    }
    if levels.len() < 3 {
        return None;
    }
    let groups: Vec<Vec<String>> = levels
        .chunks(2)
        .map(|g| g.iter().map(|s| s.to_string()).collect())
        .collect();
    let group_of = |l: &str| levels.iter().position(|&x| x == l).map(|p| p / 2);
    let mut merged: BTreeMap<MergedKey, f64> = BTreeMap::new();
    for row in &table.rows {
        let mut key_levels = row.levels.clone();
        if let Some(g) = group_of(&row.levels[d]) {
            key_levels[d] = format!("#{g}");
        }
        *merged
            .entry((
                key_levels,
                row.horizon.clone(),
                row.measure.clone(),
                row.state.clone(),
            ))
            .or_default() += row.value;
    }
    let n = merged.len();
    let publishable = merged
        .values()
        .filter(|&&v| !count_is_primary(rules, v))
        .count();
    Some((
        n,
        Coarser {
            dims: table.spec.dims.clone(),
            merged: Some((table.spec.dims[d].clone(), groups)),
            published_share: share(publishable as f64, n as f64),
            estimated: true,
        },
    ))
}
