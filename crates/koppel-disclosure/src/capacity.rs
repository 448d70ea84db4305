//! The release order from the LP relaxation of the optimal
//! secondary-suppression model, solved with capacity cuts (after Fischetti
//! and Salazar's model, the one behind tau-Argus's optimal method): which
//! cells a cheapest protection would suppress, as fractions. The release
//! pass ([`crate::release`]) then tries the cells the relaxation leaves
//! published first. Safety never depends on this module: the release pass
//! audits every release, so a weak or wrong order costs information, not
//! protection.
//!
//! **The model.** A variable `x[i]` in `[0, 1]` per cell: 1 suppressed, 0
//! published (primary cells fixed at 1). Minimise `sum cost[i] * x[i]`, with
//! `cost` counting cells ([`model_costs`]: one per non-zero inner cell,
//! margins dearer by how many relations they total, zeros nearly free). A
//! suppressed cell `i` may move within `[-value[i], M - value[i]]` of its
//! true value (non-negativity, and `M`, the largest cell, which bounds every
//! count of a cohort); the relaxation scales that range by `x[i]`.
//!
//! **The cuts.** A primary cell `p` can move down by at most `value[p]`, so a
//! width of `w` needs an upward room of at least `w - value[p]`. The upward
//! room is `max d[p]` subject to `A d = 0` (every relation), `d[sub] -
//! d[sup] <= value[sup] - value[sub]` (every nesting) and the ranges above.
//! By LP duality, for any multipliers `g` (relations, free) and `m`
//! (nestings, `>= 0`), with `s = e_p - A'g - N'm`:
//!
//! `room <= sum_i x[i] * (max(0, s[i]) * (M - value[i]) + max(0, -s[i]) * value[i]) + sum_n m[n] * (value[sup] - value[sub])`
//!
//! for every `x`, so "right side `>= w - value[p]`" holds for every safe
//! pattern: a valid cut. Separation solves that dual for the current `x`
//! over the relations within [`RADIUS`] steps of `p` (multipliers elsewhere
//! 0: still valid, and small LPs) and adds the cut when the bound falls
//! short. Coefficients above the right-hand side are lowered to it (valid
//! for 0/1 patterns). Where the room has to come from a cell's decrease its
//! coefficient is its value, so zeros are poor complements in the model
//! itself. The master LP is solved again with every cut until no primary
//! yields a new cut, or [`SEPARATION_BUDGET`] is spent.
//!
//! `protect` uses this order only where it pays off ([`pays_off`]).
//!
//! **Why an order and not the LP's rounding.** The relaxation is
//! fractional, and an integer master (branch and bound over the cuts) found
//! good patterns on some table sets and none within its node budget on
//! others. Releasing in the relaxation's order and letting the release pass
//! decide is robust and never worse protected. Measured figures (the demo
//! table set at four cohort sizes, a lower bound from the relaxation) are in
//! the repository's BENCHMARKS.md.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use microlp::{ComparisonOp, OptimizationDirection, Problem};

use crate::cells::{CellSet, Status};

/// Relations within this many steps of a primary cell (through suppressed
/// cells) enter its separation LP. Three steps gave the same orders on the
/// demo sets (one cell more or less at 483 and 3,079 leavers) at five to
/// ten times the separation work.
pub const RADIUS: usize = 2;

/// Most master LP solves.
pub const MAX_ROUNDS: usize = 60;

/// Most separation work: local cells summed over the separation LPs
/// (counted, not timed, so that the order is deterministic). The demo table
/// sets need at most a fifth of it (0.36 million at 483 leavers, about 1
/// s); the national outflow cohort's set 1.1 million. Past it the cut loop
/// stops with the cuts it has: the order is weaker, protection unchanged.
pub const SEPARATION_BUDGET: usize = 2_000_000;

/// What the cut loop did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CutStats {
    /// Master LP solves.
    pub rounds: usize,
    /// Cuts added.
    pub cuts: usize,
    /// Separation LPs solved.
    pub separations: usize,
    /// Separation work done (see [`SEPARATION_BUDGET`]).
    pub work: usize,
    /// Whether the loop stopped at the budget or the round limit before
    /// every primary was satisfied.
    pub stopped_early: bool,
    /// Objective of the last master LP: a lower bound on the model cost of
    /// any safe pattern.
    pub bound: f64,
}

const EPS: f64 = 1e-7;

/// One capacity cut: `sum coef * x >= rhs`.
struct Cut {
    terms: Vec<(usize, f64)>,
    rhs: f64,
}

/// Whether the relaxation's order is worth its LPs: when the greedy left
/// more than half of the non-primary cells suppressed (small cohorts, where
/// the release pass makes most of the decisions). Where the greedy's pattern
/// is sparse, the release stays close to it and the order gains little: on
/// the national outflow cohort (4,993 cells, 23% left suppressed) the
/// relaxation costs 7 s, more than the rest of `protect` there.
pub fn pays_off(status: &[Status]) -> bool {
    let open = status.iter().filter(|s| **s != Status::Primary).count();
    let suppressed = status.iter().filter(|s| **s == Status::Secondary).count();
    2 * suppressed > open
}

/// The model's cost of suppressing each cell: one per non-zero cell, times
/// `(1 + relations it totals)^2` (the tiers of
/// [`crate::release::cell_costs`], so margins, group sizes and whole-cohort
/// cells stay expensive); a zero costs a tenth of its tier.
pub fn model_costs(cells: &CellSet) -> Vec<f64> {
    let mut depth = vec![0usize; cells.len()];
    for relation in &cells.relations {
        depth[relation.total] += 1;
    }
    cells
        .values
        .iter()
        .zip(&depth)
        .map(|(&v, &d)| {
            let tier = ((1 + d) * (1 + d)) as f64;
            if v > 0.0 {
                tier
            } else {
                0.1 * tier
            }
        })
        .collect()
}

/// Cells that total at least this many relations (a group's persons total,
/// shared by the state rows of several horizons; the whole-cohort cells;
/// two-way margins) are tried first, in `base` order.
pub const FIRST_DEPTH: usize = 2;

/// Release-pass costs (higher: tried first): cells that total at least
/// [`FIRST_DEPTH`] relations first (by `base`, the pass's own costs); then
/// the cells the relaxation leaves published (`x = 0`), then by increasing
/// `x`; ties by `base`.
///
/// The group sizes go first because they are the denominators of every
/// share the package and the report show: in the relaxation's own order the
/// demo set at 147 and 483 leavers published 11 and 12 more cells but lost 5
/// and 8 readable shares (a suppressed group size hides the share of every
/// published cell of its rows); tried first, they cost 1 and 4 shares.
pub fn release_order(
    cells: &CellSet,
    required: &[f64],
    base: &[f64],
) -> Result<(Vec<f64>, CutStats), microlp::Error> {
    let (x, stats) = relaxation(cells, required, &model_costs(cells))?;
    let scale = 2.0 * (base.iter().copied().fold(0.0f64, f64::max) + 1.0);
    let mut depth = vec![0usize; cells.len()];
    for relation in &cells.relations {
        depth[relation.total] += 1;
    }
    let order = x
        .iter()
        .zip(base)
        .zip(&depth)
        .map(|((&x, &b), &d)| {
            let first = if d >= FIRST_DEPTH { 2.0 * scale } else { 0.0 };
            first + (1.0 - x) * scale + b
        })
        .collect();
    Ok((order, stats))
}

/// The fractional suppression `x` of the LP relaxation under `cost`, and
/// what it took. `required[i] > 0` marks a primary cell and its width.
pub fn relaxation(
    cells: &CellSet,
    required: &[f64],
    cost: &[f64],
) -> Result<(Vec<f64>, CutStats), microlp::Error> {
    let n = cells.len();
    let big = cells.values.iter().copied().fold(0.0f64, f64::max);
    let primaries: Vec<usize> = (0..n).filter(|&i| required[i] > 0.0).collect();
    let mut stats = CutStats::default();
    let mut cuts: Vec<Cut> = Vec::new();
    let mut x: Vec<f64> = (0..n)
        .map(|i| if required[i] > 0.0 { 1.0 } else { 0.0 })
        .collect();
    // The cells each primary's last separation read, and which cells the
    // last master solve moved: a primary none of whose cells moved would
    // give the same LP and no cut again, so it is skipped (exactly).
    let mut read: Vec<Option<Vec<usize>>> = vec![None; primaries.len()];
    let mut moved = vec![true; n];
    loop {
        let mut added = 0;
        for (k, &p) in primaries.iter().enumerate() {
            let need = required[p] - cells.values[p];
            if need <= EPS {
                continue;
            }
            if read[k]
                .as_ref()
                .is_some_and(|cells_read| cells_read.iter().all(|&i| !moved[i]))
            {
                continue;
            }
            if stats.work > SEPARATION_BUDGET {
                stats.stopped_early = true;
                break;
            }
            stats.separations += 1;
            let (cut, cells_read) = separate(cells, &x, big, p, need, &mut stats.work)?;
            read[k] = Some(cells_read);
            if let Some(cut) = cut {
                cuts.push(cut);
                added += 1;
            }
        }
        stats.cuts += added;
        if added == 0 || stats.stopped_early {
            break;
        }
        if stats.rounds >= MAX_ROUNDS {
            stats.stopped_early = true;
            break;
        }
        // The master LP, rebuilt with every cut so far.
        let mut problem = Problem::new(OptimizationDirection::Minimize);
        let vars: Vec<_> = (0..n)
            .map(|i| {
                let lo = if required[i] > 0.0 { 1.0 } else { 0.0 };
                problem.add_var(cost[i], (lo, 1.0))
            })
            .collect();
        for cut in &cuts {
            let expr: Vec<_> = cut.terms.iter().map(|&(i, c)| (vars[i], c)).collect();
            problem.add_constraint(expr.as_slice(), ComparisonOp::Ge, cut.rhs);
        }
        let solution = problem
            .solve()?
            .into_solution()
            .map_err(|_| microlp::Error::InternalError("the master LP was interrupted".into()))?;
        stats.rounds += 1;
        stats.bound = solution.objective();
        for ((xi, &v), m) in x.iter_mut().zip(&vars).zip(moved.iter_mut()) {
            let next = solution.var_value(v).clamp(0.0, 1.0);
            *m = (next - *xi).abs() > EPS;
            *xi = next;
        }
    }
    Ok((x, stats))
}

/// The capacity cut of primary `p` under `x` when its upward room, bounded
/// through the relations within `radius` steps, is below `need`.
fn separate(
    cells: &CellSet,
    x: &[f64],
    big: f64,
    p: usize,
    need: f64,
    work: &mut usize,
) -> Result<(Option<Cut>, Vec<usize>), microlp::Error> {
    // Relations and nestings within `radius` steps of p through cells the
    // current x suppresses (at least partly).
    let mut relations = BTreeSet::new();
    let mut nests = BTreeSet::new();
    let mut seen = BTreeSet::from([p]);
    let mut queue = VecDeque::from([(p, 0usize)]);
    while let Some((c, depth)) = queue.pop_front() {
        if depth >= RADIUS {
            continue;
        }
        let mut reached = Vec::new();
        for &r in &cells.memberships[c] {
            if relations.insert(r) {
                reached.extend(cells.relations[r].members());
            }
        }
        for &k in &cells.nest_memberships[c] {
            if nests.insert(k) {
                let (a, b) = cells.nested[k];
                reached.extend([a, b]);
            }
        }
        for m in reached {
            if x[m] > EPS && seen.insert(m) {
                queue.push_back((m, depth + 1));
            }
        }
    }
    if relations.is_empty() && nests.is_empty() {
        return Ok((None, vec![p]));
    }
    // Cells of the local relations, with their multiplier terms.
    let relations: Vec<usize> = relations.into_iter().collect();
    let nests: Vec<usize> = nests.into_iter().collect();
    let mut local: BTreeMap<usize, Vec<(usize, f64)>> = BTreeMap::new();
    for (k, &r) in relations.iter().enumerate() {
        for (pos, m) in cells.relations[r].members().enumerate() {
            local
                .entry(m)
                .or_default()
                .push((k, cells.relations[r].coefficient(pos)));
        }
    }
    for (k, &nk) in nests.iter().enumerate() {
        let (sub, sup) = cells.nested[nk];
        local
            .entry(sub)
            .or_default()
            .push((relations.len() + k, 1.0));
        local
            .entry(sup)
            .or_default()
            .push((relations.len() + k, -1.0));
    }
    *work += local.len();
    let cells_read: Vec<usize> = local.keys().copied().collect();
    let mut problem = Problem::new(OptimizationDirection::Minimize);
    let mut mult = Vec::with_capacity(relations.len() + nests.len());
    for _ in &relations {
        mult.push(problem.add_var(0.0, (f64::NEG_INFINITY, f64::INFINITY)));
    }
    for &nk in &nests {
        let (sub, sup) = cells.nested[nk];
        let slack = (cells.values[sup] - cells.values[sub]).max(0.0);
        mult.push(problem.add_var(slack, (0.0, f64::INFINITY)));
    }
    for (&i, terms) in &local {
        if x[i] <= EPS {
            continue; // published: its row is free
        }
        let v = cells.values[i];
        let up = problem.add_var((big - v).max(0.0) * x[i], (0.0, f64::INFINITY));
        let down = problem.add_var(v.max(0.0) * x[i], (0.0, f64::INFINITY));
        let mut expr: Vec<_> = terms.iter().map(|&(k, c)| (mult[k], c)).collect();
        expr.push((up, 1.0));
        expr.push((down, -1.0));
        let rhs = if i == p { 1.0 } else { 0.0 };
        problem.add_constraint(expr.as_slice(), ComparisonOp::Eq, rhs);
    }
    let solution = problem
        .solve()?
        .into_solution()
        .map_err(|_| microlp::Error::InternalError("a separation LP was interrupted".into()))?;
    let values: Vec<f64> = mult.iter().map(|&v| solution.var_value(v)).collect();
    // The cut, from the multipliers alone (valid for every x).
    let mut constant = 0.0;
    for (k, &nk) in nests.iter().enumerate() {
        let (sub, sup) = cells.nested[nk];
        constant += values[relations.len() + k] * (cells.values[sup] - cells.values[sub]).max(0.0);
    }
    let rhs = need - constant;
    if rhs <= EPS {
        return Ok((None, cells_read));
    }
    // Coefficients above the right-hand side are lowered to it (valid for
    // 0/1 x, and a tighter relaxation).
    let mut terms = Vec::new();
    let mut at_x = 0.0;
    for (&i, t) in &local {
        let s = if i == p { 1.0 } else { 0.0 } - t.iter().map(|&(k, c)| values[k] * c).sum::<f64>();
        let v = cells.values[i].max(0.0);
        let coef = (s.max(0.0) * (big - v).max(0.0) + (-s).max(0.0) * v).min(rhs);
        if coef > EPS {
            terms.push((i, coef));
            at_x += coef * x[i];
        }
    }
    if at_x >= rhs - 1e-6 {
        return Ok((None, cells_read));
    }
    Ok((Some(Cut { terms, rhs }), cells_read))
}
