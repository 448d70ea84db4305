//! The release pass: after the greedy of [`crate::secondary`] has protected
//! every primary cell, each secondary cell is tried for publication on its
//! own, most expensive first (see [`cell_costs`]), and published when every
//! primary interval stays wide enough without it.
//!
//! Publishing a cell only adds knowledge, so every interval can only narrow:
//! a cell that failed its trial would fail again against the final (smaller)
//! suppressed set. One pass therefore leaves no secondary cell that could be
//! published on its own, whatever the order; the order decides which cells
//! win when two could be released but not both, and the costs make those the
//! margins and whole-cohort figures readers use most.
//!
//! **Trials without LPs.** Publishing cell `c` adds one equation, `x_c =
//! v_c` (its true value), to the attacker's system; only the primaries of
//! `c`'s component can narrow. The attacker's feasible set is convex, and
//! the pass keeps a pool of points known to lie in it: every solution of
//! every LP it solves (seed LPs and the exact bounds of each primary), the
//! true values, and, after each release, for every primary the two
//! combinations that certified it. For a trial of `c` and a primary `p`, the
//! pool's points projected on `(x_c, x_p)` span a polygon inside the
//! projection of the feasible set; where its upper and lower hulls cross
//! the line `x_c = v_c` lie two feasible points with `x_c = v_c`. When they
//! are at least the required width apart in `x_p`, `p` stays protected,
//! proven without an LP. Only the primaries not certified this way get LPs
//! (the audit's, exact), and their solutions join the pool. After a
//! release the points off `x_c = v_c` leave the pool (they are no longer
//! feasible); the certifying combinations, which lie on it, replace them.
//!
//! A relation whose only other suppressed member is primary rejects the
//! cell without any LP.
//!
//! Not yet run by [`crate::table::protect`]: on a small cohort with dense
//! linked tables (60 persons, a three-way table linked to two-way tables)
//! the pass still took minutes in a debug test build where the greedy takes
//! a second. How many of its trials the certification settles there, and
//! what the LP fallback costs, is the next thing to measure.

use std::rc::Rc;

use crate::audit::{component_intervals_points, components, AuditError};
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

/// A feasible point of the attacker's system (its values must satisfy every
/// relation given the cells published at the time): values of some
/// suppressed cells, every other cell at its true value.
struct Point {
    /// The cells given (sorted; shared by the points of one LP call).
    cells: Rc<Vec<usize>>,
    /// Their values.
    values: Vec<f64>,
}

impl Point {
    fn get(&self, cell: usize, truth: &[f64]) -> f64 {
        match self.cells.binary_search(&cell) {
            Ok(i) => self.values[i],
            Err(_) => truth[cell],
        }
    }
}

/// One side of a certified interval: the point on the trial's hyperplane
/// `x_c = v_c` that reaches it, as `(1 - t) * pool[i] + t * pool[j]`
/// (`usize::MAX`: the true values).
#[derive(Clone, Copy, PartialEq)]
struct Witness {
    i: usize,
    j: usize,
    t: f64,
}

/// Feasible points of the attacker's system collected from every LP the
/// pass solves. The feasible set is convex, so any convex combination of
/// pool points is feasible too; a combination with `x_c = v_c` is feasible
/// after `c` is published.
struct Pool {
    points: Vec<Point>,
}

impl Pool {
    fn add(&mut self, cells: Vec<usize>, points: Vec<Vec<f64>>) {
        if points.is_empty() {
            return;
        }
        let cells = Rc::new(cells);
        self.points.extend(points.into_iter().map(|values| Point {
            cells: Rc::clone(&cells),
            values,
        }));
    }

    fn value(&self, i: usize, cell: usize, truth: &[f64]) -> f64 {
        if i == usize::MAX {
            truth[cell]
        } else {
            self.points[i].get(cell, truth)
        }
    }

    /// For each of `primaries` (all in `c`'s component): the witnesses of
    /// the largest and smallest value the pool proves feasible with `x_c`
    /// at its true value, when they are at least `required` apart (`None`:
    /// not certified, an LP must decide).
    ///
    /// Projected on `(x_c, x_p)` the pool's points span a polygon inside the
    /// projection of the feasible set; its upper and lower hulls at
    /// `x_c = v_c` bound the values of `x_p` that remain feasible.
    fn certify(
        &self,
        truth: &[f64],
        c: usize,
        primaries: &[usize],
        required: &[f64],
    ) -> Vec<Option<(Witness, Witness)>> {
        let v = truth[c];
        // (offset along x_c, point index), the true values at offset 0.
        let mut along: Vec<(f64, usize)> = vec![(0.0, usize::MAX)];
        for (i, point) in self.points.iter().enumerate() {
            if let Ok(k) = point.cells.binary_search(&c) {
                along.push((point.values[k] - v, i));
            }
        }
        along.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut ys = vec![0.0; along.len()];
        primaries
            .iter()
            .map(|&p| {
                for (y, &(_, i)) in ys.iter_mut().zip(&along) {
                    *y = self.value(i, p, truth);
                }
                let (hi, up) = hull_at_zero(&along, &ys, 1.0);
                let (lo, down) = hull_at_zero(&along, &ys, -1.0);
                (hi + lo >= required[p] + CERTIFY_MARGIN).then_some((up, down))
            })
            .collect()
    }

    /// The point a witness stands for, over `cells`.
    fn combine(&self, w: Witness, cells: &[usize], truth: &[f64]) -> Vec<f64> {
        cells
            .iter()
            .map(|&m| {
                let a = self.value(w.i, m, truth);
                if w.j == w.i {
                    a
                } else {
                    (1.0 - w.t) * a + w.t * self.value(w.j, m, truth)
                }
            })
            .collect()
    }
}

/// A certified width must exceed the requirement by this much (LP points
/// are feasible up to round-off).
const CERTIFY_MARGIN: f64 = 1e-6;

/// `sign = 1`: the largest value at offset 0 of the upper hull of points
/// `(along[k].0, ys[k])` (sorted by offset, one at offset 0); `sign = -1`:
/// minus the smallest value of the lower hull. With the witness reaching it.
fn hull_at_zero(along: &[(f64, usize)], ys: &[f64], sign: f64) -> (f64, Witness) {
    let mut hull: Vec<(f64, f64, usize)> = Vec::with_capacity(16);
    for (&(x, i), &y) in along.iter().zip(ys) {
        let y = sign * y;
        if let Some(&(lx, ly, _)) = hull.last() {
            if lx == x {
                if ly >= y {
                    continue;
                }
                hull.pop();
            }
        }
        while hull.len() >= 2 {
            let (ax, ay, _) = hull[hull.len() - 2];
            let (bx, by, _) = hull[hull.len() - 1];
            if (bx - ax) * (y - ay) - (by - ay) * (x - ax) >= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push((x, y, i));
    }
    let k = hull.partition_point(|h| h.0 < 0.0);
    let (x1, y1, i1) = hull[k];
    if x1 == 0.0 || k == 0 {
        return (
            y1,
            Witness {
                i: i1,
                j: i1,
                t: 0.0,
            },
        );
    }
    let (x0, y0, i0) = hull[k - 1];
    let t = -x0 / (x1 - x0);
    (y0 + t * (y1 - y0), Witness { i: i0, j: i1, t })
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
    let truth = &cells.values;
    let mut order: Vec<usize> = (0..cells.len())
        .filter(|&i| status[i] == Status::Secondary)
        .collect();
    order.sort_by(|&a, &b| cost[b].total_cmp(&cost[a]).then(a.cmp(&b)));
    let mut published: Vec<Option<f64>> = (0..cells.len())
        .map(|i| (!status[i].is_suppressed()).then_some(truth[i]))
        .collect();
    let mut stats = ReleaseStats::default();
    let mut pool = Pool { points: Vec::new() };
    for component in components(cells, &published) {
        let targets: Vec<usize> = component
            .iter()
            .copied()
            .filter(|&m| required[m] > 0.0)
            .collect();
        if targets.is_empty() {
            continue;
        }
        let (_, lps, points) = component_intervals_points(
            cells,
            &published,
            required,
            0.0,
            &component,
            &targets,
            Some(usize::MAX),
            true,
        )?;
        stats.lps_solved += lps;
        pool.add(component, points);
    }
    let mut seen = vec![false; cells.len()];
    for c in order {
        stats.trials += 1;
        if exposes_primary(cells, status, c) {
            continue;
        }
        let component = component_of(cells, &published, c, &mut seen);
        for &m in &component {
            seen[m] = false;
        }
        let primaries: Vec<usize> = component
            .iter()
            .copied()
            .filter(|&m| required[m] > 0.0)
            .collect();
        let certified = pool.certify(truth, c, &primaries, required);
        let open: Vec<usize> = primaries
            .iter()
            .zip(&certified)
            .filter(|(_, w)| w.is_none())
            .map(|(&p, _)| p)
            .collect();
        published[c] = Some(truth[c]);
        let rest: Vec<usize> = component.iter().copied().filter(|&m| m != c).collect();
        let wide = if open.is_empty() {
            true
        } else {
            stats.audited_trials += 1;
            let (intervals, lps, points) = component_intervals_points(
                cells,
                &published,
                required,
                0.0,
                &rest,
                &open,
                Some(usize::MAX),
                true,
            )?;
            stats.lps_solved += lps;
            // Points with x_c = v_c: feasible whether c is published or not.
            pool.add(rest.clone(), points);
            intervals.iter().all(|i| !i.is_violation())
        };
        if !wide {
            published[c] = None;
            continue;
        }
        status[c] = Status::Published;
        stats.released += 1;
        // Keep the points that stay feasible, and add the certifying
        // combinations (on x_c = v_c) so that the pool keeps a low and a
        // high point for every primary.
        let mut witnesses: Vec<Witness> = Vec::new();
        for w in certified.iter().flatten().flat_map(|&(a, b)| [a, b]) {
            if !witnesses.contains(&w) {
                witnesses.push(w);
            }
        }
        let combined: Vec<Vec<f64>> = witnesses
            .iter()
            .map(|&w| pool.combine(w, &rest, truth))
            .collect();
        let v = truth[c];
        pool.points
            .retain(|point| (point.get(c, truth) - v).abs() <= 1e-7 * (1.0 + v.abs()));
        pool.add(rest, combined);
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
