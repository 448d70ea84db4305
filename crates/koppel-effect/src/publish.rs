//! Disclosure control and rounding of the effect tables.
//!
//! The counts behind the estimates form one linked cell set, protected with
//! the same rules and machinery as the cohort tables (primary suppression,
//! secondary suppression over every additive relation, the LP audit that
//! fails closed, rounding):
//!
//! - per treatment, dimension level and observation window: the treated n
//!   (`n`), per outcome the treated with the outcome (`yes`), and for the
//!   durable-outflow and placebo outcomes the treated without it (`no`);
//! - relations: the levels of each subgroup dimension add up to the total
//!   (for `n` and every `yes`/`no`); the five states add up to `n`;
//!   `off_assistance` = `werk` + `ww` + `overig`; `n = yes + no`;
//!   treated starts = matched + unmatched;
//! - the distinct comparison persons of an estimate are a count of their own.
//!
//! These cells describe treated starts in the evaluation period, a
//! different population from any cohort table, so they share no cell and no
//! relation with the cohort's tables: protecting them as their own
//! component gives the statuses a joint protection would give.
//!
//! An estimate is published only if its treated n is at least
//! `min_effect_n` and its `n`, `yes` and comparison counts are all
//! published; shares are rounded to whole percentages and differences to one
//! decimal. Balance rows are published for treatments whose matched treated
//! n reaches `min_effect_n`.

use std::collections::BTreeMap;

use koppel_disclosure::cells::{primary_pattern, CellSetBuilder, Status};
use koppel_disclosure::rules::{count_is_primary, round_count, Rules};
use koppel_disclosure::secondary::suppress_secondary;
use koppel_disclosure::table::{final_audit, DisclosureError};
// The states partition the treated at a horizon.
use koppel_schema::analysis::STATES;
use serde::Serialize;

use crate::{BalanceRow, EffectRow, SupportRow, TOTAL};

/// Outcomes published with their complement.
const FLAGS: [&str; 2] = ["durable_outflow", "werk_placebo"];

/// One row of the published `effects` table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PublishedEffect {
    /// Instrument code or group name.
    pub instrument: String,
    /// `Total` or a subgroup dimension.
    pub dimension: String,
    /// `Total` or the level.
    pub level: String,
    /// Months after time zero (-12: placebo).
    pub horizon_months: i32,
    /// The outcome.
    pub outcome: String,
    /// Treated n (rounded).
    pub treated_n: Option<f64>,
    /// Comparison persons (rounded).
    pub control_n: Option<f64>,
    /// Treated share, whole percent.
    pub treated_share: Option<f64>,
    /// Weighted comparison share, whole percent.
    pub control_share: Option<f64>,
    /// Effect, percentage points (one decimal).
    pub effect_pp: Option<f64>,
    /// Lower end of the 95% interval.
    pub ci_low_pp: Option<f64>,
    /// Upper end of the 95% interval.
    pub ci_high_pp: Option<f64>,
    /// Naive difference, percentage points.
    pub naive_pp: Option<f64>,
    /// `published` or `suppressed`.
    pub status: &'static str,
}

/// One row of the published `effect_support` table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PublishedSupport {
    /// Instrument code or group name.
    pub instrument: String,
    /// Treated starts (rounded).
    pub treated: Option<f64>,
    /// Of which matched (rounded).
    pub matched: Option<f64>,
    /// Of which without comparison persons (rounded).
    pub unmatched: Option<f64>,
    /// `published` or `suppressed` (any of the three withheld).
    pub status: &'static str,
}

/// Counts of the protection of the effect cells.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EffectProtection {
    /// Count cells.
    pub cells: usize,
    /// Primary-suppressed cells.
    pub primary: usize,
    /// Secondary-suppressed cells.
    pub secondary: usize,
    /// Estimates published.
    pub published: usize,
    /// Estimates withheld.
    pub suppressed: usize,
}

/// The published effect tables.
#[derive(Clone, Debug, Default)]
pub struct Published {
    /// `effects`.
    pub effects: Vec<PublishedEffect>,
    /// `balance` (SMDs to three decimals).
    pub balance: Vec<BalanceRow>,
    /// `effect_support`.
    pub support: Vec<PublishedSupport>,
    /// What protection did.
    pub protection: EffectProtection,
}

fn window(row: &EffectRow) -> String {
    if row.horizon_months < 0 {
        "all".into()
    } else {
        format!("{}m", row.horizon_months)
    }
}

fn base(row: &EffectRow) -> String {
    format!("effect|{}|{}={}", row.instrument, row.dimension, row.level)
}

struct Keys {
    n: usize,
    yes: usize,
    controls: usize,
}

fn cell(b: &mut CellSetBuilder, key: &str, v: f64) -> Result<usize, DisclosureError> {
    b.cell(key, v).map_err(|c| {
        DisclosureError::Invalid(format!(
            "effect cell {} has two values ({} and {})",
            c.key, c.first, c.second
        ))
    })
}

/// The count cells of every estimate (treated, treated with the outcome,
/// controls; and treated without it for a flag), flags related to their
/// treated count.
fn effect_cells(
    b: &mut CellSetBuilder,
    effects: &[EffectRow],
) -> Result<Vec<Keys>, DisclosureError> {
    let mut keys = Vec::with_capacity(effects.len());
    for r in effects {
        let n = cell(
            b,
            &format!("{}|n|{}", base(r), window(r)),
            r.treated_n as f64,
        )?;
        let yes = cell(
            b,
            &format!("{}|{}|{}|yes", base(r), r.outcome, window(r)),
            r.treated_with as f64,
        )?;
        let controls = cell(
            b,
            &format!("{}|controls|{}", base(r), window(r)),
            r.control_n as f64,
        )?;
        if FLAGS.contains(&r.outcome.as_str()) {
            let no = cell(
                b,
                &format!("{}|{}|{}|no", base(r), r.outcome, window(r)),
                (r.treated_n - r.treated_with) as f64,
            )?;
            b.relate(n, &format!("{}|{}", r.outcome, window(r)), yes);
            b.relate(n, &format!("{}|{}", r.outcome, window(r)), no);
        }
        keys.push(Keys { n, yes, controls });
    }
    Ok(keys)
}

/// Relations between estimates: the five states partition the treated
/// (and off-assistance is three of them), and a breakdown level is within
/// the instrument's total.
fn relate_estimates(b: &mut CellSetBuilder, effects: &[EffectRow], keys: &[Keys]) {
    let index: BTreeMap<(String, String, String, i32, String), usize> = effects
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                (
                    r.instrument.clone(),
                    r.dimension.clone(),
                    r.level.clone(),
                    r.horizon_months,
                    r.outcome.clone(),
                ),
                i,
            )
        })
        .collect();
    for (i, r) in effects.iter().enumerate() {
        let at = |o: &str| {
            index
                .get(&(
                    r.instrument.clone(),
                    r.dimension.clone(),
                    r.level.clone(),
                    r.horizon_months,
                    o.to_string(),
                ))
                .copied()
        };
        if r.outcome == "werk" && r.horizon_months > 0 {
            // Only complete partitions are relations.
            let states: Option<Vec<usize>> = STATES.iter().map(|s| at(s)).collect();
            if let Some(states) = states {
                let axis = format!("{}|states|{}", base(r), window(r));
                for j in &states {
                    b.relate(keys[i].n, &axis, keys[*j].yes);
                }
                if let Some(off) = at("off_assistance") {
                    let axis = format!("{}|off|{}", base(r), window(r));
                    for j in [states[2], states[3], states[4]] {
                        b.relate(keys[off].yes, &axis, keys[j].yes);
                    }
                }
            }
        }
        if r.dimension != TOTAL {
            let total = index.get(&(
                r.instrument.clone(),
                TOTAL.to_string(),
                TOTAL.to_string(),
                r.horizon_months,
                r.outcome.clone(),
            ));
            if let Some(&t) = total {
                let axis = format!("effect|{}|dim:{}|{}", r.instrument, r.dimension, window(r));
                b.relate(keys[t].n, &format!("{axis}|n"), keys[i].n);
                b.relate(
                    keys[t].yes,
                    &format!("{axis}|{}|yes", r.outcome),
                    keys[i].yes,
                );
                if FLAGS.contains(&r.outcome.as_str()) {
                    let no = |x: &EffectRow| format!("{}|{}|{}|no", base(x), x.outcome, window(x));
                    if let (Some(tn), Some(pn)) = (b.find(&no(&effects[t])), b.find(&no(r))) {
                        b.relate(tn, &format!("{axis}|{}|no", r.outcome), pn);
                    }
                }
            }
        }
    }
}

/// The support cells per instrument (treated = matched + unmatched);
/// returns (treated, matched, unmatched) per row of `support`.
fn support_cells(
    b: &mut CellSetBuilder,
    support: &[SupportRow],
) -> Result<Vec<(usize, usize, usize)>, DisclosureError> {
    let mut support_keys = Vec::new();
    for s in support {
        let c = &s.counts;
        let treated = cell(
            b,
            &format!("effect|{}|treated", s.instrument),
            c.treated as f64,
        )?;
        let unmatched = cell(
            b,
            &format!("effect|{}|unmatched", s.instrument),
            c.unmatched as f64,
        )?;
        let matched_key = format!("effect|{}|{TOTAL}={TOTAL}|n|all", s.instrument);
        let matched = match b.find(&matched_key) {
            Some(m) => m,
            None => cell(b, &matched_key, c.matched as f64)?,
        };
        let axis = format!("effect|{}|support", s.instrument);
        b.relate(treated, &axis, matched);
        b.relate(treated, &axis, unmatched);
        support_keys.push((treated, matched, unmatched));
    }
    Ok(support_keys)
}

/// Protect and round the effect tables.
pub fn publish(
    effects: &[EffectRow],
    balance: &[BalanceRow],
    support: &[SupportRow],
    min_effect_n: u64,
    rules: &Rules,
) -> Result<Published, DisclosureError> {
    let mut b = CellSetBuilder::default();
    let keys = effect_cells(&mut b, effects)?;
    relate_estimates(&mut b, effects, &keys);
    let support_keys = support_cells(&mut b, support)?;
    let cells = b.finish();
    let min = rules.min_count as f64;
    let (mut status, required) =
        primary_pattern(&cells.values, min, |v| count_is_primary(rules, v));
    let primary = status.iter().filter(|s| **s == Status::Primary).count();
    let stats = suppress_secondary(&cells, &mut status, &required, min)?;
    let report = final_audit(&cells, &status, rules)?;
    if !report.is_clean() {
        return Err(DisclosureError::Violations(report.violations().len()));
    }
    let published = |i: usize| -> Option<f64> {
        (!status[i].is_suppressed()).then(|| round_count(rules, &cells.keys[i], cells.values[i]))
    };
    let mut out = Published {
        protection: EffectProtection {
            cells: cells.len(),
            primary,
            secondary: stats.cells,
            ..EffectProtection::default()
        },
        ..Published::default()
    };
    let one = |x: f64| (x * 10.0).round() / 10.0;
    for (r, k) in effects.iter().zip(&keys) {
        let ok = r.treated_n >= min_effect_n
            && published(k.n).is_some()
            && published(k.yes).is_some()
            && published(k.controls).is_some();
        if ok {
            out.protection.published += 1;
        } else {
            out.protection.suppressed += 1;
        }
        out.effects.push(PublishedEffect {
            instrument: r.instrument.clone(),
            dimension: r.dimension.clone(),
            level: r.level.clone(),
            horizon_months: r.horizon_months,
            outcome: r.outcome.clone(),
            treated_n: ok.then(|| published(k.n)).flatten(),
            control_n: ok.then(|| published(k.controls)).flatten(),
            treated_share: ok.then(|| (100.0 * r.treated_share).round()),
            control_share: ok.then(|| (100.0 * r.control_share).round()),
            effect_pp: ok.then(|| one(r.effect_pp)),
            ci_low_pp: ok.then(|| one(r.ci_low_pp)),
            ci_high_pp: ok.then(|| one(r.ci_high_pp)),
            naive_pp: if ok { r.naive_pp.map(one) } else { None },
            status: if ok { "published" } else { "suppressed" },
        });
    }
    for (s, &(t, m, u)) in support.iter().zip(&support_keys) {
        let v = [published(t), published(m), published(u)];
        let all = v.iter().all(Option::is_some);
        out.support.push(PublishedSupport {
            instrument: s.instrument.clone(),
            treated: v[0],
            matched: v[1],
            unmatched: v[2],
            status: if all { "published" } else { "suppressed" },
        });
    }
    let large: std::collections::BTreeSet<&str> = support
        .iter()
        .filter(|s| s.counts.matched >= min_effect_n)
        .map(|s| s.instrument.as_str())
        .collect();
    let three = |x: f64| (x * 1000.0).round() / 1000.0;
    out.balance = balance
        .iter()
        .filter(|r| large.contains(r.instrument.as_str()))
        .map(|r| BalanceRow {
            instrument: r.instrument.clone(),
            variable: r.variable.clone(),
            smd_before: r.smd_before.map(three),
            smd_after: r.smd_after.map(three),
        })
        .collect();
    Ok(out)
}

fn err(source: polars::prelude::PolarsError) -> DisclosureError {
    DisclosureError::Polars {
        table: "effects".into(),
        source,
    }
}

impl Published {
    /// The three tables as frames, in the column order of the package:
    /// `effects`, `balance`, `effect_support`.
    pub fn frames(
        &self,
    ) -> Result<
        (
            polars::prelude::DataFrame,
            polars::prelude::DataFrame,
            polars::prelude::DataFrame,
        ),
        DisclosureError,
    > {
        use polars::prelude::{Column, DataFrame};
        let e = &self.effects;
        let s = |f: fn(&PublishedEffect) -> &str| e.iter().map(f).collect::<Vec<_>>();
        let n = |f: fn(&PublishedEffect) -> Option<f64>| e.iter().map(f).collect::<Vec<_>>();
        let effects = DataFrame::new(
            e.len(),
            vec![
                Column::new("instrument".into(), s(|r| &r.instrument)),
                Column::new("dimension".into(), s(|r| &r.dimension)),
                Column::new("level".into(), s(|r| &r.level)),
                Column::new(
                    "horizon_months".into(),
                    e.iter().map(|r| r.horizon_months).collect::<Vec<_>>(),
                ),
                Column::new("outcome".into(), s(|r| &r.outcome)),
                Column::new("treated_n".into(), n(|r| r.treated_n)),
                Column::new("control_n".into(), n(|r| r.control_n)),
                Column::new("treated_share".into(), n(|r| r.treated_share)),
                Column::new("control_share".into(), n(|r| r.control_share)),
                Column::new("effect_pp".into(), n(|r| r.effect_pp)),
                Column::new("ci_low_pp".into(), n(|r| r.ci_low_pp)),
                Column::new("ci_high_pp".into(), n(|r| r.ci_high_pp)),
                Column::new("naive_pp".into(), n(|r| r.naive_pp)),
                Column::new("status".into(), s(|r| r.status)),
            ],
        )
        .map_err(err)?;
        let b = &self.balance;
        let balance = DataFrame::new(
            b.len(),
            vec![
                Column::new(
                    "instrument".into(),
                    b.iter().map(|r| r.instrument.as_str()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "variable".into(),
                    b.iter().map(|r| r.variable.as_str()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "smd_before".into(),
                    b.iter().map(|r| r.smd_before).collect::<Vec<_>>(),
                ),
                Column::new(
                    "smd_after".into(),
                    b.iter().map(|r| r.smd_after).collect::<Vec<_>>(),
                ),
            ],
        )
        .map_err(err)?;
        let u = &self.support;
        let support = DataFrame::new(
            u.len(),
            vec![
                Column::new(
                    "instrument".into(),
                    u.iter().map(|r| r.instrument.as_str()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "treated".into(),
                    u.iter().map(|r| r.treated).collect::<Vec<_>>(),
                ),
                Column::new(
                    "matched".into(),
                    u.iter().map(|r| r.matched).collect::<Vec<_>>(),
                ),
                Column::new(
                    "unmatched".into(),
                    u.iter().map(|r| r.unmatched).collect::<Vec<_>>(),
                ),
                Column::new(
                    "status".into(),
                    u.iter().map(|r| r.status).collect::<Vec<_>>(),
                ),
            ],
        )
        .map_err(err)?;
        Ok((effects, balance, support))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SelectionCounts;

    fn row(dim: &str, level: &str, outcome: &str, n: u64, yes: u64) -> EffectRow {
        EffectRow {
            instrument: "wep".into(),
            dimension: dim.into(),
            level: level.into(),
            horizon_months: 12,
            outcome: outcome.into(),
            treated_n: n,
            control_n: 200,
            treated_with: yes,
            treated_share: yes as f64 / n as f64,
            control_share: 0.2,
            effect_pp: 3.04,
            se_pp: 1.0,
            ci_low_pp: 1.06,
            ci_high_pp: 4.96,
            naive_pp: Some(9.96),
        }
    }

    #[test]
    fn small_estimates_and_small_counts_are_withheld() {
        let rules = Rules::parse(include_str!("../../../config/disclosure.toml")).unwrap();
        // Total 120 = 70 (M) + 50 (V); werk 30 = 26 + 4: V's 4 is primary.
        let effects = vec![
            row(TOTAL, TOTAL, "werk", 120, 30),
            row("sex", "M", "werk", 70, 26),
            row("sex", "V", "werk", 50, 4),
            row("sex", "X", "werk", 40, 12),
        ];
        let mut effects = effects;
        effects.pop();
        let support = vec![SupportRow {
            instrument: "wep".into(),
            members: vec!["wep".into()],
            counts: SelectionCounts {
                treated: 130,
                matched: 120,
                unmatched: 10,
                ..SelectionCounts::default()
            },
        }];
        let p = publish(&effects, &[], &support, 60, &rules).unwrap();
        let total = &p.effects[0];
        assert_eq!(total.status, "published");
        assert_eq!(total.treated_n, Some(120.0));
        assert_eq!(total.treated_share, Some(25.0));
        assert_eq!(total.effect_pp, Some(3.0));
        assert_eq!(total.ci_high_pp, Some(5.0));
        assert_eq!(total.naive_pp, Some(10.0));
        // M: werk 26 is published, but its complement V is primary, so M
        // (= total - V) must be withheld too.
        assert_eq!(p.effects[1].status, "suppressed");
        assert_eq!(p.effects[1].effect_pp, None);
        // V: below min_effect_n and a primary count.
        assert_eq!(p.effects[2].status, "suppressed");
        assert!(p.protection.primary >= 1);
        assert_eq!(p.support[0].status, "published");
        assert_eq!(p.support[0].matched, Some(120.0));
    }
}
