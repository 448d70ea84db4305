//! Calibration: generate ~200,000 persons and measure, from the written
//! register files only (not generator internals), the docs/calibration.md figures using
//! the docs/definitions.md definitions (episodes merge assistance spells with gaps of at
//! most 31 days; states at a horizon, first match wins).

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use koppel_synth::date::{add_months, add_years, from_ymd, Day};
use koppel_synth::{generate, SynthConfig};
use polars::prelude::*;

const OPEN: Day = Day::MAX;

fn read(path: &Path) -> DataFrame {
    ParquetReader::new(File::open(path).unwrap())
        .finish()
        .unwrap()
}

fn strs(df: &DataFrame, c: &str) -> Vec<Option<String>> {
    df.column(c)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.map(str::to_string))
        .collect()
}

fn dates(df: &DataFrame, c: &str) -> Vec<Option<i32>> {
    let col = df.column(c).unwrap();
    assert_eq!(col.dtype(), &DataType::Date, "{c} must be a polars Date");
    col.cast(&DataType::Int32)
        .unwrap()
        .i32()
        .unwrap()
        .iter()
        .collect()
}

#[derive(Default)]
struct P {
    birth: Day,
    gone: Day,
    man: bool,
    household: String,
    /// Assistance spells (start, end, municipality).
    assist: Vec<(Day, Day, String)>,
    episodes: Vec<(Day, Day)>,
    work: Vec<(Day, Day)>,
    ww: Vec<(Day, Day)>,
}

fn covers(spells: &[(Day, Day)], d: Day) -> bool {
    spells.iter().any(|&(s, e)| s <= d && d <= e)
}

/// State on day `h` (docs/definitions.md, first match wins): 0 werk, 1 bijstand,
/// 2 bijstand met werk, 3 WW, 4 overig.
fn state_at(p: &P, h: Day) -> usize {
    let alive = p.gone > h;
    let a = alive && covers(&p.episodes, h);
    let w = alive && covers(&p.work, h);
    if a && w {
        2
    } else if a {
        1
    } else if w {
        0
    } else if alive && covers(&p.ww, h) {
        3
    } else {
        4
    }
}

/// Measured figures, averaged over the years measured.
#[derive(Debug, Default)]
struct Figures {
    stock_share: f64,
    inflow_share: f64,
    outflow_share: f64,
    dur_lt_half: f64,
    dur_gt_5: f64,
    mean_duration_months: f64,
    reentry_of_leavers: f64,
    reentry_of_stock: f64,
    part_time_of_stock: f64,
    over45_small: f64,
    over45_all: f64,
    outflow_to_work_of_stock: f64,
    ww_before_inflow: f64,
    state6: [f64; 5],
    state3: [f64; 5],
    jobs_per_resident: f64,
    men_in_stock: f64,
    single_in_stock: f64,
    single_parent_in_stock: f64,
}

fn measure(dir: &Path, years: std::ops::RangeInclusive<i32>) -> Figures {
    let persons = read(&dir.join("registers/persons.parquet"));
    let small: Vec<&str> = koppel_synth::municipalities::MUNICIPALITIES
        .iter()
        .filter(|m| m.is_small())
        .map(|m| m.code)
        .collect();
    let bsn = strs(&persons, "bsn");
    let birth = dates(&persons, "birth_date");
    let death = dates(&persons, "death_date");
    let emig = dates(&persons, "emigration_date");
    let sex = strs(&persons, "sex");
    let household = strs(&persons, "household_type");
    let mut index = HashMap::new();
    let mut ps: Vec<P> = Vec::with_capacity(bsn.len());
    for i in 0..bsn.len() {
        let b = bsn[i].clone().unwrap();
        assert_eq!(b.len(), 9);
        index.insert(b, i);
        let gone = match (death[i], emig[i]) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(OPEN),
        };
        ps.push(P {
            birth: birth[i].unwrap(),
            gone,
            man: sex[i].as_deref() == Some("M"),
            household: household[i].clone().unwrap(),
            ..P::default()
        });
    }
    let benefits = read(&dir.join("registers/benefits.parquet"));
    let (bb, bt, bs, be, bm) = (
        strs(&benefits, "bsn"),
        strs(&benefits, "benefit_type"),
        dates(&benefits, "start_date"),
        dates(&benefits, "end_date"),
        strs(&benefits, "municipality"),
    );
    for r in 0..bb.len() {
        let p = &mut ps[index[bb[r].as_deref().unwrap()]];
        let (s, e) = (bs[r].unwrap(), be[r].unwrap_or(OPEN));
        match bt[r].as_deref().unwrap() {
            "bijstand" | "ioaw" | "ioaz" => p.assist.push((s, e, bm[r].clone().unwrap())),
            "ww" => p.ww.push((s, e)),
            _ => {}
        }
    }
    let jobs = read(&dir.join("registers/employment.parquet"));
    let (jb, js, je) = (
        strs(&jobs, "bsn"),
        dates(&jobs, "start_date"),
        dates(&jobs, "end_date"),
    );
    for r in 0..jb.len() {
        ps[index[jb[r].as_deref().unwrap()]]
            .work
            .push((js[r].unwrap(), je[r].unwrap_or(OPEN)));
    }
    for p in &mut ps {
        p.assist.sort();
        for (s, e, _) in &p.assist {
            match p.episodes.last_mut() {
                Some(last) if last.1 == OPEN || *s - last.1 - 1 <= 31 => last.1 = last.1.max(*e),
                _ => p.episodes.push((*s, *e)),
            }
        }
    }
    let mut f = Figures::default();
    let n_years = years.clone().count() as f64;
    let mut stock_total = 0.0;
    for y in years {
        let d = from_ymd(y, 1, 1);
        let next = from_ymd(y + 1, 1, 1);
        let (mut residents, mut stock, mut inflow, mut outflow) = (0.0, 0.0, 0.0, 0.0);
        let (mut lt_half, mut gt5, mut dur_sum, mut pt) = (0.0, 0.0, 0.0, 0.0);
        let (mut small_n, mut small_45, mut all_45) = (0.0f64, 0.0, 0.0);
        let (mut reentry, mut to_work, mut ww_before) = (0.0, 0.0, 0.0);
        let mut states = [0.0; 5];
        let mut states3 = [0.0; 5];
        let mut jobs = 0.0;
        for p in &ps {
            if p.birth <= d && p.gone > d {
                residents += 1.0;
                jobs += p.work.iter().filter(|&&(s, e)| s <= d && d <= e).count() as f64;
            }
            if let Some(&(s, _)) = p.episodes.iter().find(|&&(s, e)| s <= d && d <= e) {
                stock += 1.0;
                f.men_in_stock += f64::from(u8::from(p.man)) / n_years;
                f.single_in_stock += f64::from(u8::from(p.household == "single")) / n_years;
                f.single_parent_in_stock +=
                    f64::from(u8::from(p.household == "single_parent")) / n_years;
                let days = f64::from(d - s);
                dur_sum += days / 30.44;
                if d < add_months(s, 6) {
                    lt_half += 1.0;
                }
                if s <= add_years(d, -5) {
                    gt5 += 1.0;
                }
                if covers(&p.work, d) {
                    pt += 1.0;
                }
                let over45 = d >= add_years(p.birth, 45);
                all_45 += f64::from(u8::from(over45));
                let muni = &p
                    .assist
                    .iter()
                    .find(|(s, e, _)| *s <= d && d <= *e)
                    .map(|x| x.2.as_str())
                    .unwrap_or("");
                if small.contains(muni) {
                    small_n += 1.0;
                    small_45 += f64::from(u8::from(over45));
                }
            }
            if let Some(&(s, _)) = p.episodes.iter().find(|&&(s, _)| s >= d && s < next) {
                inflow += 1.0;
                if p.ww
                    .iter()
                    .any(|&(ws, we)| ws < s && we >= add_months(s, -3))
                {
                    ww_before += 1.0;
                }
            }
            if let Some(&(_, e)) = p.episodes.iter().find(|&&(_, e)| e >= d && e < next) {
                outflow += 1.0;
                let r = e + 1;
                let h = add_months(r, 6);
                if p.episodes.iter().any(|&(s, _)| s > r && s <= h) {
                    reentry += 1.0;
                }
                states[state_at(p, h)] += 1.0;
                states3[state_at(p, add_months(r, 3))] += 1.0;
                if p.gone > r && covers(&p.work, r) {
                    to_work += 1.0;
                }
            }
        }
        f.stock_share += stock / residents / n_years;
        stock_total += stock;
        f.jobs_per_resident += jobs / residents / n_years;
        f.inflow_share += inflow / stock / n_years;
        f.outflow_share += outflow / stock / n_years;
        f.dur_lt_half += lt_half / stock / n_years;
        f.dur_gt_5 += gt5 / stock / n_years;
        f.mean_duration_months += dur_sum / stock / n_years;
        f.reentry_of_leavers += reentry / outflow / n_years;
        f.reentry_of_stock += reentry / stock / n_years;
        f.part_time_of_stock += pt / stock / n_years;
        f.over45_small += small_45 / small_n.max(1.0) / n_years;
        f.over45_all += all_45 / stock / n_years;
        f.outflow_to_work_of_stock += to_work / stock / n_years;
        f.ww_before_inflow += ww_before / inflow / n_years;
        for (k, v) in states.iter().enumerate() {
            f.state6[k] += v / outflow / n_years;
        }
        for (k, v) in states3.iter().enumerate() {
            f.state3[k] += v / outflow / n_years;
        }
    }
    // Counts were summed over the years: turn them into shares of the stock.
    let mean_stock = stock_total / n_years;
    f.men_in_stock /= mean_stock;
    f.single_in_stock /= mean_stock;
    f.single_parent_in_stock /= mean_stock;
    f
}

fn check(name: &str, value: f64, lo: f64, hi: f64, failures: &mut Vec<String>) {
    let ok = (lo..=hi).contains(&value);
    eprintln!(
        "{:<28} {:>7.2}%  [{:.1}, {:.1}] {}",
        name,
        value * 100.0,
        lo * 100.0,
        hi * 100.0,
        if ok { "ok" } else { "OUT" }
    );
    if !ok {
        failures.push(format!(
            "{name} = {:.2}% outside [{:.1}%, {:.1}%]",
            value * 100.0,
            lo * 100.0,
            hi * 100.0
        ));
    }
}

#[test]
fn generated_registers_match_design_section_8() {
    let persons = std::env::var("KOPPEL_SYNTH_CALIBRATION_PERSONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        persons,
        municipalities: 20,
        seed: 2015,
        fault_rate: 0.0,
        ..SynthConfig::default()
    };
    generate(&config, dir.path()).unwrap();
    let f = measure(dir.path(), 2018..=2023);
    let mut failures = Vec::new();
    // Stock ≈ 2.3% of residents (415–425k of 17.9M).
    check(
        "stock share of residents",
        f.stock_share,
        0.021,
        0.025,
        &mut failures,
    );
    // ~10 million jobs at any time for 17.9 million residents.
    check(
        "jobs per resident",
        f.jobs_per_resident,
        0.45,
        0.65,
        &mut failures,
    );
    // Recipients: 46% men; single 60%, single parent 10% (mid-size municipality).
    check("men in stock", f.men_in_stock, 0.40, 0.52, &mut failures);
    check(
        "single in stock",
        f.single_in_stock,
        0.40,
        0.65,
        &mut failures,
    );
    check(
        "single parent in stock",
        f.single_parent_in_stock,
        0.07,
        0.18,
        &mut failures,
    );
    // National benchmark: inflow 27–36%, outflow 30–35% of stock per year.
    check(
        "inflow share of stock",
        f.inflow_share,
        0.27,
        0.36,
        &mut failures,
    );
    check(
        "outflow share of stock",
        f.outflow_share,
        0.30,
        0.35,
        &mut failures,
    );
    // Duration mix (mid-size municipality 2019: <0.5y 15%, >5y 37%).
    check(
        "duration < 0.5 year",
        f.dur_lt_half,
        0.10,
        0.20,
        &mut failures,
    );
    check("duration > 5 years", f.dur_gt_5, 0.28, 0.45, &mut failures);
    eprintln!(
        "mean duration (months)       {:>7.1}   [45, 80]",
        f.mean_duration_months
    );
    if !(45.0..=80.0).contains(&f.mean_duration_months) {
        failures.push(format!(
            "mean duration {:.1} months",
            f.mean_duration_months
        ));
    }
    // Re-entry within 6 months (national benchmark, issue #3): 8–9% of
    // leavers, 2.6–2.9% of stock. The one-municipality outflow table below
    // has 20% on assistance 6 months after leaving, which cannot hold
    // together with that: under docs/definitions.md, assistance at R + 6 months means a
    // new episode started in (R, R + 6 months], i.e. a re-entry, so
    // bijstand + bijstand_met_werk at 6 months ≤ re-entry. The national
    // re-entry figure wins; the state mix follows it (checked below).
    check(
        "re-entry 6m, of leavers",
        f.reentry_of_leavers,
        0.075,
        0.10,
        &mut failures,
    );
    check(
        "re-entry 6m, of stock",
        f.reentry_of_stock,
        0.024,
        0.032,
        &mut failures,
    );
    check(
        "part-time work in stock",
        f.part_time_of_stock,
        0.085,
        0.10,
        &mut failures,
    );
    check(
        "outflow to work, of stock",
        f.outflow_to_work_of_stock,
        0.09,
        0.12,
        &mut failures,
    );
    check(
        "over 45, small munis",
        f.over45_small,
        0.52,
        0.72,
        &mut failures,
    );
    check("over 45, all", f.over45_all, 0.40, 0.65, &mut failures);
    check(
        "inflow with WW before",
        f.ww_before_inflow,
        0.08,
        0.40,
        &mut failures,
    );
    // 6 months after outflow (one municipality 2015: werk 41%, bijstand 16%,
    // bijstand met werk 4%, WW 3%, overig 35%). WW (≈3%) and assistance with
    // work (≈4%) follow the table; assistance at 6 months is bounded by
    // re-entry (see above), so bijstand cannot reach the table's 16% (nor
    // the 8% floor asked for next to a re-entry of at most 9% with 4% in
    // assistance with work): what the table has on assistance beyond
    // re-entry lands in werk and overig, roughly in the table's proportion.
    let names = [
        "state 6m: werk",
        "state 6m: bijstand",
        "state 6m: bijstand_met_werk",
        "state 6m: ww",
        "state 6m: overig",
    ];
    let ranges = [
        (0.35, 0.50),
        (0.03, 0.08),
        (0.025, 0.055),
        (0.02, 0.045),
        (0.33, 0.47),
    ];
    for k in 0..5 {
        check(
            names[k],
            f.state6[k],
            ranges[k].0,
            ranges[k].1,
            &mut failures,
        );
    }
    // Job losers soon after leaving draw WW already at three months.
    check("state 3m: ww", f.state3[3], 0.003, 0.04, &mut failures);
    // docs/definitions.md consistency: whoever is on assistance 6 months after leaving
    // re-entered within those 6 months.
    if f.state6[1] + f.state6[2] > f.reentry_of_leavers {
        failures.push(format!(
            "assistance at 6 months ({:.2}%) exceeds re-entry ({:.2}%)",
            100.0 * (f.state6[1] + f.state6[2]),
            100.0 * f.reentry_of_leavers
        ));
    }
    assert!(
        failures.is_empty(),
        "calibration failures:\n{}",
        failures.join("\n")
    );
}

/// ≈75% of the assistance stock follows a trajectory (docs/calibration.md: 188 of 247),
/// and most of them more than one in a year. Measured on generator output,
/// since trajectories live in the uploads, not in the registers.
#[test]
fn most_of_the_stock_follows_trajectories() {
    use koppel_synth::model::{generate_person, InstrumentKind, ModelParams};
    use koppel_synth::types::BenefitType;
    let config = SynthConfig::default();
    let params = ModelParams {
        seed: 3,
        from: config.from,
        to: config.to,
        municipalities: koppel_synth::municipalities::select(10),
        instruments: InstrumentKind::of_catalogue(&config.catalogue),
    };
    let d = from_ymd(2021, 1, 1);
    let year_before = add_months(d, -12);
    let (mut stock, mut with_any, mut with_two) = (0.0, 0.0, 0.0);
    for i in 0..100_000 {
        let h = generate_person(&params, i);
        let on = h.benefits.iter().any(|b| {
            matches!(
                b.kind,
                BenefitType::Bijstand | BenefitType::Ioaw | BenefitType::Ioaz
            ) && b.start <= d
                && b.end.is_none_or(|e| e >= d)
        });
        if !on {
            continue;
        }
        stock += 1.0;
        let n = h
            .trajectories
            .iter()
            .filter(|t| t.start <= d && t.end.is_none_or(|e| e >= year_before))
            .count();
        with_any += f64::from(u8::from(n >= 1));
        with_two += f64::from(u8::from(n >= 2));
    }
    let (any, two) = (with_any / stock, with_two / with_any);
    eprintln!(
        "stock {stock}: with a trajectory in the past year {:.1}%, of whom 2+ {:.1}%",
        any * 100.0,
        two * 100.0
    );
    assert!(
        (0.62..=0.85).contains(&any),
        "share of stock in a trajectory {any}"
    );
    assert!((0.35..=0.85).contains(&two), "share with two or more {two}");
}

/// Trajectories matter a little, differently per instrument and group: the
/// share of trajectory participants whose assistance ends for work within a
/// year of the trajectory start is higher for wage subsidy than for social
/// activation within the same segment.
#[test]
fn instruments_differ_in_outflow_to_work() {
    use koppel_synth::model::{generate_person, InstrumentKind, ModelParams};
    use koppel_synth::types::{BenefitEnd, Segment};
    let config = SynthConfig::default();
    let kinds = InstrumentKind::of_catalogue(&config.catalogue);
    let params = ModelParams {
        seed: 11,
        from: config.from,
        to: config.to,
        municipalities: koppel_synth::municipalities::select(10),
        instruments: kinds.clone(),
    };
    // (participants, left for work within 12 months) per kind, perspectief only.
    let mut tally: HashMap<InstrumentKind, (f64, f64)> = HashMap::new();
    for i in 0..150_000 {
        let h = generate_person(&params, i);
        for t in h
            .trajectories
            .iter()
            .filter(|t| t.segment == Segment::Perspectief && t.start < from_ymd(2023, 1, 1))
        {
            let horizon = add_months(t.start, 12);
            let left = h.benefits.iter().any(|b| {
                b.end_reason == Some(BenefitEnd::Work)
                    && b.end.is_some_and(|e| e >= t.start && e <= horizon)
            });
            let entry = tally.entry(kinds[t.instrument as usize]).or_default();
            entry.0 += 1.0;
            entry.1 += f64::from(u8::from(left));
        }
    }
    let rate = |k: InstrumentKind| {
        let (n, w) = tally.get(&k).copied().unwrap_or_default();
        eprintln!(
            "{k:?}: {n} participants, {:.1}% left for work within 12 months",
            100.0 * w / n
        );
        w / n
    };
    let (lks, activation, coaching) = (
        rate(InstrumentKind::WageSubsidy),
        rate(InstrumentKind::SocialActivation),
        rate(InstrumentKind::Coaching),
    );
    assert!(
        lks > coaching && coaching > activation,
        "lks {lks}, coaching {coaching}, activation {activation}"
    );
}
