//! The audit: the attacker's feasible interval of every suppressed cell, by
//! linear programming. Written independently of the suppression code (it is
//! the export gate and the engine of `koppel check`): it reads only the
//! published values, the additive relations and non-negativity.
//!
//! The LPs are kept small: the suppressed cells are split into components
//! (two suppressed cells are connected when they share a relation); each
//! component is one LP whose variables are its suppressed cells, whose
//! constraints are the relations touching it (published cells enter as
//! constants) and whose bounds are `x >= 0`. For each cell the LP is solved
//! twice (minimise, maximise).
//!
//! With rounded published values the relations only hold approximately: a
//! `slack` per published cell (the largest rounding error) turns each
//! equation into a band, which can only widen the intervals the attacker gets.

use microlp::{ComparisonOp, OptimizationDirection, Problem};

use crate::cells::CellSet;

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
    /// `true`: the exact interval (two LPs); `false`: an inner bound from
    /// other LP solutions that already meets the requirement.
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

/// One linear constraint of a component LP: `lo <= sum(coef * var) <= hi`.
struct Row {
    terms: Vec<(usize, f64)>,
    lo: f64,
    hi: f64,
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Components with at least this many targets get seed LPs first.
const SEED_MIN_TARGETS: usize = 4;

/// Adds the rows as constraints. A band `lo <= sum <= hi` becomes one
/// equation `sum - s = 0` with a bounded variable `s` in `[lo, hi]`: the
/// simplex handles bounds natively, whereas a pair of inequalities doubles
/// the rows and made the rounded-package audit several times slower.
fn add_rows(problem: &mut Problem, vars: &[microlp::Variable], rows: &[Row]) {
    for row in rows {
        let mut expr: Vec<_> = row.terms.iter().map(|&(l, c)| (vars[l], c)).collect();
        if row.lo == row.hi {
            problem.add_constraint(expr.as_slice(), ComparisonOp::Eq, row.lo);
        } else {
            let band = problem.add_var(0.0, (row.lo, row.hi));
            expr.push((band, -1.0));
            problem.add_constraint(expr.as_slice(), ComparisonOp::Eq, 0.0);
        }
    }
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
pub fn audit_component(
    cells: &CellSet,
    published: &[Option<f64>],
    required: &[f64],
    slack: f64,
    component: &[usize],
    targets: &[usize],
) -> Result<(Vec<CellInterval>, usize), AuditError> {
    let local = |cell: usize| component.binary_search(&cell).ok();
    let mut relation_ids: Vec<usize> = component
        .iter()
        .flat_map(|&c| cells.memberships[c].iter().copied())
        .collect();
    relation_ids.sort_unstable();
    relation_ids.dedup();
    let mut rows = Vec::with_capacity(relation_ids.len());
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
        rows.push(Row {
            terms,
            lo: rhs - band,
            hi: rhs + band,
        });
    }
    let mut out = Vec::with_capacity(targets.len());
    let mut lps = 0;
    // Every LP solution is a feasible point: its values bound every cell's
    // interval from inside. A cell whose seen range already meets its
    // requirement needs no LP of its own (its interval is at least that).
    let mut seen = vec![(f64::INFINITY, f64::NEG_INFINITY); component.len()];
    // Seed points: a few LPs whose objectives move many targets at once
    // (all up, all down, alternate halves) usually certify most targets'
    // requirements, so only the rest need their own pair of LPs. Variables
    // are capped here (at the sum of every known value, plus one) so the
    // seeds are bounded; a capped solution is still feasible without the
    // cap, so the inner bounds stay sound.
    let needing = targets.iter().filter(|&&t| required[t] > 0.0).count();
    if needing >= SEED_MIN_TARGETS {
        let cap = 1.0
            + published
                .iter()
                .flatten()
                .filter(|v| v.is_finite())
                .map(|v| v.abs())
                .sum::<f64>();
        let signs: [fn(usize) -> f64; 4] = [
            |_| 1.0,
            |_| -1.0,
            |i| if i % 2 == 0 { 1.0 } else { -1.0 },
            |i| if i % 2 == 0 { -1.0 } else { 1.0 },
        ];
        for sign in signs {
            let mut objective = vec![0.0; component.len()];
            for (i, &target) in targets.iter().enumerate() {
                if required[target] > 0.0 {
                    objective[local(target).expect("target in component")] = sign(i);
                }
            }
            let mut problem = Problem::new(OptimizationDirection::Maximize);
            let vars: Vec<_> = objective
                .iter()
                .map(|&c| problem.add_var(c, (0.0, cap)))
                .collect();
            add_rows(&mut problem, &vars, &rows);
            lps += 1;
            if let Ok(solution) = problem.solve().and_then(|o| {
                o.into_solution()
                    .map_err(|_| microlp::Error::InternalError("interrupted".into()))
            }) {
                for (l, v) in vars.iter().enumerate() {
                    let x = solution.var_value(*v);
                    seen[l].0 = seen[l].0.min(x);
                    seen[l].1 = seen[l].1.max(x);
                }
            }
        }
    }
    for &target in targets {
        let t = local(target).expect("target in component");
        let key = &cells.keys[target];
        let mut bounds = [0.0f64; 2];
        // A target whose seen range (points from earlier LPs) already meets
        // its requirement needs no LP of its own. Maximise first: the seeds
        // usually found a low value, so one LP often certifies the target.
        let mut certified = false;
        for (k, direction) in [
            OptimizationDirection::Maximize,
            OptimizationDirection::Minimize,
        ]
        .into_iter()
        .enumerate()
        {
            if required[target] > 0.0 && seen[t].1 - seen[t].0 >= required[target] {
                certified = true;
                break;
            }
            let mut problem = Problem::new(direction);
            let vars: Vec<_> = (0..component.len())
                .map(|i| problem.add_var(if i == t { 1.0 } else { 0.0 }, (0.0, f64::INFINITY)))
                .collect();
            add_rows(&mut problem, &vars, &rows);
            lps += 1;
            bounds[k] = match problem.solve() {
                Ok(outcome) => match outcome.into_solution() {
                    Ok(solution) => {
                        for (l, v) in vars.iter().enumerate() {
                            let x = solution.var_value(*v);
                            seen[l].0 = seen[l].0.min(x);
                            seen[l].1 = seen[l].1.max(x);
                        }
                        solution.var_value(vars[t])
                    }
                    Err(_) => {
                        return Err(AuditError::Solver {
                            key: key.clone(),
                            reason: "interrupted".into(),
                        })
                    }
                },
                Err(microlp::Error::Unbounded) => f64::INFINITY,
                Err(microlp::Error::Infeasible) => {
                    return Err(AuditError::Inconsistent { key: key.clone() })
                }
                Err(e) => {
                    return Err(AuditError::Solver {
                        key: key.clone(),
                        reason: e.to_string(),
                    })
                }
            };
        }
        if certified {
            out.push(CellInterval {
                cell: target,
                key: key.clone(),
                lower: seen[t].0.max(0.0),
                upper: seen[t].1,
                required: required[target],
                exact: false,
            });
            continue;
        }
        let clean = |v: f64| {
            if v.is_finite() {
                let r = v.round();
                if (v - r).abs() < 1e-6 {
                    r
                } else {
                    v
                }
            } else {
                v
            }
        };
        out.push(CellInterval {
            cell: target,
            key: key.clone(),
            lower: clean(bounds[1]).max(0.0),
            upper: clean(bounds[0]),
            required: required[target],
            exact: true,
        });
    }
    Ok((out, lps))
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
    let mut report = AuditReport::default();
    for component in components(cells, published) {
        let targets: Vec<usize> = component
            .iter()
            .copied()
            .filter(|&c| scope == Scope::All || required[c] > 0.0)
            .collect();
        if targets.is_empty() {
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
