//! The published tables as the report sees them: long-form rows with their
//! row index in the written Parquet file (so every figure in the report can
//! be traced to one cell), table kinds, groups in label order, and number
//! formatting per language.

use std::collections::HashMap;

use koppel_disclosure::table::{FIXED_COLUMNS, FLOW_MEASURE, FLOW_SEP, TOTAL, WORK_STATES};
use polars::prelude::*;

use crate::labels::{Labels, Lang};
use crate::ReportError;

/// What a table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Persons by state per horizon (measure `persons`).
    States,
    /// Persons with and without a flag (states `yes`/`no`), or any other
    /// split of persons into categories (linkage quality).
    Flag,
    /// Means or medians per horizon (by a job field: its level in `state`).
    Magnitude,
    /// Persons in work by a job field per horizon (measure `job_{field}`;
    /// the table also carries the two work states whose sum is its total).
    Job,
    /// Transitions: state at one horizon × state at the next (measure
    /// `flow`, horizon `6m>12m`, state `werk>ww`, `Total` on either side).
    Flow,
}

/// One cell (row) of a published long-form table.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Row index in the Parquet file.
    pub row: usize,
    /// Levels of the dimensions.
    pub levels: Vec<String>,
    /// Horizon (`6m`) or none.
    pub horizon: Option<String>,
    /// Measure.
    pub measure: String,
    /// State / flag level / `Total`, none for magnitudes.
    pub state: Option<String>,
    /// Published value (`None` when suppressed).
    pub value: Option<f64>,
    /// `published`, `primary` or `secondary`.
    pub status: String,
    /// Published percentage of the group total.
    pub percent: Option<f64>,
}

/// A published table.
#[derive(Debug, Clone)]
pub struct TableView {
    /// Table name (file stem).
    pub name: String,
    /// Path of the Parquet file inside the package, without `.parquet`
    /// (`tables/NAME`): written into the report as `data-t`.
    pub path_id: String,
    /// Dimensions.
    pub dims: Vec<String>,
    /// Kind.
    pub kind: Kind,
    /// The measure (first row's).
    pub measure: String,
    /// Horizons in month order.
    pub horizons: Vec<Option<String>>,
    /// States / categories in order of appearance (without `Total`).
    pub states: Vec<String>,
    /// Cells.
    pub cells: Vec<Cell>,
    index: HashMap<CellKey, usize>,
}

/// A cell's address: dimension levels, horizon, state.
type CellKey = (Vec<String>, Option<String>, Option<String>);

fn strs(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>, ReportError> {
    let c = df
        .column(name)
        .map_err(|e| ReportError::Table(format!("column {name}: {e}")))?;
    let c = c
        .cast(&DataType::String)
        .map_err(|e| ReportError::Table(format!("column {name}: {e}")))?;
    Ok(c.str()
        .map_err(|e| ReportError::Table(format!("column {name}: {e}")))?
        .iter()
        .map(|v| v.map(str::to_string))
        .collect())
}

fn nums(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, ReportError> {
    let c = df
        .column(name)
        .map_err(|e| ReportError::Table(format!("column {name}: {e}")))?;
    let c = c
        .cast(&DataType::Float64)
        .map_err(|e| ReportError::Table(format!("column {name}: {e}")))?;
    Ok(c.f64()
        .map_err(|e| ReportError::Table(format!("column {name}: {e}")))?
        .iter()
        .collect())
}

/// Months of a horizon label (`18m` → 18; a flow's `6m>12m` → 6).
pub fn horizon_months(h: &str) -> u32 {
    h.split(FLOW_SEP)
        .next()
        .unwrap_or(h)
        .trim_end_matches('m')
        .parse()
        .unwrap_or(u32::MAX)
}

/// The two horizons of a flow's horizon label (`6m>12m`).
pub fn flow_horizons(h: &str) -> Option<(&str, &str)> {
    h.split_once(FLOW_SEP)
}

/// The job field of a job or by-field magnitude measure (`job_sector`,
/// `median_wage_by_contract` → `sector`, `contract`).
pub fn job_field(measure: &str) -> Option<&str> {
    measure
        .strip_prefix("job_")
        .or_else(|| measure.split_once("_by_").map(|(_, f)| f))
}

impl TableView {
    /// Reads a long-form protected table.
    pub fn from_df(name: &str, path_id: &str, df: &DataFrame) -> Result<TableView, ReportError> {
        let dims: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .filter(|c| !FIXED_COLUMNS.contains(&c.as_str()))
            .collect();
        let levels: Vec<Vec<Option<String>>> =
            dims.iter().map(|d| strs(df, d)).collect::<Result<_, _>>()?;
        let horizon = strs(df, "horizon")?;
        let measure = strs(df, "measure")?;
        let state = strs(df, "state")?;
        let value = nums(df, "value")?;
        let status = strs(df, "status")?;
        let percent = if df.column("percent").is_ok() {
            nums(df, "percent")?
        } else {
            vec![None; df.height()]
        };
        let mut cells = Vec::with_capacity(df.height());
        let mut index = HashMap::new();
        let mut horizons: Vec<Option<String>> = Vec::new();
        let mut states: Vec<String> = Vec::new();
        for i in 0..df.height() {
            let cell = Cell {
                row: i,
                levels: levels
                    .iter()
                    .map(|l| l[i].clone().unwrap_or_default())
                    .collect(),
                horizon: horizon[i].clone(),
                measure: measure[i].clone().unwrap_or_default(),
                state: state[i].clone(),
                value: value[i],
                status: status[i].clone().unwrap_or_default(),
                percent: percent[i],
            };
            if !horizons.contains(&cell.horizon) {
                horizons.push(cell.horizon.clone());
            }
            if let Some(s) = &cell.state {
                if s != TOTAL && !states.contains(s) {
                    states.push(s.clone());
                }
            }
            index.insert(
                (
                    cell.levels.clone(),
                    cell.horizon.clone(),
                    cell.state.clone(),
                ),
                i,
            );
            cells.push(cell);
        }
        horizons.sort_by_key(|h| h.as_deref().map(horizon_months).unwrap_or(0));
        let measure = cells.first().map(|c| c.measure.clone()).unwrap_or_default();
        let kind = if measure.starts_with("mean_") || measure.starts_with("median_") {
            Kind::Magnitude
        } else if measure == "persons" {
            Kind::States
        } else if measure.starts_with("job_") {
            Kind::Job
        } else if measure == FLOW_MEASURE {
            Kind::Flow
        } else {
            Kind::Flag
        };
        if kind == Kind::Job {
            // The work-state rows are the job total's parts, not levels.
            states.retain(|s| !WORK_STATES.contains(&s.as_str()));
        }
        Ok(TableView {
            name: name.to_string(),
            path_id: path_id.to_string(),
            dims,
            kind,
            measure,
            horizons,
            states,
            cells,
            index,
        })
    }

    /// The cell of a group, horizon and state.
    pub fn get(
        &self,
        levels: &[String],
        horizon: Option<&str>,
        state: Option<&str>,
    ) -> Option<&Cell> {
        self.index
            .get(&(
                levels.to_vec(),
                horizon.map(str::to_string),
                state.map(str::to_string),
            ))
            .map(|&i| &self.cells[i])
    }

    /// The group total: the `Total` state of the first horizon (the persons
    /// total of a group is one cell for every horizon).
    pub fn group_total(&self, levels: &[String]) -> Option<&Cell> {
        self.horizons
            .iter()
            .find_map(|h| self.get(levels, h.as_deref(), Some(TOTAL)))
    }

    /// Every group (combination of levels, margins included) in label
    /// order: `Total` first, listed levels in their order, others after.
    pub fn groups(&self, labels: &Labels) -> Vec<Vec<String>> {
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<Vec<String>> = Vec::new();
        for c in &self.cells {
            if seen.insert(c.levels.clone()) {
                out.push(c.levels.clone());
            }
        }
        let first_seen: HashMap<Vec<String>, usize> = out
            .iter()
            .enumerate()
            .map(|(i, g)| (g.clone(), i))
            .collect();
        // Per-dimension position of first appearance (for unlisted levels).
        let mut appear: Vec<HashMap<String, usize>> = vec![HashMap::new(); self.dims.len()];
        for g in &out {
            for (d, l) in g.iter().enumerate() {
                let n = appear[d].len();
                appear[d].entry(l.clone()).or_insert(n);
            }
        }
        out.sort_by_key(|g| {
            (
                g.iter()
                    .enumerate()
                    .map(|(d, l)| {
                        let (a, b) = labels.level_rank(&self.dims[d], l);
                        (a, b, appear[d][l])
                    })
                    .collect::<Vec<_>>(),
                first_seen[g],
            )
        });
        out
    }

    /// The groups a chart shows: the grand total and the full breakdown
    /// (no partial margins) in label order.
    pub fn chart_groups(&self, labels: &Labels) -> Vec<Vec<String>> {
        self.groups(labels)
            .into_iter()
            .filter(|g| g.iter().all(|l| l == TOTAL) || g.iter().all(|l| l != TOTAL))
            .collect()
    }

    /// The grand-total group.
    pub fn grand(&self) -> Vec<String> {
        vec![TOTAL.to_string(); self.dims.len()]
    }

    /// Label of a group (levels joined with " · ").
    pub fn group_label(&self, labels: &Labels, lang: Lang, levels: &[String]) -> String {
        if levels.iter().all(|l| l == TOTAL) {
            return labels.level(lang, "", TOTAL);
        }
        levels
            .iter()
            .enumerate()
            .filter(|(_, l)| *l != TOTAL)
            .map(|(d, l)| labels.level(lang, &self.dims[d], l))
            .collect::<Vec<_>>()
            .join(" · ")
    }

    /// Label of the dimensions ("Leeftijd en geslacht").
    pub fn dims_label(&self, labels: &Labels, lang: Lang) -> String {
        let names: Vec<String> = self.dims.iter().map(|d| labels.dim(lang, d)).collect();
        match names.len() {
            0 => String::new(),
            1 => names[0].clone(),
            n => format!(
                "{} {} {}",
                names[..n - 1].join(", "),
                labels.ui(lang, "and"),
                names[n - 1]
            ),
        }
    }
}

/// Formats a count or a rounded magnitude (`1.234` / `1,234`).
pub fn fmt_int(lang: Lang, v: f64) -> String {
    let neg = v < 0.0;
    let digits = format!("{:.0}", v.abs());
    let sep = match lang {
        Lang::Nl => '.',
        Lang::En => ',',
    };
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(sep);
        }
        out.push(ch);
    }
    if neg {
        format!("-{out}")
    } else {
        out
    }
}

/// Formats a percentage with one decimal (`41,3%` / `41.3%`).
pub fn fmt_pct(lang: Lang, v: f64) -> String {
    let s = format!("{v:.1}");
    match lang {
        Lang::Nl => format!("{}%", s.replace('.', ",")),
        Lang::En => format!("{s}%"),
    }
}

/// Formats a euro amount (`€ 2.150` / `€2,150`).
pub fn fmt_eur(lang: Lang, v: f64) -> String {
    match lang {
        Lang::Nl => format!("€\u{a0}{}", fmt_int(lang, v)),
        Lang::En => format!("€{}", fmt_int(lang, v)),
    }
}

/// The symbol of a suppressed or unavailable figure.
pub const SUPPRESSED: &str = ".";
