//! Treated and comparison-pool selection on hand-built persons.

mod support;

use std::collections::BTreeMap;

use koppel_effect::select::{match_treatment, pool, treatments, Matched};
use koppel_effect::{load, EffectConfig};
use koppel_link::{Bands, CivilDate};
use support::{d, Data};

fn config() -> EffectConfig {
    let mut c = EffectConfig::new(
        CivilDate::parse("2019-01-01").unwrap(),
        CivilDate::parse("2020-12-31").unwrap(),
    );
    c.data_until = CivilDate::parse("2024-12-31");
    c
}

fn data() -> Data {
    let mut x = Data::default();
    for id in ["A", "B", "C", "D", "E", "G", "H", "I", "J"] {
        x.person(id);
    }
    for id in ["A", "B", "C", "D", "G", "H", "J"] {
        x.assistance(id, "2018-01-01", None);
    }
    // E leaves assistance the day before D's start.
    x.assistance("E", "2018-01-01", Some("2020-03-30"));
    // I leaves the day before her own start.
    x.assistance("I", "2018-01-01", Some("2020-05-09"));
    x.trajectory("A", "wep", "2020-03-01"); // first day of a month
    x.trajectory("D", "wep", "2020-03-31"); // last day of a month
    x.trajectory("C", "wep", "2020-04-02"); // a control in March, treated in April
    x.trajectory("G", "wep", "2020-01-15");
    x.trajectory("G", "wep", "2020-06-15"); // within 12 months: not a new start
    x.trajectory("H", "wep", "2019-02-05"); // treated twice, 13 months apart
    x.trajectory("H", "wep", "2020-03-05");
    x.trajectory("I", "wep", "2020-05-10");
    x.trajectory("J", "training", "2020-03-10"); // another instrument
    x
}

/// Cell start → (treated ids, control ids with weights).
type Cells = BTreeMap<String, (Vec<String>, Vec<(String, f64)>)>;

fn cells(h: &load::Histories, m: &Matched) -> Cells {
    let mut out = Cells::new();
    for (u, _) in &m.units {
        let start = koppel_link::CivilDate(m.cells[u.cell as usize].start).to_string();
        let e = out.entry(start).or_default();
        let id = h.pseudonyms[u.person as usize].clone();
        if u.treated {
            e.0.push(id);
        } else {
            e.1.push((id, u.weight));
        }
    }
    out
}

fn ids(v: &[(String, f64)]) -> Vec<&str> {
    v.iter().map(|c| c.0.as_str()).collect()
}

#[test]
fn treated_and_pools_follow_the_start_dates() {
    let c = config();
    let h = load::load(&data().frames(), &c).unwrap();
    let p = pool(&h, &c, &Bands::default()).unwrap();
    let ts = treatments(&h, &c);
    assert_eq!(
        ts.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["training", "wep"]
    );
    let m = match_treatment(&h, &p, &c, &ts[1]);
    let k = &m.counts;
    assert_eq!(k.starts, 8);
    assert_eq!(k.repeat_within_washout, 1, "G's second start");
    assert_eq!(k.not_on_assistance, 1, "I left the day before");
    assert_eq!(k.treated, 6, "A, C, D, G, H twice");
    let cells = cells(&h, &m);

    // First day of March: E (still on assistance), I (until May), J
    // (starts another instrument) and C (starts wep a month later) are
    // controls; A's and D's own rows are not (they start wep in March); H
    // and G have another history.
    let a = &cells["2020-03-01"];
    assert_eq!(a.0, ["A"]);
    assert_eq!(ids(&a.1), ["B", "C", "E", "I", "J"]);
    assert!(a.1.iter().all(|c| (c.1 - 0.2).abs() < 1e-12));
    // Last day of March: E left assistance the day before.
    let dd = &cells["2020-03-31"];
    assert_eq!(dd.0, ["D"]);
    assert_eq!(ids(&dd.1), ["B", "C", "I", "J"]);
    assert!(dd.1.iter().all(|c| c.1 == 0.25));
    // C treated in April; A, D, G, J (now with a prior trajectory) are in
    // another stratum.
    let cc = &cells["2020-04-02"];
    assert_eq!(cc.0, ["C"]);
    assert_eq!(ids(&cc.1), ["B", "I"]);
    // G in January 2020: everyone else with the same history.
    assert_eq!(cells["2020-01-15"].0, ["G"]);
    assert_eq!(
        ids(&cells["2020-01-15"].1),
        ["A", "B", "C", "D", "E", "I", "J"]
    );
    // H treated twice: in 2019, and in March 2020 with a prior trajectory,
    // matched to G (also with a prior trajectory, not starting in March).
    assert_eq!(cells["2019-02-05"].0, ["H"]);
    assert_eq!(cells["2020-03-05"].0, ["H"]);
    assert_eq!(ids(&cells["2020-03-05"].1), ["G"]);
    assert_eq!(k.matched, 6);
    assert_eq!(k.unmatched, 0);
}

#[test]
fn a_start_without_comparable_persons_is_unmatched_not_dropped() {
    let mut x = Data::default();
    x.person("A");
    x.person("B");
    x.assistance("A", "2018-01-01", None);
    x.assistance("B", "2018-01-01", Some("2020-02-28"));
    x.trajectory("A", "wep", "2020-03-02");
    let c = config();
    let h = load::load(&x.frames(), &c).unwrap();
    let p = pool(&h, &c, &Bands::default()).unwrap();
    let ts = treatments(&h, &c);
    let m = match_treatment(&h, &p, &c, &ts[0]);
    assert_eq!(m.counts.treated, 1);
    assert_eq!(m.counts.unmatched, 1);
    assert_eq!(m.counts.matched, 0);
    assert!(m.units.is_empty());
}

#[test]
fn outcomes_from_time_zero() {
    let mut x = Data::default();
    for id in ["A", "B"] {
        x.person(id);
    }
    x.assistance("A", "2018-01-01", Some("2020-05-31"));
    x.job("A", "2020-06-01", None);
    x.assistance("B", "2018-01-01", None);
    x.job("B", "2018-06-01", Some("2019-04-30"));
    let c = config();
    let h = load::load(&x.frames(), &c).unwrap();
    let specs = koppel_effect::outcome::outcome_specs(&[6, 60]);
    let mut ys = Vec::new();
    let until = d("2024-12-31");
    koppel_effect::outcome::outcome_values(&h, 0, d("2020-03-01"), &specs, until, 31, &mut ys);
    // werk, off, bmw, bijstand, ww, overig at 6 and (unobserved) 60 months,
    // durable outflow, placebo.
    assert_eq!(ys, [1, 1, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, 1, 0]);
    ys.clear();
    koppel_effect::outcome::outcome_values(&h, 1, d("2020-03-01"), &specs, until, 31, &mut ys);
    assert_eq!(ys, [0, 0, 0, 1, 0, 0, -1, -1, -1, -1, -1, -1, 0, 0]);
    // B was on assistance with a job 12 months before: not werk (placebo 0).
}
