//! The researcher-package format this crate writes (checked by the
//! `koppel-check` crate, which calls [`audit_published`] for the attacker's
//! view):
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
//! Other stages may add keys to `manifest.json`.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde_json::json;

use crate::audit::{audit_components, AuditReport, CellInterval};
use crate::cells::{CellSet, Status};
use crate::rules::Rules;
use crate::table::Protected;

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

/// A suppressed count cell of a package that an attacker can narrow too
/// far (found by [`audit_published`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Narrowed {
    /// The cell's canonical key.
    pub key: String,
    /// The package says the cell is primary (packages written before the
    /// statuses were merged); otherwise only that it is suppressed.
    pub primary: bool,
    /// Smallest value consistent with the published cells.
    pub lower: f64,
    /// Largest value consistent with the published cells.
    pub upper: f64,
    /// The width the rules require (`min_count`).
    pub required: f64,
}

/// The attacker's view of a package's published count cells.
#[derive(Debug, Clone, Default)]
pub struct PackageAudit {
    /// Suppressed cells whose interval was computed by LP.
    pub audited: usize,
    /// Cells narrowed too far.
    pub narrowed: Vec<Narrowed>,
}

/// The LP audit of a package as an attacker sees it: `cells` holds the
/// published values (rounded; `NaN` where suppressed) and every additive
/// relation, `status` each cell's status as read from the package (`None`:
/// not stated, treated as published). Published values are widened by the
/// rounding error. A package that only says `suppressed` does not tell which
/// cells are primary, and a secondary cell needs no width: such a cell
/// breaks the rules when the attacker can pin it inside `[1, min_count -
/// 1]`, i.e. show it is a small count. A cell the package calls `primary`
/// needs the full width `min_count`.
pub fn audit_published(
    cells: &CellSet,
    status: &[Option<Status>],
    rules: &Rules,
) -> Result<PackageAudit, crate::audit::AuditError> {
    let min = rules.min_count as f64;
    let published: Vec<Option<f64>> = (0..cells.len())
        .map(|i| match status.get(i).copied().flatten() {
            Some(Status::Published) | None => Some(if cells.values[i].is_nan() {
                0.0
            } else {
                cells.values[i]
            }),
            _ => None,
        })
        .collect();
    let required: Vec<f64> = (0..cells.len())
        .map(|i| match status.get(i).copied().flatten() {
            Some(Status::Primary | Status::Suppressed) => min,
            _ => 0.0,
        })
        .collect();
    let started = std::time::Instant::now();
    let a = audit_constrained(cells, &published, &required, rules.rounding_slack())?;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        lps = a.lps_solved,
        cells = a.intervals.len(),
        "package audit"
    );
    let narrowed = a
        .violations()
        .into_iter()
        .filter_map(|v| {
            let primary = status.get(v.cell).copied().flatten() == Some(Status::Primary);
            if !primary && (v.lower < 1.0 - 1e-6 || v.upper >= min) {
                return None;
            }
            Some(Narrowed {
                key: v.key.clone(),
                primary,
                lower: v.lower,
                upper: v.upper,
                required: v.required,
            })
        })
        .collect();
    Ok(PackageAudit {
        audited: a.intervals.len(),
        narrowed,
    })
}

/// The audit of every component of suppressed cells that a published value
/// reaches. A component whose relations and nestings hold no published cell
/// only has homogeneous constraints (`total - sum(parts) = 0`, `sub <=
/// sup`): all zeros is a solution, so each of its cells has the lower bound
/// 0 and the upper bound unbounded in the attacker's view, and no cell can be
/// pinned inside `[1, min_count - 1]`. The upper bound of a cone like this
/// is 0 or unbounded, and a cell that truly holds persons (every primary
/// does) lies on a solution with it positive, which scales without limit.
/// Such a component (most of a package of a small cohort, where nearly
/// everything is suppressed) is counted without solving LPs.
fn audit_constrained(
    cells: &CellSet,
    published: &[Option<f64>],
    required: &[f64],
    slack: f64,
) -> Result<AuditReport, crate::audit::AuditError> {
    let mut reached = vec![false; cells.len()];
    for relation in &cells.relations {
        if relation.members().any(|m| published[m].is_some()) {
            for m in relation.members() {
                reached[m] = true;
            }
        }
    }
    for &(a, b) in &cells.nested {
        if published[a].is_some() || published[b].is_some() {
            reached[a] = true;
            reached[b] = true;
        }
    }
    audit_components(
        cells,
        published,
        required,
        slack,
        |c| required[c] > 0.0,
        |component, targets| {
            (!component.iter().any(|&c| reached[c])).then(|| {
                targets
                    .iter()
                    .map(|&cell| CellInterval {
                        cell,
                        key: cells.keys[cell].clone(),
                        lower: 0.0,
                        upper: f64::INFINITY,
                        required: required[cell],
                        exact: true,
                    })
                    .collect()
            })
        },
    )
}
