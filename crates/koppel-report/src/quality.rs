//! Linkage quality: aggregated counts per municipality (or another
//! grouping), protected with the same rules as the outcome tables (primary
//! and secondary suppression over the row and column margins, LP audit,
//! rounding) before anything of it is written or shown.

use koppel_disclosure::package::FORBIDDEN_COLUMNS;
use koppel_disclosure::rules::Rules;
use koppel_disclosure::table::{
    protect, Measure, Protected, Row, Table, TableSpec, FIXED_COLUMNS, TOTAL,
};

use crate::{LinkageQuality, ReportError};

/// Name (file stem) of the protected linkage-quality table.
pub const QUALITY_TABLE: &str = "linkage_quality";

fn safe_code(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Builds the table with all margins and protects it.
pub fn protect_quality(lq: &LinkageQuality, rules: &Rules) -> Result<Protected, ReportError> {
    let bad = |m: String| ReportError::Config(format!("linkage quality: {m}"));
    if !safe_code(&lq.dimension)
        || FIXED_COLUMNS.contains(&lq.dimension.as_str())
        || FORBIDDEN_COLUMNS.contains(&lq.dimension.to_lowercase().as_str())
    {
        return Err(bad(format!("dimension {:?} is not allowed", lq.dimension)));
    }
    if !safe_code(&lq.unit) || lq.unit.starts_with("mean_") || lq.unit.starts_with("median_") {
        return Err(bad(format!("unit {:?} is not allowed", lq.unit)));
    }
    if lq.categories.is_empty() {
        return Err(bad("no categories".into()));
    }
    for (i, c) in lq.categories.iter().enumerate() {
        if c == TOTAL || c.is_empty() || lq.categories[..i].contains(c) {
            return Err(bad(format!(
                "category {c:?} is empty, reserved or repeated"
            )));
        }
    }
    let mut levels: Vec<&str> = Vec::new();
    for (level, counts) in &lq.rows {
        if level == TOTAL || level.is_empty() || levels.contains(&level.as_str()) {
            return Err(bad(format!(
                "group {level:?} is empty, reserved or repeated"
            )));
        }
        if counts.len() != lq.categories.len() {
            return Err(bad(format!(
                "group {level:?} has {} counts for {} categories",
                counts.len(),
                lq.categories.len()
            )));
        }
        levels.push(level);
    }
    let k = lq.categories.len();
    let mut grand = vec![0u64; k];
    let mut rows = Vec::new();
    let mut push = |level: &str, counts: &[u64]| {
        for (c, v) in lq
            .categories
            .iter()
            .map(String::as_str)
            .chain([TOTAL])
            .zip(counts.iter().copied().chain([counts.iter().sum::<u64>()]))
        {
            rows.push(Row {
                levels: vec![level.to_string()],
                horizon: None,
                measure: lq.unit.clone(),
                state: Some(c.to_string()),
                value: v as f64,
                contributors: None,
            });
        }
    };
    for (level, counts) in &lq.rows {
        for (g, c) in grand.iter_mut().zip(counts) {
            *g += c;
        }
        push(level, counts);
    }
    push(TOTAL, &grand);
    let table = Table {
        spec: TableSpec {
            name: QUALITY_TABLE.into(),
            dims: vec![lq.dimension.clone()],
            measure: Measure::Flag(lq.unit.clone()),
            horizons: Vec::new(),
        },
        rows,
    };
    Ok(protect(&[table], rules)?)
}
