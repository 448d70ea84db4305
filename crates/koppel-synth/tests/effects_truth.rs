//! `truth/effects.csv` and `truth/effects_by_group.csv`: contract columns,
//! counts that add up, real effects, and selection that makes the naive
//! comparison wrong for wage subsidy.

use std::collections::HashMap;

use koppel_synth::date::{add_months, from_ymd, Day};
use koppel_synth::model::{generate_person_with_truth, InstrumentKind, ModelParams};
use koppel_synth::types::{BenefitType, History};
use koppel_synth::{generate, SynthConfig};

type Row = HashMap<String, String>;

fn read_csv(path: &std::path::Path) -> (Vec<String>, Vec<Row>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect();
    (header, rows)
}

#[test]
fn truth_files_have_the_contract_columns_and_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        persons: 40_000,
        municipalities: 6,
        seed: 5,
        ..SynthConfig::default()
    };
    generate(&config, dir.path()).unwrap();
    let (h, total) = read_csv(&dir.path().join("truth/effects.csv"));
    assert_eq!(
        h,
        [
            "instrument",
            "horizon_months",
            "outcome",
            "treated",
            "true_att"
        ]
    );
    let (h, groups) = read_csv(&dir.path().join("truth/effects_by_group.csv"));
    assert_eq!(
        h,
        [
            "instrument",
            "dimension",
            "level",
            "horizon_months",
            "outcome",
            "treated",
            "true_att"
        ]
    );
    let codes: Vec<&str> = config
        .catalogue
        .instruments
        .iter()
        .map(|i| i.code.as_str())
        .collect();
    let key = |r: &Row| {
        (
            r["instrument"].clone(),
            r["horizon_months"].clone(),
            r["outcome"].clone(),
        )
    };
    let mut totals: HashMap<_, (u64, f64)> = HashMap::new();
    for r in &total {
        assert!(codes.contains(&r["instrument"].as_str()), "{r:?}");
        assert!(["6", "12", "18", "24"].contains(&r["horizon_months"].as_str()));
        assert!(["werk", "off_assistance"].contains(&r["outcome"].as_str()));
        let n: u64 = r["treated"].parse().unwrap();
        let att: f64 = r["true_att"].parse().unwrap();
        assert!(n > 0 && (-1.0..=1.0).contains(&att), "{r:?}");
        totals.insert(key(r), (n, att));
    }
    // The default evaluation period keeps every horizon inside the window:
    // the same treated count at every horizon.
    for ((inst, _, outcome), (n, _)) in &totals {
        let at6 = totals[&(inst.clone(), "6".to_string(), outcome.clone())].0;
        assert_eq!(*n, at6, "{inst} {outcome}");
    }
    // Every dimension partitions the treated; the group effects average to
    // the overall one.
    let mut sums: HashMap<_, (u64, f64)> = HashMap::new();
    for r in &groups {
        let n: u64 = r["treated"].parse().unwrap();
        let att: f64 = r["true_att"].parse().unwrap();
        let levels: &[&str] = match r["dimension"].as_str() {
            "age_band" => &["<27", "27-34", "35-44", "45-54", "55+"],
            "sex" => &["M", "V"],
            "duration_band" => &["<0.5", "0.5-1", "1-2", "2-3", "3-4", "4-5", ">5"],
            "segment" => &[
                "werk",
                "perspectief",
                "meedoen",
                "niet_ingedeeld",
                "unknown",
            ],
            d => panic!("unexpected dimension {d}"),
        };
        assert!(levels.contains(&r["level"].as_str()), "{r:?}");
        let s = sums.entry((key(r), r["dimension"].clone())).or_default();
        s.0 += n;
        s.1 += att * n as f64;
    }
    assert_eq!(sums.len(), totals.len() * 4);
    for ((k, dim), (n, weighted)) in &sums {
        let (tn, tatt) = totals[k];
        assert_eq!(*n, tn, "{k:?} {dim}");
        assert!((weighted / *n as f64 - tatt).abs() < 1e-5, "{k:?} {dim}");
    }
    // Real effects: wage subsidy raises work a year on; vocational schooling
    // keeps people on assistance while it runs (lock-in at six months).
    let att =
        |inst: &str, h: &str, o: &str| totals[&(inst.to_string(), h.to_string(), o.to_string())];
    let (n, lks) = att("loonkostensubsidie", "12", "werk");
    assert!(n >= 200 && lks > 0.04, "wage subsidy: {n} treated, {lks}");
    let (_, school) = att("scholing", "6", "off_assistance");
    assert!(school < 0.0, "schooling lock-in {school}");
}

fn on_assistance(h: &History, d: Day) -> bool {
    h.benefits.iter().any(|b| {
        matches!(
            b.kind,
            BenefitType::Bijstand | BenefitType::Ioaw | BenefitType::Ioaz
        ) && b.start <= d
            && b.end.is_none_or(|e| e >= d)
    })
}

fn in_work_only(h: &History, d: Day) -> bool {
    !on_assistance(h, d)
        && h.person.death.is_none_or(|x| x > d)
        && h.person.emigration.is_none_or(|x| x > d)
        && h.jobs
            .iter()
            .any(|j| j.start <= d && j.end.is_none_or(|e| e >= d))
}

/// Wage subsidy goes to clients close to work: those who start it are in
/// work a year later far more often than everyone else on assistance then,
/// much more than the subsidy itself explains.
#[test]
fn naive_comparison_overstates_the_wage_subsidy_effect() {
    let config = SynthConfig::default();
    let kinds = InstrumentKind::of_catalogue(&config.catalogue);
    let lks = kinds
        .iter()
        .position(|k| *k == InstrumentKind::WageSubsidy)
        .unwrap() as u16;
    let params = ModelParams {
        seed: 21,
        from: config.from,
        to: config.to,
        municipalities: koppel_synth::municipalities::select(10),
        instruments: kinds,
    };
    let period = (from_ymd(2018, 1, 1), from_ymd(2021, 12, 31));
    let (mut treated, mut treated_work, mut truth_sum) = (0.0, 0.0, 0.0);
    let (mut pool, mut pool_work) = (0.0, 0.0);
    for i in 0..60_000 {
        let (h, starts) = generate_person_with_truth(&params, i, period);
        for s in starts.iter().filter(|s| s.instrument == lks) {
            let [with, without] = s.outcomes[1].unwrap();
            treated += 1.0;
            treated_work += f64::from(u8::from(with[0]));
            truth_sum += f64::from(i8::from(with[0]) - i8::from(without[0]));
        }
        // Everyone else on assistance on the 15th of each month.
        let mut d = from_ymd(2018, 1, 15);
        while d <= period.1 {
            let starts_now = h
                .trajectories
                .iter()
                .any(|t| t.instrument == lks && (t.start - d).abs() <= 15);
            if on_assistance(&h, d) && !starts_now {
                pool += 1.0;
                pool_work += f64::from(u8::from(in_work_only(&h, add_months(d, 12))));
            }
            d = add_months(d, 1);
        }
    }
    let naive = treated_work / treated - pool_work / pool;
    let truth = truth_sum / treated;
    eprintln!("wage subsidy: {treated} treated, naive {naive:.3}, true {truth:.3}");
    assert!(treated >= 200.0);
    assert!(naive - truth > 0.05, "naive {naive}, truth {truth}");
}
