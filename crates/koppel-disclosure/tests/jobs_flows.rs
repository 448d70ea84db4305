//! Job and flow tables: values against an independent count from the
//! person-level frame (plain loops), their links to the states tables, and
//! protection of the linked set through the package check.

use std::collections::HashMap;

use koppel_check::check_tables;
use koppel_disclosure::package::write_package;
use koppel_disclosure::rules::Rules;
use koppel_disclosure::table::{
    build_table, build_tables, protect, sector_group, Measure, Table, TableSpec, STATES, TOTAL,
};
use polars::prelude::*;

/// One person of the test cohort.
struct P {
    sex: &'static str,
    state: [&'static str; 3],
    sector: [&'static str; 3],
    contract: [&'static str; 3],
    wage: [Option<f64>; 3],
}

const H: [u32; 3] = [6, 12, 18];

fn cohort(n: usize) -> Vec<P> {
    let sectors = ["A", "C", "G", "G", "I", "N", "Q", "Q", "unknown"];
    let contracts = ["permanent", "fixed_term", "flex", "flex"];
    (0..n)
        .map(|i| {
            let h = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16;
            let mut p = P {
                sex: ["m", "v"][(h % 2) as usize],
                state: ["overig"; 3],
                sector: ["none"; 3],
                contract: ["none"; 3],
                wage: [None; 3],
            };
            for k in 0..3 {
                let g = h >> (5 * k + 3);
                let st = STATES[(g % 5) as usize];
                p.state[k] = st;
                if st == "werk" || st == "bijstand_met_werk" {
                    p.sector[k] = sectors[((g >> 3) % 9) as usize];
                    p.contract[k] = contracts[((g >> 5) % 4) as usize];
                    p.wage[k] = Some(900.0 + ((g >> 7) % 3000) as f64);
                }
            }
            p
        })
        .collect()
}

fn frame(people: &[P]) -> LazyFrame {
    let mut cols: Vec<Column> = vec![Column::new(
        "sex".into(),
        people.iter().map(|p| p.sex).collect::<Vec<_>>(),
    )];
    for (k, h) in H.iter().enumerate() {
        let s = |f: &dyn Fn(&P) -> &'static str| people.iter().map(f).collect::<Vec<_>>();
        cols.push(Column::new(
            format!("state_{h}m").into(),
            s(&|p| p.state[k]),
        ));
        cols.push(Column::new(
            format!("sector_{h}m").into(),
            s(&|p| p.sector[k]),
        ));
        cols.push(Column::new(
            format!("contract_{h}m").into(),
            s(&|p| p.contract[k]),
        ));
        cols.push(Column::new(
            format!("wage_{h}m").into(),
            people.iter().map(|p| p.wage[k]).collect::<Vec<_>>(),
        ));
    }
    DataFrame::new(people.len(), cols).unwrap().lazy()
}

fn spec(name: &str, dims: &[&str], measure: Measure, horizons: &[u32]) -> TableSpec {
    TableSpec {
        name: name.into(),
        dims: dims.iter().map(|d| d.to_string()).collect(),
        measure,
        horizons: horizons.to_vec(),
    }
}

/// A row's address: levels, horizon, measure, state.
type Key = (Vec<String>, Option<String>, String, Option<String>);

/// Address → value.
fn index(t: &Table) -> HashMap<Key, f64> {
    t.rows
        .iter()
        .map(|r| {
            (
                (
                    r.levels.clone(),
                    r.horizon.clone(),
                    r.measure.clone(),
                    r.state.clone(),
                ),
                r.value,
            )
        })
        .collect()
}

fn key(
    l: &str,
    h: &str,
    m: &str,
    s: &str,
) -> (Vec<String>, Option<String>, String, Option<String>) {
    (
        vec![l.to_string()],
        Some(h.to_string()),
        m.to_string(),
        Some(s.to_string()),
    )
}

#[test]
fn job_tables_equal_an_independent_count() {
    let people = cohort(700);
    let lf = frame(&people);
    for field in ["sector", "sector_group", "contract"] {
        let t = build_table(
            &lf,
            &spec("jobs", &["sex"], Measure::Job(field.into()), &[6, 12, 18]),
        )
        .unwrap();
        let got = index(&t);
        for (k, h) in H.iter().enumerate() {
            let h = format!("{h}m");
            let mut want: HashMap<(String, String), f64> = HashMap::new();
            let mut work: HashMap<(String, String), f64> = HashMap::new();
            for p in &people {
                if p.state[k] != "werk" && p.state[k] != "bijstand_met_werk" {
                    continue;
                }
                let level = match field {
                    "sector" => p.sector[k].to_string(),
                    "sector_group" => sector_group(p.sector[k]).to_string(),
                    _ => p.contract[k].to_string(),
                };
                for sex in [p.sex, TOTAL] {
                    *want.entry((sex.into(), level.clone())).or_default() += 1.0;
                    *want.entry((sex.into(), TOTAL.into())).or_default() += 1.0;
                    *work.entry((sex.into(), p.state[k].into())).or_default() += 1.0;
                }
            }
            let measure = format!("job_{field}");
            for ((sex, level), v) in &want {
                assert_eq!(
                    got[&key(sex, &h, &measure, level)],
                    *v,
                    "{field} {h} {sex} {level}"
                );
            }
            // Every emitted job cell is in the independent count (or zero).
            for (kk, v) in &got {
                if kk.1.as_deref() == Some(&h) && kk.2 == measure {
                    let w = want
                        .get(&(kk.0[0].clone(), kk.3.clone().unwrap()))
                        .copied()
                        .unwrap_or(0.0);
                    assert_eq!(*v, w, "{kk:?}");
                }
            }
            // The link rows: persons in work = werk + bijstand_met_werk.
            for sex in ["m", "v", TOTAL] {
                let total = got[&key(sex, &h, &measure, TOTAL)];
                let parts: f64 = ["werk", "bijstand_met_werk"]
                    .iter()
                    .map(|s| got[&key(sex, &h, "persons", s)])
                    .sum();
                assert_eq!(total, parts);
                for s in ["werk", "bijstand_met_werk"] {
                    assert_eq!(
                        got[&key(sex, &h, "persons", s)],
                        work.get(&(sex.to_string(), s.to_string()))
                            .copied()
                            .unwrap_or(0.0)
                    );
                }
            }
        }
    }
    assert_eq!(sector_group("G"), "G-I");
    assert_eq!(sector_group("Q"), "O-Q");
    assert_eq!(sector_group("unknown"), "unknown");
}

#[test]
fn job_wage_means_by_field_equal_plain_means() {
    let people = cohort(400);
    let t = build_table(
        &frame(&people),
        &spec("wage", &[], Measure::JobMean("contract".into()), &[12]),
    )
    .unwrap();
    let mut sums: HashMap<String, (f64, f64)> = HashMap::new();
    for p in &people {
        if let Some(w) = p.wage[1] {
            for c in [p.contract[1], TOTAL] {
                let e = sums.entry(c.to_string()).or_default();
                e.0 += w;
                e.1 += 1.0;
            }
        }
    }
    assert_eq!(t.rows.len(), sums.len());
    for r in &t.rows {
        assert_eq!(r.measure, "mean_wage_by_contract");
        let (s, n) = sums[r.state.as_deref().unwrap()];
        assert!((r.value - s / n).abs() < 1e-9);
        assert_eq!(r.contributors.unwrap().n, n as u64);
    }
}

#[test]
fn flow_margins_equal_the_states_tables() {
    let people = cohort(600);
    let lf = frame(&people);
    let flow = build_table(
        &lf,
        &spec("flow", &["sex"], Measure::Flow(vec![6, 12, 18]), &[]),
    )
    .unwrap();
    let states = build_table(&lf, &spec("st", &["sex"], Measure::States, &[6, 12, 18])).unwrap();
    let f = index(&flow);
    let s = index(&states);
    for (a_h, b_h) in [("6m", "12m"), ("12m", "18m")] {
        let h = format!("{a_h}>{b_h}");
        for sex in ["m", "v", TOTAL] {
            for st in STATES.iter().copied().chain([TOTAL]) {
                let out = f[&key(sex, &h, "flow", &format!("{st}>Total"))];
                let inn = f[&key(sex, &h, "flow", &format!("Total>{st}"))];
                assert_eq!(out, s[&key(sex, a_h, "persons", st)], "{h} {sex} {st} out");
                assert_eq!(inn, s[&key(sex, b_h, "persons", st)], "{h} {sex} {st} in");
                if st != TOTAL {
                    let row: f64 = STATES
                        .iter()
                        .map(|b| f[&key(sex, &h, "flow", &format!("{st}>{b}"))])
                        .sum();
                    assert_eq!(row, out);
                }
            }
        }
        // Inner cells against a plain count.
        let (ka, kb) = if a_h == "6m" { (0, 1) } else { (1, 2) };
        let mut want: HashMap<String, f64> = HashMap::new();
        for p in &people {
            *want
                .entry(format!("{}>{}", p.state[ka], p.state[kb]))
                .or_default() += 1.0;
        }
        for a in STATES {
            for b in STATES {
                let st = format!("{a}>{b}");
                assert_eq!(
                    f[&key(TOTAL, &h, "flow", &st)],
                    want.get(&st).copied().unwrap_or(0.0)
                );
            }
        }
    }
}

#[test]
fn linked_jobs_flows_and_states_are_protected_and_pass_check() {
    let people = cohort(260);
    let lf = frame(&people);
    let specs = vec![
        spec("states_by_sex", &["sex"], Measure::States, &[6, 12, 18]),
        spec(
            "jobs_by_sector",
            &["sex"],
            Measure::Job("sector".into()),
            &[12],
        ),
        spec(
            "jobs_by_contract",
            &[],
            Measure::Job("contract".into()),
            &[12],
        ),
        spec("flow", &[], Measure::Flow(vec![6, 12, 18]), &[]),
        spec(
            "wage_by_contract",
            &[],
            Measure::JobMedian("contract".into()),
            &[12],
        ),
    ];
    let tables = build_tables(&lf, &specs).unwrap();
    let rules = Rules::default();
    let p = protect(&tables, &rules).unwrap();
    assert!(p.summary.primary > 0, "the test needs small cells");
    // Shared cells: the flow's margins and the job tables' work rows carry
    // the states table's status and value.
    let get = |name: &str| &p.tables.iter().find(|(n, _)| n == name).unwrap().1;
    let cell = |df: &DataFrame, pred: &dyn Fn(&[Option<&str>]) -> bool| {
        let cols: Vec<Vec<Option<String>>> = ["horizon", "measure", "state", "status"]
            .iter()
            .map(|c| {
                df.column(c)
                    .unwrap()
                    .str()
                    .unwrap()
                    .iter()
                    .map(|v| v.map(str::to_string))
                    .collect()
            })
            .collect();
        let values: Vec<Option<f64>> = df.column("value").unwrap().f64().unwrap().iter().collect();
        (0..df.height())
            .find(|&i| {
                pred(&[
                    cols[0][i].as_deref(),
                    cols[1][i].as_deref(),
                    cols[2][i].as_deref(),
                ])
            })
            .map(|i| (cols[3][i].clone().unwrap(), values[i]))
            .unwrap()
    };
    let states = get("states_by_sex");
    let flow = get("flow");
    let jobs = get("jobs_by_contract");
    for st in STATES {
        for (h, fh, fs) in [
            ("6m", "6m>12m", format!("{st}>Total")),
            ("18m", "12m>18m", format!("Total>{st}")),
        ] {
            let got = cell(flow, &|r| r[0] == Some(fh) && r[2] == Some(fs.as_str()));
            assert_eq!(got, whole_cohort(states, h, st), "{st} at {h}");
        }
    }
    for st in ["werk", "bijstand_met_werk"] {
        let got = cell(jobs, &|r| r[1] == Some("persons") && r[2] == Some(st));
        assert_eq!(got, whole_cohort(states, "12m", st));
    }
    let dir = tempfile::tempdir().unwrap();
    write_package(dir.path(), &p, &rules).unwrap();
    let report = check_tables(dir.path(), &rules).unwrap();
    assert!(report.passed(), "{:?}", report.findings);
}

fn whole_cohort(df: &DataFrame, h: &str, st: &str) -> (String, Option<f64>) {
    let s = |c: &str| df.column(c).unwrap().str().unwrap().clone();
    let (sex, hz, state, status) = (s("sex"), s("horizon"), s("state"), s("status"));
    let values = df.column("value").unwrap().f64().unwrap().clone();
    (0..df.height())
        .find(|&i| sex.get(i) == Some(TOTAL) && hz.get(i) == Some(h) && state.get(i) == Some(st))
        .map(|i| (status.get(i).unwrap().to_string(), values.get(i)))
        .unwrap()
}

#[test]
fn a_job_field_set_for_someone_not_in_work_is_refused() {
    let mut people = cohort(50);
    let i = people.iter().position(|p| p.state[1] == "overig").unwrap();
    people[i].sector[1] = "G";
    let err = build_table(
        &frame(&people),
        &spec("jobs", &[], Measure::Job("sector".into()), &[12]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("sector_12m") && err.contains("overig"),
        "{err}"
    );
    let err = build_table(
        &frame(&people),
        &spec("jobs", &[], Measure::Job("salary".into()), &[12]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("unknown job field"), "{err}");
}
