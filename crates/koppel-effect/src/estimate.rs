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

use std::collections::BTreeMap;

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

/// Estimate from units (sorted or not); `None` without treated units.
/// Every cell must hold at least one treated and one control unit, with
/// the controls' weights summing to the cell's treated count.
pub fn estimate(units: &[Unit]) -> Option<Estimate> {
    let mut cells: BTreeMap<u32, [Group; 2]> = BTreeMap::new();
    for u in units {
        cells.entry(u.cell).or_default()[usize::from(u.treated)].add(u.y);
    }
    let mut nt = 0u64;
    let (mut sum_t, mut sum_c) = (0.0, 0.0);
    let mut overall = [Group::default(); 2];
    let (mut pooled_ss, mut pooled_df) = ([0.0f64; 2], [0u64; 2]);
    for g in cells.values() {
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
    let mut clusters: BTreeMap<u32, f64> = BTreeMap::new();
    let mut singles = 0.0;
    let mut controls = std::collections::BTreeSet::new();
    for u in units {
        let k = usize::from(u.treated);
        let g = &cells[&u.cell][k];
        let a = if u.treated { 1.0 } else { -u.weight };
        if !u.treated {
            controls.insert(u.person);
        }
        if g.n >= 2 {
            let n = g.n as f64;
            *clusters.entry(u.person).or_default() += a * (u.y - g.mean()) * (n / (n - 1.0)).sqrt();
        } else {
            singles += a * a * sigma2[k];
        }
    }
    let v = (clusters.values().map(|z| z * z).sum::<f64>() + singles) / (nt as f64).powi(2);
    let n = nt as f64;
    Some(Estimate {
        treated_n: nt,
        control_n: controls.len() as u64,
        treated_sum: sum_t,
        treated_mean: sum_t / n,
        control_mean: sum_c / n,
        effect: (sum_t - sum_c) / n,
        se: v.sqrt(),
    })
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

    #[test]
    fn stratum_weights_share_the_treated_count() {
        assert_eq!(control_weight(2, 4), 0.5);
        assert_eq!(control_weight(3, 1), 3.0);
        assert_eq!(control_weight(1, 0), 0.0);
        // Cell 0: two treated (1, 1), four controls (1, 0, 0, 0) weight 0.5.
        // Cell 1: one treated (0), one control (1) weight 1.
        let units = vec![
            unit(1, 0, true, 1.0, 1.0),
            unit(2, 0, true, 1.0, 1.0),
            unit(10, 0, false, 0.5, 1.0),
            unit(11, 0, false, 0.5, 0.0),
            unit(12, 0, false, 0.5, 0.0),
            unit(13, 0, false, 0.5, 0.0),
            unit(3, 1, true, 1.0, 0.0),
            unit(14, 1, false, 1.0, 1.0),
        ];
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
        // Same units as above. Residuals:
        // cell 0 treated: mean 1, residuals 0 (n = 2).
        // cell 0 controls: mean 0.25, residuals .75, -.25, -.25, -.25,
        //   scaled by sqrt(4/3), times a = -0.5.
        // cell 1: treated and control alone: pooled variances.
        //   treated pooled: cell 0 treated ss = 0, df 1 -> 0.
        //   control pooled: cell 0 ss = 0.75, df 3 -> 0.25.
        //   singles = 1 * 0 + 1 * 0.25.
        let units = vec![
            unit(1, 0, true, 1.0, 1.0),
            unit(2, 0, true, 1.0, 1.0),
            unit(10, 0, false, 0.5, 1.0),
            unit(11, 0, false, 0.5, 0.0),
            unit(12, 0, false, 0.5, 0.0),
            unit(13, 0, false, 0.5, 0.0),
            unit(3, 1, true, 1.0, 0.0),
            unit(14, 1, false, 1.0, 1.0),
        ];
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
