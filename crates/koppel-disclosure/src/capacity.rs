//! The optimal secondary-suppression model (after Fischetti and Salazar's,
//! the one behind tau-Argus's optimal method), solved with capacity cuts,
//! as the guide of the release pass ([`crate::release`]) on small cohorts:
//! the pass tries first the cells a cheapest protection would publish.
//! Safety never depends on this module: the release pass audits every
//! release, so a weak or wrong order costs information, not protection.
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
//! **From the model to a pattern** ([`release_with_model`]). The
//! relaxation is fractional, so the model never decides a cell's status: it
//! orders the release pass. First the relaxation's order; then an integer
//! master (the same cuts over 0/1 variables, branch and bound within a node
//! budget, started from the pattern the first pass gave, which meets every
//! valid cut) for a few rounds of separation, and the release pass again in
//! the order of its solution; the cheaper of the two patterns is kept. The
//! integer master alone was not enough: without a safe starting pattern it
//! found good patterns on some table sets and none within its node budget
//! on others. `protect` uses the model only where it pays off
//! ([`pays_off`]). Measured figures (the demo table set at four cohort
//! sizes, the relaxation's lower bound) are in the repository's
//! BENCHMARKS.md.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use microlp::{ComparisonOp, OptimizationDirection, Problem};

use crate::audit::AuditError;
use crate::cells::{CellSet, Status};
use crate::release::{cell_costs, release_pass, ReleaseStats};

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
    /// Integer master solves ([`release_with_model`]).
    pub integer_rounds: usize,
    /// Whether the integer master's pattern was kept.
    pub integer_improved: bool,
    /// Why the model stopped, when an LP of it failed (the release pass then
    /// went on in the plain order, or kept the relaxation's pattern).
    pub failed: Option<String>,
}

const EPS: f64 = 1e-7;

/// One capacity cut: `sum coef * x >= rhs` over cell indices.
#[derive(Debug, Clone)]
pub struct Cut {
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
    let depth = cells.totals_per_cell();
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
    let (x, stats, _) = relaxation(cells, required, &model_costs(cells))?;
    Ok((order_from(cells, &x, base), stats))
}

/// The release-pass costs of [`release_order`] for a (fractional or 0/1)
/// suppression `x`.
fn order_from(cells: &CellSet, x: &[f64], base: &[f64]) -> Vec<f64> {
    let scale = 2.0 * (base.iter().copied().fold(0.0f64, f64::max) + 1.0);
    let depth = cells.totals_per_cell();
    x.iter()
        .zip(base)
        .zip(&depth)
        .map(|((&x, &b), &d)| {
            let first = if d >= FIRST_DEPTH { 2.0 * scale } else { 0.0 };
            first + (1.0 - x) * scale + b
        })
        .collect()
}

/// Most rounds of the integer master in [`release_with_model`].
pub const INTEGER_ROUNDS: usize = 15;

/// Branch-and-bound nodes per integer master solve (a node count, not a
/// time, so that the result is deterministic).
pub const NODE_LIMIT: u64 = 200;

/// The release pass guided by the suppression model, for a pattern where
/// the greedy left most cells suppressed ([`pays_off`]):
///
/// 1. the LP relaxation with capacity cuts; the release pass in its order
///    ([`release_order`]) gives a safe pattern;
/// 2. an integer master (the same cuts, 0/1 variables, branch and bound
///    within [`NODE_LIMIT`] nodes, started from that safe pattern, which
///    meets every valid cut) and separation of its solution, for up to
///    [`INTEGER_ROUNDS`] rounds or until it yields no new cut;
/// 3. the release pass again from the greedy's pattern, trying the cells the
///    integer solution publishes first. The pattern of lower model cost is
///    kept (the first on a tie).
///
/// Both patterns come out of the release pass, so either is audited safe
/// and leaves no secondary cell publishable on its own. When an LP of the
/// model fails (e.g. a master made infeasible by a cut that assumed every
/// cell at most the largest one, which holds while the cohort total is
/// published), the pass goes on without it ([`CutStats::failed`]). Returns
/// the kept pass's figures and the model's.
pub fn release_with_model(
    cells: &CellSet,
    status: &mut [Status],
    required: &[f64],
) -> Result<(ReleaseStats, CutStats), AuditError> {
    let base = cell_costs(cells);
    let model = model_costs(cells);
    let greedy = status.to_vec();
    let (x, mut stats, mut cuts) = match relaxation(cells, required, &model) {
        Ok(relaxed) => relaxed,
        Err(e) => {
            // The model only orders the pass: without it, the plain order.
            let released = release_pass(cells, status, required, &base)?;
            let stats = CutStats {
                failed: Some(e.to_string()),
                ..CutStats::default()
            };
            return Ok((released, stats));
        }
    };
    let mut released = release_pass(cells, status, required, &order_from(cells, &x, &base))?;
    let cost_of = |status: &[Status]| -> f64 {
        status
            .iter()
            .zip(&model)
            .filter(|(s, _)| s.is_suppressed())
            .map(|(_, c)| c)
            .sum()
    };
    let safe: Vec<f64> = status
        .iter()
        .map(|s| if s.is_suppressed() { 1.0 } else { 0.0 })
        .collect();
    let integer = integer_master(cells, required, &model, &mut cuts, &safe, &mut stats)
        .unwrap_or_else(|e| {
            stats.failed = Some(e.to_string());
            None
        });
    if let Some(pattern) = integer {
        let mut second = greedy;
        let second_released = release_pass(
            cells,
            &mut second,
            required,
            &order_from(cells, &pattern, &base),
        )?;
        if cost_of(&second) < cost_of(status) - 1e-9 {
            status.copy_from_slice(&second);
            released = second_released;
            stats.integer_improved = true;
        }
    }
    Ok((released, stats))
}

/// Rounds of the integer master from the safe pattern `safe` (see
/// [`release_with_model`]): the last integer solution, or `None` when it is
/// no cheaper than `safe` (a second release pass would then cost as much as
/// the first, for nothing the model expects).
fn integer_master(
    cells: &CellSet,
    required: &[f64],
    cost: &[f64],
    cuts: &mut Vec<Cut>,
    safe: &[f64],
    stats: &mut CutStats,
) -> Result<Option<Vec<f64>>, microlp::Error> {
    let n = cells.len();
    let big = cells.values.iter().copied().fold(0.0f64, f64::max);
    let primaries: Vec<usize> = (0..n).filter(|&i| required[i] > 0.0).collect();
    let mut x = safe.to_vec();
    for _ in 0..INTEGER_ROUNDS {
        if stats.work > SEPARATION_BUDGET {
            stats.stopped_early = true;
            break;
        }
        let mut problem = Problem::new(OptimizationDirection::Minimize);
        let vars: Vec<_> = (0..n)
            .map(|i| problem.add_integer_var(cost[i], (i32::from(required[i] > 0.0), 1)))
            .collect();
        for cut in cuts.iter() {
            let expr: Vec<_> = cut.terms.iter().map(|&(i, c)| (vars[i], c)).collect();
            problem.add_constraint(expr.as_slice(), ComparisonOp::Ge, cut.rhs);
        }
        let mut options = microlp::SolveOptions::default();
        options.node_limit = Some(NODE_LIMIT);
        options.warm_start = Some(vars.iter().zip(safe).map(|(&v, &s)| (v, s)).collect());
        let Ok(solution) = problem.solve_with(options)?.into_solution() else {
            break;
        };
        stats.integer_rounds += 1;
        for (xi, &v) in x.iter_mut().zip(&vars) {
            *xi = solution.var_value(v).round().clamp(0.0, 1.0);
        }
        let mut added = 0;
        for &p in &primaries {
            let need = required[p] - cells.values[p];
            if need <= EPS {
                continue;
            }
            stats.separations += 1;
            if let (Some(cut), _) = separate(cells, &x, big, p, need, &mut stats.work)? {
                cuts.push(cut);
                added += 1;
            }
        }
        stats.cuts += added;
        if added == 0 {
            break;
        }
    }
    // Only a cheaper integer pattern is worth a second release pass.
    let cost_of = |x: &[f64]| x.iter().zip(cost).map(|(x, c)| x * c).sum::<f64>();
    Ok((cost_of(&x) < cost_of(safe) - 1e-9).then_some(x))
}

/// The fractional suppression `x` of the LP relaxation under `cost`, what
/// it took, and its cuts. `required[i] > 0` marks a primary cell and its width.
pub fn relaxation(
    cells: &CellSet,
    required: &[f64],
    cost: &[f64],
) -> Result<(Vec<f64>, CutStats, Vec<Cut>), microlp::Error> {
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
    Ok((x, stats, cuts))
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
