//! The matched estimates recover the effects planted in synthetic data,
//! where the naive comparison does not.
//!
//! koppel-synth simulates every treated start twice (with and without the
//! trajectory, same random streams) and reports the true average effect on
//! the treated. Selection into instruments depends on what the registers
//! and uploads show, so matching on those characteristics can recover it.
//! The figures printed here are recorded in BENCHMARKS.md.

mod support;

use std::collections::BTreeMap;

use koppel_effect::{evaluate, EffectConfig, TOTAL};
use koppel_link::{Bands, CivilDate};
use koppel_synth::model::{generate_person_with_truth, InstrumentKind, ModelParams};
use koppel_synth::{municipalities, Catalogue};
use rayon::prelude::*;

const PERSONS: u64 = 200_000;

#[test]
fn matched_estimates_cover_the_planted_effects() {
    let catalogue = Catalogue::builtin();
    let d = |y, m, day| koppel_synth::date::from_ymd(y, m, day);
    let params = ModelParams {
        seed: 11,
        from: d(2015, 1, 1),
        to: d(2024, 12, 31),
        municipalities: municipalities::select(3),
        instruments: catalogue
            .instruments
            .iter()
            .map(|i| InstrumentKind::from_code(&i.code))
            .collect(),
    };
    let period = (d(2017, 1, 1), d(2022, 12, 31));
    let people: Vec<_> = (0..PERSONS)
        .into_par_iter()
        .map(|i| generate_person_with_truth(&params, i, period))
        .collect();
    // True ATT on werk at 12 months per instrument.
    let h12 = koppel_synth::model::TRUTH_HORIZONS
        .iter()
        .position(|h| *h == 12)
        .unwrap();
    let mut truth: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    for (_, starts) in &people {
        for s in starts {
            if let Some([with, without]) = s.outcomes[h12] {
                let e = truth
                    .entry(catalogue.instruments[s.instrument as usize].code.clone())
                    .or_default();
                e.0 += 1;
                e.1 += i64::from(with[0]) - i64::from(without[0]);
            }
        }
    }
    let histories: Vec<_> = people.into_iter().map(|(h, _)| h).collect();
    let frames = support::synth_frames(&histories, &params);

    let mut config = EffectConfig::new(
        CivilDate::parse("2017-01-01").unwrap(),
        CivilDate::parse("2022-12-31").unwrap(),
    );
    config.horizons = vec![12];
    let started = std::time::Instant::now();
    let r = evaluate(&frames, &config, &Bands::default()).unwrap();
    let seconds = started.elapsed().as_secs_f64();

    println!("| instrument | treated (truth) | matched | unmatched | true ATT (pp) | estimate (pp) | 95% interval | naive (pp) | covered |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let (mut evaluated, mut covered) = (0, 0);
    let mut wage_subsidy_checked = false;
    for (code, (n, sum)) in &truth {
        let att = 100.0 * *sum as f64 / *n as f64;
        let est = r.effects.iter().find(|e| {
            &e.instrument == code
                && e.dimension == TOTAL
                && e.outcome == "werk"
                && e.horizon_months == 12
        });
        let support = r.support.iter().find(|s| &s.instrument == code).unwrap();
        let Some(e) = est else {
            println!("| {code} | {n} | - | - | {att:.1} | - | - | - | - |");
            continue;
        };
        let ok = e.ci_low_pp <= att && att <= e.ci_high_pp;
        println!(
            "| {code} | {n} | {} | {} | {att:.1} | {:.1} | [{:.1}, {:.1}] | {:.1} | {} |",
            support.counts.matched,
            support.counts.unmatched,
            e.effect_pp,
            e.ci_low_pp,
            e.ci_high_pp,
            e.naive_pp.unwrap_or(f64::NAN),
            if ok { "yes" } else { "no" }
        );
        if *n >= 200 {
            evaluated += 1;
            covered += usize::from(ok);
        }
        if code == "loonkostensubsidie" {
            let naive = e.naive_pp.expect("naive difference");
            assert!(
                naive < e.ci_low_pp || naive > e.ci_high_pp,
                "wage subsidy: the naive difference {naive:.1} lies inside the interval"
            );
            wage_subsidy_checked = true;
        }
    }
    println!("effect stage on {PERSONS} persons: {seconds:.1} s");
    assert!(wage_subsidy_checked, "wage subsidy was not evaluated");
    assert!(
        evaluated >= 5,
        "only {evaluated} instruments with 200 treated"
    );
    assert!(
        covered * 10 >= evaluated * 9,
        "intervals cover the truth for {covered} of {evaluated} instruments"
    );
    // Exact matching balances every matching variable.
    for b in &r.balance {
        if b.variable.contains('=') {
            if let Some(after) = b.smd_after {
                assert!(
                    after.abs() < 0.1,
                    "{} {}: SMD after {after}",
                    b.instrument,
                    b.variable
                );
            }
        }
    }
}
