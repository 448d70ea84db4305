//! The release pass: after the greedy of [`crate::secondary`] has protected
//! every primary cell, each secondary cell is tried for publication on its
//! own, most expensive first (see [`cell_costs`]), and published when the
//! attacker LP shows every primary interval stays wide enough without it.
//!
//! Publishing a cell only adds knowledge, so every interval can only narrow:
//! a cell that failed its trial would fail again against the final (smaller)
//! suppressed set. One pass therefore leaves no secondary cell that could be
//! published on its own, whatever the order; the order decides which cells
//! win when two could be released but not both, and the costs make those the
//! margins and whole-cohort figures readers use most.
//!
//! A trial bounds only the primary cells of the components next to the cell
//! (other components do not change), by the same presolved LPs as the audit
//! ([`crate::audit::audit_component`], proving every
//! shortfall exactly); a relation whose only other
//! suppressed member is primary rejects the cell without any LP.

use crate::audit::{component_intervals, AuditError};
use crate::cells::{CellSet, Status};

/// What the release pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReleaseStats {
    /// Secondary cells published again.
    pub released: usize,
    /// Cells tried.
    pub trials: usize,
    /// Trials decided by an LP audit (the rest without one).
    pub audited_trials: usize,
    /// LPs solved.
    pub lps_solved: usize,
}

/// The cost of suppressing each cell: what readers lose. Margins cost more
/// than inner cells, the more so the more relations they total (the
/// whole-cohort cells and the cohort total, shared by every table, cost the
/// most); within a tier, larger values cost more (value + 1, the usual choice
/// for frequency tables), so a zero is the cheapest cell to keep suppressed.
pub fn cell_costs(cells: &CellSet) -> Vec<f64> {
    let mut depth = vec![0usize; cells.len()];
    for relation in &cells.relations {
        depth[relation.total] += 1;
    }
    cells
        .values
        .iter()
        .zip(&depth)
        .map(|(&v, &d)| {
            let tier = (1 + d) as f64;
            tier * tier * (v.max(0.0) + 1.0)
        })
        .collect()
}

/// Publishes every secondary cell (`Status::Secondary` in `status`) that can
/// be published on its own with every cell with `required[i] > 0` keeping an
/// interval at least that wide, trying the cells in decreasing `cost`
/// (ties: lower index first). Deterministic.
pub fn release_pass(
    cells: &CellSet,
    status: &mut [Status],
    required: &[f64],
    cost: &[f64],
) -> Result<ReleaseStats, AuditError> {
    if status.len() != cells.len() || required.len() != cells.len() || cost.len() != cells.len() {
        return Err(AuditError::Shape {
            cells: cells.len(),
            got: status.len().min(required.len()).min(cost.len()),
        });
    }
    let mut order: Vec<usize> = (0..cells.len())
        .filter(|&i| status[i] == Status::Secondary)
        .collect();
    order.sort_by(|&a, &b| cost[b].total_cmp(&cost[a]).then(a.cmp(&b)));
    let mut published: Vec<Option<f64>> = (0..cells.len())
        .map(|i| (!status[i].is_suppressed()).then_some(cells.values[i]))
        .collect();
    let mut stats = ReleaseStats::default();
    for c in order {
        stats.trials += 1;
        if exposes_primary(cells, status, c) {
            continue;
        }
        published[c] = Some(cells.values[c]);
        stats.audited_trials += 1;
        let (wide, lps) = primaries_stay_wide(cells, &published, required, c)?;
        stats.lps_solved += lps;
        if wide {
            status[c] = Status::Published;
            stats.released += 1;
        } else {
            published[c] = None;
        }
    }
    Ok(stats)
}

/// Whether publishing `c` would leave a relation whose only suppressed
/// member is a primary cell (disclosed exactly).
fn exposes_primary(cells: &CellSet, status: &[Status], c: usize) -> bool {
    cells.memberships[c].iter().any(|&r| {
        let mut others = cells.relations[r]
            .members()
            .filter(|&m| m != c && status[m].is_suppressed());
        matches!((others.next(), others.next()), (Some(m), None) if status[m] == Status::Primary)
    })
}

/// With `published[c]` already set: whether every required cell of the
/// components next to `c` keeps an interval at least as wide as required.
fn primaries_stay_wide(
    cells: &CellSet,
    published: &[Option<f64>],
    required: &[f64],
    c: usize,
) -> Result<(bool, usize), AuditError> {
    let nested = cells.nest_memberships[c].iter().flat_map(|&k| {
        let (a, b) = cells.nested[k];
        [a, b]
    });
    let mut near: Vec<usize> = cells.memberships[c]
        .iter()
        .flat_map(|&r| cells.relations[r].members())
        .chain(nested)
        .filter(|&m| published[m].is_none())
        .collect();
    near.sort_unstable();
    near.dedup();
    if near.is_empty() {
        return Ok((true, 0));
    }
    let mut lps = 0;
    let mut seen = vec![false; cells.len()];
    for &start in &near {
        if seen[start] {
            continue;
        }
        let component = component_of(cells, published, start, &mut seen);
        let targets: Vec<usize> = component
            .iter()
            .copied()
            .filter(|&m| required[m] > 0.0)
            .collect();
        if targets.is_empty() {
            continue;
        }
        let (intervals, n) = component_intervals(
            cells,
            published,
            required,
            0.0,
            &component,
            &targets,
            Some(usize::MAX),
        )?;
        lps += n;
        if intervals.iter().any(|i| i.is_violation()) {
            return Ok((false, lps));
        }
    }
    Ok((true, lps))
}

/// The suppressed cells connected to `start` through relations (sorted);
/// marks them in `seen`.
fn component_of(
    cells: &CellSet,
    published: &[Option<f64>],
    start: usize,
    seen: &mut [bool],
) -> Vec<usize> {
    let mut out = vec![start];
    seen[start] = true;
    let mut next = 0;
    while next < out.len() {
        let cell = out[next];
        next += 1;
        let related = cells.memberships[cell]
            .iter()
            .flat_map(|&r| cells.relations[r].members());
        let nested = cells.nest_memberships[cell].iter().flat_map(|&k| {
            let (a, b) = cells.nested[k];
            [a, b]
        });
        for m in related.chain(nested) {
            if published[m].is_none() && !seen[m] {
                seen[m] = true;
                out.push(m);
            }
        }
    }
    out.sort_unstable();
    out
}
