//! The audit: the attacker's feasible interval of every suppressed cell, by
//! linear programming. Written independently of the suppression code (it is
//! the export gate and the engine of `koppel check`): it reads only the
//! published values, the additive relations and non-negativity.
//!
//! The LPs are kept small: the suppressed cells are split into components
//! (two suppressed cells are connected when they share a relation or are a
//! nested pair); each component is one LP whose variables are its suppressed
//! cells, whose constraints are the relations touching it and the nested
//! pairs (`sub <= sup`) touching it (published cells enter as constants) and
//! whose bounds are `x >= 0`. The formulation is written here;
//! solving it is left to the table-agnostic helper [`crate::lp`], which
//! presolves the LP exactly (substituting two-member relations, turning
//! one-member relations into bounds, dropping linearly dependent equations),
//! certifies targets from the points its LPs visit and computes the exact
//! minimum and maximum of every other target: a cell whose interval is
//! narrower than required is always reported with its exact interval.
//!
//! With rounded published values the relations only hold approximately: a
//! `slack` per published cell (the largest rounding error) turns each
//! equation into a band, which can only widen the intervals the attacker gets.

use crate::cells::CellSet;
use crate::lp::{ranges, LinearRow, LpError, Model, Options};

/// The feasible interval of one suppressed cell.
#[derive(Debug, Clone, PartialEq)]
pub struct CellInterval {
    /// Cell index in the [`CellSet`].
    pub cell: usize,
    /// Cell key.
    pub key: String,
    /// Smallest value consistent with everything published.
    pub lower: f64,
    /// Largest value (`inf` when unbounded).
    pub upper: f64,
    /// The width the rules require (0 for cells without a requirement).
    pub required: f64,
    /// `true`: the exact interval; `false`: an inner bound (values seen in
    /// LP solutions). The audit reports an inner bound only when it already
    /// meets the requirement; every violation it reports is exact.
    pub exact: bool,
}

impl CellInterval {
    /// `upper - lower`.
    pub fn width(&self) -> f64 {
        self.upper - self.lower
    }

    /// Whether the interval is narrower than required.
    pub fn is_violation(&self) -> bool {
        self.required > 0.0 && self.width() < self.required - 1e-6
    }
}

/// Result of an audit.
#[derive(Debug, Clone, Default)]
pub struct AuditReport {
    /// Interval of every audited suppressed cell, in cell order.
    pub intervals: Vec<CellInterval>,
    /// Number of LPs solved.
    pub lps_solved: usize,
}

impl AuditReport {
    /// The intervals narrower than required.
    pub fn violations(&self) -> Vec<&CellInterval> {
        self.intervals.iter().filter(|i| i.is_violation()).collect()
    }

    /// Whether no interval is narrower than required.
    pub fn is_clean(&self) -> bool {
        self.intervals.iter().all(|i| !i.is_violation())
    }
}

/// The audit could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The published values contradict the relations (no feasible values).
    #[error("published values contradict the additive relations around cell {key}")]
    Inconsistent {
        /// A cell of the contradictory component.
        key: String,
    },
    /// The LP solver failed.
    #[error("LP solver failed on cell {key}: {reason}")]
    Solver {
        /// The cell being bounded.
        key: String,
        /// The solver's message.
        reason: String,
    },
    /// Input lengths disagree.
    #[error("audit input has {got} entries for {cells} cells")]
    Shape {
        /// Cells in the set.
        cells: usize,
        /// Entries given.
        got: usize,
    },
}

/// Which suppressed cells get their interval computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every suppressed cell.
    All,
    /// Only cells with a positive requirement (primary cells).
    Required,
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Components of suppressed cells (each sorted), in order of their first cell.
pub fn components(cells: &CellSet, published: &[Option<f64>]) -> Vec<Vec<usize>> {
    let n = cells.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for relation in &cells.relations {
        let mut first: Option<usize> = None;
        for m in relation.members() {
            if published[m].is_none() {
                match first {
                    None => first = Some(m),
                    Some(f) => {
                        let (a, b) = (find(&mut parent, f), find(&mut parent, m));
                        if a != b {
                            parent[a.max(b)] = a.min(b);
                        }
                    }
                }
            }
        }
    }
    for &(a, b) in &cells.nested {
        if published[a].is_none() && published[b].is_none() {
            let (a, b) = (find(&mut parent, a), find(&mut parent, b));
            if a != b {
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, value) in published.iter().enumerate().take(n) {
        if value.is_none() {
            let root = find(&mut parent, i);
            groups.entry(root).or_default().push(i);
        }
    }
    groups.into_values().collect()
}

/// Computes the feasible interval of the suppressed cells of one component.
/// `targets` are the cells (members of `component`) to bound.
///
/// The component's LP has one variable per suppressed cell (bounds
/// `[0, inf)`) and one row per relation touching it, published members
/// entering as constants; with `slack > 0` a row with `k` published members
/// is the band `rhs ± k · slack`. [`crate::lp::ranges`] presolves and solves
/// it.
pub fn audit_component(
    cells: &CellSet,
    published: &[Option<f64>],
    required: &[f64],
    slack: f64,
    component: &[usize],
    targets: &[usize],
) -> Result<(Vec<CellInterval>, usize), AuditError> {
    component_intervals(
        cells, published, required, slack, component, targets, None, false,
    )
}

/// [`audit_component`], or with `greedy = Some(prove_limit)` for the
/// suppression code, which knows the values are consistent and may not need
/// every shortfall proven exactly ([`crate::lp::Options::prove_limit`]).
/// With `stop_at_shortfall`, the intervals end at the first one proven too
/// narrow ([`crate::lp::Options::stop_at_shortfall`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn component_intervals(
    cells: &CellSet,
    published: &[Option<f64>],
    required: &[f64],
    slack: f64,
    component: &[usize],
    targets: &[usize],
    greedy: Option<usize>,
    stop_at_shortfall: bool,
) -> Result<(Vec<CellInterval>, usize), AuditError> {
    let local = |cell: usize| component.binary_search(&cell).ok();
    let mut relation_ids: Vec<usize> = component
        .iter()
        .flat_map(|&c| cells.memberships[c].iter().copied())
        .collect();
    relation_ids.sort_unstable();
    relation_ids.dedup();
    let mut model = Model {
        lower: vec![0.0; component.len()],
        upper: vec![f64::INFINITY; component.len()],
        rows: Vec::with_capacity(relation_ids.len()),
    };
    for &r in &relation_ids {
        let relation = &cells.relations[r];
        let mut terms = Vec::new();
        let mut constant = 0.0;
        let mut known = 0usize;
        for (pos, m) in relation.members().enumerate() {
            let coef = relation.coefficient(pos);
            match published[m] {
                Some(v) => {
                    constant += coef * v;
                    known += 1;
                }
                None => {
                    let l = local(m)
                        .expect("suppressed member of a touching relation is in the component");
                    terms.push((l, coef));
                }
            }
        }
        let rhs = -constant;
        let band = slack * known as f64;
        model.rows.push(LinearRow {
            terms,
            lo: rhs - band,
            hi: rhs + band,
        });
    }
    // Nested cells: `sub - sup <= 0`, published members as constants.
    let mut nest_ids: Vec<usize> = component
        .iter()
        .flat_map(|&c| cells.nest_memberships[c].iter().copied())
        .collect();
    nest_ids.sort_unstable();
    nest_ids.dedup();
    for k in nest_ids {
        let (sub, sup) = cells.nested[k];
        let mut terms = Vec::new();
        let mut constant = 0.0;
        let mut known = 0usize;
        for (m, coef) in [(sub, 1.0), (sup, -1.0)] {
            match published[m] {
                Some(v) => {
                    constant += coef * v;
                    known += 1;
                }
                None => terms.push((
                    local(m).expect("suppressed nested cell is in the component"),
                    coef,
                )),
            }
        }
        model.rows.push(LinearRow {
            terms,
            lo: f64::NEG_INFINITY,
            hi: -constant + slack * known as f64,
        });
    }
    let locals: Vec<usize> = targets
        .iter()
        .map(|&t| local(t).expect("target in component"))
        .collect();
    let needs: Vec<f64> = targets.iter().map(|&t| required[t]).collect();
    // Seed LPs cap the variables; any cap is sound, one above every
    // possible value keeps the seeds feasible.
    let seed_cap = 1.0
        + published
            .iter()
            .flatten()
            .filter(|v| v.is_finite())
            .map(|v| v.abs())
            .sum::<f64>();
    let options = Options {
        seed_cap,
        prove_limit: greedy.unwrap_or(usize::MAX),
        check_consistency: greedy.is_none(),
        stop_at_shortfall,
        ..Options::default()
    };
    let outcome = ranges(&model, &locals, &needs, &options).map_err(|e| match e {
        LpError::Infeasible => AuditError::Inconsistent {
            key: cells.keys[component[0]].clone(),
        },
        LpError::Solver { target, reason } => AuditError::Solver {
            key: cells.keys[target.map_or(component[0], |t| targets[t])].clone(),
            reason,
        },
        LpError::Invalid(reason) => AuditError::Solver {
            key: cells.keys[component[0]].clone(),
            reason,
        },
    })?;
    let clean = |v: f64| {
        let r = v.round();
        if v.is_finite() && (v - r).abs() < 1e-6 {
            r
        } else {
            v
        }
    };
    let out = targets
        .iter()
        .zip(&outcome.ranges)
        .map(|(&target, range)| {
            let (lower, upper) = if range.exact {
                (clean(range.lower), clean(range.upper))
            } else {
                (range.lower, range.upper)
            };
            CellInterval {
                cell: target,
                key: cells.keys[target].clone(),
                lower: lower.max(0.0),
                upper,
                required: required[target],
                exact: range.exact,
            }
        })
        .collect();
    Ok((out, outcome.lps))
}

/// Audits a cell set: for each suppressed cell (`published[i] == None`) in
/// scope, its feasible interval given the published values, the relations,
/// non-negativity and a per-published-cell `slack` (the largest rounding
/// error, 0 for exact values).
pub fn audit(
    cells: &CellSet,
    published: &[Option<f64>],
    required: &[f64],
    slack: f64,
    scope: Scope,
) -> Result<AuditReport, AuditError> {
    if published.len() != cells.len() || required.len() != cells.len() {
        return Err(AuditError::Shape {
            cells: cells.len(),
            got: published.len().min(required.len()),
        });
    }
    audit_components(
        cells,
        published,
        required,
        slack,
        |c| scope == Scope::All || required[c] > 0.0,
        |_, _| None,
    )
}

/// The audit of every component of suppressed cells that holds a target
/// (a cell `in_scope`), sorted by cell. `known(component, targets)` may
/// answer a component without solving its LPs.
pub(crate) fn audit_components(
    cells: &CellSet,
    published: &[Option<f64>],
    required: &[f64],
    slack: f64,
    in_scope: impl Fn(usize) -> bool,
    known: impl Fn(&[usize], &[usize]) -> Option<Vec<CellInterval>>,
) -> Result<AuditReport, AuditError> {
    let mut report = AuditReport::default();
    for component in components(cells, published) {
        let targets: Vec<usize> = component.iter().copied().filter(|&c| in_scope(c)).collect();
        if targets.is_empty() {
            continue;
        }
        if let Some(intervals) = known(&component, &targets) {
            report.intervals.extend(intervals);
            continue;
        }
        let (intervals, lps) =
            audit_component(cells, published, required, slack, &component, &targets)?;
        report.intervals.extend(intervals);
        report.lps_solved += lps;
    }
    report.intervals.sort_by_key(|i| i.cell);
    Ok(report)
}
