//! The long-form Parquet tables: row rules, additive relations, and one
//! value per cell across tables. Written from the package format alone:
//! `dims..., horizon, measure, state, value, status, percent`, where every
//! dimension and the state have a margin level `Total`.

use std::collections::HashMap;
use std::path::Path;

use koppel_disclosure::rules::RoundingMethod;
use polars::prelude::*;

use crate::{Report, Rule, Rules};

/// The margin level of every dimension and of the state.
pub(crate) const TOTAL: &str = "Total";

/// Columns every table has besides its dimensions.
const FIXED: [&str; 6] = ["horizon", "measure", "state", "value", "status", "percent"];

/// One row of a table.
pub(crate) struct Row {
    pub levels: Vec<String>,
    pub horizon: Option<String>,
    pub measure: String,
    pub state: Option<String>,
    pub value: Option<f64>,
    pub status: String,
    pub percent: Option<f64>,
}

impl Row {
    /// Mean and median cells are not counts: no threshold, no margins.
    pub fn is_magnitude(&self) -> bool {
        self.measure.starts_with("mean_") || self.measure.starts_with("median_")
    }

    fn published(&self) -> bool {
        self.status == "published"
    }
}

/// A table as read.
pub(crate) struct Table {
    pub columns: Vec<String>,
    pub dims: Vec<String>,
    pub rows: Vec<Row>,
    /// Every value of every column as text (for the identifier scan).
    texts: Vec<String>,
}

fn strings(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>, String> {
    let column = df.column(name).map_err(|_| format!("no column {name:?}"))?;
    let text = column
        .cast(&DataType::String)
        .map_err(|e| format!("column {name:?} cannot be read as text: {e}"))?;
    Ok(text
        .str()
        .map_err(|e| format!("column {name:?}: {e}"))?
        .iter()
        .map(|v| v.map(str::to_string))
        .collect())
}

fn numbers(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, String> {
    let column = df.column(name).map_err(|_| format!("no column {name:?}"))?;
    let x = column
        .cast(&DataType::Float64)
        .map_err(|e| format!("column {name:?} is not numeric: {e}"))?;
    Ok(x.f64()
        .map_err(|e| format!("column {name:?}: {e}"))?
        .iter()
        .collect())
}

impl Table {
    /// Reads a long-form table; the reason when it is not one.
    pub fn read(path: &Path) -> Result<Table, String> {
        let file = std::fs::File::open(path).map_err(|e| format!("cannot open ({e})"))?;
        let df = ParquetReader::new(file)
            .finish()
            .map_err(|e| format!("not a readable Parquet table ({e})"))?;
        let columns: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let dims: Vec<String> = columns
            .iter()
            .filter(|c| !FIXED.contains(&c.as_str()))
            .cloned()
            .collect();
        let levels: Vec<Vec<Option<String>>> = dims
            .iter()
            .map(|d| strings(&df, d))
            .collect::<Result<_, _>>()?;
        let horizon = strings(&df, "horizon")?;
        let measure = strings(&df, "measure")?;
        let state = strings(&df, "state")?;
        let value = numbers(&df, "value")?;
        let status = strings(&df, "status")?;
        let percent = if columns.iter().any(|c| c == "percent") {
            numbers(&df, "percent")?
        } else {
            vec![None; df.height()]
        };
        let mut texts = Vec::new();
        for c in df.columns() {
            if let Ok(s) = c.cast(&DataType::String) {
                if let Ok(ca) = s.str() {
                    texts.extend(ca.iter().flatten().map(str::to_string));
                }
            }
        }
        let rows = (0..df.height())
            .map(|i| Row {
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
            })
            .collect();
        Ok(Table {
            columns,
            dims,
            rows,
            texts,
        })
    }

    /// Every value as text.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.texts.iter().map(String::as_str)
    }
}

/// A group of a table: dimension levels, horizon, measure.
type GroupKey<'a> = (&'a [String], Option<&'a str>, &'a str);

/// A relation: its `Total` cell (`Some(None)` when suppressed) and its parts
/// (`None` where suppressed).
type Relation = (Option<Option<f64>>, Vec<Option<f64>>);

/// Row rules: statuses, suppressed cells without values, published counts
/// as non-negative integers at or above the threshold and rounded,
/// percentages from published counts.
pub(crate) fn check_rows(file: &str, table: &Table, rules: &Rules, report: &mut Report) {
    let min = rules.min_count as f64;
    let base = rules.rounding_base as f64;
    let mut totals: HashMap<GroupKey<'_>, Option<f64>> = HashMap::new();
    for r in &table.rows {
        if r.state.as_deref() == Some(TOTAL) && r.published() {
            totals.insert(
                (
                    r.levels.as_slice(),
                    r.horizon.as_deref(),
                    r.measure.as_str(),
                ),
                r.value,
            );
        }
    }
    for (i, r) in table.rows.iter().enumerate() {
        let line = i + 1;
        let suppressed = match r.status.as_str() {
            "published" => false,
            // `primary`/`secondary`: packages written before the package
            // stopped telling them apart.
            "suppressed" | "primary" | "secondary" => true,
            other => {
                report.add(
                    file,
                    Rule::Format,
                    format!("row {line}: status {other:?} is not published or suppressed"),
                );
                continue;
            }
        };
        if suppressed != r.value.is_none() {
            report.add(
                file,
                Rule::Format,
                format!("row {line}: a value must be given exactly when the cell is published"),
            );
        }
        if r.is_magnitude() {
            if r.percent.is_some() {
                report.add(
                    file,
                    Rule::Format,
                    format!("row {line}: percent on a mean or median"),
                );
            }
            continue;
        }
        if let Some(v) = r.value {
            if v < 0.0 || v.fract() != 0.0 || !v.is_finite() {
                report.add(
                    file,
                    Rule::Format,
                    format!("row {line}: count {v} is not a non-negative whole number"),
                );
            } else if (v > 0.0 && v < min) || (v == 0.0 && rules.zeros_are_disclosive) {
                report.add(
                    file,
                    Rule::Threshold,
                    format!(
                        "row {line}: published count {v} is below min_count {}",
                        rules.min_count
                    ),
                );
            }
            if rules.rounding != RoundingMethod::None && v.is_finite() && v % base != 0.0 {
                report.add(
                    file,
                    Rule::Rounding,
                    format!(
                        "row {line}: published count {v} is not a multiple of {}",
                        rules.rounding_base
                    ),
                );
            }
        }
        if let Some(p) = r.percent {
            let total = totals
                .get(&(
                    r.levels.as_slice(),
                    r.horizon.as_deref(),
                    r.measure.as_str(),
                ))
                .copied()
                .flatten();
            match (r.value, total) {
                (Some(v), Some(t)) if t > 0.0 && r.state.as_deref() != Some(TOTAL) => {
                    if (p - 100.0 * v / t).abs() > 0.051 {
                        report.add(
                            file,
                            Rule::Figures,
                            format!("row {line}: percent {p} is not 100 x {v} / {t}"),
                        );
                    }
                }
                _ => report.add(
                    file,
                    Rule::Figures,
                    format!("row {line}: a percent without a published count and total"),
                ),
            }
        }
    }
}

/// Every additive relation: along each dimension and along the states, the
/// `Total` cell equals the sum of its parts within the rounding tolerance.
pub(crate) fn check_margins(file: &str, table: &Table, rules: &Rules, report: &mut Report) {
    let slack = match rules.rounding {
        RoundingMethod::None => 0.0,
        RoundingMethod::Nearest => (rules.rounding_base / 2) as f64,
        RoundingMethod::Random => rules.rounding_base.saturating_sub(1) as f64,
    };
    let counts: Vec<&Row> = table
        .rows
        .iter()
        .filter(|r| !r.is_magnitude() && r.state.is_some())
        .collect();
    // Axis 0..dims: a dimension; axis dims: the state.
    for axis in 0..=table.dims.len() {
        let coordinate = |r: &Row| -> String {
            if axis == table.dims.len() {
                r.state.clone().unwrap_or_default()
            } else {
                r.levels[axis].clone()
            }
        };
        // Key: every coordinate but this axis, horizon and measure.
        let mut groups: HashMap<Vec<String>, Relation> = HashMap::new();
        for r in &counts {
            let mut key: Vec<String> = Vec::with_capacity(table.dims.len() + 3);
            for (d, l) in r.levels.iter().enumerate() {
                key.push(if d == axis { String::new() } else { l.clone() });
            }
            key.push(if axis == table.dims.len() {
                String::new()
            } else {
                r.state.clone().unwrap_or_default()
            });
            key.push(r.horizon.clone().unwrap_or_default());
            key.push(r.measure.clone());
            let entry = groups.entry(key).or_default();
            let value = if r.published() { r.value } else { None };
            if coordinate(r) == TOTAL {
                entry.0 = Some(value);
            } else {
                entry.1.push(value);
            }
        }
        let axis_name = table.dims.get(axis).map_or("state", String::as_str);
        let mut relations: Vec<_> = groups.into_iter().collect();
        relations.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, (total, parts)) in relations {
            let (Some(Some(total)), false) = (total, parts.is_empty()) else {
                continue;
            };
            report.relations += 1;
            let published: Vec<f64> = parts.iter().flatten().copied().collect();
            let sum: f64 = published.iter().sum();
            let all = published.len() == parts.len();
            let tolerance = slack * (published.len() as f64 + 1.0) + 1e-9;
            let broken = if all {
                (total - sum).abs() > tolerance
            } else {
                sum - total > tolerance
            };
            if broken {
                let at: Vec<&str> = key
                    .iter()
                    .map(String::as_str)
                    .filter(|k| !k.is_empty())
                    .collect();
                report.add(
                    file,
                    Rule::Margins,
                    format!(
                        "{axis_name} = {TOTAL} at ({}) is {total}, but its {} published part(s) sum to {sum}{}: more than the rounding tolerance {} apart",
                        at.join(", "),
                        published.len(),
                        if all { "" } else { " (the others suppressed)" },
                        tolerance.floor()
                    ),
                );
            }
        }
    }
}

/// One cell in several tables: the same status and value everywhere.
#[derive(Default)]
pub(crate) struct SharedCells {
    seen: HashMap<Vec<String>, (String, bool, Option<f64>)>,
}

impl SharedCells {
    /// Adds a table's cells; reports a cell that differs from the same cell
    /// in a table added before.
    pub fn add(&mut self, file: &str, table: &Table, report: &mut Report) {
        let package = file.rsplit_once("tables/").map_or("", |(p, _)| p);
        for r in &table.rows {
            let mut key: Vec<String> = table
                .dims
                .iter()
                .zip(&r.levels)
                .filter(|(_, l)| l.as_str() != TOTAL)
                .map(|(d, l)| format!("{d}={l}"))
                .collect();
            key.sort();
            key.push(format!("package={package}"));
            key.push(format!("horizon={}", r.horizon.as_deref().unwrap_or("")));
            key.push(format!("measure={}", r.measure));
            key.push(format!("state={}", r.state.as_deref().unwrap_or("")));
            let published = r.published();
            let value = if published { r.value } else { None };
            match self.seen.get(&key) {
                Some((other, p, v)) if *p != published || *v != value => {
                    let shown = |p: bool, v: Option<f64>| {
                        if p {
                            v.map_or("published without a value".to_string(), |v| format!("{v}"))
                        } else {
                            "suppressed".to_string()
                        }
                    };
                    report.add(
                        file,
                        Rule::Margins,
                        format!(
                            "cell ({}) is {} here but {} in {other}",
                            key[..key.len() - 1].join(", "),
                            shown(published, value),
                            shown(*p, *v)
                        ),
                    );
                }
                Some(_) => {}
                None => {
                    self.seen.insert(key, (file.to_string(), published, value));
                }
            }
        }
    }
}
