//! Table specs, building tables with all margins from the person-level
//! analysis file, and protecting a table set (primary, secondary, audit,
//! rounding) into long-form researcher tables.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{audit, AuditReport, Scope};
use crate::cells::{primary_pattern, CellSet, CellSetBuilder, Status};
use crate::rules::{count_is_primary, magnitude_rule, round_count, Contributors, Rules};
use crate::secondary::{suppress_secondary, SecondaryStats};

/// The level every dimension (and the state split) gets for its margin.
pub const TOTAL: &str = "Total";
/// The five outcome states (docs/definitions.md), in publication order.
pub use koppel_schema::analysis::STATES;
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
    /// Persons in work at each horizon by a field of their job at that
    /// horizon (one of [`JOB_FIELDS`], column `{field}_{k}m`); measure
    /// `job_{field}`. See [`build_table`] for the rows and their links.
    Job(String),
    /// Mean monthly wage (`wage_{k}m`) of persons in work by a job field;
    /// measure `mean_wage_by_{field}`, the field's level in `state`.
    #[serde(rename = "job_mean")]
    JobMean(String),
    /// Median monthly wage by a job field; measure `median_wage_by_{field}`.
    #[serde(rename = "job_median")]
    JobMedian(String),
    /// Transitions between states: state at each listed horizon × state at
    /// the next one (at least two horizons, increasing); measure `flow`,
    /// horizon `{h1}m>{h2}m`, state `{from}>{to}`.
    Flow(Vec<u32>),
}

/// Job fields of the analysis file (`{field}_{k}m`; `none` when not in work).
/// `sector_group` is derived from `sector` ([`sector_group`]).
pub const JOB_FIELDS: [&str; 5] = [
    "sector",
    "sector_group",
    "contract",
    "hours_band",
    "wage_band",
];

/// Measure name of transition rows.
pub const FLOW_MEASURE: &str = "flow";

/// Separator of the two horizons of a flow row (`6m>12m`) and of its two
/// states (`werk>ww`).
pub const FLOW_SEP: char = '>';

/// The states of a person in work (their sum is the job tables' total).
pub use koppel_schema::analysis::WORK_STATES;

/// The SBI 2008 section groups CBS publishes (e.g. StatLine's
/// "bedrijfstakken"): A; B-F industry and energy; G-I trade, transport and
/// hospitality; J; K; L; M-N business services; O-Q government, education
/// and care; R-U culture, recreation and other services.
pub const SECTOR_GROUPS: [(&str, &str); 9] = [
    ("A", "A"),
    ("B-F", "BCDEF"),
    ("G-I", "GHI"),
    ("J", "J"),
    ("K", "K"),
    ("L", "L"),
    ("M-N", "MN"),
    ("O-Q", "OPQ"),
    ("R-U", "RSTU"),
];

/// The CBS group of an SBI section letter (`unknown`/`none` pass through;
/// anything else is `unknown`).
pub fn sector_group(section: &str) -> &'static str {
    match section {
        "none" => "none",
        _ => SECTOR_GROUPS
            .iter()
            .find(|(_, letters)| section.len() == 1 && letters.contains(section))
            .map(|(g, _)| *g)
            .unwrap_or(UNKNOWN),
    }
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

impl Measure {
    /// Whether the table counts persons (its cells enter the linked cell
    /// set) rather than summarising wages.
    pub fn is_count(&self) -> bool {
        matches!(
            self,
            Measure::States | Measure::Flag(_) | Measure::Job(_) | Measure::Flow(_)
        )
    }
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

/// The error of a polars operation on `table`.
fn polars_error(table: &str) -> impl Fn(PolarsError) -> DisclosureError + '_ {
    move |source| DisclosureError::Polars {
        table: table.to_string(),
        source,
    }
}

/// Column `name` of `table`, cast to `dtype`.
fn column_as(
    df: &DataFrame,
    name: &str,
    table: &str,
    dtype: &DataType,
) -> Result<Column, DisclosureError> {
    let err = polars_error(table);
    df.column(name).map_err(&err)?.cast(dtype).map_err(err)
}

fn strings(df: &DataFrame, name: &str, table: &str) -> Result<Vec<String>, DisclosureError> {
    let col = column_as(df, name, table, &DataType::String)?;
    let ca = col.str().map_err(polars_error(table))?;
    Ok(ca
        .iter()
        .map(|v| v.unwrap_or(UNKNOWN).to_string())
        .collect())
}

fn floats(df: &DataFrame, name: &str, table: &str) -> Result<Vec<Option<f64>>, DisclosureError> {
    let col = column_as(df, name, table, &DataType::Float64)?;
    Ok(col.f64().map_err(polars_error(table))?.iter().collect())
}

/// The table's dimension columns, as text.
fn dim_texts(spec: &TableSpec) -> Vec<Expr> {
    spec.dims
        .iter()
        .map(|d| col(d.as_str()).cast(DataType::String))
        .collect()
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
/// split columns, margins added from the (few) groups; the full grid of
/// observed levels is emitted (absent combinations as zeros).
///
/// Rows per measure (every group is every combination of observed levels
/// and `Total`):
/// * states: per horizon, `persons` × each state and `Total` (the group's
///   persons total, one cell for every horizon and table);
/// * flag: `yes`, `no`, `Total`;
/// * job: per horizon, `job_{field}` × each observed level of the field
///   among persons in work, and `Total` (persons in work at the horizon);
///   plus `persons` × `bijstand_met_werk` and `werk` at that horizon, the
///   two states whose sum the job total is (these rows are the same cells
///   as in the states tables, so the link holds in every table set);
/// * flow: per pair of consecutive horizons, measure `flow`, horizon
///   `{h1}m>{h2}m`, state `{from}>{to}` with `Total` on either side: the
///   margins `a>Total`, `Total>b` and `Total>Total` are the states cells at
///   `h1`, `h2` and the persons total;
/// * mean / median: one row per group and horizon (no state); by job field:
///   state = the field's level (or `Total`).
pub fn build_table(persons: &LazyFrame, spec: &TableSpec) -> Result<Table, DisclosureError> {
    let name = spec.name.as_str();
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
    let rows = match &spec.measure {
        Measure::States | Measure::Flag(_) => build_split(persons, spec)?,
        Measure::Mean(p) | Measure::Median(p) => build_magnitude(persons, spec, p, None)?,
        Measure::JobMean(f) | Measure::JobMedian(f) => {
            build_magnitude(persons, spec, "wage", Some(job_field(name, f)?))?
        }
        Measure::Job(f) => build_job(persons, spec, job_field(name, f)?)?,
        Measure::Flow(hs) => build_flow(persons, spec, hs)?,
    };
    Ok(Table {
        spec: spec.clone(),
        rows,
    })
}

fn job_field<'a>(table: &str, field: &'a str) -> Result<&'a str, DisclosureError> {
    if JOB_FIELDS.contains(&field) {
        Ok(field)
    } else {
        Err(DisclosureError::Invalid(format!(
            "table {table}: unknown job field {field:?} (known: {})",
            JOB_FIELDS.join(", ")
        )))
    }
}

/// The analysis-file column of a job field at a horizon.
fn job_column(field: &str, horizon: &str) -> String {
    match field {
        "sector_group" => format!("sector_{horizon}"),
        f => format!("{f}_{horizon}"),
    }
}

/// A job field's level from the column value.
fn job_level(field: &str, raw: &str) -> String {
    match field {
        "sector_group" => sector_group(raw).to_string(),
        _ => raw.to_string(),
    }
}

/// Counts of persons by the table's dimensions and extra split expressions
/// (one polars `group_by`): the observed levels per dimension and one
/// `(levels, split values, n)` per non-empty group.
type Groups = (Vec<BTreeSet<String>>, Vec<(Vec<String>, Vec<String>, f64)>);

fn group_counts(
    persons: &LazyFrame,
    spec: &TableSpec,
    splits: Vec<Expr>,
) -> Result<Groups, DisclosureError> {
    let name = spec.name.as_str();
    let perr = polars_error(name);
    let n_splits = splits.len();
    let mut exprs = dim_texts(spec);
    exprs.extend(
        splits
            .into_iter()
            .enumerate()
            .map(|(i, e)| e.alias(format!("__s{i}"))),
    );
    let keys: Vec<Expr> = spec
        .dims
        .iter()
        .map(|d| col(d.as_str()))
        .chain((0..n_splits).map(|i| col(format!("__s{i}"))))
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
    let split_values: Vec<Vec<String>> = (0..n_splits)
        .map(|i| strings(&df, &format!("__s{i}"), name))
        .collect::<Result<_, _>>()?;
    let n = floats(&df, "__n", name)?;
    let mut observed = vec![BTreeSet::new(); spec.dims.len()];
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let levels: Vec<String> = dim_values.iter().map(|v| v[i].clone()).collect();
        for (d, l) in levels.iter().enumerate() {
            observed[d].insert(l.clone());
        }
        let s: Vec<String> = split_values.iter().map(|v| v[i].clone()).collect();
        out.push((levels, s, n[i].unwrap_or(0.0)));
    }
    Ok((observed, out))
}

fn observed_grid(observed: Vec<BTreeSet<String>>) -> Vec<Vec<String>> {
    let observed: Vec<Vec<String>> = observed
        .into_iter()
        .map(|s| s.into_iter().collect())
        .collect();
    grid(&observed)
}

fn horizon_label(k: u32) -> String {
    format!("{k}m")
}

fn count_row(
    levels: &[String],
    horizon: Option<&str>,
    measure: &str,
    state: &str,
    value: f64,
) -> Row {
    Row {
        levels: levels.to_vec(),
        horizon: horizon.map(str::to_string),
        measure: measure.to_string(),
        state: Some(state.to_string()),
        value,
        contributors: None,
    }
}

/// States and flag tables: persons by one split column.
fn build_split(persons: &LazyFrame, spec: &TableSpec) -> Result<Vec<Row>, DisclosureError> {
    let name = spec.name.as_str();
    let horizons: Vec<Option<String>> = match spec.measure {
        Measure::Flag(_) => vec![None],
        _ => spec
            .horizons
            .iter()
            .map(|&k| Some(horizon_label(k)))
            .collect(),
    };
    let mut rows = Vec::new();
    for horizon in &horizons {
        let (split_col, levels_of_split, measure, split) = match &spec.measure {
            Measure::Flag(f) => (
                f.clone(),
                vec!["yes", "no"],
                f.clone(),
                when(col(f.as_str()).cast(DataType::Boolean))
                    .then(lit("yes"))
                    .otherwise(lit("no")),
            ),
            _ => {
                let c = format!("state_{}", horizon.as_deref().unwrap_or(""));
                let e = col(c.as_str()).cast(DataType::String);
                (c, STATES.to_vec(), "persons".to_string(), e)
            }
        };
        let (observed, groups) = group_counts(persons, spec, vec![split])?;
        let mut counts: HashMap<(Vec<String>, String), f64> = HashMap::new();
        for (levels, s, v) in groups {
            let s = &s[0];
            if !levels_of_split.contains(&s.as_str()) {
                return Err(DisclosureError::Invalid(format!(
                    "table {name}: column {split_col} has unexpected value {s:?}"
                )));
            }
            for m in margins(&levels) {
                *counts.entry((m.clone(), s.clone())).or_default() += v;
                *counts.entry((m, TOTAL.to_string())).or_default() += v;
            }
        }
        for levels in observed_grid(observed) {
            for s in levels_of_split.iter().copied().chain([TOTAL]) {
                let value = counts
                    .get(&(levels.clone(), s.to_string()))
                    .copied()
                    .unwrap_or(0.0);
                rows.push(count_row(&levels, horizon.as_deref(), &measure, s, value));
            }
        }
    }
    Ok(rows)
}

/// Job tables: persons in work by a job field, with the two work states
/// that add up to the table's total (see [`build_table`]).
fn build_job(
    persons: &LazyFrame,
    spec: &TableSpec,
    field: &str,
) -> Result<Vec<Row>, DisclosureError> {
    let name = spec.name.as_str();
    let measure = format!("job_{field}");
    let mut rows = Vec::new();
    for &k in &spec.horizons {
        let h = horizon_label(k);
        let state_col = format!("state_{h}");
        let field_col = job_column(field, &h);
        let (observed, groups) = group_counts(
            persons,
            spec,
            vec![
                col(state_col.as_str()).cast(DataType::String),
                col(field_col.as_str()).cast(DataType::String),
            ],
        )?;
        let mut jobs: HashMap<(Vec<String>, String), f64> = HashMap::new();
        let mut work: HashMap<(Vec<String>, String), f64> = HashMap::new();
        let mut levels_seen = BTreeSet::new();
        for (levels, s, v) in groups {
            let (state, raw) = (&s[0], &s[1]);
            if !STATES.contains(&state.as_str()) {
                return Err(DisclosureError::Invalid(format!(
                    "table {name}: column {state_col} has unexpected value {state:?}"
                )));
            }
            let working = WORK_STATES.contains(&state.as_str());
            if working == (raw == "none") {
                return Err(DisclosureError::Invalid(format!(
                    "table {name}: column {field_col} is {raw:?} for persons in state {state:?} \
                     (it must be \"none\" exactly when the person is not in work)"
                )));
            }
            if !working {
                continue;
            }
            let level = job_level(field, raw);
            levels_seen.insert(level.clone());
            for m in margins(&levels) {
                *jobs.entry((m.clone(), level.clone())).or_default() += v;
                *jobs.entry((m.clone(), TOTAL.to_string())).or_default() += v;
                *work.entry((m, state.clone())).or_default() += v;
            }
        }
        for levels in observed_grid(observed) {
            for l in levels_seen.iter().map(String::as_str).chain([TOTAL]) {
                let v = jobs
                    .get(&(levels.clone(), l.to_string()))
                    .copied()
                    .unwrap_or(0.0);
                rows.push(count_row(&levels, Some(&h), &measure, l, v));
            }
            for s in WORK_STATES {
                let v = work
                    .get(&(levels.clone(), s.to_string()))
                    .copied()
                    .unwrap_or(0.0);
                rows.push(count_row(&levels, Some(&h), "persons", s, v));
            }
        }
    }
    Ok(rows)
}

/// Flow tables: state at one horizon × state at the next.
fn build_flow(
    persons: &LazyFrame,
    spec: &TableSpec,
    horizons: &[u32],
) -> Result<Vec<Row>, DisclosureError> {
    let name = spec.name.as_str();
    if horizons.len() < 2 || horizons.windows(2).any(|w| w[0] >= w[1]) {
        return Err(DisclosureError::Invalid(format!(
            "table {name}: a flow needs at least two increasing horizons, got {horizons:?}"
        )));
    }
    let mut rows = Vec::new();
    for pair in horizons.windows(2) {
        let (h1, h2) = (horizon_label(pair[0]), horizon_label(pair[1]));
        let horizon = format!("{h1}{FLOW_SEP}{h2}");
        let (observed, groups) = group_counts(
            persons,
            spec,
            vec![
                col(format!("state_{h1}").as_str()).cast(DataType::String),
                col(format!("state_{h2}").as_str()).cast(DataType::String),
            ],
        )?;
        let mut counts: HashMap<(Vec<String>, String), f64> = HashMap::new();
        for (levels, s, v) in groups {
            for (st, h) in s.iter().zip([&h1, &h2]) {
                if !STATES.contains(&st.as_str()) {
                    return Err(DisclosureError::Invalid(format!(
                        "table {name}: column state_{h} has unexpected value {st:?}"
                    )));
                }
            }
            for m in margins(&levels) {
                for (a, b) in [
                    (s[0].as_str(), s[1].as_str()),
                    (s[0].as_str(), TOTAL),
                    (TOTAL, s[1].as_str()),
                    (TOTAL, TOTAL),
                ] {
                    *counts
                        .entry((m.clone(), format!("{a}{FLOW_SEP}{b}")))
                        .or_default() += v;
                }
            }
        }
        for levels in observed_grid(observed) {
            for a in STATES.iter().copied().chain([TOTAL]) {
                for b in STATES.iter().copied().chain([TOTAL]) {
                    let state = format!("{a}{FLOW_SEP}{b}");
                    let v = counts
                        .get(&(levels.clone(), state.clone()))
                        .copied()
                        .unwrap_or(0.0);
                    rows.push(count_row(&levels, Some(&horizon), FLOW_MEASURE, &state, v));
                }
            }
        }
    }
    Ok(rows)
}

/// Means and medians per group and horizon, optionally by a job field.
fn build_magnitude(
    persons: &LazyFrame,
    spec: &TableSpec,
    prefix: &str,
    field: Option<&str>,
) -> Result<Vec<Row>, DisclosureError> {
    let name = spec.name.as_str();
    let perr = polars_error(name);
    let mean = matches!(spec.measure, Measure::Mean(_) | Measure::JobMean(_));
    let measure = match field {
        None => format!("{}_{prefix}", if mean { "mean" } else { "median" }),
        Some(f) => format!("{}_{prefix}_by_{f}", if mean { "mean" } else { "median" }),
    };
    let mut rows = Vec::new();
    for &k in &spec.horizons {
        let h = horizon_label(k);
        let mut exprs = dim_texts(spec);
        exprs.push(
            col(format!("{prefix}_{h}").as_str())
                .cast(DataType::Float64)
                .alias("__w"),
        );
        let mut filter = col("__w").is_not_null();
        if let Some(f) = field {
            exprs.push(
                col(job_column(f, &h).as_str())
                    .cast(DataType::String)
                    .fill_null(lit(UNKNOWN))
                    .alias("__j"),
            );
            filter = filter.and(col("__j").neq(lit("none")));
        }
        let df = persons
            .clone()
            .select(exprs)
            .filter(filter)
            .collect()
            .map_err(&perr)?;
        let dim_values: Vec<Vec<String>> = spec
            .dims
            .iter()
            .map(|d| strings(&df, d, name))
            .collect::<Result<_, _>>()?;
        let job: Option<Vec<String>> = match field {
            Some(f) => Some(
                strings(&df, "__j", name)?
                    .iter()
                    .map(|raw| job_level(f, raw))
                    .collect(),
            ),
            None => None,
        };
        let w = floats(&df, "__w", name)?;
        let mut groups: BTreeMap<(Vec<String>, Option<String>), Vec<f64>> = BTreeMap::new();
        for i in 0..df.height() {
            let levels: Vec<String> = dim_values.iter().map(|v| v[i].clone()).collect();
            let v = w[i].unwrap_or(0.0);
            for m in margins(&levels) {
                match &job {
                    Some(j) => {
                        for s in [j[i].clone(), TOTAL.to_string()] {
                            groups.entry((m.clone(), Some(s))).or_default().push(v);
                        }
                    }
                    None => groups.entry((m, None)).or_default().push(v),
                }
            }
        }
        for ((levels, state), mut values) in groups {
            values.sort_by(|a, b| b.total_cmp(a));
            let n = values.len();
            let sum: f64 = values.iter().sum();
            let value = if mean {
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
                horizon: Some(h.clone()),
                measure: measure.clone(),
                state,
                value,
                contributors: Some(Contributors {
                    n: n as u64,
                    sum: values.iter().map(|v| v.abs()).sum(),
                    top,
                }),
            });
        }
    }
    Ok(rows)
}

/// Builds every table of a table set.
pub fn build_tables(
    persons: &LazyFrame,
    specs: &[TableSpec],
) -> Result<Vec<Table>, DisclosureError> {
    specs.iter().map(|s| build_table(persons, s)).collect()
}

/// The measure/horizon/state part of a count cell's key (see [`count_key`]).
fn cell_tail(horizon: Option<&str>, measure: &str, state: &str) -> String {
    if measure == FLOW_MEASURE {
        let hs = horizon.and_then(|h| h.split_once(FLOW_SEP));
        let ss = state.split_once(FLOW_SEP);
        if let (Some((h1, h2)), Some((a, b))) = (hs, ss) {
            return match (a == TOTAL, b == TOTAL) {
                (true, true) => "persons|*|Total".into(),
                (false, true) => format!("persons|{h1}|{a}"),
                (true, false) => format!("persons|{h2}|{b}"),
                (false, false) => format!("flow|{h1}{FLOW_SEP}{h2}|{a}{FLOW_SEP}{b}"),
            };
        }
    }
    if state == TOTAL {
        if measure.starts_with("job_") {
            format!("in_work|{}|Total", horizon.unwrap_or("*"))
        } else {
            "persons|*|Total".into()
        }
    } else {
        format!("{measure}|{}|{state}", horizon.unwrap_or("*"))
    }
}

/// Canonical key of a count cell across every table of a cohort: the
/// non-`Total` dimension levels (sorted by dimension name), then measure,
/// horizon and state. Cells that count the same persons share a key:
/// * the persons total of a group (state `Total` of a states or flag
///   table, `Total>Total` of a flow) is one cell for every horizon and table;
/// * a flow's margins `a>Total` and `Total>b` are the states cells of `a`
///   at the first and `b` at the second horizon;
/// * the total of every job table (`job_*`, state `Total`) is one cell per
///   group and horizon: persons in work (`in_work|{h}|Total`).
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
        .map(|(d, l)| {
            let (d, l) = same_persons(dims, d, l);
            format!("{d}={l}")
        })
        .collect();
    parts.sort();
    parts.push(cell_tail(horizon, measure, state));
    parts.join("|")
}

/// A dimension and one of its levels.
pub type DimLevel = (&'static str, &'static str);

/// Levels of different dimensions that describe the same persons: the
/// first is keyed as the second, so both are one cell with one status.
/// Persons with no trajectory have `trajectory_last = none` and
/// `trajectory_mix = none` alike.
pub const SAME_PERSONS: [(DimLevel, DimLevel); 1] =
    [(("trajectory_mix", "none"), ("trajectory_last", "none"))];

/// The canonical dimension and level of `dim = level` (see
/// [`SAME_PERSONS`]); unchanged when the table also has the other dimension.
fn same_persons<'a>(dims: &[String], dim: &'a str, level: &'a str) -> (&'a str, &'a str) {
    for ((d, l), (to_d, to_l)) in SAME_PERSONS {
        if dim == d && level == l && !dims.iter().any(|x| x == to_d) {
            return (to_d, to_l);
        }
    }
    (dim, level)
}

/// Dimension pairs whose single levels nest: persons with `trajectory_mix =
/// X` for one instrument X are a subset of those with `trajectory_last = X`
/// (the mix is the only instrument, so also the last). Levels listed here
/// are not single instruments and have no such bound.
pub const NESTED: [(&str, &str, &[&str]); 1] = [(
    "trajectory_mix",
    "trajectory_last",
    &["none", "multiple", TOTAL],
)];

/// Declares the [`NESTED`] bound of one row, if any: the row's cell is
/// within the cell of the same levels under the other dimension name.
fn nest_row(
    builder: &mut CellSetBuilder,
    dims: &[String],
    levels: &[String],
    horizon: Option<&str>,
    measure: &str,
    state: &str,
) {
    for (from, to, not_single) in NESTED {
        let Some(d) = dims.iter().position(|x| x == from) else {
            continue;
        };
        if not_single.contains(&levels[d].as_str()) || dims.iter().any(|x| x == to) {
            continue;
        }
        let mut renamed = dims.to_vec();
        renamed[d] = to.to_string();
        builder.nest(
            &count_key(dims, levels, horizon, measure, state),
            &count_key(&renamed, levels, horizon, measure, state),
        );
    }
}

/// One row of a count table: dimension levels, horizon, measure, state, value.
pub type CountRow = (Vec<String>, Option<String>, String, String, f64);

/// Each count table's cell indices (`None` for magnitude tables).
pub type TableCellIndices = Vec<Option<Vec<usize>>>;

/// The margins a count row adds up to besides its dimension margins: each
/// as (horizon, measure, state) of the total and the relation's
/// axis (same levels as the row). `job_table`: the row belongs to a job table (its `persons` rows
/// are the work states whose sum is the job total).
fn split_parents(
    h: Option<&str>,
    m: &str,
    s: &str,
    job_table: bool,
) -> Vec<(Option<String>, String, String, String)> {
    let hs = h.map(str::to_string);
    if m == FLOW_MEASURE {
        let (Some((h1, h2)), Some((a, b))) = (
            h.and_then(|h| h.split_once(FLOW_SEP)),
            s.split_once(FLOW_SEP),
        ) else {
            return Vec::new();
        };
        let flow = |a: &str, b: &str| format!("{a}{FLOW_SEP}{b}");
        return match (a == TOTAL, b == TOTAL) {
            (true, true) => Vec::new(),
            (false, true) => vec![(
                hs,
                m.into(),
                flow(TOTAL, TOTAL),
                format!("split:persons|{h1}"),
            )],
            (true, false) => vec![(
                hs,
                m.into(),
                flow(TOTAL, TOTAL),
                format!("split:persons|{h2}"),
            )],
            (false, false) => vec![
                (
                    hs.clone(),
                    m.into(),
                    flow(a, TOTAL),
                    format!("flow:{h1}{FLOW_SEP}{h2}|out"),
                ),
                (
                    hs,
                    m.into(),
                    flow(TOTAL, b),
                    format!("flow:{h1}{FLOW_SEP}{h2}|in"),
                ),
            ],
        };
    }
    let hz = h.unwrap_or("*");
    if s == TOTAL {
        Vec::new()
    } else if job_table && m == "persons" {
        vec![(hs, "job_".into(), TOTAL.into(), format!("work|{hz}"))]
    } else {
        vec![(hs, m.into(), TOTAL.into(), format!("split:{m}|{hz}"))]
    }
}

/// Adds the cells and every additive relation of one count table (given as
/// rows of dims levels, horizon, measure, state, value) to a builder;
/// returns the cell index of each row. Shared by protection and `koppel check`.
/// Relations: every dimension margin (a level replaced by `Total`), each
/// state split of a group's total, for job tables the job levels and the
/// two work states each adding up to persons in work, and for flows each
/// `a>b` adding up over `b` to `a>Total` and over `a` to `Total>b`.
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
    let job_table = rows.iter().any(|r| r.2.starts_with("job_"));
    for ((levels, h, m, s, _), &child) in rows.iter().zip(&idx) {
        let tail = cell_tail(h.as_deref(), m, s);
        nest_row(builder, dims, levels, h.as_deref(), m, s);
        for (d, l) in levels.iter().enumerate() {
            if l != TOTAL {
                let mut parent = levels.clone();
                parent[d] = TOTAL.to_string();
                let key = count_key(dims, &parent, h.as_deref(), m, s);
                let p = builder
                    .find(&key)
                    .ok_or_else(|| format!("margin {key} is missing"))?;
                builder.relate(p, &format!("dim:{}|{tail}", dims[d]), child);
            }
        }
        for (ph, pm, ps, axis) in split_parents(h.as_deref(), m, s, job_table) {
            let key = count_key(dims, levels, ph.as_deref(), &pm, &ps);
            let p = builder
                .find(&key)
                .ok_or_else(|| format!("total {key} is missing"))?;
            builder.relate(p, &axis, child);
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
    /// Secondary cells of the greedy published again by the release pass
    /// (counted in neither `secondary` nor `secondary_value`).
    #[serde(default)]
    pub released: usize,
    /// Secondary cells the release pass left untried because its work
    /// budget ran out (0 on every table set measured so far).
    #[serde(default)]
    pub release_untried: usize,
    /// Information loss per count table, with a coarser table suggested for
    /// a table that ends mostly suppressed.
    #[serde(default)]
    pub tables: Vec<crate::loss::TableLoss>,
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
        if t.spec.measure.is_count() {
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
    let (mut status, required) =
        primary_pattern(&cells.values, min, |v| count_is_primary(rules, v));
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
    let (released, cut_stats) = if crate::capacity::pays_off(&status) {
        crate::capacity::release_with_model(&cells, &mut status, &required)?
    } else {
        let costs = crate::release::cell_costs(&cells);
        let released = crate::release::release_pass(&cells, &mut status, &required, &costs)?;
        (released, crate::capacity::CutStats::default())
    };
    tracing::debug!(
        rounds = cut_stats.rounds,
        cuts = cut_stats.cuts,
        separations = cut_stats.separations,
        work = cut_stats.work,
        stopped_early = cut_stats.stopped_early,
        bound = cut_stats.bound,
        integer_rounds = cut_stats.integer_rounds,
        integer_improved = cut_stats.integer_improved,
        "suppression model (LP relaxation with capacity cuts, integer master)"
    );
    if let Some(reason) = &cut_stats.failed {
        tracing::warn!(%reason, "suppression model failed: the release pass went on without it");
    }
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        propagation_trials = released.propagation_trials,
        audits = released.audits,
        audit_work = released.audit_work,
        lps = released.lps_solved,
        released = released.released,
        "release pass"
    );
    if released.untried > 0 {
        tracing::warn!(
            untried = released.untried,
            budget = crate::release::AUDIT_WORK_BUDGET,
            "release pass stopped at its work budget: these secondary cells stay suppressed untried"
        );
    }
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
    let secondary: Vec<usize> = (0..cells.len())
        .filter(|&i| status[i] == Status::Secondary)
        .collect();
    let mut summary = ProtectionSummary {
        count_cells: cells.len(),
        primary,
        secondary: secondary.len(),
        secondary_value: secondary.iter().map(|&i| cells.values[i]).sum(),
        audited: report.intervals.len(),
        released: released.released,
        release_untried: released.untried,
        tables: crate::loss::table_losses(tables, &indices, &cells, &status, rules),
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
                // Flow shares have two denominators (origin and group): the
                // reader computes them from the published counts.
                if s == TOTAL || r.measure == FLOW_MEASURE || r.contributors.is_some() {
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
        let df = DataFrame::new(n, columns).map_err(polars_error(&t.spec.name))?;
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
/// the LPs but are not bounded themselves: the rules set no width for them, and
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
