//! The weighted estimator of the average effect on the treated and its
//! variance.
//!
//! Units come in *cells*: the treated persons of one stratum who started on
//! one date, and the comparison persons of that stratum on assistance on that
//! date. Each treated unit has weight 1; the controls of a cell share the
//! cell's treated count equally (`weight = treated / controls`). The effect
//! is the treated mean minus the weighted control mean.
//!
//! **Variance.** Conditional on the cells (and so on the weights), the
//! estimate is `(Σ_treated y − Σ_controls w·y) / N_T`. Its variance is
//! estimated from residuals around the cell means of each group, summed per
//! *person* before squaring, so a person used as a control in several months
//! (or treated once and a control another time) is one cluster:
//! `V = (Σ_persons (Σ_rows a·e)² + Σ_singletons a²·σ²) / N_T²`, with
//! `a = 1` for treated rows and `−w` for controls, and residuals scaled by
//! `√(n/(n−1))` for a group of `n ≥ 2` rows in a cell. A row alone in its
//! group of its cell has no residual; it contributes the pooled
//! within-cell variance σ² of its group instead (the "collapsed strata"
//! rule of survey statistics for strata with one unit).

/// One unit of an estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Unit {
    /// Person id (clusters).
    pub person: u32,
    /// Cell id.
    pub cell: u32,
    /// Treated (true) or control.
    pub treated: bool,
    /// Weight: 1 for treated units, the cell's treated / controls for controls.
    pub weight: f64,
    /// The outcome (0 or 1 for the shares).
    pub y: f64,
}

/// An estimate from a set of units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Treated units.
    pub treated_n: u64,
    /// Distinct control persons.
    pub control_n: u64,
    /// Sum of the treated outcomes (treated persons with the outcome).
    pub treated_sum: f64,
    /// Treated mean.
    pub treated_mean: f64,
    /// Weighted control mean.
    pub control_mean: f64,
    /// Treated mean minus weighted control mean.
    pub effect: f64,
    /// Standard error of the effect.
    pub se: f64,
}

impl Estimate {
    /// The 95% interval.
    pub fn interval(&self) -> (f64, f64) {
        (self.effect - 1.96 * self.se, self.effect + 1.96 * self.se)
    }
}

/// Stratum weights for one cell: treated count shared by the controls.
pub fn control_weight(treated: usize, controls: usize) -> f64 {
    if controls == 0 {
        0.0
    } else {
        treated as f64 / controls as f64
    }
}

#[derive(Default, Clone, Copy)]
struct Group {
    n: u64,
    sum: f64,
    sumsq: f64,
}

impl Group {
    fn add(&mut self, y: f64) {
        self.n += 1;
        self.sum += y;
        self.sumsq += y * y;
    }
    fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }
    fn ss(&self) -> f64 {
        (self.sumsq - self.sum * self.sum / self.n.max(1) as f64).max(0.0)
    }
}

/// The treated units' sums and the pooled within-cell variances of a set
/// of cells.
struct Pooled {
    /// Treated units.
    nt: u64,
    /// Sum of the treated units' outcomes.
    sum_t: f64,
    /// Sum over treated units of their cell's control mean.
    sum_c: f64,
    /// Within-cell variance of the controls (0) and the treated (1), pooled
    /// over cells with two or more units in the group; else the group's
    /// variance over all cells; else 0.25.
    sigma2: [f64; 2],
}

impl Pooled {
    /// Pools `cells` in order, skipping cells with no units; `None` without
    /// treated units.
    fn over<'a>(cells: impl IntoIterator<Item = &'a [Group; 2]>) -> Option<Pooled> {
        let mut nt = 0u64;
        let (mut sum_t, mut sum_c) = (0.0, 0.0);
        let mut overall = [Group::default(); 2];
        let (mut pooled_ss, mut pooled_df) = ([0.0f64; 2], [0u64; 2]);
        for g in cells {
            if g[0].n == 0 && g[1].n == 0 {
                continue; // the cell is not observed
            }
            nt += g[1].n;
            sum_t += g[1].sum;
            sum_c += g[1].n as f64 * g[0].mean();
            for k in 0..2 {
                overall[k].n += g[k].n;
                overall[k].sum += g[k].sum;
                overall[k].sumsq += g[k].sumsq;
                if g[k].n >= 2 {
                    pooled_ss[k] += g[k].ss();
                    pooled_df[k] += g[k].n - 1;
                }
            }
        }
        if nt == 0 {
            return None;
        }
        let sigma2: [f64; 2] = std::array::from_fn(|k| {
            if pooled_df[k] > 0 {
                pooled_ss[k] / pooled_df[k] as f64
            } else if overall[k].n >= 2 {
                overall[k].ss() / (overall[k].n - 1) as f64
            } else {
                0.25
            }
        });
        Some(Pooled {
            nt,
            sum_t,
            sum_c,
            sigma2,
        })
    }

    /// The estimate, given the control persons counted and the sum of the
    /// squared cluster residuals and the singles' variances.
    fn estimate(&self, control_n: u64, squares: f64) -> Estimate {
        let v = squares / (self.nt as f64).powi(2);
        let n = self.nt as f64;
        Estimate {
            treated_n: self.nt,
            control_n,
            treated_sum: self.sum_t,
            treated_mean: self.sum_t / n,
            control_mean: self.sum_c / n,
            effect: (self.sum_t - self.sum_c) / n,
            se: v.sqrt(),
        }
    }
}

/// Estimate from units (sorted or not); `None` without treated units.
/// Every cell must hold at least one treated and one control unit, with
/// the controls' weights summing to the cell's treated count.
pub fn estimate(units: &[Unit]) -> Option<Estimate> {
    let design = Design::new(units.iter().copied());
    design.estimate(|i| Some(units[design.source(i)].y), &mut Scratch::default())
}

/// The part of an estimate that is the same for every outcome: the units
/// (without outcomes) ordered by person, with their cells numbered in
/// ascending cell id, so that many outcomes of the same units are
/// estimated in two linear passes each.
///
/// The arithmetic is the one described in the module documentation, in a
/// fixed order: cells in ascending id, a person's cluster in the order of
/// the units (by cell, then input position), persons ascending. The sums
/// per cell are exact for 0/1 outcomes whatever the order, so the result
/// does not depend on how the units were stored.
pub struct Design {
    /// Per unit, in design order (person, cell, input position).
    person: Vec<u32>,
    treated: Vec<bool>,
    weight: Vec<f64>,
    cell: Vec<u32>,
    /// Position of each unit in the input of [`Design::new`].
    source: Vec<u32>,
    /// Number of cells.
    cells: usize,
}

/// Reusable buffers of [`Design::estimate`].
#[derive(Default)]
pub struct Scratch {
    /// Outcome per unit (design order); `None`: not observed.
    y: Vec<Option<f64>>,
    /// Per cell: the control and treated groups.
    groups: Vec<[Group; 2]>,
    /// Per cell and group: input position and weight of the last unit
    /// added (the unit itself when the group has one).
    last: Vec<[(u32, f64); 2]>,
    /// Per cell and group: mean and the residual scale `√(n/(n−1))`.
    centre: Vec<[(f64, f64); 2]>,
    clusters: Vec<f64>,
}

impl Design {
    /// The design of `units` (any order).
    pub fn new(units: impl IntoIterator<Item = Unit>) -> Design {
        let units: Vec<Unit> = units.into_iter().collect();
        let mut ids: Vec<u32> = units.iter().map(|u| u.cell).collect();
        ids.sort_unstable();
        ids.dedup();
        let cell_of = |u: &Unit| ids.binary_search(&u.cell).unwrap_or(0) as u32;
        let mut order: Vec<(u32, u32, u32)> = units
            .iter()
            .enumerate()
            .map(|(i, u)| (u.person, cell_of(u), i as u32))
            .collect();
        order.sort_unstable();
        let n = order.len();
        let mut d = Design {
            person: Vec::with_capacity(n),
            treated: Vec::with_capacity(n),
            weight: Vec::with_capacity(n),
            cell: Vec::with_capacity(n),
            source: Vec::with_capacity(n),
            cells: ids.len(),
        };
        for (person, cell, i) in order {
            let u = &units[i as usize];
            d.person.push(person);
            d.treated.push(u.treated);
            d.weight.push(u.weight);
            d.cell.push(cell);
            d.source.push(i);
        }
        d
    }

    /// Units in the design.
    pub fn len(&self) -> usize {
        self.person.len()
    }

    /// Whether the design has no units.
    pub fn is_empty(&self) -> bool {
        self.person.is_empty()
    }

    /// Position in the input of [`Design::new`] of unit `i` (design order).
    pub fn source(&self, i: usize) -> usize {
        self.source[i] as usize
    }

    /// Estimate with outcome `y(i)` of unit `i` (design order); `None`
    /// leaves the unit out (the outcome is not observed). `None` without
    /// treated units.
    pub fn estimate(&self, y: impl Fn(usize) -> Option<f64>, s: &mut Scratch) -> Option<Estimate> {
        let n = self.len();
        s.y.clear();
        s.groups.clear();
        s.groups.resize(self.cells, [Group::default(); 2]);
        s.last.clear();
        s.last.resize(self.cells, [(0, 0.0); 2]);
        for i in 0..n {
            let v = y(i);
            s.y.push(v);
            if let Some(v) = v {
                let (c, k) = (self.cell[i] as usize, usize::from(self.treated[i]));
                s.groups[c][k].add(v);
                s.last[c][k] = (self.source[i], self.weight[i]);
            }
        }
        let pooled = Pooled::over(&s.groups)?;
        let sigma2 = pooled.sigma2;
        // A unit alone in its group of its cell adds the pooled variance, in
        // unit order: cells ascending, within a cell by input position.
        let mut singles = 0.0;
        s.centre.clear();
        for (g, last) in s.groups.iter().zip(&s.last) {
            let alone = |k: usize| {
                (g[k].n == 1).then(|| {
                    let a = if k == 1 { 1.0 } else { -last[k].1 };
                    (last[k].0, a * a * sigma2[k])
                })
            };
            match (alone(0), alone(1)) {
                (Some(c), Some(t)) => {
                    let (first, second) = if c.0 < t.0 { (c, t) } else { (t, c) };
                    singles += first.1;
                    singles += second.1;
                }
                (Some(x), None) | (None, Some(x)) => singles += x.1,
                (None, None) => {}
            }
            s.centre.push(std::array::from_fn(|k| {
                let n = g[k].n as f64;
                (g[k].mean(), (n / (n - 1.0)).sqrt())
            }));
        }
        // Clusters: per person (ascending), the residuals in unit order.
        s.clusters.clear();
        let mut control_n = 0u64;
        let mut current: Option<u32> = None;
        let (mut z, mut in_cluster, mut counted) = (0.0f64, false, false);
        for i in 0..n {
            let p = self.person[i];
            if current != Some(p) {
                if in_cluster {
                    s.clusters.push(z);
                }
                current = Some(p);
                (z, in_cluster, counted) = (0.0, false, false);
            }
            let Some(v) = s.y[i] else {
                continue;
            };
            let (c, k) = (self.cell[i] as usize, usize::from(self.treated[i]));
            if k == 0 && !counted {
                control_n += 1;
                counted = true;
            }
            if s.groups[c][k].n >= 2 {
                let a = if k == 1 { 1.0 } else { -self.weight[i] };
                let (mean, scale) = s.centre[c][k];
                z += a * (v - mean) * scale;
                in_cluster = true;
            }
        }
        if in_cluster {
            s.clusters.push(z);
        }
        let squares = s.clusters.iter().map(|z| z * z).sum::<f64>() + singles;
        Some(pooled.estimate(control_n, squares))
    }
}

/// Running sums for a mean and variance (optionally weighted).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Moments {
    /// Sum of weights.
    pub w: f64,
    /// Weighted sum.
    pub s: f64,
    /// Weighted sum of squares.
    pub ss: f64,
}

impl Moments {
    /// Add `x` with weight `w`.
    pub fn add(&mut self, x: f64, w: f64) {
        self.w += w;
        self.s += w * x;
        self.ss += w * x * x;
    }
    /// Remove `x` with weight `w` (added before).
    pub fn remove(&mut self, x: f64, w: f64) {
        self.add(x, -w);
    }
    /// The mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.w > 0.0 {
            self.s / self.w
        } else {
            0.0
        }
    }
    /// The (population) variance.
    pub fn var(&self) -> f64 {
        if self.w > 0.0 {
            (self.ss / self.w - self.mean().powi(2)).max(0.0)
        } else {
            0.0
        }
    }
}

/// Standardised mean difference `(m_t − m_c) / √((v_t + v_c) / 2)` with
/// the variances of the unweighted samples; `None` when both are constant
/// but differ, 0 when equal.
pub fn smd(mean_t: f64, mean_c: f64, var_t: f64, var_c: f64) -> Option<f64> {
    let diff = mean_t - mean_c;
    let sd = ((var_t + var_c) / 2.0).sqrt();
    if sd > 1e-12 {
        Some(diff / sd)
    } else if diff.abs() < 1e-12 {
        Some(0.0)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(person: u32, cell: u32, treated: bool, weight: f64, y: f64) -> Unit {
        Unit {
            person,
            cell,
            treated,
            weight,
            y,
        }
    }

    /// Cell 0: two treated (1, 1), four controls (1, 0, 0, 0) weight 0.5.
    /// Cell 1: one treated (0), one control (1) weight 1.
    fn two_cells() -> Vec<Unit> {
        vec![
            unit(1, 0, true, 1.0, 1.0),
            unit(2, 0, true, 1.0, 1.0),
            unit(10, 0, false, 0.5, 1.0),
            unit(11, 0, false, 0.5, 0.0),
            unit(12, 0, false, 0.5, 0.0),
            unit(13, 0, false, 0.5, 0.0),
            unit(3, 1, true, 1.0, 0.0),
            unit(14, 1, false, 1.0, 1.0),
        ]
    }

    #[test]
    fn stratum_weights_share_the_treated_count() {
        assert_eq!(control_weight(2, 4), 0.5);
        assert_eq!(control_weight(3, 1), 3.0);
        assert_eq!(control_weight(1, 0), 0.0);
        let units = two_cells();
        let e = estimate(&units).unwrap();
        assert_eq!(e.treated_n, 3);
        assert_eq!(e.control_n, 5);
        assert!((e.treated_mean - 2.0 / 3.0).abs() < 1e-12);
        // Weighted control mean: (2 * 0.25 + 1 * 1) / 3 = 0.5.
        assert!((e.control_mean - 0.5).abs() < 1e-12);
        assert!((e.effect - (2.0 / 3.0 - 0.5)).abs() < 1e-12);
    }

    #[test]
    fn variance_formula_by_hand() {
        // The units of `two_cells`. Residuals:
        // cell 0 treated: mean 1, residuals 0 (n = 2).
        // cell 0 controls: mean 0.25, residuals .75, -.25, -.25, -.25,
        //   scaled by sqrt(4/3), times a = -0.5.
        // cell 1: treated and control alone: pooled variances.
        //   treated pooled: cell 0 treated ss = 0, df 1 -> 0.
        //   control pooled: cell 0 ss = 0.75, df 3 -> 0.25.
        //   singles = 1 * 0 + 1 * 0.25.
        let units = two_cells();
        let e = estimate(&units).unwrap();
        let k = (4.0f64 / 3.0).sqrt();
        let clusters = [0.75, -0.25, -0.25, -0.25].map(|r: f64| (-0.5 * r * k).powi(2));
        let expected = (clusters.iter().sum::<f64>() + 0.25) / 9.0;
        assert!(
            (e.se * e.se - expected).abs() < 1e-12,
            "{} vs {expected}",
            e.se * e.se
        );
    }

    #[test]
    fn a_control_reused_across_cells_is_one_cluster() {
        // Person 10 is the control in two cells, with residual +0.5 in both:
        // the clustered variance counts (0.5 + 0.5)² rather than 2 * 0.5².
        let mut units = Vec::new();
        for cell in 0..2 {
            units.push(unit(cell, cell, true, 1.0, 1.0));
            units.push(unit(cell + 100, cell, true, 1.0, 1.0));
            units.push(unit(10, cell, false, 1.0, 1.0));
            units.push(unit(cell + 20, cell, false, 1.0, 0.0));
        }
        let e = estimate(&units).unwrap();
        let k2 = 2.0; // n/(n-1) for n = 2
        let expected = ((0.5f64 + 0.5).powi(2) * k2 + 2.0 * 0.25 * k2) / 16.0;
        assert!((e.se * e.se - expected).abs() < 1e-12);
        let mut split = units.clone();
        split[6].person = 11; // two different persons
        let s = estimate(&split).unwrap();
        assert!(s.se < e.se);
    }

    #[test]
    fn variance_matches_the_binomial_formula_in_a_large_design() {
        // One cell type repeated: 2 treated (p = .5) and 4 controls (p = .25)
        // per cell, 500 cells. Var = (σt²/NT) + Σ w² σc² / NT².
        let mut units = Vec::new();
        let mut person = 0;
        for cell in 0..500u32 {
            for (t, ys, w) in [
                (true, vec![1.0, 0.0], 1.0),
                (false, vec![1.0, 0.0, 0.0, 0.0], 0.5),
            ] {
                for y in ys {
                    units.push(unit(person, cell, t, w, y));
                    person += 1;
                }
            }
        }
        let e = estimate(&units).unwrap();
        let nt = 1000.0;
        // Unbiased within-cell variances: treated 0.5, controls 0.25.
        let expected = 0.5 / nt + 2000.0 * 0.25 * 0.25 / (nt * nt);
        assert!((e.se * e.se - expected).abs() < 1e-12);
    }

    /// The straightforward implementation (maps per cell and person) the
    /// linear passes of [`Design::estimate`] must reproduce bit for bit.
    fn reference(units: &[Unit]) -> Option<Estimate> {
        use std::collections::{BTreeMap, BTreeSet};
        let mut cells: BTreeMap<u32, [Group; 2]> = BTreeMap::new();
        for u in units {
            cells.entry(u.cell).or_default()[usize::from(u.treated)].add(u.y);
        }
        // The pooling over cells is shared with the code under test; what
        // this reference restates is the per-unit and per-person passes.
        let pooled = Pooled::over(cells.values())?;
        let sigma2 = pooled.sigma2;
        let mut clusters: BTreeMap<u32, f64> = BTreeMap::new();
        let mut singles = 0.0;
        let mut controls = BTreeSet::new();
        for u in units {
            let k = usize::from(u.treated);
            let g = &cells[&u.cell][k];
            let a = if u.treated { 1.0 } else { -u.weight };
            if !u.treated {
                controls.insert(u.person);
            }
            if g.n >= 2 {
                let n = g.n as f64;
                *clusters.entry(u.person).or_default() +=
                    a * (u.y - g.mean()) * (n / (n - 1.0)).sqrt();
            } else {
                singles += a * a * sigma2[k];
            }
        }
        let squares = clusters.values().map(|z| z * z).sum::<f64>() + singles;
        Some(pooled.estimate(controls.len() as u64, squares))
    }

    #[test]
    fn linear_passes_reproduce_the_reference_bit_for_bit() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        for round in 0..20 {
            let mut units = Vec::new();
            for cell in 0..(5 + next(60) as u32) {
                let (t, c) = (1 + next(4) as usize, 1 + next(7) as usize);
                let w = control_weight(t, c);
                for _ in 0..t {
                    units.push(unit(next(40) as u32, cell, true, 1.0, next(2) as f64));
                }
                for _ in 0..c {
                    units.push(unit(next(40) as u32, cell, false, w, next(2) as f64));
                }
            }
            // Some cells unobserved (their units left out by `y`).
            let hidden: Vec<bool> = (0..70).map(|_| next(5) == 0).collect();
            let kept: Vec<Unit> = units
                .iter()
                .copied()
                .filter(|u| !hidden[u.cell as usize])
                .collect();
            let design = Design::new(units.iter().copied());
            let y = |i: usize| {
                let u = &units[design.source(i)];
                (!hidden[u.cell as usize]).then_some(u.y)
            };
            let fast = design.estimate(y, &mut Scratch::default());
            let slow = reference(&kept);
            match (fast, slow) {
                (Some(f), Some(s)) => {
                    assert_eq!(f.treated_n, s.treated_n, "round {round}");
                    assert_eq!(f.control_n, s.control_n, "round {round}");
                    for (a, b) in [
                        (f.treated_sum, s.treated_sum),
                        (f.treated_mean, s.treated_mean),
                        (f.control_mean, s.control_mean),
                        (f.effect, s.effect),
                        (f.se, s.se),
                    ] {
                        assert_eq!(a.to_bits(), b.to_bits(), "round {round}");
                    }
                }
                (f, s) => assert_eq!(f.is_none(), s.is_none(), "round {round}"),
            }
        }
    }

    #[test]
    fn smd_cases() {
        assert_eq!(smd(0.5, 0.5, 0.25, 0.25), Some(0.0));
        assert!((smd(0.6, 0.4, 0.24, 0.24).unwrap() - 0.2 / 0.24f64.sqrt()).abs() < 1e-12);
        assert_eq!(smd(1.0, 0.0, 0.0, 0.0), None);
        let mut m = Moments::default();
        m.add(1.0, 2.0);
        m.add(0.0, 2.0);
        assert_eq!(m.mean(), 0.5);
        assert_eq!(m.var(), 0.25);
        m.remove(0.0, 2.0);
        assert_eq!(m.mean(), 1.0);
    }
}
