//! Table specs, building tables with all margins from the person-level
//! analysis file, and protecting a table set (primary, secondary, audit,
//! rounding) into long-form researcher tables.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{audit, AuditReport, Scope};
use crate::cells::{CellSet, CellSetBuilder, Status};
use crate::rules::{count_is_primary, magnitude_rule, round_count, Contributors, Rules};
use crate::secondary::{suppress_secondary, SecondaryStats};

/// The level every dimension (and the state split) gets for its margin.
pub const TOTAL: &str = "Total";
/// The five outcome states (docs/definitions.md), in publication order.
pub const STATES: [&str; 5] = ["bijstand_met_werk", "bijstand", "werk", "ww", "overig"];
/// Default horizons in months.
pub const HORIZONS: [u32; 4] = [3, 6, 12, 18];
/// Level used for a missing dimension value.
pub const UNKNOWN: &str = "unknown";
/// Fixed (non-dimension) columns of a long-form table.
pub const FIXED_COLUMNS: [&str; 6] = ["horizon", "measure", "state", "value", "status", "percent"];

/// What a table counts or summarises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    /// Persons by outcome state (`state_{k}m`) per horizon; measure `persons`.
    States,
    /// Persons with (`yes`) and without (`no`) a boolean flag column; no horizon.
    Flag(String),
    /// Mean of `{prefix}_{k}m` over non-null contributors per horizon.
    Mean(String),
    /// Median of `{prefix}_{k}m` over non-null contributors per horizon.
    Median(String),
}

/// One table of a cohort's table set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// File stem of the table (`tables/{name}.parquet`).
    pub name: String,
    /// Breakdown dimensions (string columns of the analysis file).
    pub dims: Vec<String>,
    /// The measure.
    pub measure: Measure,
    /// Horizons in months (ignored for flags).
    #[serde(default = "default_horizons")]
    pub horizons: Vec<u32>,
}

fn default_horizons() -> Vec<u32> {
    HORIZONS.to_vec()
}

/// One row (cell) of an unprotected long-form table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Levels of the table's dimensions (`Total` for margins).
    pub levels: Vec<String>,
    /// Horizon label such as `6m` (`None` for flag tables).
    pub horizon: Option<String>,
    /// `persons`, the flag name, `mean_{prefix}` or `median_{prefix}`.
    pub measure: String,
    /// State, `yes`/`no`, or `Total` (`None` for magnitude tables).
    pub state: Option<String>,
    /// Count, or the mean/median.
    pub value: f64,
    /// Contributors of a magnitude cell.
    pub contributors: Option<Contributors>,
}

/// An unprotected table with all margins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// The spec it was built from.
    pub spec: TableSpec,
    /// Its cells.
    pub rows: Vec<Row>,
}

/// Errors of table building and protection.
#[derive(Debug, thiserror::Error)]
pub enum DisclosureError {
    /// polars failed (e.g. a missing column).
    #[error("building table {table}: {source}")]
    Polars {
        /// The table.
        table: String,
        /// polars' error.
        source: PolarsError,
    },
    /// Inconsistent input.
    #[error("{0}")]
    Invalid(String),
    /// Secondary suppression failed.
    #[error(transparent)]
    Suppression(#[from] crate::secondary::SuppressionError),
    /// The audit failed.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// The final audit found violations (fail closed).
    #[error("audit found {0} protection violations")]
    Violations(usize),
}

fn strings(df: &DataFrame, name: &str, table: &str) -> Result<Vec<String>, DisclosureError> {
    let err = |source| DisclosureError::Polars {
        table: table.to_string(),
        source,
    };
    let col = df
        .column(name)
        .map_err(err)?
        .cast(&DataType::String)
        .map_err(err)?;
    let ca = col.str().map_err(err)?;
    Ok(ca
        .iter()
        .map(|v| v.unwrap_or(UNKNOWN).to_string())
        .collect())
}

fn floats(df: &DataFrame, name: &str, table: &str) -> Result<Vec<Option<f64>>, DisclosureError> {
    let err = |source| DisclosureError::Polars {
        table: table.to_string(),
        source,
    };
    let col = df
        .column(name)
        .map_err(err)?
        .cast(&DataType::Float64)
        .map_err(err)?;
    Ok(col.f64().map_err(err)?.iter().collect())
}

/// Every combination of levels (each dimension: observed levels, then `Total`).
fn grid(levels: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    for dim in levels {
        let mut next = Vec::with_capacity(out.len() * (dim.len() + 1));
        for prefix in &out {
            for l in dim.iter().map(String::as_str).chain([TOTAL]) {
                let mut p = prefix.clone();
                p.push(l.to_string());
                next.push(p);
            }
        }
        out = next;
    }
    out
}

/// Margin keys of a combination of levels: every subset replaced by `Total`.
fn margins(levels: &[String]) -> Vec<Vec<String>> {
    (0u32..1 << levels.len())
        .map(|mask| {
            levels
                .iter()
                .enumerate()
                .map(|(d, l)| {
                    if mask & (1 << d) != 0 {
                        TOTAL.to_string()
                    } else {
                        l.clone()
                    }
                })
                .collect()
        })
        .collect()
}

/// Builds one table from the person-level analysis file (other columns are
/// ignored). Counts: one polars `group_by` over the dimensions and the
/// split column, margins added from the groups; the full grid of observed
/// levels is emitted (absent combinations as zeros).
pub fn build_table(persons: &LazyFrame, spec: &TableSpec) -> Result<Table, DisclosureError> {
    let name = spec.name.as_str();
    let perr = |source| DisclosureError::Polars {
        table: name.to_string(),
        source,
    };
    let mut seen = BTreeSet::new();
    if spec
        .dims
        .iter()
        .any(|d| !seen.insert(d) || FIXED_COLUMNS.contains(&d.as_str()))
    {
        return Err(DisclosureError::Invalid(format!(
            "table {name}: duplicate or reserved dimension"
        )));
    }
    let dim_exprs: Vec<Expr> = spec
        .dims
        .iter()
        .map(|d| col(d.as_str()).cast(DataType::String))
        .collect();
    let horizons: Vec<Option<String>> = match spec.measure {
        Measure::Flag(_) => vec![None],
        _ => spec
            .horizons
            .iter()
            .map(|k| Some(format!("{k}m")))
            .collect(),
    };
    let mut rows = Vec::new();
    for horizon in &horizons {
        let (split_col, levels_of_split, measure): (String, Vec<&str>, String) = match &spec.measure
        {
            Measure::States => (
                format!("state_{}", horizon.as_deref().unwrap_or("")),
                STATES.to_vec(),
                "persons".into(),
            ),
            Measure::Flag(f) => (f.clone(), vec!["yes", "no"], f.clone()),
            Measure::Mean(p) => (
                format!("{p}_{}", horizon.as_deref().unwrap_or("")),
                vec![],
                format!("mean_{p}"),
            ),
            Measure::Median(p) => (
                format!("{p}_{}", horizon.as_deref().unwrap_or("")),
                vec![],
                format!("median_{p}"),
            ),
        };
        match &spec.measure {
            Measure::States | Measure::Flag(_) => {
                let split = match spec.measure {
                    Measure::Flag(_) => when(col(split_col.as_str()).cast(DataType::Boolean))
                        .then(lit("yes"))
                        .otherwise(lit("no"))
                        .alias("__split"),
                    _ => col(split_col.as_str())
                        .cast(DataType::String)
                        .alias("__split"),
                };
                let mut exprs = dim_exprs.clone();
                exprs.push(split);
                let keys: Vec<Expr> = spec
                    .dims
                    .iter()
                    .map(|d| col(d.as_str()))
                    .chain([col("__split")])
                    .collect();
                let df = persons
                    .clone()
                    .select(exprs)
                    .group_by(keys)
                    .agg([len().alias("__n")])
                    .collect()
                    .map_err(perr)?;
                let dim_values: Vec<Vec<String>> = spec
                    .dims
                    .iter()
                    .map(|d| strings(&df, d, name))
                    .collect::<Result<_, _>>()?;
                let split_values = strings(&df, "__split", name)?;
                let n = floats(&df, "__n", name)?;
                let mut counts: HashMap<(Vec<String>, String), f64> = HashMap::new();
                let mut observed: Vec<BTreeSet<String>> = vec![BTreeSet::new(); spec.dims.len()];
                for i in 0..df.height() {
                    let levels: Vec<String> = dim_values.iter().map(|v| v[i].clone()).collect();
                    for (d, l) in levels.iter().enumerate() {
                        observed[d].insert(l.clone());
                    }
                    let s = split_values[i].clone();
                    if !levels_of_split.contains(&s.as_str()) {
                        return Err(DisclosureError::Invalid(format!(
                            "table {name}: column {split_col} has unexpected value {s:?}"
                        )));
                    }
                    let v = n[i].unwrap_or(0.0);
                    for m in margins(&levels) {
                        *counts.entry((m.clone(), s.clone())).or_default() += v;
                        *counts.entry((m, TOTAL.to_string())).or_default() += v;
                    }
                }
                let observed: Vec<Vec<String>> = observed
                    .into_iter()
                    .map(|s| s.into_iter().collect())
                    .collect();
                for levels in grid(&observed) {
                    for s in levels_of_split.iter().copied().chain([TOTAL]) {
                        let value = counts
                            .get(&(levels.clone(), s.to_string()))
                            .copied()
                            .unwrap_or(0.0);
                        rows.push(Row {
                            levels: levels.clone(),
                            horizon: horizon.clone(),
                            measure: measure.clone(),
                            state: Some(s.to_string()),
                            value,
                            contributors: None,
                        });
                    }
                }
            }
            Measure::Mean(_) | Measure::Median(_) => {
                let mut exprs = dim_exprs.clone();
                exprs.push(col(split_col.as_str()).cast(DataType::Float64).alias("__w"));
                let df = persons
                    .clone()
                    .select(exprs)
                    .filter(col("__w").is_not_null())
                    .collect()
                    .map_err(perr)?;
                let dim_values: Vec<Vec<String>> = spec
                    .dims
                    .iter()
                    .map(|d| strings(&df, d, name))
                    .collect::<Result<_, _>>()?;
                let w = floats(&df, "__w", name)?;
                let mut groups: BTreeMap<Vec<String>, Vec<f64>> = BTreeMap::new();
                for i in 0..df.height() {
                    let levels: Vec<String> = dim_values.iter().map(|v| v[i].clone()).collect();
                    let v = w[i].unwrap_or(0.0);
                    for m in margins(&levels) {
                        groups.entry(m).or_default().push(v);
                    }
                }
                for (levels, mut values) in groups {
                    values.sort_by(|a, b| b.total_cmp(a));
                    let n = values.len();
                    let sum: f64 = values.iter().sum();
                    let value = if matches!(spec.measure, Measure::Mean(_)) {
                        sum / n as f64
                    } else if n % 2 == 1 {
                        values[n / 2]
                    } else {
                        (values[n / 2 - 1] + values[n / 2]) / 2.0
                    };
                    let mut top = [0.0; 3];
                    for (t, v) in top.iter_mut().zip(&values) {
                        *t = v.abs();
                    }
                    rows.push(Row {
                        levels,
                        horizon: horizon.clone(),
                        measure: measure.clone(),
                        state: None,
                        value,
                        contributors: Some(Contributors {
                            n: n as u64,
                            sum: values.iter().map(|v| v.abs()).sum(),
                            top,
                        }),
                    });
                }
            }
        }
    }
    Ok(Table {
        spec: spec.clone(),
        rows,
    })
}

/// Builds every table of a table set.
pub fn build_tables(
    persons: &LazyFrame,
    specs: &[TableSpec],
) -> Result<Vec<Table>, DisclosureError> {
    specs.iter().map(|s| build_table(persons, s)).collect()
}

/// Canonical key of a count cell across every table of a cohort: the
/// non-`Total` dimension levels (sorted by dimension name), then measure,
/// horizon and state. The persons total of a group (state `Total`) is one
/// cell for every horizon and every (state or flag) table.
pub fn count_key(
    dims: &[String],
    levels: &[String],
    horizon: Option<&str>,
    measure: &str,
    state: &str,
) -> String {
    let mut parts: Vec<String> = dims
        .iter()
        .zip(levels)
        .filter(|(_, l)| l.as_str() != TOTAL)
        .map(|(d, l)| format!("{d}={l}"))
        .collect();
    parts.sort();
    if state == TOTAL {
        parts.push("persons|*|Total".into());
    } else {
        parts.push(format!("{measure}|{}|{state}", horizon.unwrap_or("*")));
    }
    parts.join("|")
}

/// One row of a count table: dimension levels, horizon, measure, state, value.
pub type CountRow = (Vec<String>, Option<String>, String, String, f64);

/// Each count table's cell indices (`None` for magnitude tables).
pub type TableCellIndices = Vec<Option<Vec<usize>>>;

/// Adds the cells and every additive relation of one count table (given as
/// rows of dims levels, horizon, measure, state, value) to a builder;
/// returns the cell index of each row. Shared by protection and `koppel check`.
pub fn add_count_table(
    builder: &mut CellSetBuilder,
    dims: &[String],
    rows: &[CountRow],
) -> Result<Vec<usize>, String> {
    let mut idx = Vec::with_capacity(rows.len());
    for (levels, h, m, s, v) in rows {
        let key = count_key(dims, levels, h.as_deref(), m, s);
        idx.push(builder.cell(&key, *v).map_err(|c| {
            format!(
                "cell {} has two values ({} and {})",
                c.key, c.first, c.second
            )
        })?);
    }
    for ((levels, h, m, s, _), &child) in rows.iter().zip(&idx) {
        for (d, l) in levels.iter().enumerate() {
            if l != TOTAL {
                let mut parent = levels.clone();
                parent[d] = TOTAL.to_string();
                let key = count_key(dims, &parent, h.as_deref(), m, s);
                let p = builder
                    .find(&key)
                    .ok_or_else(|| format!("margin {key} is missing"))?;
                let axis = format!("dim:{}|{}|{}", dims[d], m, h.as_deref().unwrap_or("*"));
                builder.relate(p, &axis, child);
            }
        }
        if s != TOTAL {
            let key = count_key(dims, levels, h.as_deref(), m, TOTAL);
            let p = builder
                .find(&key)
                .ok_or_else(|| format!("total {key} is missing"))?;
            builder.relate(
                p,
                &format!("split:{}|{}", m, h.as_deref().unwrap_or("*")),
                child,
            );
        }
    }
    Ok(idx)
}

/// Summary of a protection run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProtectionSummary {
    /// Distinct count cells.
    pub count_cells: usize,
    /// Primary-suppressed count cells.
    pub primary: usize,
    /// Secondary-suppressed count cells.
    pub secondary: usize,
    /// Total (unrounded) value of the secondary suppressions.
    pub secondary_value: f64,
    /// Magnitude cells.
    pub magnitude_cells: usize,
    /// Primary-suppressed magnitude cells.
    pub magnitude_primary: usize,
    /// Primary cells audited by LP in the final (export-gate) audit.
    pub audited: usize,
}

/// A protected table set.
#[derive(Debug, Clone)]
pub struct Protected {
    /// `(name, long-form researcher table)`: dims, `horizon`, `measure`,
    /// `state`, `value` (published, rounded; null when suppressed), `status`,
    /// `percent`.
    pub tables: Vec<(String, DataFrame)>,
    /// Counts of what happened.
    pub summary: ProtectionSummary,
    /// The count cell set with final statuses (unrounded values: internal only).
    pub cells: CellSet,
    /// Final status per count cell.
    pub status: Vec<Status>,
}

/// The count cell set of a table set, and each count table's row indices.
pub fn count_cells(tables: &[Table]) -> Result<(CellSet, TableCellIndices), DisclosureError> {
    let mut builder = CellSetBuilder::default();
    let mut indices = Vec::new();
    for t in tables {
        if matches!(t.spec.measure, Measure::States | Measure::Flag(_)) {
            let rows: Vec<_> = t
                .rows
                .iter()
                .map(|r| {
                    (
                        r.levels.clone(),
                        r.horizon.clone(),
                        r.measure.clone(),
                        r.state.clone().unwrap_or_default(),
                        r.value,
                    )
                })
                .collect();
            let idx = add_count_table(&mut builder, &t.spec.dims, &rows)
                .map_err(|e| DisclosureError::Invalid(format!("table {}: {e}", t.spec.name)))?;
            indices.push(Some(idx));
        } else {
            indices.push(None);
        }
    }
    Ok((builder.finish(), indices))
}

/// Protects a table set: primary suppression, secondary suppression over
/// every linked relation, the final LP audit (fail closed), rounding and
/// percentages.
pub fn protect(tables: &[Table], rules: &Rules) -> Result<Protected, DisclosureError> {
    let (cells, indices) = count_cells(tables)?;
    let min = rules.min_count as f64;
    let mut status: Vec<Status> = cells
        .values
        .iter()
        .map(|&v| {
            if count_is_primary(rules, v) {
                Status::Primary
            } else {
                Status::Published
            }
        })
        .collect();
    let required: Vec<f64> = status
        .iter()
        .map(|s| if *s == Status::Primary { min } else { 0.0 })
        .collect();
    let primary = status.iter().filter(|s| **s == Status::Primary).count();
    let started = std::time::Instant::now();
    let stats: SecondaryStats = suppress_secondary(&cells, &mut status, &required, min)?;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        rounds = stats.rounds,
        lps = stats.lps_solved,
        secondary = stats.cells,
        "secondary suppression"
    );
    let started = std::time::Instant::now();
    let report = final_audit(&cells, &status, rules)?;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        lps = report.lps_solved,
        cells = report.intervals.len(),
        "final audit"
    );
    if !report.is_clean() {
        return Err(DisclosureError::Violations(report.violations().len()));
    }
    let mut summary = ProtectionSummary {
        count_cells: cells.len(),
        primary,
        secondary: stats.cells,
        secondary_value: stats.total_value,
        audited: report.intervals.len(),
        ..Default::default()
    };
    let published: Vec<Option<f64>> = (0..cells.len())
        .map(|i| {
            (!status[i].is_suppressed())
                .then(|| round_count(rules, &cells.keys[i], cells.values[i]))
        })
        .collect();
    let mut out = Vec::new();
    for (t, idx) in tables.iter().zip(&indices) {
        let n = t.rows.len();
        let mut values: Vec<Option<f64>> = Vec::with_capacity(n);
        let mut statuses: Vec<&str> = Vec::with_capacity(n);
        match idx {
            Some(idx) => {
                for &i in idx {
                    values.push(published[i]);
                    statuses.push(status[i].as_str());
                }
            }
            None => {
                for r in &t.rows {
                    summary.magnitude_cells += 1;
                    let c = r.contributors.unwrap_or_default();
                    if magnitude_rule(rules, &c).is_some() {
                        summary.magnitude_primary += 1;
                        values.push(None);
                        statuses.push(Status::Primary.as_str());
                    } else {
                        values.push(Some(r.value.round()));
                        statuses.push(Status::Published.as_str());
                    }
                }
            }
        }
        // Percent of the group's total, from published (rounded) counts only.
        let mut totals: HashMap<(Vec<String>, Option<String>), Option<f64>> = HashMap::new();
        for (r, v) in t.rows.iter().zip(&values) {
            if r.state.as_deref() == Some(TOTAL) {
                totals.insert((r.levels.clone(), r.horizon.clone()), *v);
            }
        }
        let percent: Vec<Option<f64>> = t
            .rows
            .iter()
            .zip(&values)
            .map(|(r, v)| {
                let s = r.state.as_deref()?;
                if s == TOTAL {
                    return None;
                }
                let total = totals
                    .get(&(r.levels.clone(), r.horizon.clone()))
                    .copied()
                    .flatten()?;
                let v = (*v)?;
                (total > 0.0).then(|| (1000.0 * v / total).round() / 10.0)
            })
            .collect();
        let mut columns: Vec<Column> = Vec::new();
        for (d, dim) in t.spec.dims.iter().enumerate() {
            let v: Vec<&str> = t.rows.iter().map(|r| r.levels[d].as_str()).collect();
            columns.push(Column::new(dim.as_str().into(), v));
        }
        let h: Vec<Option<&str>> = t.rows.iter().map(|r| r.horizon.as_deref()).collect();
        let m: Vec<&str> = t.rows.iter().map(|r| r.measure.as_str()).collect();
        let s: Vec<Option<&str>> = t.rows.iter().map(|r| r.state.as_deref()).collect();
        columns.push(Column::new("horizon".into(), h));
        columns.push(Column::new("measure".into(), m));
        columns.push(Column::new("state".into(), s));
        columns.push(Column::new("value".into(), values));
        columns.push(Column::new("status".into(), statuses));
        columns.push(Column::new("percent".into(), percent));
        let df = DataFrame::new(n, columns).map_err(|source| DisclosureError::Polars {
            table: t.spec.name.clone(),
            source,
        })?;
        out.push((t.spec.name.clone(), df));
    }
    Ok(Protected {
        tables: out,
        summary,
        cells,
        status,
    })
}

/// The export gate: LP audit of every primary-suppressed count cell on the
/// exact values (requirement `min_count`). Secondary cells are unknowns of
/// the LPs but are not bounded themselves: §6 sets no width for them, and
/// their exact intervals would cost two LPs each over the largest
/// components (most of the stage's time at national scale).
pub fn final_audit(
    cells: &CellSet,
    status: &[Status],
    rules: &Rules,
) -> Result<AuditReport, DisclosureError> {
    let published: Vec<Option<f64>> = (0..cells.len())
        .map(|i| (!status[i].is_suppressed()).then_some(cells.values[i]))
        .collect();
    let required: Vec<f64> = status
        .iter()
        .map(|s| {
            if *s == Status::Primary {
                rules.min_count as f64
            } else {
                0.0
            }
        })
        .collect();
    Ok(audit(cells, &published, &required, 0.0, Scope::Required)?)
}
