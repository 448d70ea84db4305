//! A generic helper for interval LPs: the smallest and largest value of some
//! variables over `{x : lower <= x <= upper, lo_r <= a_r · x <= hi_r}`. It
//! knows nothing about tables; the audit formulates its LPs with it.
//!
//! **Presolve.** Before any LP is solved the model is reduced by exact
//! transformations (each keeps the feasible set, projected on the original
//! variables, unchanged up to round-off), repeated until none applies:
//!
//! * a row with no variable left is a consistency check and is dropped;
//! * a row with one variable becomes a bound on it (a band `lo <= a x <= hi`
//!   as well as an equation); a variable whose bounds meet is fixed and
//!   substituted as a constant everywhere;
//! * an equation with two variables `a p + b q = k` eliminates one of them
//!   (the larger coefficient, so the substitution's scale is at most 1 in
//!   absolute value): `q = (k - a p) / b` is substituted everywhere and `q`'s
//!   bounds become bounds on `p`.
//!
//! Substitutions compose (`x = s · root + c`), so chains and cycles of
//! two-member relations collapse to one variable, and linearly dependent
//! equations among them vanish as empty rows. In a suppression pattern most
//! relations have exactly two suppressed members (that is what a complement
//! is), so the LPs left are a fraction of the original ones.
//!
//! Then equations that are linear combinations of others are dropped, by an
//! exact sparse elimination in integer arithmetic (an equation is dropped
//! only when it provably reduces to `0 = 0`, and its right-hand side must
//! reduce to 0 too, else the model is infeasible; equations with
//! non-integer coefficients or whose reduction overflows are kept). Table
//! relations are heavily dependent (every margin is reachable along several
//! dimensions), and redundant equations make the simplex degenerate: on the
//! 8×9×10×11 benchmark the largest LP goes from 1,847 variables and 2,105
//! equations to 1,377 variables and 1,157 equations. What remains is split
//! into independent components, one LP each.
//!
//! **Fewer LPs.** Every LP solution is a feasible point, so the range of
//! values seen over all solutions of a component is an inner bound of every
//! variable's interval: a target whose seen range already meets its required
//! width needs no LP of its own. Components with many targets first get a
//! few *seed* LPs that move all targets at once (all up, all down, alternate
//! halves), with variables capped so that they are bounded; a capped solution
//! is still feasible without the cap.
//!
//! **Warm re-solves.** Most of a cold simplex solve on a large component is
//! spent finding a feasible basis. The exact bounds of a component's
//! targets are therefore computed on one LP kept alive (`WarmLp` below): each
//! target's maximum and minimum is a re-solve from the previous optimal
//! basis, which takes a fraction of the pivots.
//!
//! Everything is deterministic (fixed orders, no randomness), and
//! `tests/lp_presolve.rs` checks on random tables and suppression patterns,
//! with and without rounding bands, that the intervals equal those of plain
//! cold LPs on the model as written.

use std::collections::VecDeque;

use microlp::{ComparisonOp, OptimizationDirection, Problem};

/// One linear constraint `lo <= sum(coef * x[var]) <= hi` (`lo == hi`: an
/// equation).
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRow {
    /// `(variable, coefficient)` pairs.
    pub terms: Vec<(usize, f64)>,
    /// Lower side.
    pub lo: f64,
    /// Upper side.
    pub hi: f64,
}

/// Variables with bounds and linear rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Model {
    /// Lower bound of each variable (may be `-inf`).
    pub lower: Vec<f64>,
    /// Upper bound of each variable (may be `inf`).
    pub upper: Vec<f64>,
    /// The constraints.
    pub rows: Vec<LinearRow>,
}

/// How [`ranges`] works (the defaults are what the audit uses).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Reduce the model before solving (see the module documentation).
    pub presolve: bool,
    /// Run seed LPs in components with several targets.
    pub seeds: bool,
    /// Keep one LP per component alive across targets and re-solve it for
    /// each exact bound (module documentation, *Warm re-solves*).
    pub warm: bool,
    /// Prove the exact interval of targets whose inner bound falls short of
    /// their requirement only when a component has at most this many of
    /// them after the seeds; otherwise report the inner bounds (`exact ==
    /// false`). The audit proves all (`usize::MAX`).
    pub prove_limit: usize,
    /// Solve one feasibility LP for each component of the presolved model
    /// that holds no target needing an LP, so that contradicting constants
    /// are always reported as [`LpError::Infeasible`] (the presolve finds
    /// most contradictions itself).
    pub check_consistency: bool,
    /// Cap on unbounded variables in seed LPs (any value is sound).
    pub seed_cap: f64,
    /// Stop at the first target whose exact interval falls short of its
    /// requirement: for callers that only ask whether any does. The targets
    /// not reached get `NaN` bounds with `exact == false`.
    pub stop_at_shortfall: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            presolve: true,
            seeds: true,
            warm: true,
            prove_limit: usize::MAX,
            check_consistency: true,
            seed_cap: 1e9,
            stop_at_shortfall: false,
        }
    }
}

/// The interval found for one target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Smallest value (`-inf` when unbounded below).
    pub lower: f64,
    /// Largest value (`inf` when unbounded above).
    pub upper: f64,
    /// `true`: the exact interval; `false`: an inner bound (values seen in
    /// feasible points), which meets the target's required width unless
    /// [`Options::prove_limit`] left a shortfall unproven.
    pub exact: bool,
}

/// The result of [`ranges`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// One range per target, in the order given.
    pub ranges: Vec<Range>,
    /// LPs solved.
    pub lps: usize,
    /// Variables and rows of the largest LP solved (after presolve).
    pub largest_lp: (usize, usize),
}

/// The LP problem could not be solved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LpError {
    /// No point satisfies the constraints.
    #[error("the constraints have no solution")]
    Infeasible,
    /// The solver failed (while bounding a target: its position in
    /// `targets`).
    #[error("solver failed: {reason}")]
    Solver {
        /// Position of the target being bounded, if any.
        target: Option<usize>,
        /// The solver's message.
        reason: String,
    },
    /// The model holds a number no LP can take (NaN anywhere, an infinite
    /// coefficient, an infinite right-hand side on an equation), or the
    /// inputs disagree in length or index a missing variable.
    #[error("invalid model: {0}")]
    Invalid(String),
}

/// A variable as an affine function of a root variable, or a constant.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Link {
    Const(f64),
    Var {
        root: usize,
        scale: f64,
        offset: f64,
    },
}

/// The model after presolve: every original variable resolved to a root or
/// a constant; rows over roots only.
struct Reduced {
    link: Vec<Link>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    rows: Vec<LinearRow>,
}

/// Tolerance for comparisons of magnitude `m`.
fn tol(m: f64) -> f64 {
    1e-9 * (1.0 + m.abs())
}

/// Resolves `j` to a constant or an affine function of a root, compressing
/// the path.
fn resolve(link: &mut [Link], j: usize) -> Link {
    let mut path = Vec::new();
    let mut at = j;
    let end = loop {
        match link[at] {
            Link::Var { root, .. } if root != at => {
                path.push(at);
                at = root;
            }
            other => break other,
        }
    };
    // Compose from the end of the path back to `j`.
    let mut acc = end;
    for &v in path.iter().rev() {
        let Link::Var { scale, offset, .. } = link[v] else {
            unreachable!("path holds linked variables only")
        };
        acc = match acc {
            Link::Const(c) => Link::Const(scale * c + offset),
            Link::Var {
                root,
                scale: s2,
                offset: o2,
            } => Link::Var {
                root,
                scale: scale * s2,
                offset: scale * o2 + offset,
            },
        };
        link[v] = acc;
    }
    acc
}

struct Presolver {
    link: Vec<Link>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    rows: Vec<Option<(LinearRow, bool)>>,
    rows_of: Vec<Vec<usize>>,
    queued: Vec<bool>,
    queue: VecDeque<usize>,
}

impl Presolver {
    fn requeue(&mut self, var: usize) {
        for &r in &self.rows_of[var] {
            if !self.queued[r] && self.rows[r].is_some() {
                self.queued[r] = true;
                self.queue.push_back(r);
            }
        }
    }

    /// Intersects the bounds of root `p` with `[lo, hi]`; fixes it when they
    /// meet.
    fn tighten(&mut self, p: usize, lo: f64, hi: f64) -> Result<(), LpError> {
        let lower = self.lower[p].max(lo);
        let upper = self.upper[p].min(hi);
        let m = if lower.is_finite() { lower } else { 0.0 }.abs()
            + if upper.is_finite() { upper } else { 0.0 }.abs();
        if lower > upper + 1e2 * tol(m) {
            return Err(LpError::Infeasible);
        }
        self.lower[p] = lower;
        self.upper[p] = upper;
        if upper - lower <= tol(m) {
            let value = if lower.is_finite() { lower } else { upper };
            self.lower[p] = value;
            self.upper[p] = value;
            self.link[p] = Link::Const(value);
            self.requeue(p);
        }
        Ok(())
    }

    /// The row over roots: terms merged, constants moved to the sides.
    /// Returns the row and the magnitude of the constants moved.
    fn normalize(&mut self, row: &LinearRow) -> (LinearRow, f64) {
        let mut terms: Vec<(usize, f64)> = Vec::with_capacity(row.terms.len());
        let mut constant = 0.0;
        let mut magnitude = row.lo.abs().max(row.hi.abs());
        if !magnitude.is_finite() {
            magnitude = 0.0;
        }
        let mut largest = 0.0f64;
        for &(j, a) in &row.terms {
            largest = largest.max(a.abs());
            match resolve(&mut self.link, j) {
                Link::Const(c) => {
                    constant += a * c;
                    magnitude += (a * c).abs();
                }
                Link::Var {
                    root,
                    scale,
                    offset,
                } => {
                    constant += a * offset;
                    magnitude += (a * offset).abs();
                    terms.push((root, a * scale));
                }
            }
        }
        terms.sort_by_key(|t| t.0);
        let mut merged: Vec<(usize, f64)> = Vec::with_capacity(terms.len());
        for (v, a) in terms {
            match merged.last_mut() {
                Some(last) if last.0 == v => last.1 += a,
                _ => merged.push((v, a)),
            }
        }
        merged.retain(|t| t.1.abs() > 1e-12 * largest.max(1.0));
        (
            LinearRow {
                terms: merged,
                lo: row.lo - constant,
                hi: row.hi - constant,
            },
            magnitude,
        )
    }

    fn run(mut self) -> Result<Reduced, LpError> {
        for p in 0..self.lower.len() {
            let (lo, hi) = (self.lower[p], self.upper[p]);
            self.tighten(p, lo, hi)?;
        }
        while let Some(r) = self.queue.pop_front() {
            self.queued[r] = false;
            let Some((row, exact)) = self.rows[r].take() else {
                continue;
            };
            let (row, magnitude) = self.normalize(&row);
            match row.terms.as_slice() {
                [] => {
                    let t = 1e2 * tol(magnitude);
                    if row.lo > t || row.hi < -t {
                        return Err(LpError::Infeasible);
                    }
                }
                &[(p, a)] => {
                    let (lo, hi) = if a > 0.0 {
                        (row.lo / a, row.hi / a)
                    } else {
                        (row.hi / a, row.lo / a)
                    };
                    self.tighten(p, lo, hi)?;
                }
                &[(p, a), (q, b)] if exact => {
                    // Eliminate the member with the larger coefficient.
                    let ((keep, ak), (gone, ag)) = if b.abs() >= a.abs() {
                        ((p, a), (q, b))
                    } else {
                        ((q, b), (p, a))
                    };
                    let scale = -ak / ag;
                    let offset = row.lo / ag;
                    let (gl, gu) = (self.lower[gone], self.upper[gone]);
                    let (lo, hi) = if scale > 0.0 {
                        ((gl - offset) / scale, (gu - offset) / scale)
                    } else {
                        ((gu - offset) / scale, (gl - offset) / scale)
                    };
                    self.link[gone] = Link::Var {
                        root: keep,
                        scale,
                        offset,
                    };
                    let moved = std::mem::take(&mut self.rows_of[gone]);
                    self.rows_of[keep].extend_from_slice(&moved);
                    self.rows_of[gone] = moved;
                    self.requeue(gone);
                    self.tighten(keep, lo, hi)?;
                }
                _ => self.rows[r] = Some((row, exact)),
            }
        }
        let n = self.link.len();
        for j in 0..n {
            resolve(&mut self.link, j);
        }
        let rows = drop_dependent(self.rows.into_iter().flatten().collect())?;
        Ok(Reduced {
            link: self.link,
            lower: self.lower,
            upper: self.upper,
            rows: rows.into_iter().map(|(row, _)| row).collect(),
        })
    }
}

/// Largest integer coefficient taken into the exact elimination.
const INTEGER_LIMIT: f64 = (1u64 << 40) as f64;

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A row of the exact elimination: integer coefficients (sorted by
/// variable), the right-hand side and its magnitude (for the consistency
/// tolerance).
#[derive(Clone)]
struct IntRow {
    terms: Vec<(usize, i128)>,
    rhs: f64,
    magnitude: f64,
}

impl IntRow {
    /// `self * a - other * b`, divided by the gcd of the coefficients;
    /// `None` on overflow.
    fn combine(&self, a: i128, other: &IntRow, b: i128) -> Option<IntRow> {
        let mut terms = Vec::with_capacity(self.terms.len() + other.terms.len());
        let (mut i, mut j) = (0, 0);
        while i < self.terms.len() || j < other.terms.len() {
            let (x, y) = (self.terms.get(i), other.terms.get(j));
            let (v, c) = match (x, y) {
                (Some(&(vx, cx)), Some(&(vy, cy))) if vx == vy => {
                    i += 1;
                    j += 1;
                    (vx, cx.checked_mul(a)?.checked_sub(cy.checked_mul(b)?)?)
                }
                (Some(&(vx, cx)), Some(&(vy, _))) if vx < vy => {
                    i += 1;
                    (vx, cx.checked_mul(a)?)
                }
                (Some(&(vx, cx)), None) => {
                    i += 1;
                    (vx, cx.checked_mul(a)?)
                }
                (_, Some(&(vy, cy))) => {
                    j += 1;
                    (vy, cy.checked_mul(b)?.checked_neg()?)
                }
                (None, None) => unreachable!("loop condition"),
            };
            if c != 0 {
                terms.push((v, c));
            }
        }
        let g = terms.iter().fold(0, |g, &(_, c)| gcd(g, c)).max(1);
        for t in &mut terms {
            t.1 /= g;
        }
        let (af, bf, gf) = (a as f64, b as f64, g as f64);
        Some(IntRow {
            terms,
            rhs: (self.rhs * af - other.rhs * bf) / gf,
            magnitude: (self.magnitude * af.abs() + other.magnitude * bf.abs()) / gf,
        })
    }
}

/// Drops equations that are linear combinations of the other equations
/// (their right-hand sides must agree, else the model is infeasible). The
/// elimination is exact (integer arithmetic with overflow checks): an
/// equation is dropped only when it provably reduces to `0 = 0`; equations
/// with non-integer coefficients, and any whose reduction overflows, are
/// kept. Redundant equations make the simplex degenerate and slow.
fn drop_dependent(rows: Vec<(LinearRow, bool)>) -> Result<Vec<(LinearRow, bool)>, LpError> {
    let n = rows
        .iter()
        .flat_map(|(row, _)| row.terms.iter().map(|t| t.0 + 1))
        .max()
        .unwrap_or(0);
    // Static pivot order: variables in few rows first (less fill-in).
    let mut count = vec![0usize; n];
    for (row, _) in &rows {
        for &(v, _) in &row.terms {
            count[v] += 1;
        }
    }
    // pivot[v]: (creation order, reduced row) of the pivot on variable v.
    let mut pivot: Vec<Option<(usize, IntRow)>> = vec![None; n];
    let mut pivots = 0usize;
    let mut keep = Vec::with_capacity(rows.len());
    for (row, exact) in rows {
        let integral = exact
            && row
                .terms
                .iter()
                .all(|&(_, a)| a == a.round() && a.abs() <= INTEGER_LIMIT);
        if !integral {
            keep.push((row, exact));
            continue;
        }
        let mut work = IntRow {
            terms: row.terms.iter().map(|&(v, a)| (v, a as i128)).collect(),
            rhs: row.lo,
            magnitude: row.lo.abs() + 1.0,
        };
        work.terms.sort_by_key(|t| t.0);
        // Eliminate pivot variables, the earliest created first: a pivot
        // row holds no variable of an earlier pivot, so this ends.
        let reduced = loop {
            let next = work
                .terms
                .iter()
                .filter_map(|&(v, c)| pivot[v].as_ref().map(|(order, p)| (*order, v, c, p)))
                .min_by_key(|t| t.0);
            let Some((_, v, c, p)) = next else {
                break Some(work);
            };
            let pv = p
                .terms
                .iter()
                .find(|t| t.0 == v)
                .map(|t| t.1)
                .expect("a pivot row holds its variable");
            let g = gcd(pv, c);
            match work.combine(pv / g, p, c / g) {
                Some(next) => work = next,
                None => break None,
            }
        };
        match reduced {
            // Overflow: keep the equation, not as a pivot.
            None => keep.push((row, exact)),
            Some(work) if work.terms.is_empty() => {
                if work.rhs.abs() > 1e2 * tol(work.magnitude) {
                    return Err(LpError::Infeasible);
                }
            }
            Some(work) => {
                let v = work
                    .terms
                    .iter()
                    .min_by_key(|t| (count[t.0], t.0))
                    .map(|t| t.0)
                    .expect("non-empty row");
                pivot[v] = Some((pivots, work));
                pivots += 1;
                keep.push((row, exact));
            }
        }
    }
    Ok(keep)
}

fn presolve(model: &Model) -> Result<Reduced, LpError> {
    let n = model.lower.len();
    let mut rows_of = vec![Vec::new(); n];
    for (r, row) in model.rows.iter().enumerate() {
        for &(j, _) in &row.terms {
            if rows_of[j].last() != Some(&r) {
                rows_of[j].push(r);
            }
        }
    }
    let m = model.rows.len();
    Presolver {
        link: unlinked(n),
        lower: model.lower.clone(),
        upper: model.upper.clone(),
        rows: model
            .rows
            .iter()
            .map(|row| Some((row.clone(), row.lo == row.hi)))
            .collect(),
        rows_of,
        queued: vec![true; m],
        queue: (0..m).collect(),
    }
    .run()
}

/// Every one of `n` variables standing for itself.
fn unlinked(n: usize) -> Vec<Link> {
    (0..n)
        .map(|j| Link::Var {
            root: j,
            scale: 1.0,
            offset: 0.0,
        })
        .collect()
}

/// The model as given, without reductions.
fn identity(model: &Model) -> Reduced {
    Reduced {
        link: unlinked(model.lower.len()),
        lower: model.lower.clone(),
        upper: model.upper.clone(),
        rows: model.rows.clone(),
    }
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Components with at least this many targets get seed LPs first (a seed is
/// a cold LP; for fewer targets their warm re-solves cost less).
const SEED_MIN_TARGETS: usize = 24;

/// One component LP: its roots (sorted) and rows.
struct Component<'a> {
    vars: Vec<usize>,
    rows: Vec<&'a LinearRow>,
}

impl Component<'_> {
    /// Adds the component's rows over the given variables.
    fn add_rows(&self, problem: &mut Problem, vars: &[microlp::Variable], local: &[usize]) {
        for row in &self.rows {
            let mut expr: Vec<_> = row
                .terms
                .iter()
                .map(|&(v, a)| (vars[local[v]], a))
                .collect();
            if row.lo == row.hi {
                problem.add_constraint(expr.as_slice(), ComparisonOp::Eq, row.lo);
            } else {
                // A band as one equation with a bounded slack variable: the
                // simplex handles bounds natively.
                let band = problem.add_var(0.0, (row.lo, row.hi));
                expr.push((band, -1.0));
                problem.add_constraint(expr.as_slice(), ComparisonOp::Eq, 0.0);
            }
        }
    }

    /// Solves with the given objective (per local variable); returns the
    /// solution values, or the solver's error.
    fn solve(
        &self,
        red: &Reduced,
        local: &[usize],
        direction: OptimizationDirection,
        objective: &[f64],
        cap: Option<f64>,
    ) -> Result<Vec<f64>, microlp::Error> {
        let mut problem = Problem::new(direction);
        let vars: Vec<_> = self
            .vars
            .iter()
            .zip(objective)
            .map(|(&v, &c)| {
                let (mut lo, mut hi) = (red.lower[v], red.upper[v]);
                if let Some(cap) = cap {
                    lo = lo.max(-cap).min(red.upper[v]);
                    hi = hi.min(cap.max(lo));
                }
                problem.add_var(c, (lo, hi))
            })
            .collect();
        self.add_rows(&mut problem, &vars, local);
        let solution = problem
            .solve()?
            .into_solution()
            .map_err(|_| microlp::Error::InternalError("the solve was interrupted".to_string()))?;
        Ok(vars.iter().map(|&v| solution.var_value(v)).collect())
    }
}

/// One component's LP kept alive across targets: the simplex restarts from
/// the previous optimal basis instead of searching for a feasible one again
/// (which is most of the work of a cold solve on a large component).
///
/// For every target root `y`: auxiliary variables `z` (maximised) and `z'`
/// (minimised) in `[-cap, cap]`, and two rows `z - y - e = 0` and
/// `z' - y - f = 0` with `e, f` in `[-2 cap, 2 cap]`. With every `e, f` free
/// the rows are slack (`z = cap`, `z' = -cap`); fixing `e = 0` makes `z = y`,
/// so the optimum gives the maximum of `y` (up to the cap: an optimum at the
/// cap is solved again cold); likewise `f = 0` gives the minimum. Releasing
/// the pin again moves only that root's `z` back to its cap.
struct WarmLp {
    solution: Option<microlp::Solution>,
    x: Vec<microlp::Variable>,
    /// Per local root: its `(e, z, f, z')` variables.
    aux: Vec<Option<[microlp::Variable; 4]>>,
    cap: f64,
}

impl WarmLp {
    fn new(
        component: &Component,
        red: &Reduced,
        local: &[usize],
        roots: &[usize],
        cap: f64,
    ) -> Result<WarmLp, microlp::Error> {
        let mut problem = Problem::new(OptimizationDirection::Maximize);
        let x: Vec<_> = component
            .vars
            .iter()
            .map(|&v| problem.add_var(0.0, (red.lower[v], red.upper[v])))
            .collect();
        let mut aux = vec![None; component.vars.len()];
        for &l in roots {
            if aux[l].is_some() {
                continue;
            }
            let z = problem.add_var(1.0, (-cap, cap));
            let z_min = problem.add_var(-1.0, (-cap, cap));
            let e = problem.add_var(0.0, (-2.0 * cap, 2.0 * cap));
            let f = problem.add_var(0.0, (-2.0 * cap, 2.0 * cap));
            problem.add_constraint([(z, 1.0), (x[l], -1.0), (e, -1.0)], ComparisonOp::Eq, 0.0);
            problem.add_constraint(
                [(z_min, 1.0), (x[l], -1.0), (f, -1.0)],
                ComparisonOp::Eq,
                0.0,
            );
            aux[l] = Some([e, z, f, z_min]);
        }
        component.add_rows(&mut problem, &x, local);
        let solution = problem.solve()?.into_solution().map_err(interrupted)?;
        Ok(WarmLp {
            solution: Some(solution),
            x,
            aux,
            cap,
        })
    }

    /// The maximum (or minimum) of local root `l` and the solution's values;
    /// `None` when the optimum lies at the cap (or `l` has no auxiliaries).
    fn optimise(
        &mut self,
        l: usize,
        maximise: bool,
    ) -> Result<Option<(f64, Vec<f64>)>, microlp::Error> {
        let (Some([e, z, f, z_min]), Some(solution)) = (self.aux[l], self.solution.take()) else {
            return Ok(None);
        };
        let (pin, objective) = if maximise { (e, z) } else { (f, z_min) };
        let fixed = solution
            .fix_var(pin, 0.0)?
            .into_solution()
            .map_err(interrupted)?;
        let value = fixed.var_value(objective);
        let values: Vec<f64> = self.x.iter().map(|&v| fixed.var_value(v)).collect();
        let (released, _) = fixed.unfix_var(pin)?;
        self.solution = Some(released.into_solution().map_err(interrupted)?);
        if value.abs() >= self.cap * (1.0 - 1e-9) {
            return Ok(None);
        }
        Ok(Some((value, values)))
    }
}

fn interrupted(_: microlp::InterruptedSolve) -> microlp::Error {
    microlp::Error::InternalError("the solve was interrupted".to_string())
}

/// Maps a root interval through `x = scale * y + offset`.
fn map_range(scale: f64, offset: f64, lo: f64, hi: f64) -> (f64, f64) {
    let (a, b) = (scale * lo + offset, scale * hi + offset);
    if scale > 0.0 {
        (a, b)
    } else {
        (b, a)
    }
}

/// Checks that every number can enter an LP and every index exists (a NaN
/// constant would otherwise make a consistency check pass silently).
fn validate(model: &Model, targets: &[usize], required: &[f64]) -> Result<(), LpError> {
    let n = model.lower.len();
    if model.upper.len() != n || required.len() != targets.len() {
        return Err(LpError::Invalid("input lengths disagree".to_string()));
    }
    if targets.iter().any(|&t| t >= n) {
        return Err(LpError::Invalid("a target is not a variable".to_string()));
    }
    for (lo, hi) in model.lower.iter().zip(&model.upper) {
        if lo.is_nan() || hi.is_nan() || *lo == f64::INFINITY || *hi == f64::NEG_INFINITY {
            return Err(LpError::Invalid(format!("variable bounds [{lo}, {hi}]")));
        }
    }
    for row in &model.rows {
        if row.lo.is_nan()
            || row.hi.is_nan()
            || row.lo == f64::INFINITY
            || row.hi == f64::NEG_INFINITY
        {
            return Err(LpError::Invalid(format!(
                "row bounds [{}, {}]",
                row.lo, row.hi
            )));
        }
        if row.lo == row.hi && !row.lo.is_finite() {
            return Err(LpError::Invalid(format!(
                "equation right-hand side {}",
                row.lo
            )));
        }
        if row.terms.iter().any(|&(v, a)| v >= n || !a.is_finite()) {
            return Err(LpError::Invalid(
                "a row term is not a finite coefficient on a variable".to_string(),
            ));
        }
    }
    Ok(())
}

/// The interval of each target variable; `required[i]` (same length as
/// `targets`) is the width target `i` needs: a target whose inner bound
/// (values seen in LP solutions) already reaches it gets no LP of its own
/// (`exact == false`). Targets with `required <= 0` always get their exact
/// interval.
pub fn ranges(
    model: &Model,
    targets: &[usize],
    required: &[f64],
    options: &Options,
) -> Result<Outcome, LpError> {
    solve_ranges(model, targets, required, options)
}

fn solve_ranges(
    model: &Model,
    targets: &[usize],
    required: &[f64],
    options: &Options,
) -> Result<Outcome, LpError> {
    validate(model, targets, required)?;
    let mut red = if options.presolve {
        presolve(model)?
    } else {
        identity(model)
    };
    let mut outcome = Outcome {
        ranges: vec![
            Range {
                lower: f64::NAN,
                upper: f64::NAN,
                exact: true,
            };
            targets.len()
        ],
        ..Outcome::default()
    };
    let (groups, mut parent, in_rows) = group_targets(&mut red, targets, &mut outcome);
    if groups.is_empty() && !options.check_consistency {
        return Ok(outcome);
    }
    let split = split_components(&red, groups, &mut parent, &in_rows, options);
    let mut local = vec![usize::MAX; red.link.len()];
    check_untargeted(&red, &split, &mut local, &mut outcome)?;
    for (c, group) in &split.groups {
        let component = &split.members[c];
        for (l, &v) in component.vars.iter().enumerate() {
            local[v] = l;
        }
        let size = (component.vars.len(), component.rows.len());
        if size.0 * size.1 > outcome.largest_lp.0 * outcome.largest_lp.1 {
            outcome.largest_lp = size;
        }
        let mut solver = GroupSolver {
            component,
            red: &red,
            local: &local,
            options,
            seen: vec![(f64::INFINITY, f64::NEG_INFINITY); component.vars.len()],
            warm: None,
            warm_failed: false,
            lps: 0,
            stopped: false,
        };
        let solved = solver.solve(group, targets, required);
        outcome.lps += solver.lps;
        for (i, range) in solved? {
            outcome.ranges[i] = range;
        }
        if solver.stopped {
            for range in outcome.ranges.iter_mut().filter(|r| r.lower.is_nan()) {
                range.exact = false;
            }
            break;
        }
    }
    Ok(outcome)
}

/// The presolved model's rows split into components: the targets needing an
/// LP grouped by component (ordered), and the components to solve.
struct Split<'a> {
    groups: std::collections::BTreeMap<usize, Vec<usize>>,
    members: std::collections::BTreeMap<usize, Component<'a>>,
}

/// Targets grouped by the component of the remaining rows they need an LP
/// in (with the union-find parents and which roots are in any row); targets
/// that are constants or in no row get their range directly in `outcome`.
#[allow(clippy::type_complexity)]
fn group_targets(
    red: &mut Reduced,
    targets: &[usize],
    outcome: &mut Outcome,
) -> (
    std::collections::BTreeMap<usize, Vec<usize>>,
    Vec<usize>,
    Vec<bool>,
) {
    let n = red.link.len();
    let mut parent: Vec<usize> = (0..n).collect();
    let mut in_rows = vec![false; n];
    for row in &red.rows {
        if let Some(&(first, _)) = row.terms.first() {
            for &(v, _) in &row.terms[1..] {
                let (a, b) = (find(&mut parent, first), find(&mut parent, v));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
        for &(v, _) in &row.terms {
            in_rows[v] = true;
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, &t) in targets.iter().enumerate() {
        match resolve(&mut red.link, t) {
            Link::Const(c) => {
                outcome.ranges[i] = Range {
                    lower: c,
                    upper: c,
                    exact: true,
                }
            }
            Link::Var {
                root,
                scale,
                offset,
            } => {
                if in_rows[root] {
                    groups.entry(find(&mut parent, root)).or_default().push(i);
                } else {
                    let (lower, upper) = map_range(scale, offset, red.lower[root], red.upper[root]);
                    outcome.ranges[i] = Range {
                        lower,
                        upper,
                        exact: true,
                    };
                }
            }
        }
    }
    (groups, parent, in_rows)
}

/// The components to solve: those with targets, and with
/// `check_consistency` every other one too.
fn split_components<'a>(
    red: &'a Reduced,
    groups: std::collections::BTreeMap<usize, Vec<usize>>,
    parent: &mut [usize],
    in_rows: &[bool],
    options: &Options,
) -> Split<'a> {
    let mut members: std::collections::BTreeMap<usize, Component> = Default::default();
    for (v, &used) in in_rows.iter().enumerate() {
        if used {
            let c = find(parent, v);
            if options.check_consistency || groups.contains_key(&c) {
                members
                    .entry(c)
                    .or_insert_with(|| Component {
                        vars: Vec::new(),
                        rows: Vec::new(),
                    })
                    .vars
                    .push(v);
            }
        }
    }
    for row in &red.rows {
        if let Some(&(first, _)) = row.terms.first() {
            let c = find(parent, first);
            if let Some(component) = members.get_mut(&c) {
                component.rows.push(row);
            }
        }
    }
    Split { groups, members }
}

/// Components without targets: one feasibility LP each, so that
/// contradicting values are reported however few LPs the targets need.
fn check_untargeted(
    red: &Reduced,
    split: &Split,
    local: &mut [usize],
    outcome: &mut Outcome,
) -> Result<(), LpError> {
    for (c, component) in &split.members {
        if split.groups.contains_key(c) {
            continue;
        }
        for (l, &v) in component.vars.iter().enumerate() {
            local[v] = l;
        }
        outcome.lps += 1;
        let objective = vec![0.0; component.vars.len()];
        match component.solve(
            red,
            local,
            OptimizationDirection::Maximize,
            &objective,
            None,
        ) {
            Ok(_) | Err(microlp::Error::Unbounded) => {}
            Err(microlp::Error::Infeasible) => return Err(LpError::Infeasible),
            Err(e) => {
                return Err(LpError::Solver {
                    target: None,
                    reason: e.to_string(),
                })
            }
        }
    }
    Ok(())
}

/// The targets of one component: seed LPs, then exact bounds where the
/// values seen do not already meet the requirement.
struct GroupSolver<'a> {
    component: &'a Component<'a>,
    red: &'a Reduced,
    local: &'a [usize],
    options: &'a Options,
    /// Per local root: the smallest and largest value seen in a solution.
    seen: Vec<(f64, f64)>,
    warm: Option<WarmLp>,
    warm_failed: bool,
    lps: usize,
    /// Whether a shortfall ended the group early
    /// ([`Options::stop_at_shortfall`]).
    stopped: bool,
}

/// A width this much below the requirement counts as a shortfall (LP
/// round-off).
const SHORTFALL_TOLERANCE: f64 = 1e-6;

impl GroupSolver<'_> {
    fn record(&mut self, values: &[f64]) {
        for (s, &x) in self.seen.iter_mut().zip(values) {
            s.0 = s.0.min(x);
            s.1 = s.1.max(x);
        }
    }

    /// Whether the values seen of local root `l` (scaled) meet `required`.
    fn wide(&self, l: usize, scale: f64, required: f64) -> bool {
        required > 0.0 && scale.abs() * (self.seen[l].1 - self.seen[l].0) >= required
    }

    /// Ranges of the group's targets (positions in `targets`).
    fn solve(
        &mut self,
        group: &[usize],
        targets: &[usize],
        required: &[f64],
    ) -> Result<Vec<(usize, Range)>, LpError> {
        // Each target: its root's local index, scale and offset.
        let resolved: Vec<(usize, f64, f64)> = group
            .iter()
            .map(|&i| match self.red.link[targets[i]] {
                Link::Var {
                    root,
                    scale,
                    offset,
                } => (self.local[root], scale, offset),
                Link::Const(_) => unreachable!("grouped targets are variables"),
            })
            .collect();
        let needing = group.iter().filter(|&&i| required[i] > 0.0).count();
        if self.options.seeds && needing >= SEED_MIN_TARGETS {
            self.seed(group, &resolved, required);
        }
        // Exact bounds per local root, computed at most once.
        let mut exact: Vec<Option<(f64, f64)>> = vec![None; self.component.vars.len()];
        let open: Vec<usize> = group
            .iter()
            .zip(&resolved)
            .filter(|&(&j, &(r, s, _))| !self.wide(r, s, required[j]))
            .map(|(_, r)| r.0)
            .collect();
        let prove = open.len() <= self.options.prove_limit;
        let mut out = Vec::with_capacity(group.len());
        for (k, &i) in group.iter().enumerate() {
            let (l, scale, offset) = resolved[k];
            if exact[l].is_none() && !self.wide(l, scale, required[i]) && prove {
                exact[l] = self.bound(l, i, scale, required[i], &open)?;
            }
            let range = match exact[l] {
                Some((lo, hi)) => {
                    let (lower, upper) = map_range(scale, offset, lo, hi);
                    Range {
                        lower,
                        upper,
                        exact: true,
                    }
                }
                None => {
                    let (lower, upper) = map_range(scale, offset, self.seen[l].0, self.seen[l].1);
                    Range {
                        lower,
                        upper,
                        exact: false,
                    }
                }
            };
            let short = range.exact
                && required[i] > 0.0
                && range.upper - range.lower < required[i] - SHORTFALL_TOLERANCE;
            out.push((i, range));
            if short && self.options.stop_at_shortfall {
                self.stopped = true;
                break;
            }
        }
        Ok(out)
    }

    /// Seed LPs that move every target with a requirement at once (all up,
    /// all down, alternate halves), variables capped.
    fn seed(&mut self, group: &[usize], resolved: &[(usize, f64, f64)], required: &[f64]) {
        let signs: [fn(usize) -> f64; 4] = [
            |_| 1.0,
            |_| -1.0,
            |i| if i % 2 == 0 { 1.0 } else { -1.0 },
            |i| if i % 2 == 0 { -1.0 } else { 1.0 },
        ];
        for sign in signs {
            let mut objective = vec![0.0; self.component.vars.len()];
            for (k, &i) in group.iter().enumerate() {
                if required[i] > 0.0 {
                    objective[resolved[k].0] = sign(k);
                }
            }
            self.lps += 1;
            if let Ok(values) = self.component.solve(
                self.red,
                self.local,
                OptimizationDirection::Maximize,
                &objective,
                Some(self.options.seed_cap),
            ) {
                self.record(&values);
            }
        }
    }

    /// The exact `(min, max)` of local root `l` (target position `i`), or
    /// `None` when the values seen meet `required` on the way. `open`: the
    /// roots not certified before any bound LP (they get auxiliary rows in
    /// the warm LP).
    fn bound(
        &mut self,
        l: usize,
        i: usize,
        scale: f64,
        required: f64,
        open: &[usize],
    ) -> Result<Option<(f64, f64)>, LpError> {
        let mut bounds = [0.0f64; 2];
        // Maximise first: seeds usually found a low value already.
        for (b, direction) in [
            OptimizationDirection::Maximize,
            OptimizationDirection::Minimize,
        ]
        .into_iter()
        .enumerate()
        {
            if self.wide(l, scale, required) {
                return Ok(None);
            }
            // A point at the variable's own bound already proves that side:
            // no LP needed.
            let root = self.component.vars[l];
            let (own, at) = if b == 0 {
                (self.red.upper[root], self.seen[l].1)
            } else {
                (self.red.lower[root], self.seen[l].0)
            };
            if own.is_finite() && (at - own).abs() <= tol(own) {
                bounds[b] = own;
                continue;
            }
            if let Some(value) = self.warm_bound(l, b == 0, open)? {
                bounds[b] = value;
                continue;
            }
            bounds[b] = self.cold_bound(l, i, direction)?;
        }
        Ok(Some((bounds[1], bounds[0])))
    }

    /// One side of root `l`'s interval on the warm LP (created on first
    /// use), or `None` when it cannot give one (then a cold LP does).
    fn warm_bound(
        &mut self,
        l: usize,
        maximise: bool,
        open: &[usize],
    ) -> Result<Option<f64>, LpError> {
        if !self.options.warm || self.warm_failed {
            return Ok(None);
        }
        if self.warm.is_none() {
            self.lps += 1;
            // Auxiliary rows only for the roots of targets not certified
            // yet (the others fall back to cold LPs should they need one).
            match WarmLp::new(
                self.component,
                self.red,
                self.local,
                open,
                self.options.seed_cap,
            ) {
                Ok(lp) => self.warm = Some(lp),
                Err(microlp::Error::Infeasible) => return Err(LpError::Infeasible),
                Err(_) => self.warm_failed = true,
            }
        }
        let Some(lp) = self.warm.as_mut() else {
            return Ok(None);
        };
        self.lps += 1;
        match lp.optimise(l, maximise) {
            Ok(Some((value, values))) => {
                self.record(&values);
                Ok(Some(value))
            }
            Ok(None) => Ok(None),
            Err(_) => {
                self.warm = None;
                self.warm_failed = true;
                Ok(None)
            }
        }
    }

    /// One side of root `l`'s interval by a cold LP (target position `i`
    /// for error messages).
    fn cold_bound(
        &mut self,
        l: usize,
        i: usize,
        direction: OptimizationDirection,
    ) -> Result<f64, LpError> {
        let mut objective = vec![0.0; self.component.vars.len()];
        objective[l] = 1.0;
        self.lps += 1;
        match self
            .component
            .solve(self.red, self.local, direction, &objective, None)
        {
            Ok(values) => {
                self.record(&values);
                Ok(values[l])
            }
            Err(microlp::Error::Unbounded) => Ok(if direction == OptimizationDirection::Maximize {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            }),
            Err(microlp::Error::Infeasible) => Err(LpError::Infeasible),
            Err(e) => Err(LpError::Solver {
                target: Some(i),
                reason: e.to_string(),
            }),
        }
    }
}
