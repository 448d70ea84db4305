//! A deterministic synthetic cohort (person-level analysis frame with
//! fixture pseudonyms and BSNs), the table set of the outflow pipeline,
//! and linkage-quality counts. Shared by the tests and the demo example.
#![allow(dead_code)]

use koppel_disclosure::rules::Rules;
use koppel_disclosure::table::{build_tables, protect, Measure, Protected, TableSpec};
use koppel_report::{Definition, LinkageQuality, ReportContext};
use polars::prelude::*;

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Uniform in [0, 1) from a person index and a stream.
fn unit(i: u64, stream: u64) -> f64 {
    (mix(i
        .wrapping_mul(1_000_003)
        .wrapping_add(stream.wrapping_mul(0x5851_f42d)))
        >> 11) as f64
        / (1u64 << 53) as f64
}

fn pick<'a>(u: f64, items: &[(&'a str, f64)]) -> &'a str {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut acc = 0.0;
    for (s, w) in items {
        acc += w / total;
        if u < acc {
            return s;
        }
    }
    items.last().unwrap().0
}

/// The fixture pseudonym of person `i` (32 lowercase hex characters).
pub fn pseudonym(i: usize) -> String {
    format!(
        "{:016x}{:016x}",
        mix(i as u64 * 2 + 1),
        mix(i as u64 * 2 + 2)
    )
}

/// A valid (eleven-test) BSN for person `i`.
pub fn bsn(i: usize) -> String {
    let mut k = i as u64 * 7 + 1;
    loop {
        let base = 10_000_000 + mix(k) % 89_999_999;
        let d: Vec<u64> = format!("{base:08}")
            .bytes()
            .map(|b| (b - b'0') as u64)
            .collect();
        let s: u64 = d.iter().enumerate().map(|(j, x)| (9 - j as u64) * x).sum();
        let last = s % 11;
        if last < 10 {
            return format!("{base:08}{last}");
        }
        k += 1;
    }
}

pub const HORIZONS: [u32; 4] = [3, 6, 12, 18];

/// A cohort of `n` leavers.
pub fn persons(n: usize) -> DataFrame {
    let mut cols: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    let mut flags: std::collections::BTreeMap<&str, Vec<bool>> = Default::default();
    let mut wages: std::collections::BTreeMap<String, Vec<Option<f64>>> = Default::default();
    let mut states: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let instruments = [
        ("none", 40.0),
        ("loonkostensubsidie", 6.0),
        ("jobcoaching", 4.0),
        ("werkervaringsplek", 8.0),
        ("training", 10.0),
        ("scholing", 3.0),
        ("sociale_activering", 5.0),
        ("proefplaatsing", 0.6),
    ];
    for i in 0..n as u64 {
        let sex = pick(unit(i, 1), &[("M", 46.0), ("V", 54.0)]);
        let age = pick(
            unit(i, 2),
            &[
                ("<27", 18.0),
                ("27-34", 22.0),
                ("35-44", 22.0),
                ("45-54", 20.0),
                ("55+", 18.0),
            ],
        );
        let hh = pick(
            unit(i, 3),
            &[
                ("single", 60.0),
                ("single_parent", 10.0),
                ("couple_no_children", 12.0),
                ("couple_with_children", 17.0),
                ("institution", 0.4),
            ],
        );
        let dur = pick(
            unit(i, 4),
            &[
                ("<0.5", 22.0),
                ("0.5-1", 15.0),
                ("1-2", 18.0),
                ("2-3", 11.0),
                ("3-4", 8.0),
                ("4-5", 6.0),
                (">5", 20.0),
            ],
        );
        let muni = pick(
            unit(i, 5),
            &[
                ("GM0363", 40.0),
                ("GM0599", 30.0),
                ("GM0518", 20.0),
                ("GM0344", 9.0),
                ("GM1680", 0.5),
            ],
        );
        let last = pick(unit(i, 6), &instruments);
        let multi = last != "none" && unit(i, 7) < 0.35;
        let trmix = if multi {
            "multiple".to_string()
        } else {
            last.to_string()
        };
        let work_boost: f64 = match last {
            "loonkostensubsidie" => 0.25,
            "jobcoaching" => 0.15,
            "werkervaringsplek" => 0.05,
            "none" => 0.0,
            _ => -0.05,
        } + if age == "55+" { -0.15 } else { 0.0 };
        cols.entry("pseudo_id")
            .or_default()
            .push(pseudonym(i as usize));
        cols.entry("bsn").or_default().push(bsn(i as usize));
        cols.entry("sex").or_default().push(sex.into());
        cols.entry("age_band").or_default().push(age.into());
        cols.entry("household_type").or_default().push(hh.into());
        cols.entry("duration_band").or_default().push(dur.into());
        cols.entry("municipality").or_default().push(muni.into());
        cols.entry("trajectory_last").or_default().push(last.into());
        cols.entry("trajectory_mix").or_default().push(trmix);
        let mut on_assistance_any = false;
        let mut state12 = "";
        for (k, h) in HORIZONS.iter().enumerate() {
            let u = unit(i, 10 + k as u64);
            let back = 0.10 + 0.03 * k as f64;
            let st = pick(
                u,
                &[
                    ("bijstand_met_werk", 0.045),
                    ("bijstand", back),
                    ("werk", (0.40 + work_boost).max(0.05)),
                    ("ww", 0.035),
                    ("overig", 0.36),
                ],
            );
            if (st == "bijstand" || st == "bijstand_met_werk") && *h <= 12 {
                on_assistance_any = true;
            }
            if *h == 12 {
                state12 = st;
            }
            states
                .entry(format!("state_{h}m"))
                .or_default()
                .push(st.into());
            let wage = (st == "werk" || st == "bijstand_met_werk")
                .then(|| 1200.0 + (unit(i, 30 + k as u64) * 2200.0).round());
            wages.entry(format!("wage_{h}m")).or_default().push(wage);
            let working = wage.is_some();
            let sector = pick(
                unit(i, 40 + k as u64),
                &[
                    ("C", 8.0),
                    ("G", 20.0),
                    ("H", 6.0),
                    ("I", 14.0),
                    ("N", 22.0),
                    ("Q", 18.0),
                    ("P", 4.0),
                    ("S", 3.0),
                    ("unknown", 1.0),
                ],
            );
            let contract = pick(
                unit(i, 50 + k as u64),
                &[("permanent", 25.0), ("fixed_term", 45.0), ("flex", 30.0)],
            );
            states
                .entry(format!("sector_{h}m"))
                .or_default()
                .push(if working { sector } else { "none" }.into());
            states
                .entry(format!("contract_{h}m"))
                .or_default()
                .push(if working { contract } else { "none" }.into());
        }
        flags
            .entry("reentry_6m")
            .or_default()
            .push(unit(i, 20) < 0.09);
        flags
            .entry("durable_outflow")
            .or_default()
            .push(!on_assistance_any);
        flags
            .entry("durable_outflow_work")
            .or_default()
            .push(!on_assistance_any && state12 == "werk");
    }
    let mut columns: Vec<Column> = Vec::new();
    for (name, v) in cols {
        columns.push(Column::new(name.into(), v));
    }
    for (name, v) in states {
        columns.push(Column::new(name.as_str().into(), v));
    }
    for (name, v) in wages {
        columns.push(Column::new(name.as_str().into(), v));
    }
    for (name, v) in flags {
        columns.push(Column::new(name.into(), v));
    }
    DataFrame::new(n, columns).unwrap()
}

/// The outflow pipeline's table set (pipelines/outflow-cohort.toml), with
/// one two-dimensional table added.
pub fn specs() -> Vec<TableSpec> {
    let t = |name: &str, dims: &[&str], measure: Measure| TableSpec {
        name: name.into(),
        dims: dims.iter().map(|d| d.to_string()).collect(),
        measure,
        horizons: HORIZONS.to_vec(),
    };
    vec![
        t("states_by_age_band", &["age_band"], Measure::States),
        t("states_by_sex", &["sex"], Measure::States),
        t("states_by_household", &["household_type"], Measure::States),
        t("states_by_duration", &["duration_band"], Measure::States),
        t("states_by_age_sex", &["age_band", "sex"], Measure::States),
        t(
            "states_by_trajectory_last",
            &["trajectory_last"],
            Measure::States,
        ),
        t(
            "states_by_trajectory_mix",
            &["trajectory_mix"],
            Measure::States,
        ),
        t("states_by_municipality", &["municipality"], Measure::States),
        t(
            "reentry_by_age_band",
            &["age_band"],
            Measure::Flag("reentry_6m".into()),
        ),
        t(
            "durable_outflow_by_trajectory",
            &["trajectory_last"],
            Measure::Flag("durable_outflow".into()),
        ),
        t(
            "durable_work_by_trajectory",
            &["trajectory_last"],
            Measure::Flag("durable_outflow_work".into()),
        ),
        TableSpec {
            horizons: vec![6, 12],
            ..t("wage_by_sex", &["sex"], Measure::Mean("wage".into()))
        },
        TableSpec {
            horizons: vec![12],
            ..t("jobs_by_sector_12m", &[], Measure::Job("sector".into()))
        },
        TableSpec {
            horizons: vec![12],
            ..t(
                "jobs_by_contract_sex_12m",
                &["sex"],
                Measure::Job("contract".into()),
            )
        },
        TableSpec {
            horizons: vec![12],
            ..t(
                "median_wage_by_contract_12m",
                &[],
                Measure::JobMedian("contract".into()),
            )
        },
        t("flow_6_12_18", &[], Measure::Flow(vec![6, 12, 18])),
    ]
}

/// Protected tables of a cohort of `n`.
pub fn protected(n: usize, rules: &Rules) -> Protected {
    let tables = build_tables(&persons(n).lazy(), &specs()).unwrap();
    protect(&tables, rules).unwrap()
}

/// Linkage-quality counts per municipality (one municipality small).
pub fn linkage_quality() -> LinkageQuality {
    LinkageQuality {
        dimension: "municipality".into(),
        unit: "trajectories".into(),
        categories: vec!["linked".into(), "not_in_register".into(), "rejected".into()],
        rows: vec![
            ("GM0363".into(), vec![1840, 61, 23]),
            ("GM0599".into(), vec![1322, 40, 7]),
            ("GM0518".into(), vec![901, 18, 12]),
            ("GM0344".into(), vec![410, 3, 11]),
            ("GM1680".into(), vec![22, 0, 2]),
        ],
    }
}

/// A context like the export stage's.
pub fn context() -> ReportContext {
    let mut ctx = ReportContext::new(
        "Uitstroom uit de bijstand in 2022: situatie 3, 6, 12 en 18 maanden later",
    );
    ctx.cohort_description =
        "Personen van wie de bijstand (bijstand, IOAW of IOAZ) in 2022 eindigde, \
        in vier gemeenten. Per persoon telt de eerste beëindigde bijstandsperiode in 2022."
            .into();
    ctx.definitions = vec![
        Definition::new("Cohort", "Uitstroomcohort 2022: personen met een bijstandsperiode die in 2022 eindigde (de eerste per persoon)."),
        Definition::new("Referentiedatum", "De dag na het einde van de bijstandsperiode."),
        Definition::new("Bijstandsperiode", "Aaneengesloten bijstand, IOAW of IOAZ; onderbrekingen van hoogstens 31 dagen worden overbrugd."),
        Definition::new("Traject", "Re-integratietrajecten die overlappen met de 24 maanden voor de referentiedatum."),
    ];
    ctx.linkage_quality = Some(linkage_quality());
    ctx.manifest_extra = serde_json::json!({
        "software": {"name": "koppel", "version": "0.1.0"},
        "config_hash": "3f1c0d1e5b0a8f9c2d4e6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f70819",
        "key_id": "a1b2c3d4e5f60718",
    });
    ctx
}
