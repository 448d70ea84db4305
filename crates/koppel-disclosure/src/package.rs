//! The researcher-package format this crate writes and `koppel check` reads:
//!
//! ```text
//! PACKAGE_DIR/manifest.json        {"rules": {...Rules...}, "disclosure": {"tables": [...], "summary": {...}}}
//! PACKAGE_DIR/tables/NAME.parquet  long form: dims..., horizon, measure, state, value, status, percent
//! ```
//!
//! `status` is `published` or `suppressed`: a package never says which
//! suppressed cell is primary. Packages written before this read
//! `primary`/`secondary` and are still checked.
//!
//! Other stages may add keys to `manifest.json`; only `rules` is read back.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde_json::json;

use crate::audit::{audit, Scope};
use crate::cells::{CellSetBuilder, Status};
use crate::rules::{RoundingMethod, Rules};
use crate::table::{add_count_table, Protected, FIXED_COLUMNS, TOTAL};

/// Package reading/writing failed (not a rule violation: exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// File-system error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Unreadable or malformed content.
    #[error("{path}: {reason}")]
    Malformed {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn malformed(path: &Path, reason: impl ToString) -> PackageError {
    PackageError::Malformed {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PackageError + '_ {
    move |source| PackageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Columns that must never appear in a researcher table.
pub const FORBIDDEN_COLUMNS: [&str; 6] = [
    "unrounded",
    "bsn",
    "pseudonym",
    "pseudo_id",
    "person_id",
    "contributors",
];

/// Writes `tables/*.parquet` and `manifest.json` (with the `rules` section).
pub fn write_package(dir: &Path, protected: &Protected, rules: &Rules) -> Result<(), PackageError> {
    let tables = dir.join("tables");
    std::fs::create_dir_all(&tables).map_err(io(&tables))?;
    let mut listed = Vec::new();
    for (name, df) in &protected.tables {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(malformed(
                dir,
                format!("table name {name:?} is not a safe file name"),
            ));
        }
        let path = tables.join(format!("{name}.parquet"));
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        let mut df = package_statuses(df).map_err(|e| malformed(&path, e))?;
        ParquetWriter::new(file)
            .finish(&mut df)
            .map_err(|e| malformed(&path, e))?;
        listed.push(
            json!({"name": name, "file": format!("tables/{name}.parquet"), "rows": df.height()}),
        );
    }
    let manifest = json!({
        "rules": rules,
        "disclosure": {"tables": listed, "summary": package_summary(&protected.summary)},
    });
    let path = dir.join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| malformed(&path, e))?;
    std::fs::write(&path, text).map_err(io(&path))
}

/// The table as a package shows it: `status` only `published` or
/// `suppressed` (which suppressed cells are primary stays in the run
/// directory).
fn package_statuses(df: &DataFrame) -> PolarsResult<DataFrame> {
    let status = df.column("status")?.str()?;
    let mapped: Vec<Option<String>> = status
        .iter()
        .map(|s| {
            s.map(|s| match Status::parse(s) {
                Some(st) => st.package_str().to_string(),
                None => s.to_string(),
            })
        })
        .collect();
    let mut df = df.clone();
    df.with_column(Column::new("status".into(), mapped))?;
    Ok(df)
}

/// The protection summary as a package may show it: counts of cells, and no
/// sum of unrounded values (the total of the secondary cells, or the persons
/// in a table's published cells, would be one more equation for an
/// attacker); a table's share of persons in published cells is given in
/// steps of 5%.
fn package_summary(summary: &crate::table::ProtectionSummary) -> serde_json::Value {
    let tables: Vec<serde_json::Value> = summary
        .tables
        .iter()
        .map(|t| {
            json!({
                "table": t.table,
                "cells": t.cells,
                "published": t.published,
                "suppressed": t.suppressed,
                "published_share": (t.published_share * 100.0).round() / 100.0,
                "persons_share": (t.persons_share * 20.0).round() / 20.0,
                "mostly_suppressed": t.mostly_suppressed,
                "coarser": t.coarser,
            })
        })
        .collect();
    json!({
        "count_cells": summary.count_cells,
        "primary": summary.primary,
        "secondary": summary.secondary,
        "released": summary.released,
        "magnitude_cells": summary.magnitude_cells,
        "magnitude_primary": summary.magnitude_primary,
        "audited": summary.audited,
        "tables": tables,
    })
}

/// Reads the `rules` section of a package's `manifest.json`.
pub fn read_rules(dir: &Path) -> Result<Rules, PackageError> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| malformed(&path, e))?;
    let rules = value
        .get("rules")
        .ok_or_else(|| malformed(&path, "no \"rules\" section"))?;
    let mut rules: Rules =
        serde_json::from_value(rules.clone()).map_err(|e| malformed(&path, e))?;
    rules.validate().map_err(|e| malformed(&path, e))?;
    Ok(rules)
}

/// One rule violation found by [`check_package`].
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Table name (or `*` for cross-table findings).
    pub table: String,
    /// What is wrong.
    pub message: String,
}

/// Result of re-verifying a package.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Tables read.
    pub tables: usize,
    /// Rows read.
    pub rows: usize,
    /// Primary-suppressed count cells whose interval was checked by LP.
    pub audited: usize,
    /// Violations (empty: the package passes).
    pub violations: Vec<Violation>,
}

fn str_col(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>, String> {
    let c = df.column(name).map_err(|e| e.to_string())?;
    let c = c.cast(&DataType::String).map_err(|e| e.to_string())?;
    Ok(c.str()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|v| v.map(str::to_string))
        .collect())
}

fn f64_col(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, String> {
    let c = df.column(name).map_err(|e| e.to_string())?;
    let c = c.cast(&DataType::Float64).map_err(|e| e.to_string())?;
    Ok(c.f64().map_err(|e| e.to_string())?.iter().collect())
}

/// The effect stage's tables in `tables/` (one row per estimate, balance
/// variable or instrument rather than long-form counts). The effect stage
/// protected their counts; the check verifies their form: every row of
/// `effects` and `effect_support` has the status `published` or
/// `suppressed`, a suppressed estimate shows no figure, and an instrument's
/// support row is suppressed exactly when one of its counts is withheld.
pub const EFFECT_TABLES: [&str; 3] = ["effects", "balance", "effect_support"];

fn check_effect_table(
    name: &str,
    df: &DataFrame,
    flag: &mut impl FnMut(String),
) -> Result<(), String> {
    let Ok(status) = df.column("status") else {
        return if name == "balance" {
            Ok(()) // no counts, no status
        } else {
            Err("no status column".into())
        };
    };
    let status = status.str().map_err(|e| e.to_string())?;
    // Figures: the numeric columns but the horizon (a key).
    let figures: Vec<&Column> = df
        .columns()
        .iter()
        .filter(|c| c.dtype().is_primitive_numeric() && c.name().as_str() != "horizon_months")
        .collect();
    for (i, st) in status.iter().enumerate() {
        let shown = figures
            .iter()
            .filter(|c| c.get(i).is_ok_and(|v| !v.is_null()))
            .count();
        let row = i + 1;
        match (name, st) {
            ("effects", Some("suppressed")) if shown > 0 => {
                flag(format!("row {row}: a suppressed estimate shows figures"));
            }
            ("effect_support", Some("suppressed")) if shown == figures.len() => {
                flag(format!("row {row}: suppressed but every count is shown"));
            }
            ("effect_support", Some("published")) if shown < figures.len() => {
                flag(format!("row {row}: published but a count is withheld"));
            }
            (_, Some("published" | "suppressed")) => {}
            (_, other) => flag(format!("row {row}: invalid status {other:?}")),
        }
    }
    Ok(())
}

/// Re-verifies a package directory against `rules` (or, if `None`, the
/// manifest's `rules`): every row well-formed, every published count at least
/// `min_count` (or an allowed zero) and a multiple of the rounding base,
/// percentages only from published counts, shared cells with one status and
/// value, and the LP audit of every primary-suppressed count cell (published
/// values widened by the rounding error; secondary cells carry no width
/// requirement, so they enter the LPs as unknowns only). A package that only
/// says `suppressed` does not tell which cells are primary: there a
/// suppressed cell violates the rules when the attacker can pin it inside
/// `[1, min_count - 1]` (shown to be a small count); a primary interval that
/// is too narrow but still reaches 0 or `min_count` is left to the protect
/// stage's audit with the true values (checking it here needs the run
/// directory's statuses).
/// Magnitude tables are checked row by row only (the contributors are not in
/// the package).
pub fn check_package(dir: &Path, rules: Option<Rules>) -> Result<CheckReport, PackageError> {
    if !dir.is_dir() {
        return Err(malformed(dir, "not a directory"));
    }
    let rules = match rules {
        Some(r) => r,
        None => read_rules(dir)?,
    };
    let tables_dir = dir.join("tables");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&tables_dir)
        .map_err(io(&tables_dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(malformed(&tables_dir, "no tables/*.parquet"));
    }
    let mut report = CheckReport::default();
    let mut builder = CellSetBuilder::default();
    let mut cell_status: Vec<Option<Status>> = Vec::new();
    let min = rules.min_count as f64;
    for path in &files {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut flag = |message: String| {
            report.violations.push(Violation {
                table: name.clone(),
                message,
            })
        };
        let file = std::fs::File::open(path).map_err(io(path))?;
        let df = ParquetReader::new(file)
            .finish()
            .map_err(|e| malformed(path, e))?;
        let columns: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        for c in &columns {
            if FORBIDDEN_COLUMNS.contains(&c.to_lowercase().as_str()) {
                flag(format!("column {c:?} must not be in a researcher package"));
            }
        }
        if EFFECT_TABLES.contains(&name.as_str()) {
            check_effect_table(&name, &df, &mut flag).map_err(|e| malformed(path, e))?;
            report.tables += 1;
            report.rows += df.height();
            continue;
        }
        let dims: Vec<String> = columns
            .iter()
            .filter(|c| {
                !FIXED_COLUMNS.contains(&c.as_str())
                    && !FORBIDDEN_COLUMNS.contains(&c.to_lowercase().as_str())
            })
            .cloned()
            .collect();
        let read = || -> Result<_, String> {
            let levels: Vec<Vec<Option<String>>> = dims
                .iter()
                .map(|d| str_col(&df, d))
                .collect::<Result<_, _>>()?;
            Ok((
                levels,
                str_col(&df, "horizon")?,
                str_col(&df, "measure")?,
                str_col(&df, "state")?,
                f64_col(&df, "value")?,
                str_col(&df, "status")?,
                if columns.iter().any(|c| c == "percent") {
                    f64_col(&df, "percent")?
                } else {
                    vec![None; df.height()]
                },
            ))
        };
        let (levels, horizon, measure, state, value, status, percent) =
            read().map_err(|e| malformed(path, e))?;
        report.tables += 1;
        report.rows += df.height();
        let mut count_rows = Vec::new();
        let mut count_status = Vec::new();
        let mut published_by_row: std::collections::HashMap<
            (Vec<String>, Option<String>),
            Option<f64>,
        > = Default::default();
        for i in 0..df.height() {
            let row_levels: Vec<String> = levels
                .iter()
                .map(|l| l[i].clone().unwrap_or_default())
                .collect();
            let Some(st) = status[i].as_deref().and_then(Status::parse) else {
                flag(format!("row {}: invalid status {:?}", i + 1, status[i]));
                continue;
            };
            let Some(m) = measure[i].clone() else {
                flag(format!("row {}: no measure", i + 1));
                continue;
            };
            if st.is_suppressed() != value[i].is_none() {
                flag(format!(
                    "row {}: value must be null exactly when suppressed",
                    i + 1
                ));
            }
            let magnitude = m.starts_with("mean_") || m.starts_with("median_");
            if magnitude {
                if percent[i].is_some() {
                    flag(format!("row {}: percent on a magnitude cell", i + 1));
                }
                continue;
            }
            let Some(s) = state[i].clone() else {
                flag(format!("row {}: count row without state", i + 1));
                continue;
            };
            if let Some(v) = value[i] {
                if v < 0.0 || v.fract() != 0.0 {
                    flag(format!(
                        "row {}: published count {v} is not a non-negative integer",
                        i + 1
                    ));
                } else if (v > 0.0 && v < min) || (v == 0.0 && rules.zeros_are_disclosive) {
                    flag(format!(
                        "row {}: published count {v} below min_count {}",
                        i + 1,
                        rules.min_count
                    ));
                }
                if rules.rounding != RoundingMethod::None && v % rules.rounding_base as f64 != 0.0 {
                    flag(format!(
                        "row {}: published count {v} not rounded to base {}",
                        i + 1,
                        rules.rounding_base
                    ));
                }
            }
            if s == TOTAL {
                published_by_row.insert((row_levels.clone(), horizon[i].clone()), value[i]);
            }
            count_rows.push((
                row_levels,
                horizon[i].clone(),
                m,
                s,
                value[i].unwrap_or(f64::NAN),
            ));
            count_status.push((i, st, percent[i], value[i]));
        }
        for ((levels, h, _, s, _), &(i, _, pct, v)) in count_rows.iter().zip(&count_status) {
            if let Some(pct) = pct {
                let total = published_by_row
                    .get(&(levels.clone(), h.clone()))
                    .copied()
                    .flatten();
                match (s == TOTAL, v, total) {
                    (false, Some(v), Some(t)) if t > 0.0 => {
                        if (pct - 100.0 * v / t).abs() > 0.051 {
                            flag(format!("row {}: percent {pct} is not {v}/{t}", i + 1));
                        }
                    }
                    _ => flag(format!(
                        "row {}: percent without published numerator and denominator",
                        i + 1
                    )),
                }
            }
        }
        match add_count_table(&mut builder, &dims, &count_rows) {
            Ok(idx) => {
                cell_status.resize(builder_len(&idx, cell_status.len()), None);
                for (&cell, &(i, st, _, _)) in idx.iter().zip(&count_status) {
                    match cell_status[cell] {
                        Some(prev) if prev != st => flag(format!(
                            "row {}: shared cell has status {} here and {} elsewhere",
                            i + 1,
                            st.as_str(),
                            prev.as_str()
                        )),
                        _ => cell_status[cell] = Some(st),
                    }
                }
            }
            Err(e) => flag(format!("table structure: {e}")),
        }
    }
    let cells = builder.finish();
    cell_status.resize(cells.len(), None);
    let published: Vec<Option<f64>> = (0..cells.len())
        .map(|i| match cell_status[i] {
            Some(Status::Published) | None => Some(if cells.values[i].is_nan() {
                0.0
            } else {
                cells.values[i]
            }),
            _ => None,
        })
        .collect();
    let required: Vec<f64> = cell_status
        .iter()
        .map(|s| {
            if matches!(s, Some(Status::Primary | Status::Suppressed)) {
                min
            } else {
                0.0
            }
        })
        .collect();
    let started = std::time::Instant::now();
    match audit(
        &cells,
        &published,
        &required,
        rules.rounding_slack(),
        Scope::Required,
    ) {
        Ok(a) => {
            tracing::debug!(
                seconds = started.elapsed().as_secs_f64(),
                lps = a.lps_solved,
                cells = a.intervals.len(),
                "package audit"
            );
            report.audited = a.intervals.len();
            for v in a.violations() {
                // A cell only known as suppressed may be a secondary cell,
                // which needs no width: it violates the rules when it can
                // be pinned inside [1, min_count - 1], i.e. shown to be a
                // small count.
                if cell_status[v.cell] == Some(Status::Suppressed)
                    && (v.lower < 1.0 - 1e-6 || v.upper >= min)
                {
                    continue;
                }
                let kind = match cell_status[v.cell] {
                    Some(Status::Suppressed) => "suppressed",
                    _ => "primary",
                };
                report.violations.push(Violation {
                    table: "*".into(),
                    message: format!(
                        "{kind} cell {} can be narrowed to [{}, {}] (width {} < {})",
                        v.key,
                        v.lower,
                        v.upper,
                        v.width(),
                        v.required
                    ),
                });
            }
        }
        Err(e) => report.violations.push(Violation {
            table: "*".into(),
            message: format!("audit: {e}"),
        }),
    }
    Ok(report)
}

fn builder_len(idx: &[usize], current: usize) -> usize {
    idx.iter().map(|i| i + 1).max().unwrap_or(0).max(current)
}
