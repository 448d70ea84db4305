//! An independent, deliberately simple reference implementation of the
//! definitions in docs/definitions.md (plain loops over each person's spells) compared with the polars plans
//! on every column, for about 100,000 synthetic persons and all four cohorts.

mod support;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use koppel_link::{Band, Bands, CivilDate, Cohort, LinkConfig, LinkInputs};
use koppel_pseudonym::Pseudonymiser;
use koppel_schema::analysis;
use polars::prelude::*;
use support::*;

const OPEN: i32 = i32::MAX;

fn ymd(z: i32) -> (i32, u32, u32) {
    CivilDate(z).ymd()
}

fn days_in(y: i32, m: u32) -> u32 {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][m as usize - 1]
}

/// `day` plus `k` calendar months, the day clamped to the month's end.
fn add_months(day: i32, k: i32) -> i32 {
    let (y, m, d) = ymd(day);
    let total = y * 12 + (m as i32 - 1) + k;
    let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    CivilDate::from_ymd(ny, nm, d.min(days_in(ny, nm)))
        .unwrap()
        .0
}

/// Completed months: the largest m with add_months(from, m) <= to.
fn completed_months(from: i32, to: i32) -> i32 {
    let (fy, _, _) = ymd(from);
    let (ty, _, _) = ymd(to);
    let mut m = ((ty - fy - 1) * 12).max(0);
    while add_months(from, m + 1) <= to {
        m += 1;
    }
    m
}

fn band(value: Option<f64>, bands: &[Band]) -> String {
    let Some(v) = value else {
        return "unknown".into();
    };
    for b in bands {
        if b.from.is_none_or(|f| v >= f) && b.to.is_none_or(|t| v < t) {
            return b.label.clone();
        }
    }
    unreachable!("bands cover the line")
}

/// `None` sorts after every value (as the plans' nulls_last).
fn cmp_opt<T: Ord>(a: &Option<T>, b: &Option<T>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn cmp_f(a: Option<f64>, b: Option<f64>, desc: bool) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => {
            if desc {
                y.total_cmp(&x)
            } else {
                x.total_cmp(&y)
            }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

#[derive(Default)]
struct PersonData<'a> {
    person: Option<&'a PersonRow>,
    benefits: Vec<&'a BenefitRow>,
    jobs: Vec<&'a JobRow>,
    trajectories: Vec<&'a TrajRow>,
}

#[derive(Debug, PartialEq)]
struct Row {
    strings: BTreeMap<String, String>,
    reference: i32,
    wages: BTreeMap<String, Option<f64>>,
    flags: BTreeMap<String, bool>,
}

fn year(y: i32) -> (i32, i32) {
    (
        CivilDate::from_ymd(y, 1, 1).unwrap().0,
        CivilDate::from_ymd(y, 12, 31).unwrap().0,
    )
}

fn reference(p: &PersonData, c: &LinkConfig, bands: &Bands) -> Option<Row> {
    let person = p.person?;
    let end = |e: Option<i32>| e.unwrap_or(OPEN);
    let assist: Vec<(i32, i32, Option<&str>)> = p
        .benefits
        .iter()
        .filter(|b| c.assistance_types.iter().any(|t| t == b.kind))
        .map(|b| (b.start, end(b.end), b.municipality))
        .collect();
    let mut sorted: Vec<(i32, i32)> = assist.iter().map(|a| (a.0, a.1)).collect();
    sorted.sort();
    let mut episodes: Vec<(i32, i32)> = Vec::new();
    for (s, e) in sorted {
        match episodes.last_mut() {
            Some(last) if (s as i64) - (last.1 as i64) - 1 <= c.gap_days as i64 => {
                last.1 = last.1.max(e)
            }
            _ => episodes.push((s, e)),
        }
    }
    // Cohort: (R, episode start, anchor, municipality of the trajectory).
    let (r, ep_start, anchor, traj_muni): (i32, Option<i32>, Option<i32>, Option<&str>) =
        match &c.cohort {
            Cohort::Outflow { year: y } => {
                let (a, b) = year(*y);
                let e = episodes
                    .iter()
                    .filter(|e| e.1 >= a && e.1 <= b)
                    .min_by_key(|e| e.1)?;
                (e.1 + 1, Some(e.0), Some(e.1), None)
            }
            Cohort::Stock { date } => {
                let e = episodes.iter().find(|e| e.0 <= date.0 && e.1 >= date.0)?;
                (date.0, Some(e.0), Some(date.0), None)
            }
            Cohort::Inflow { year: y } => {
                let (a, b) = year(*y);
                let e = episodes
                    .iter()
                    .filter(|e| e.0 >= a && e.0 <= b)
                    .min_by_key(|e| e.0)?;
                (e.0, Some(e.0), Some(e.0), None)
            }
            Cohort::Trajectory { year: y } => {
                let (a, b) = year(*y);
                let t = p
                    .trajectories
                    .iter()
                    .filter(|t| t.end.is_some_and(|e| e >= a && e <= b))
                    .min_by(|x, y| {
                        x.end
                            .cmp(&y.end)
                            .then(y.start.cmp(&x.start))
                            .then(x.municipality.cmp(y.municipality))
                            .then(cmp_opt(&x.instrument, &y.instrument))
                    })?;
                let r = t.end.unwrap() + 1;
                let ep = episodes.iter().find(|e| e.0 < r && e.1 >= r - 1);
                (r, ep.map(|e| e.0), None, Some(t.municipality))
            }
        };
    let spell_muni = anchor.and_then(|anchor| {
        assist
            .iter()
            .filter(|a| a.0 >= ep_start.unwrap() && a.0 <= anchor)
            .min_by(|x, y| y.0.cmp(&x.0).then(y.1.cmp(&x.1)).then(cmp_opt(&x.2, &y.2)))
            .and_then(|a| a.2)
    });
    let municipality = traj_muni
        .or(spell_muni)
        .or(person.municipality)
        .unwrap_or("unknown");

    let mut strings = BTreeMap::new();
    let mut s = |k: &str, v: &str| {
        strings.insert(k.to_string(), v.to_string());
    };
    s("municipality", municipality);
    s("sex", person.sex.unwrap_or("unknown"));
    s("household_type", person.household.unwrap_or("unknown"));
    s("origin", person.origin.unwrap_or("unknown"));
    s("education_level", person.education.unwrap_or("unknown"));
    let age = person
        .birth
        .filter(|b| *b <= r)
        .map(|b| (completed_months(b, r) / 12) as f64);
    s("age_band", &band(age, &bands.age));
    match ep_start {
        None => s("duration_band", "none"),
        Some(e) => s(
            "duration_band",
            &band(Some(completed_months(e, r) as f64), &bands.duration),
        ),
    }
    // Exposure.
    let l = add_months(r, -(c.lookback_months as i32));
    let exposed: Vec<&&TrajRow> = p
        .trajectories
        .iter()
        .filter(|t| t.start < r && end(t.end) >= l)
        .collect();
    let inst = |t: &TrajRow| t.instrument.unwrap_or("unknown").to_string();
    match exposed.iter().min_by(|x, y| {
        y.start
            .cmp(&x.start)
            .then(end(y.end).cmp(&end(x.end)))
            .then(inst(x).cmp(&inst(y)))
            .then(cmp_opt(&x.segment, &y.segment))
    }) {
        None => {
            s("trajectory_last", "none");
            s("segment", "unknown");
        }
        Some(t) => {
            s("trajectory_last", &inst(t));
            s("segment", t.segment.unwrap_or("unknown"));
        }
    }
    let distinct: BTreeSet<String> = exposed.iter().map(|t| inst(t)).collect();
    match distinct.len() {
        0 => s("trajectory_mix", "none"),
        1 => s("trajectory_mix", distinct.iter().next().unwrap()),
        _ => s("trajectory_mix", "multiple"),
    }
    // States.
    let at = |h: i32| {
        let gone = person.death.is_some_and(|x| x < h) || person.emigration.is_some_and(|x| x < h);
        let a = assist.iter().any(|x| x.0 <= h && x.1 >= h);
        let u = p
            .benefits
            .iter()
            .any(|b| b.kind == "ww" && b.start <= h && end(b.end) >= h);
        let job = p
            .jobs
            .iter()
            .filter(|j| j.start <= h && end(j.end) >= h)
            .min_by(|x, y| {
                cmp_f(x.hours, y.hours, true)
                    .then(cmp_f(x.wage, y.wage, true))
                    .then(x.job_id.cmp(&y.job_id))
                    .then(x.start.cmp(&y.start))
                    .then(end(x.end).cmp(&end(y.end)))
                    .then(cmp_opt(&x.sector, &y.sector))
                    .then(cmp_opt(&x.contract, &y.contract))
            });
        let w = job.is_some();
        let state = if gone {
            "overig"
        } else if a && w {
            "bijstand_met_werk"
        } else if a {
            "bijstand"
        } else if w {
            "werk"
        } else if u {
            "ww"
        } else {
            "overig"
        };
        (state, job.filter(|_| !gone))
    };
    let mut wages = BTreeMap::new();
    for &k in &c.horizons {
        let (state, job) = at(add_months(r, k as i32));
        s(&format!("state_{k}m"), state);
        match job {
            None => {
                for f in ["sector", "contract", "hours_band", "wage_band"] {
                    s(&format!("{f}_{k}m"), "none");
                }
                wages.insert(format!("wage_{k}m"), None);
            }
            Some(j) => {
                s(&format!("sector_{k}m"), j.sector.unwrap_or("unknown"));
                s(&format!("contract_{k}m"), j.contract.unwrap_or("unknown"));
                s(&format!("hours_band_{k}m"), &band(j.hours, &bands.hours));
                s(&format!("wage_band_{k}m"), &band(j.wage, &bands.wage));
                wages.insert(format!("wage_{k}m"), j.wage);
            }
        }
    }
    let mut flags = BTreeMap::new();
    let rw = add_months(r, c.reentry_months as i32);
    flags.insert(
        format!("reentry_{}m", c.reentry_months),
        episodes.iter().any(|e| e.0 > r && e.0 <= rw),
    );
    let r12 = add_months(r, 12);
    let durable = !assist.iter().any(|a| a.0 <= r12 && a.1 >= r);
    flags.insert("durable_outflow".into(), durable);
    flags.insert(
        "durable_outflow_work".into(),
        durable && at(r12).1.is_some(),
    );
    Some(Row {
        strings,
        reference: r,
        wages,
        flags,
    })
}

fn rows_of(df: &DataFrame, c: &LinkConfig) -> Vec<(String, Row)> {
    let ids: Vec<String> = df
        .column("pseudonym")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap().to_string())
        .collect();
    let refs: Vec<i32> = df
        .column("reference_date")
        .unwrap()
        .cast(&DataType::Int32)
        .unwrap()
        .i32()
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect();
    let mut string_cols: Vec<String> = analysis::DIMENSIONS.map(String::from).to_vec();
    let mut wage_cols = Vec::new();
    for &k in &c.horizons {
        for f in analysis::HORIZON_COLUMNS {
            if analysis::NUMERIC_OUTCOMES.contains(&f) {
                wage_cols.push(analysis::at_horizon(f, k));
            } else {
                string_cols.push(analysis::at_horizon(f, k));
            }
        }
    }
    let flag_cols = [
        analysis::reentry_flag(c.reentry_months),
        analysis::FLAGS[0].into(),
        analysis::FLAGS[1].into(),
    ];
    let expected_width = 2 + string_cols.len() + wage_cols.len() + flag_cols.len();
    assert_eq!(df.width(), expected_width, "column count");
    let strs: Vec<Vec<String>> = string_cols
        .iter()
        .map(|n| {
            let col = df.column(n).unwrap().str().unwrap();
            assert_eq!(col.null_count(), 0, "{n} has nulls");
            col.iter().map(|v| v.unwrap().to_string()).collect()
        })
        .collect();
    let wages: Vec<Vec<Option<f64>>> = wage_cols
        .iter()
        .map(|n| df.column(n).unwrap().f64().unwrap().iter().collect())
        .collect();
    let flags: Vec<Vec<bool>> = flag_cols
        .iter()
        .map(|n| {
            df.column(n)
                .unwrap()
                .bool()
                .unwrap()
                .iter()
                .map(|v| v.unwrap())
                .collect()
        })
        .collect();
    (0..df.height())
        .map(|i| {
            (
                ids[i].clone(),
                Row {
                    strings: string_cols
                        .iter()
                        .enumerate()
                        .map(|(j, n)| (n.clone(), strs[j][i].clone()))
                        .collect(),
                    reference: refs[i],
                    wages: wage_cols
                        .iter()
                        .enumerate()
                        .map(|(j, n)| (n.clone(), wages[j][i]))
                        .collect(),
                    flags: flag_cols
                        .iter()
                        .enumerate()
                        .map(|(j, n)| (n.clone(), flags[j][i]))
                        .collect(),
                },
            )
        })
        .collect()
}

/// The link stage on the Parquet files `inputs` (the same records as
/// `data`; the stage reads only the records of cohort candidates and
/// upload persons) against the reference on all records.
fn compare(data: &Data, inputs: &LinkInputs, config: &LinkConfig, min_rows: usize) {
    let bands = Bands::default();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("analysis.parquet");
    let started = std::time::Instant::now();
    let summary = koppel_link::link(inputs, config, &bands, &out).unwrap();
    // Every row is counted once, however the registers are streamed.
    assert_eq!(summary.input_rows["persons"], data.persons.len() as u64);
    assert_eq!(summary.input_rows["benefits"], data.benefits.len() as u64);
    assert_eq!(summary.input_rows["employment"], data.jobs.len() as u64);
    assert_eq!(
        summary.input_rows["trajectories"],
        data.trajectories.len() as u64
    );
    let polars_time = started.elapsed();
    if matches!(config.cohort, Cohort::Outflow { .. }) {
        check_linkage_quality(data, config, &summary);
    }
    let df = LazyFrame::scan_parquet(
        PlRefPath::new(out.to_str().unwrap()),
        ScanArgsParquet::default(),
    )
    .unwrap()
    .collect()
    .unwrap();

    let mut by_person: BTreeMap<&str, PersonData> = BTreeMap::new();
    for p in &data.persons {
        by_person.entry(&p.id).or_default().person = Some(p);
    }
    for b in &data.benefits {
        by_person.entry(&b.id).or_default().benefits.push(b);
    }
    for j in &data.jobs {
        by_person.entry(&j.id).or_default().jobs.push(j);
    }
    for t in &data.trajectories {
        by_person.entry(&t.id).or_default().trajectories.push(t);
    }
    let expected: Vec<(String, Row)> = by_person
        .iter()
        .filter_map(|(id, p)| reference(p, config, &bands).map(|r| (id.to_string(), r)))
        .collect();
    let got = rows_of(&df, config);
    eprintln!(
        "{}: {} persons in the cohort (link stage {:.2?})",
        config.cohort.describe(),
        got.len(),
        polars_time
    );
    assert!(
        got.len() >= min_rows,
        "{}: only {} rows",
        config.cohort.describe(),
        got.len()
    );
    let got_ids: Vec<&str> = got.iter().map(|(i, _)| i.as_str()).collect();
    let exp_ids: Vec<&str> = expected.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(
        got_ids.len(),
        exp_ids.len(),
        "{}: cohort size",
        config.cohort.describe()
    );
    assert_eq!(got_ids, exp_ids, "cohort membership and row order");
    let mut mismatches = 0;
    for ((id, g), (_, e)) in got.iter().zip(&expected) {
        if g != e {
            mismatches += 1;
            if mismatches <= 3 {
                eprintln!("mismatch for {id}:\n polars    {g:?}\n reference {e:?}");
            }
        }
    }
    assert_eq!(
        mismatches,
        0,
        "{}: rows differing",
        config.cohort.describe()
    );
}

/// The linkage quality the stage counts over the rows it read equals the
/// polars plan of the same definition on the whole inputs.
fn check_linkage_quality(data: &Data, config: &LinkConfig, summary: &koppel_link::LinkSummary) {
    let q = koppel_link::linkage_quality_plan(&data.frames(), config)
        .collect()
        .unwrap();
    let column = |name: &str| -> Vec<String> {
        let c = q.column(name).unwrap();
        (0..q.height())
            .map(|i| c.get(i).unwrap().to_string().trim_matches('"').to_string())
            .collect()
    };
    let mut rows = summary.linkage.clone();
    rows.push(summary.linkage_total.clone());
    assert!(rows.len() >= 2, "an upload municipality and the total");
    let got = |f: fn(&koppel_link::LinkageRow) -> String| rows.iter().map(f).collect::<Vec<_>>();
    assert_eq!(got(|r| r.municipality.clone()), column("municipality"));
    assert_eq!(
        got(|r| r.persons_in_uploads.to_string()),
        column("persons_in_uploads")
    );
    assert_eq!(
        got(|r| r.found_in_persons_register.to_string()),
        column("found_in_persons_register")
    );
    assert_eq!(
        got(|r| r.with_assistance_around_trajectories.to_string()),
        column("with_assistance_around_trajectories")
    );
    assert_eq!(got(|r| r.not_found.to_string()), column("not_found"));
    let total = &summary.linkage_total;
    assert!(total.with_assistance_around_trajectories > 0);
}

fn synth_100k() -> Data {
    let histories = synth_histories(100_000, 7);
    let key = test_key();
    synth_data(&histories, &Pseudonymiser::new(&key)).0
}

#[test]
fn polars_plans_agree_with_the_reference_on_100k_persons() {
    let data = synth_100k();
    let dir = tempfile::tempdir().unwrap();
    let inputs = write_inputs(dir.path(), &data.frames(), "0123456789abcdef");
    let date = |s: &str| CivilDate::parse(s).unwrap();
    let compare = |c: &LinkConfig, min_rows| compare(&data, &inputs, c, min_rows);
    compare(&LinkConfig::new(Cohort::Outflow { year: 2021 }), 500);
    compare(
        &LinkConfig::new(Cohort::Stock {
            date: date("2021-12-31"),
        }),
        1500,
    );
    compare(&LinkConfig::new(Cohort::Inflow { year: 2021 }), 500);
    compare(&LinkConfig::new(Cohort::Trajectory { year: 2021 }), 500);
    // Non-default settings.
    let mut c = LinkConfig::new(Cohort::Outflow { year: 2019 });
    c.horizons = vec![1, 24, 60];
    c.gap_days = 0;
    c.reentry_months = 3;
    c.lookback_months = 12;
    c.assistance_types = vec!["bijstand".into()];
    compare(&c, 500);
}
