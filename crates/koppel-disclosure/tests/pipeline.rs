//! Tables from a person-level frame, protection, package round trip and `check`.

use koppel_check::check_tables;
use koppel_disclosure::package::write_package;
use koppel_disclosure::rules::{magnitude_rule, round_count, Contributors, RoundingMethod, Rules};
use koppel_disclosure::table::{build_tables, protect, Measure, Protected, TableSpec, STATES};
use polars::prelude::*;

/// A deterministic cohort of `n` persons (with an extra column to ignore).
pub fn persons(n: usize) -> LazyFrame {
    let sexes = ["m", "v"];
    let ages = ["<27", "27-34", "35-44", "45-54", "55+"];
    let hh = ["single", "couple", "single_parent"];
    let mut sex = Vec::new();
    let mut age = Vec::new();
    let mut house = Vec::new();
    let mut s6 = Vec::new();
    let mut s12 = Vec::new();
    let mut w6: Vec<Option<f64>> = Vec::new();
    let mut reentry = Vec::new();
    for i in 0..n {
        let h = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20;
        sex.push(sexes[(h % 2) as usize]);
        age.push(ages[((h >> 3) % 5) as usize]);
        // single parents are rare: small cells appear.
        house.push(if (h >> 7).is_multiple_of(40) {
            hh[2]
        } else {
            hh[((h >> 9) % 2) as usize]
        });
        let st = STATES[((h >> 12) % 5) as usize];
        s6.push(st);
        s12.push(STATES[((h >> 17) % 5) as usize]);
        w6.push(
            (st == "werk" || st == "bijstand_met_werk")
                .then_some(1500.0 + ((h >> 22) % 1000) as f64),
        );
        reentry.push((h >> 25).is_multiple_of(9));
    }
    df!(
        "pseudo_id" => (0..n as u64).collect::<Vec<_>>(),
        "sex" => sex, "age_band" => age, "household_type" => house,
        "state_6m" => s6, "state_12m" => s12, "wage_6m" => w6, "reentry_6m" => reentry,
    )
    .unwrap()
    .lazy()
}

/// A table spec over horizons 6 and 12.
/// The package of `protected` passes koppel-check (its own audit included).
fn package_passes_check(protected: &Protected, rules: &Rules) {
    let dir = tempfile::tempdir().unwrap();
    write_package(dir.path(), protected, rules).unwrap();
    let report = check_tables(dir.path(), rules).unwrap();
    assert!(report.passed(), "{:?}", report.findings);
    assert!(report.audited > 0);
}

fn spec(name: &str, dims: &[&str], measure: Measure) -> TableSpec {
    TableSpec {
        name: name.into(),
        dims: dims.iter().map(|d| d.to_string()).collect(),
        measure,
        horizons: vec![6, 12],
    }
}

fn specs() -> Vec<TableSpec> {
    let t = spec;
    vec![
        t("states_age_sex", &["age_band", "sex"], Measure::States),
        t(
            "states_age_household",
            &["age_band", "household_type"],
            Measure::States,
        ),
        t(
            "reentry_household",
            &["household_type"],
            Measure::Flag("reentry_6m".into()),
        ),
        TableSpec {
            horizons: vec![6],
            ..t(
                "wage_age",
                &["age_band", "household_type"],
                Measure::Mean("wage".into()),
            )
        },
    ]
}

#[test]
fn protects_linked_tables_and_package_passes_check() {
    let tables = build_tables(&persons(600), &specs()).unwrap();
    let rules = Rules::default();
    let p = protect(&tables, &rules).unwrap();
    assert!(p.summary.primary > 0, "fixture should have small cells");
    assert!(p.summary.secondary > 0);
    // Shared margin: the age totals appear in both state tables with one status.
    let df = &p.tables[0].1;
    for c in [
        "value", "status", "percent", "horizon", "state", "measure", "age_band", "sex",
    ] {
        assert!(df.column(c).is_ok(), "{c}");
    }
    assert!(df.column("unrounded").is_err());
    package_passes_check(&p, &rules);
}

/// Regression (8b1fae9): a small cohort where the age × sex × household table
/// links three two-way tables. The greedy's inner-bound repair once found a
/// cell whose every neighbour was already suppressed and gave up with
/// "cannot be protected", although its exact interval was wide enough.
#[test]
fn linked_tables_with_a_three_way_table_are_protected() {
    let t = spec;
    let specs = vec![
        t("states_age_sex", &["age_band", "sex"], Measure::States),
        t(
            "states_age_household",
            &["age_band", "household_type"],
            Measure::States,
        ),
        t(
            "states_age_sex_household",
            &["age_band", "sex", "household_type"],
            Measure::States,
        ),
        t(
            "reentry_household",
            &["household_type"],
            Measure::Flag("reentry_6m".into()),
        ),
    ];
    let tables = build_tables(&persons(60), &specs).unwrap();
    let rules = Rules::default();
    let p = protect(&tables, &rules).unwrap();
    assert!(p.summary.primary > 0, "fixture should have small cells");
    package_passes_check(&p, &rules);
}

#[test]
fn check_flags_a_tampered_package_and_errors_on_garbage() {
    let tables = build_tables(&persons(600), &specs()[..1]).unwrap();
    let rules = Rules {
        rounding: RoundingMethod::None,
        override_reason: Some("test".into()),
        ..Rules::default()
    };
    let mut p = protect(&tables, &rules).unwrap();
    // Publish every secondary cell: the primary cells become derivable.
    let df = &p.tables[0].1;
    let status = df.column("status").unwrap().str().unwrap().clone();
    let keep: Vec<&str> = status
        .iter()
        .map(|s| {
            if s == Some("secondary") {
                "published"
            } else {
                s.unwrap()
            }
        })
        .collect();
    let mut df = df.clone();
    df.with_column(Column::new("status".into(), keep)).unwrap();
    // Values of the unsuppressed cells are needed too: take them from the cell set.
    let values: Vec<Option<f64>> = tables[0]
        .rows
        .iter()
        .zip(status.iter())
        .map(|(r, s)| (s != Some("primary")).then_some(r.value))
        .collect();
    df.with_column(Column::new("value".into(), values)).unwrap();
    df.with_column(Column::new(
        "percent".into(),
        vec![None::<f64>; df.height()],
    ))
    .unwrap();
    p.tables[0].1 = df;
    let dir = tempfile::tempdir().unwrap();
    write_package(dir.path(), &p, &rules).unwrap();
    let report = check_tables(dir.path(), &rules).unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.message.contains("can be narrowed")),
        "{:?}",
        report.findings
    );

    assert!(check_tables(&dir.path().join("missing"), &rules).is_err());
    std::fs::write(dir.path().join("manifest.json"), "{not json").unwrap();
    assert!(koppel_check::check_package(dir.path(), &rules).is_err());
}

#[test]
fn random_rounding_is_seeded_and_unbiased() {
    let rules = Rules {
        rounding: RoundingMethod::Random,
        ..Rules::default()
    };
    let mut sum = 0.0;
    for i in 0..4000 {
        let r = round_count(&rules, &format!("cell{i}"), 12.0);
        assert!(r == 10.0 || r == 15.0);
        assert_eq!(r, round_count(&rules, &format!("cell{i}"), 12.0));
        sum += r;
    }
    assert!((sum / 4000.0 - 12.0).abs() < 0.2, "{}", sum / 4000.0);
    let nearest = Rules::default();
    assert_eq!(round_count(&nearest, "x", 12.0), 10.0);
    assert_eq!(round_count(&nearest, "x", 13.0), 15.0);
}

#[test]
fn magnitude_rules() {
    let r = Rules::default();
    let c = |n, sum, top: [f64; 3]| Contributors { n, sum, top };
    assert_eq!(
        magnitude_rule(&r, &c(9, 9000., [1000.; 3])),
        Some("threshold")
    );
    assert_eq!(magnitude_rule(&r, &c(10, 10000., [1000.; 3])), None);
    // Two contributors hold 91% of the total.
    assert_eq!(
        magnitude_rule(&r, &c(12, 100_000., [60_000., 31_000., 1000.])),
        Some("dominance")
    );
    assert_eq!(
        magnitude_rule(&r, &c(12, 100_000., [50_000., 39_000., 1000.])),
        None
    );
    // p%: rest (total - x1 - x2) = 4000 < 10% of x1 = 5000 (no dominance: 2 largest 88.9%? no, 96% ) -> use k=99.
    let loose = Rules {
        dominance_k: 99.0,
        ..Rules::default()
    };
    assert_eq!(
        magnitude_rule(&loose, &c(12, 100_000., [50_000., 46_000., 400.])),
        Some("p-percent")
    );
    assert_eq!(
        magnitude_rule(&loose, &c(12, 100_000., [40_000., 40_000., 2000.])),
        None
    );
}

#[test]
fn rules_tighten_freely_but_loosen_only_with_reason() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/disclosure.toml"
    ))
    .unwrap();
    assert_eq!(Rules::parse(&text).unwrap(), Rules::default());
    assert_eq!(Rules::parse("min_count = 15").unwrap().min_count, 15);
    assert!(Rules::parse("min_count = 5").is_err());
    let r = Rules::parse("min_count = 5\noverride_reason = \"approved by the board\"").unwrap();
    assert_eq!(r.loosened.len(), 1);
    assert!(Rules::parse("rounding = \"none\"").is_err());
    assert!(Rules::parse("min_cnt = 10").is_err());
}
