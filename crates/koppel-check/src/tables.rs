//! The long-form Parquet tables: row rules, additive relations, and one
//! value per cell across tables. Written from the package format alone:
//! `dims..., horizon, measure, state, value, status, percent`, where every
//! dimension and the state have a margin level `Total`.

use std::collections::HashMap;
use std::path::Path;

use koppel_disclosure::cells::{CellSetBuilder, Status};
use koppel_disclosure::rules::RoundingMethod;
use koppel_disclosure::table::{add_count_table, count_key, CountRow};
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

/// A published count (`what`, in row `line`): a non-negative whole number,
/// at least `min_count` (zero only where zeros are not disclosive), a
/// multiple of the rounding base.
pub(crate) fn check_published_count(
    file: &str,
    line: usize,
    what: &str,
    v: f64,
    rules: &Rules,
    report: &mut Report,
) {
    if v < 0.0 || v.fract() != 0.0 || !v.is_finite() {
        report.add(
            file,
            Rule::Format,
            format!("row {line}: {what} {v} is not a non-negative whole number"),
        );
    } else if (v > 0.0 && v < rules.min_count as f64) || (v == 0.0 && rules.zeros_are_disclosive) {
        report.add(
            file,
            Rule::Threshold,
            format!(
                "row {line}: published {what} {v} is below min_count {}",
                rules.min_count
            ),
        );
    }
    if rules.rounding != RoundingMethod::None
        && v.is_finite()
        && v % rules.rounding_base as f64 != 0.0
    {
        report.add(
            file,
            Rule::Rounding,
            format!(
                "row {line}: published {what} {v} is not a multiple of {}",
                rules.rounding_base
            ),
        );
    }
}

/// A table as read.
pub(crate) struct Table {
    pub columns: Vec<String>,
    pub dims: Vec<String>,
    pub rows: Vec<Row>,
    /// Every value of every column as text (for the identifier scan).
    pub(crate) texts: Vec<String>,
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
        // The report crate reads the same columns into its own cells: kept
        // apart on purpose, the check shares no reading code with a writer.
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

/// A group of a table: dimension levels and horizon.
type GroupKey<'a> = (&'a [String], Option<&'a str>);

/// Row rules: statuses, suppressed cells without values, published counts
/// as non-negative integers at or above the threshold and rounded,
/// percentages from published counts.
pub(crate) fn check_rows(file: &str, table: &Table, rules: &Rules, report: &mut Report) {
    let mut totals: HashMap<GroupKey<'_>, Option<f64>> = HashMap::new();
    // The package format's denominator: the group's (levels, horizon) row
    // with the state `Total` that comes last in the table (in a job table,
    // the persons in the group), whatever its measure.
    for r in &table.rows {
        if r.state.as_deref() == Some(TOTAL) {
            totals.insert(
                (r.levels.as_slice(), r.horizon.as_deref()),
                r.value.filter(|_| r.published()),
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
                report.unknown_status(file, line, other);
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
            check_published_count(file, line, "count", v, rules, report);
        }
        if let Some(p) = r.percent {
            let total = totals
                .get(&(r.levels.as_slice(), r.horizon.as_deref()))
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

/// The count cells of one package (the top level, or the linkage-quality
/// sub-package) with every additive relation between them. Cell identities
/// and relations are the package format's, from the disclosure crate's
/// public definition ([`count_key`], [`add_count_table`]): the persons total
/// of a group shared by every table and horizon, a flow's margins equal to
/// the states cells, the job tables' totals equal to the persons in work,
/// `trajectory_mix = none` one cell with `trajectory_last = none`, and a
/// single-instrument mix nested within the same last instrument.
#[derive(Default)]
pub(crate) struct PackageCells {
    builder: CellSetBuilder,
    /// Per cell: status as read (first table), published value (`NaN`
    /// when suppressed), the file it was first read from.
    status: Vec<Option<Status>>,
    values: Vec<f64>,
    origin: Vec<String>,
}

/// A cell's status and value as a finding shows them.
fn shown_cell(status: Option<Status>, value: f64) -> String {
    match status {
        Some(s) if s.is_suppressed() => "suppressed".to_string(),
        _ if value.is_nan() => "published without a value".to_string(),
        _ => format!("{value}"),
    }
}

impl PackageCells {
    /// Adds a table's count cells and relations; reports a cell with another
    /// status or value than the same cell in a table added before, and a
    /// table whose margins are missing.
    pub fn add(&mut self, file: &str, table: &Table, report: &mut Report) {
        let mut rows: Vec<CountRow> = Vec::new();
        let mut statuses: Vec<Option<Status>> = Vec::new();
        for (i, r) in table.rows.iter().enumerate() {
            let Some(state) = r.state.as_deref().filter(|_| !r.is_magnitude()) else {
                continue;
            };
            let status = Status::parse(&r.status);
            let published = status == Some(Status::Published);
            let mut value = if published {
                r.value.unwrap_or(f64::NAN)
            } else {
                f64::NAN
            };
            let key = count_key(
                &table.dims,
                &r.levels,
                r.horizon.as_deref(),
                &r.measure,
                state,
            );
            if let Some(c) = self.builder.find(&key) {
                let (other, v) = (self.status[c], self.values[c]);
                let same_status =
                    other.map(Status::is_suppressed) == status.map(Status::is_suppressed);
                let same_value = (v.is_nan() && value.is_nan()) || v == value;
                if !same_status || !same_value {
                    report.add(
                        file,
                        Rule::Margins,
                        format!(
                            "row {}: cell {key} is {} here but {} in {}",
                            i + 1,
                            shown_cell(status, value),
                            shown_cell(other, v),
                            self.origin[c]
                        ),
                    );
                }
                // The first reading stands; the relations still get the cell.
                value = f64::NAN;
            }
            rows.push((
                r.levels.clone(),
                r.horizon.clone(),
                r.measure.clone(),
                state.to_string(),
                value,
            ));
            statuses.push(status);
        }
        if rows.is_empty() {
            return;
        }
        match add_count_table(&mut self.builder, &table.dims, &rows) {
            Ok(idx) => {
                for ((&c, status), row) in idx.iter().zip(statuses).zip(&rows) {
                    if c >= self.status.len() {
                        self.status.resize(c + 1, None);
                        self.values.resize(c + 1, f64::NAN);
                        self.origin.resize(c + 1, String::new());
                        self.status[c] = status;
                        self.values[c] = row.4;
                        self.origin[c] = file.to_string();
                    }
                }
            }
            Err(e) => report.add(
                file,
                Rule::Format,
                format!("the table's cells do not form complete margins: {e}"),
            ),
        }
    }

    /// Every additive relation within the rounding tolerance, every nested
    /// pair in order, and the attacker's LP audit of the suppressed cells.
    pub fn check(self, rules: &Rules, report: &mut Report) {
        let slack = rules.rounding_slack();
        let PackageCells {
            builder,
            mut status,
            values,
            origin,
        } = self;
        let cells = builder.finish();
        status.resize(cells.len(), None);
        let published = |c: usize| -> Option<f64> {
            (status[c] == Some(Status::Published) && !values[c].is_nan()).then(|| values[c])
        };
        for relation in &cells.relations {
            let mut hidden = relation
                .members()
                .filter(|&c| status[c].is_some_and(|s| s.is_suppressed()));
            if let (Some(only), None) = (hidden.next(), hidden.next()) {
                report.add(
                    origin[only].clone(),
                    Rule::Audit,
                    format!(
                        "cell {} is the only suppressed cell of the relation of {}: it is derivable from the published cells (protection never leaves one cell of a relation suppressed)",
                        cells.keys[only], cells.keys[relation.total]
                    ),
                );
            }
            let Some(total) = published(relation.total) else {
                continue;
            };
            report.relations += 1;
            let parts: Vec<f64> = relation
                .parts
                .iter()
                .filter_map(|&c| published(c))
                .collect();
            let sum: f64 = parts.iter().sum();
            let all = parts.len() == relation.parts.len();
            let tolerance = slack * (parts.len() as f64 + 1.0) + 1e-9;
            let broken = if all {
                (total - sum).abs() > tolerance
            } else {
                sum - total > tolerance
            };
            if broken {
                let file = relation
                    .parts
                    .first()
                    .map_or(&origin[relation.total], |&c| &origin[c]);
                report.add(
                    file.clone(),
                    Rule::Margins,
                    format!(
                        "the margin {} is {total}, but its {} published part(s) sum to {sum}{}: more than the rounding tolerance {} apart",
                        cells.keys[relation.total],
                        parts.len(),
                        if all { "" } else { " (the others suppressed)" },
                        tolerance.floor()
                    ),
                );
            }
        }
        for &(sub, sup) in &cells.nested {
            if let (Some(a), Some(b)) = (published(sub), published(sup)) {
                if a - b > 2.0 * slack + 1e-9 {
                    report.add(
                        origin[sub].clone(),
                        Rule::Margins,
                        format!(
                            "cell {} is {a}, more than the cell {} ({b}) that contains its persons",
                            cells.keys[sub], cells.keys[sup]
                        ),
                    );
                }
            }
        }
        match koppel_disclosure::package::audit_published(&cells, &status, rules) {
            Ok(audit) => {
                report.audited += audit.audited;
                for n in audit.narrowed {
                    let c = cells.keys.iter().position(|k| *k == n.key).unwrap_or(0);
                    report.add(
                        origin.get(c).cloned().unwrap_or_default(),
                        Rule::Audit,
                        format!(
                            "{} cell {} can be narrowed to [{}, {}] from the published cells (width {} < {})",
                            if n.primary { "primary" } else { "suppressed" },
                            n.key,
                            n.lower,
                            n.upper,
                            n.upper - n.lower,
                            n.required
                        ),
                    );
                }
            }
            Err(e) => report.add(
                origin.first().cloned().unwrap_or_default(),
                Rule::Audit,
                format!("the suppressed cells cannot be audited: {e}"),
            ),
        }
    }
}
