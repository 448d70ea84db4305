//! The effect tables (`tables/effects`, `tables/balance`,
//! `tables/effect_support`): one row per estimate, balance variable or
//! instrument rather than the long form of the count tables beside them.
//!
//! - `effects`: instrument, dimension, level, horizon_months, outcome,
//!   treated_n, control_n, treated_share, control_share, effect_pp,
//!   ci_low_pp, ci_high_pp, naive_pp, status;
//! - `balance`: instrument, variable, smd_before, smd_after;
//! - `effect_support`: instrument, treated, matched, unmatched, status.
//!
//! Rules: `effects` and `effect_support` have a `status` of `published` or
//! `suppressed`; a suppressed estimate shows no figure; a support row is
//! suppressed exactly when at least one of its counts is withheld; every count column holds rounded whole counts at or
//! above the threshold; shares are whole percentages; an estimate lies in
//! its confidence interval; the subgroup levels of an estimate's treated n
//! add up to its total, and treated starts are matched plus unmatched,
//! within the rounding tolerance. The CSV beside each table is the table
//! itself (same columns, `.` for an empty figure, numbers with a point).

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;

use crate::{Report, Rule, Rules};

/// The effect tables' names (in the package's `tables/`); a count table
/// never has one of these names.
pub(crate) const EFFECT_TABLES: [&str; 3] = ["effects", "balance", "effect_support"];

/// Which effect table a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EffectKind {
    /// One row per estimate.
    Effects,
    /// Covariate balance (no counts, no status).
    Balance,
    /// Treated starts, matched and unmatched per instrument.
    Support,
}

/// The effect table `rel` (a path in the package) is, if any.
pub(crate) fn effect_table(rel: &str) -> Option<EffectKind> {
    let name = rel.strip_prefix("tables/")?.strip_suffix(".parquet")?;
    let kinds = [
        EffectKind::Effects,
        EffectKind::Balance,
        EffectKind::Support,
    ];
    EFFECT_TABLES
        .iter()
        .position(|t| *t == name)
        .map(|i| kinds[i])
}

/// Columns that hold counts of persons.
const COUNT_COLUMNS: [&str; 5] = ["treated_n", "control_n", "treated", "matched", "unmatched"];

/// Numeric columns that identify a row rather than show a figure.
const KEY_COLUMNS: [&str; 1] = ["horizon_months"];

/// Columns that hold whole percentages.
const SHARE_COLUMNS: [&str; 2] = ["treated_share", "control_share"];

/// One column as read: text of every cell, and the number where the column
/// is numeric.
pub(crate) struct WideColumn {
    pub name: String,
    pub text: Vec<Option<String>>,
    pub number: Option<Vec<Option<f64>>>,
}

/// A table of the effects part as read.
pub(crate) struct WideTable {
    pub kind: EffectKind,
    pub columns: Vec<WideColumn>,
    pub height: usize,
}

impl WideTable {
    /// Reads a Parquet table; the reason when it cannot be read.
    pub fn read(path: &Path, kind: EffectKind) -> Result<WideTable, String> {
        let file = std::fs::File::open(path).map_err(|e| format!("cannot open ({e})"))?;
        let df = ParquetReader::new(file)
            .finish()
            .map_err(|e| format!("not a readable Parquet table ({e})"))?;
        let mut columns = Vec::new();
        for c in df.columns() {
            let number = if c.dtype().is_primitive_numeric() {
                let x = c
                    .cast(&DataType::Float64)
                    .map_err(|e| format!("column {:?}: {e}", c.name()))?;
                Some(
                    x.f64()
                        .map_err(|e| format!("column {:?}: {e}", c.name()))?
                        .iter()
                        .collect(),
                )
            } else {
                None
            };
            let text = c
                .cast(&DataType::String)
                .map_err(|e| format!("column {:?} cannot be read as text: {e}", c.name()))?;
            let text = text
                .str()
                .map_err(|e| format!("column {:?}: {e}", c.name()))?
                .iter()
                .map(|v| v.map(str::to_string))
                .collect();
            columns.push(WideColumn {
                name: c.name().to_string(),
                text,
                number,
            });
        }
        if kind != EffectKind::Balance && !columns.iter().any(|c| c.name == "status") {
            return Err("no status column".into());
        }
        Ok(WideTable {
            kind,
            columns,
            height: df.height(),
        })
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&WideColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The column names.
    pub fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// Every text value (for the identifier scan).
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.columns
            .iter()
            .filter(|c| c.number.is_none())
            .flat_map(|c| c.text.iter().flatten().map(String::as_str))
    }

    /// The number in `column` at `row` (`None` when empty or not numeric).
    pub fn number(&self, column: &str, row: usize) -> Option<f64> {
        self.column(column)?
            .number
            .as_ref()?
            .get(row)
            .copied()
            .flatten()
    }

    fn text(&self, column: &str, row: usize) -> Option<&str> {
        self.column(column)?.text.get(row)?.as_deref()
    }
}

/// Row rules and relations of an effect table.
pub(crate) fn check_rows(
    file: &str,
    t: &WideTable,
    rules: &Rules,
    min_effect_n: Option<u64>,
    report: &mut Report,
) {
    let has_status = t.column("status").is_some();
    for i in 0..t.height {
        let line = i + 1;
        let suppressed = match t.text("status", i) {
            _ if !has_status => false,
            Some("published") => false,
            Some("suppressed") => true,
            other => {
                report.unknown_status(file, line, other);
                continue;
            }
        };
        let figures = t
            .columns
            .iter()
            .filter(|c| c.number.is_some() && !KEY_COLUMNS.contains(&c.name.as_str()));
        let shown = figures
            .clone()
            .filter(|c| c.number.as_ref().is_some_and(|n| n[i].is_some()))
            .count();
        let all = figures.count();
        match (t.kind, suppressed) {
            (EffectKind::Support, true) if shown == all => report.add(
                file,
                Rule::Format,
                format!("row {line}: suppressed, but every count is shown"),
            ),
            (EffectKind::Support, false) if shown < all => report.add(
                file,
                Rule::Format,
                format!("row {line}: published, but a count is withheld"),
            ),
            (EffectKind::Effects | EffectKind::Balance, true) if shown > 0 => {
                report.add(
                    file,
                    Rule::Format,
                    format!("row {line}: a suppressed estimate shows a figure"),
                );
                continue;
            }
            _ => {}
        }
        // An estimate needs `min_effect_n` treated (published rounded:
        // within the rounding slack below it).
        if let (EffectKind::Effects, false, Some(least), Some(n)) =
            (t.kind, suppressed, min_effect_n, t.number("treated_n", i))
        {
            if n < least as f64 - rules.rounding_slack() {
                report.add(
                    file,
                    Rule::Threshold,
                    format!("row {line}: an estimate published with treated n {n}, below min_effect_n {least}"),
                );
            }
        }
        for c in COUNT_COLUMNS {
            let Some(v) = t.number(c, i) else { continue };
            crate::tables::check_published_count(file, line, c, v, rules, report);
        }
        for c in SHARE_COLUMNS {
            let Some(v) = t.number(c, i) else { continue };
            if !(0.0..=100.0).contains(&v) || v.fract() != 0.0 {
                report.add(
                    file,
                    Rule::Format,
                    format!("row {line}: {c} {v} is not a whole percentage"),
                );
            }
        }
        if let (Some(e), Some(lo), Some(hi)) = (
            t.number("effect_pp", i),
            t.number("ci_low_pp", i),
            t.number("ci_high_pp", i),
        ) {
            if e < lo - 0.051 || e > hi + 0.051 {
                report.add(
                    file,
                    Rule::Format,
                    format!("row {line}: effect {e} lies outside its interval [{lo}, {hi}]"),
                );
            }
        }
    }
    check_relations(file, t, rules, report);
}

/// Treated starts are matched plus unmatched; the subgroup levels of an
/// estimate's treated n add up to the estimate's total.
fn check_relations(file: &str, t: &WideTable, rules: &Rules, report: &mut Report) {
    let slack = rules.rounding_slack();
    let check = |what: String, total: f64, parts: &[Option<f64>], report: &mut Report| {
        report.relations += 1;
        let published: Vec<f64> = parts.iter().flatten().copied().collect();
        let sum: f64 = published.iter().sum();
        let tolerance = slack * (published.len() as f64 + 1.0) + 1e-9;
        let all = published.len() == parts.len();
        let broken = if all {
            (total - sum).abs() > tolerance
        } else {
            sum - total > tolerance
        };
        if broken {
            report.add(
                file,
                Rule::Margins,
                format!(
                    "{what} is {total}, but its {} published part(s) sum to {sum}: more than the rounding tolerance {} apart",
                    published.len(),
                    tolerance.floor()
                ),
            );
        }
    };
    for i in 0..t.height {
        if let Some(total) = t.number("treated", i) {
            let parts = [t.number("matched", i), t.number("unmatched", i)];
            check(format!("row {}: treated", i + 1), total, &parts, report);
        }
    }
    // instrument, horizon, outcome -> the total row's treated n; and
    // instrument, horizon, outcome, dimension -> the levels' treated n.
    let key = |i: usize, col: &str| t.text(col, i).unwrap_or("").to_string();
    let mut totals: HashMap<(String, String, String), Option<f64>> = HashMap::new();
    let mut parts: HashMap<(String, String, String, String), Vec<Option<f64>>> = HashMap::new();
    if t.column("treated_n").is_none() || t.column("dimension").is_none() {
        return;
    }
    for i in 0..t.height {
        let group = (
            key(i, "instrument"),
            key(i, "horizon_months"),
            key(i, "outcome"),
        );
        let n = t.number("treated_n", i);
        if key(i, "dimension") == crate::tables::TOTAL {
            totals.insert(group, n);
        } else {
            let (a, b, c) = group;
            parts
                .entry((a, b, c, key(i, "dimension")))
                .or_default()
                .push(n);
        }
    }
    let mut groups: Vec<_> = parts.into_iter().collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    for ((instrument, horizon, outcome, dimension), levels) in groups {
        let total = totals
            .get(&(instrument.clone(), horizon.clone(), outcome.clone()))
            .copied()
            .flatten();
        if let Some(total) = total {
            check(
                format!(
                    "treated_n of {instrument}, {outcome} at {horizon} months over {dimension}"
                ),
                total,
                &levels,
                report,
            );
        }
    }
}

/// The CSV beside an effect table: the same columns, and each row the
/// table's row (`.` for an empty figure).
pub(crate) fn check_csv(dir: &Path, csv: &str, t: &WideTable, report: &mut Report) {
    let mut reader = match csv::ReaderBuilder::new().from_path(dir.join(csv)) {
        Ok(r) => r,
        Err(e) => {
            report.add(csv, Rule::Figures, format!("cannot be read ({e})"));
            return;
        }
    };
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h
            .iter()
            .map(|s| s.trim_start_matches('\u{feff}').to_string())
            .collect(),
        Err(e) => {
            report.add(csv, Rule::Figures, format!("line 1: not CSV ({e})"));
            return;
        }
    };
    if header != t.names() {
        report.add(
            csv,
            Rule::Figures,
            "line 1: the columns are not the Parquet table's columns",
        );
        return;
    }
    let mut rows = 0usize;
    let mut wrong: Vec<usize> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        rows += 1;
        report.figures += 1;
        let Ok(record) = record else {
            wrong.push(line);
            continue;
        };
        let same = i < t.height
            && record.len() == t.columns.len()
            && t.columns
                .iter()
                .zip(record.iter())
                .all(|(c, field)| match &c.number {
                    Some(numbers) => match (numbers[i], field.trim()) {
                        (None, ".") | (None, "") => true,
                        (Some(x), f) => f.parse::<f64>().is_ok_and(|y| (x - y).abs() < 1e-9),
                        _ => false,
                    },
                    None => c.text[i].as_deref().unwrap_or(".") == field,
                });
        if !same {
            wrong.push(line);
        }
    }
    if let Some(first) = wrong.first() {
        report.add(
            csv,
            Rule::Figures,
            format!(
                "{} line(s) differ from the rows of the Parquet table (first: line {first})",
                wrong.len()
            ),
        );
    }
    if rows != t.height {
        report.add(
            csv,
            Rule::Figures,
            format!("{rows} rows, but the Parquet table has {}", t.height),
        );
    }
}
