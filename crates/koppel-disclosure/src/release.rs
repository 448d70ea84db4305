//! The release pass: after the greedy of [`crate::secondary`] has protected
//! every primary cell, each secondary cell is tried for publication on its
//! own, most expensive first (see [`cell_costs`]; on small cohorts in the
//! order of the suppression model, [`crate::capacity`]), and published when
//! every primary interval stays wide enough without it.
//!
//! Publishing a cell only adds knowledge, so every interval can only narrow:
//! a cell that failed its trial would fail again against the final (smaller)
//! suppressed set. One pass therefore leaves no secondary cell that could be
//! published on its own, whatever the order; the order decides which cells
//! win when two could be released but not both, and the costs make those the
//! margins and whole-cohort figures readers use most.
//!
//! **Few LPs for the same result.** Trying each cell with an LP audit of its
//! component costs one audit per secondary cell (hundreds of LPs each on the
//! demo table set, where the greedy leaves one component of ~1,400
//! suppressed cells). The pass gets exactly the one-by-one result with a few
//! dozen audits instead:
//!
//! 1. *Bound propagation* tries the remaining cells one by one in order,
//!    each cell it passes staying published for the next ones. It propagates
//!    bounds through the relations of the cell's component (every suppressed
//!    cell in `[0, inf)`, every relation `total = sum(parts)` and nesting
//!    `sub <= sup` tightening each member's bounds from the others', a few
//!    rounds). Propagated bounds enclose the exact intervals, so a primary
//!    found narrower than required proves that the cell fails: a rejection
//!    is exact. A pass is not a proof.
//! 2. *One LP audit* (the audit's own LPs: presolved, seeded, warm-started,
//!    see [`crate::lp`]) checks the cells it passed, published together. If
//!    every primary stays wide, each of them would have passed its own trial
//!    in order (its trial sees a subset of them published, so wider
//!    intervals): all are released and the pass ends.
//! 3. Otherwise a binary search over prefixes (in order) finds the longest
//!    prefix the audit accepts; it is released, and the cell after it is
//!    rejected exactly (it fails with the prefix published). The cells that
//!    propagation rejected before that cell were rejected with at most the
//!    prefix published, which stays; every cell after it is tried again from
//!    step 1.
//!
//! Each round costs about `log2(cells)` audits and ends with one rejection
//! that propagation missed; on the demo table set propagation misses few.
//! The measured figures are in the repository's BENCHMARKS.md
//! (`make bench-disclosure-loss`).

use crate::audit::{component_intervals, AuditError};
use crate::cells::{CellSet, Status};

/// What the release pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReleaseStats {
    /// Secondary cells published again.
    pub released: usize,
    /// Trials by bound propagation (step 1).
    pub propagation_trials: usize,
    /// Groups of cells checked by an LP audit (steps 2 and 3).
    pub audits: usize,
    /// LPs solved.
    pub lps_solved: usize,
    /// Suppressed cells in the components audited, summed over the audits:
    /// the measure of work the pass is allowed ([`AUDIT_WORK_BUDGET`]).
    pub audit_work: usize,
    /// Secondary cells left suppressed untried because the budget ran out
    /// (0: every cell was tried, so none can be published on its own).
    pub untried: usize,
}

/// The most audit work (see [`ReleaseStats::audit_work`]) one pass may do.
/// The table sets of the shipped pipelines need far less (about 110,000 on a
/// 310-leaver, three-municipality demo set, the most measured); a dense
/// four-way table of 11,880 cells with one component of ~1,900 suppressed
/// cells needs more than 15 minutes of audits. Past the budget the cells
/// not yet tried stay suppressed (safe, at a cost in information), and the
/// pass says how many. Counted in cells, not seconds, so that the result
/// stays deterministic.
pub const AUDIT_WORK_BUDGET: usize = 400_000;

/// The cost of suppressing each cell: what readers lose. Margins cost more
/// than inner cells, the more so the more relations they total (the
/// whole-cohort cells and the cohort total, shared by every table, cost the
/// most); within a tier, larger values cost more (value + 1, the usual choice
/// for frequency tables), so a zero is the cheapest cell to keep suppressed.
pub fn cell_costs(cells: &CellSet) -> Vec<f64> {
    let depth = cells.totals_per_cell();
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

/// Rounds of bound propagation before a trial goes to the LP audit.
const PROPAGATION_ROUNDS: usize = 8;

/// Publishes every secondary cell (`Status::Secondary` in `status`) that can
/// be published on its own with every cell with `required[i] > 0` keeping an
/// interval at least that wide, trying the cells in decreasing `cost`
/// (ties: lower index first). Deterministic; the result equals that of
/// trying the cells one at a time in that order (see the module docs).
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
    let published: Vec<Option<f64>> = (0..cells.len())
        .map(|i| (!status[i].is_suppressed()).then_some(cells.values[i]))
        .collect();
    let mut pass = Pass {
        cells,
        required,
        published,
        seen: vec![false; cells.len()],
        stats: ReleaseStats::default(),
    };
    pass.run(order)?;
    for (i, s) in status.iter_mut().enumerate() {
        if *s == Status::Secondary && pass.published[i].is_some() {
            *s = Status::Published;
        }
    }
    Ok(pass.stats)
}

/// The state of a release pass.
struct Pass<'a> {
    cells: &'a CellSet,
    required: &'a [f64],
    /// Published values (released cells included).
    published: Vec<Option<f64>>,
    /// Scratch marks for [`component_of`] (all false between uses).
    seen: Vec<bool>,
    stats: ReleaseStats,
}

impl Pass<'_> {
    /// Tries the cells of `order` one by one, in order, publishing those
    /// that pass; see the module docs for how this is done with few LPs.
    fn run(&mut self, mut order: Vec<usize>) -> Result<(), AuditError> {
        while !order.is_empty() {
            // Bound propagation decides each cell in turn, the cells it
            // passes staying published for the next ones.
            let mut passed: Vec<usize> = Vec::new();
            for &c in &order {
                self.stats.propagation_trials += 1;
                if self.propagation_passes(c) {
                    passed.push(c);
                } else {
                    self.published[c] = None;
                }
            }
            for &c in &passed {
                self.published[c] = None;
            }
            if passed.is_empty() {
                return Ok(());
            }
            // The LP audit confirms the longest prefix of those cells it can.
            if self.out_of_budget(&order, passed[0]) {
                return Ok(());
            }
            if self.publishes_safely(&passed)? {
                self.accept(&passed);
                return Ok(());
            }
            let (mut lo, mut hi) = (0, passed.len());
            while hi - lo > 1 {
                if self.out_of_budget(&order, passed[lo]) {
                    // The proven prefix stays released.
                    self.accept(&passed[..lo]);
                    return Ok(());
                }
                let mid = lo + (hi - lo) / 2;
                if self.publishes_safely(&passed[..mid])? {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            self.accept(&passed[..lo]);
            // `passed[lo]` fails with the prefix published: rejected. The
            // cells before it that propagation rejected were rejected with
            // at most the prefix published; the later ones are tried again.
            let failed = passed[lo];
            let at = order
                .iter()
                .position(|&c| c == failed)
                .unwrap_or(order.len());
            order.drain(..=at.min(order.len() - 1));
        }
        Ok(())
    }

    /// Whether the budget is spent; then records the cells of `order` from
    /// `first` on as untried (those before it are decided).
    fn out_of_budget(&mut self, order: &[usize], first: usize) -> bool {
        if self.stats.audit_work < AUDIT_WORK_BUDGET {
            return false;
        }
        let at = order.iter().position(|&c| c == first).unwrap_or(0);
        self.stats.untried = order.len() - at;
        true
    }

    /// Publishes `cells` for good.
    fn accept(&mut self, cells: &[usize]) {
        for &c in cells {
            self.published[c] = Some(self.cells.values[c]);
        }
        self.stats.released += cells.len();
    }

    /// Publishes `c` when bound propagation finds no primary narrowed below
    /// its requirement (not a proof that none is).
    fn propagation_passes(&mut self, c: usize) -> bool {
        let component = component_of(self.cells, &self.published, c, &mut self.seen);
        for &m in &component {
            self.seen[m] = false;
        }
        let rest: Vec<usize> = component.iter().copied().filter(|&m| m != c).collect();
        self.published[c] = Some(self.cells.values[c]);
        !propagation_rejects(self.cells, &self.published, self.required, &rest)
    }

    /// Whether every primary keeps its required width with `trial` (all
    /// suppressed now) published; leaves them suppressed.
    fn publishes_safely(&mut self, trial: &[usize]) -> Result<bool, AuditError> {
        let mut owner: std::collections::HashMap<usize, usize> = Default::default();
        let mut parts: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
        for &c in trial {
            if let Some(&k) = owner.get(&c) {
                parts[k].1.push(c);
                continue;
            }
            let component = component_of(self.cells, &self.published, c, &mut self.seen);
            for &m in &component {
                self.seen[m] = false;
            }
            let k = parts.len();
            for &m in &component {
                owner.insert(m, k);
            }
            parts.push((component, vec![c]));
        }
        for &c in trial {
            self.published[c] = Some(self.cells.values[c]);
        }
        self.stats.audits += 1;
        let mut safe = true;
        for (component, cells) in &parts {
            if !self.stays_wide(component, cells)? {
                safe = false;
                break;
            }
        }
        for &c in trial {
            self.published[c] = None;
        }
        Ok(safe)
    }

    /// Whether every primary of `component` (a component before `trial` was
    /// published) keeps its required width with `trial` published.
    fn stays_wide(&mut self, component: &[usize], trial: &[usize]) -> Result<bool, AuditError> {
        let mut trial = trial.to_vec();
        trial.sort_unstable();
        let rest: Vec<usize> = component
            .iter()
            .copied()
            .filter(|m| trial.binary_search(m).is_err())
            .collect();
        if rest.iter().all(|&m| self.required[m] <= 0.0) {
            return Ok(true);
        }
        let (lower, upper) = propagate(self.cells, &self.published, &rest);
        let width = |m: usize| {
            let l = rest.binary_search(&m).expect("a cell of the rest");
            upper[l] - lower[l]
        };
        if rest
            .iter()
            .any(|&m| self.required[m] > 0.0 && width(m) < self.required[m] - 1e-6)
        {
            return Ok(false);
        }
        self.stats.audit_work += rest.len();
        // The rest may have fallen apart into several components.
        let mut done = vec![false; rest.len()];
        for start in 0..rest.len() {
            if done[start] {
                continue;
            }
            let sub = component_of(self.cells, &self.published, rest[start], &mut self.seen);
            for &m in &sub {
                self.seen[m] = false;
                if let Ok(k) = rest.binary_search(&m) {
                    done[k] = true;
                }
            }
            // The narrowest by propagation first: the audit stops at the
            // first primary it proves too narrow.
            let mut targets: Vec<usize> = sub
                .iter()
                .copied()
                .filter(|&m| self.required[m] > 0.0)
                .collect();
            if targets.is_empty() {
                continue;
            }
            targets.sort_by(|&a, &b| width(a).total_cmp(&width(b)).then(a.cmp(&b)));
            let (intervals, lps) = component_intervals(
                self.cells,
                &self.published,
                self.required,
                0.0,
                &sub,
                &targets,
                Some(usize::MAX),
                true,
            )?;
            self.stats.lps_solved += lps;
            if intervals.iter().any(|i| i.is_violation()) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Whether the propagated bounds (see [`propagate`]) of a primary among
/// `rest` are narrower than required: a proof that the exact interval is.
fn propagation_rejects(
    cells: &CellSet,
    published: &[Option<f64>],
    required: &[f64],
    rest: &[usize],
) -> bool {
    let (lower, upper) = propagate(cells, published, rest);
    rest.iter()
        .enumerate()
        .any(|(l, &m)| required[m] > 0.0 && upper[l] - lower[l] < required[m] - 1e-6)
}

/// Bounds of the suppressed cells `rest` (one or more whole components, in
/// `rest` order) by propagation: each cell starts in `[0, inf)`; every
/// relation `total = sum(parts)` (published members as constants) and every
/// nesting `sub <= sup` tightens its members' bounds from the others', for
/// a few rounds. The bounds enclose every feasible value.
fn propagate(cells: &CellSet, published: &[Option<f64>], rest: &[usize]) -> (Vec<f64>, Vec<f64>) {
    // Gathers relations as the audit's LP does, on purpose written apart:
    // the suppression side shares no model building with the audit.
    let local = |m: usize| rest.binary_search(&m).ok();
    let mut lower = vec![0.0f64; rest.len()];
    let mut upper = vec![f64::INFINITY; rest.len()];
    let mut relation_ids: Vec<usize> = rest
        .iter()
        .flat_map(|&c| cells.memberships[c].iter().copied())
        .collect();
    relation_ids.sort_unstable();
    relation_ids.dedup();
    // Rows as (constant, [(local, coefficient)]) with constant + sum = 0.
    let rows: Vec<(f64, Vec<(usize, f64)>)> = relation_ids
        .iter()
        .map(|&r| {
            let relation = &cells.relations[r];
            let mut constant = 0.0;
            let mut terms = Vec::new();
            for (pos, m) in relation.members().enumerate() {
                let coef = relation.coefficient(pos);
                match (published[m], local(m)) {
                    (Some(v), _) => constant += coef * v,
                    (None, Some(l)) => terms.push((l, coef)),
                    // A suppressed member outside `rest` cannot share a
                    // relation with it (components are closed).
                    (None, None) => constant = f64::NAN,
                }
            }
            (constant, terms)
        })
        .filter(|(constant, _)| constant.is_finite())
        .collect();
    let mut nests: Vec<(usize, usize)> = rest
        .iter()
        .flat_map(|&c| cells.nest_memberships[c].iter().map(|&k| cells.nested[k]))
        .filter_map(|(sub, sup)| Some((local(sub)?, local(sup)?)))
        .collect();
    nests.sort_unstable();
    nests.dedup();
    for _ in 0..PROPAGATION_ROUNDS {
        let mut changed = false;
        for (constant, terms) in &rows {
            // sum(coef * x) = -constant: the others' range bounds each term.
            let (mut lo_sum, mut hi_sum) = (0.0f64, 0.0f64);
            for &(l, coef) in terms {
                let (a, b) = scaled(coef, lower[l], upper[l]);
                lo_sum += a;
                hi_sum += b;
            }
            for &(l, coef) in terms {
                let (a, b) = scaled(coef, lower[l], upper[l]);
                // coef * x_l = -constant - (sum of the others)
                let others_lo = if a.is_finite() {
                    lo_sum - a
                } else {
                    sum_without(terms, l, &lower, &upper, true)
                };
                let others_hi = if b.is_finite() {
                    hi_sum - b
                } else {
                    sum_without(terms, l, &lower, &upper, false)
                };
                let (t_lo, t_hi) = (-constant - others_hi, -constant - others_lo);
                let (x_lo, x_hi) = if coef > 0.0 {
                    (t_lo / coef, t_hi / coef)
                } else {
                    (t_hi / coef, t_lo / coef)
                };
                if x_lo > lower[l] + 1e-9 {
                    lower[l] = x_lo;
                    changed = true;
                }
                if x_hi < upper[l] - 1e-9 {
                    upper[l] = x_hi;
                    changed = true;
                }
            }
        }
        for &(sub, sup) in &nests {
            if upper[sup] < upper[sub] - 1e-9 {
                upper[sub] = upper[sup];
                changed = true;
            }
            if lower[sub] > lower[sup] + 1e-9 {
                lower[sup] = lower[sub];
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    (lower, upper)
}

/// `coef * [lo, hi]` as an ordered pair.
fn scaled(coef: f64, lo: f64, hi: f64) -> (f64, f64) {
    if coef >= 0.0 {
        (coef * lo, coef * hi)
    } else {
        (coef * hi, coef * lo)
    }
}

/// The lowest (`low`) or highest sum of the terms other than `skip`
/// (recomputed when `skip`'s own term is infinite).
fn sum_without(
    terms: &[(usize, f64)],
    skip: usize,
    lower: &[f64],
    upper: &[f64],
    low: bool,
) -> f64 {
    terms
        .iter()
        .filter(|&&(l, _)| l != skip)
        .map(|&(l, coef)| {
            let (a, b) = scaled(coef, lower[l], upper[l]);
            if low {
                a
            } else {
                b
            }
        })
        .sum()
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
