//! Information loss: cells of the same persons under two dimension names
//! share one status, nested cells bound each other in the
//! audit, packages say only `published` or `suppressed`, and persons in
//! published cells are counted per horizon.

use koppel_check::check_tables;
use koppel_disclosure::audit::{audit, Scope};
use koppel_disclosure::cells::{CellSet, Relation};
use koppel_disclosure::package::write_package;
use koppel_disclosure::rules::{RoundingMethod, Rules};
use koppel_disclosure::table::{build_tables, count_key, protect, Measure, TableSpec, STATES};
use polars::prelude::*;

/// Persons with four categorical dimensions (`levels[d]` levels each) and a
/// state at 6 months, from a seed.
fn cohort(n: usize, levels: [usize; 4], seed: u64) -> LazyFrame {
    let mut cols: Vec<Vec<String>> = (0..5).map(|_| Vec::with_capacity(n)).collect();
    let mut h = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for _ in 0..n {
        for (d, &l) in levels.iter().enumerate() {
            h ^= h << 13;
            h ^= h >> 7;
            h ^= h << 17;
            // Skewed levels: the last ones are rare, so small cells appear.
            let r = (h >> 11) % (l as u64 * (l as u64 + 1) / 2);
            let mut level = 0;
            let mut acc = l as u64;
            while r >= acc {
                level += 1;
                acc += (l - level) as u64;
            }
            cols[d].push(format!("{}{level}", (b'a' + d as u8) as char));
        }
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        cols[4].push(STATES[((h >> 20) % 5) as usize].to_string());
    }
    df!(
        "d0" => &cols[0], "d1" => &cols[1], "d2" => &cols[2], "d3" => &cols[3],
        "state_6m" => &cols[4],
    )
    .unwrap()
    .lazy()
}

fn states(name: &str, dims: &[&str]) -> TableSpec {
    TableSpec {
        name: name.into(),
        dims: dims.iter().map(|d| d.to_string()).collect(),
        measure: Measure::States,
        horizons: vec![6],
    }
}

/// The `status` of every row of a table.
fn statuses(df: &DataFrame) -> Vec<String> {
    df.column("status")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap().to_string())
        .collect()
}

fn exact_rules() -> Rules {
    Rules {
        rounding: RoundingMethod::None,
        override_reason: Some("tests on exact values".into()),
        ..Rules::default()
    }
}

/// Persons with a last and a mixed trajectory: `none` under both names is
/// the same persons.
fn trajectories() -> LazyFrame {
    let mut last = Vec::new();
    let mut mix = Vec::new();
    let mut state = Vec::new();
    for i in 0..140u64 {
        let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 21;
        let (l, m) = match h % 7 {
            0..=2 => ("none", "none"),
            3 => ("coaching", "coaching"),
            4 => ("coaching", "multiple"),
            5 => ("training", "multiple"),
            _ => ("training", "training"),
        };
        last.push(l);
        mix.push(m);
        state.push(STATES[((h >> 5) % 5) as usize]);
    }
    df!("trajectory_last" => last, "trajectory_mix" => mix, "state_6m" => state)
        .unwrap()
        .lazy()
}

#[test]
fn the_two_none_cells_are_one_cell_with_one_status() {
    let specs = vec![
        states("by_last", &["trajectory_last"]),
        states("by_mix", &["trajectory_mix"]),
    ];
    let tables = build_tables(&trajectories(), &specs).unwrap();
    let p = protect(&tables, &exact_rules()).unwrap();
    let dims = |d: &str| vec![d.to_string()];
    for state in STATES.iter().chain(["Total"].iter()) {
        let last = count_key(
            &dims("trajectory_last"),
            &["none".into()],
            Some("6m"),
            "persons",
            state,
        );
        let mix = count_key(
            &dims("trajectory_mix"),
            &["none".into()],
            Some("6m"),
            "persons",
            state,
        );
        assert_eq!(last, mix, "one key for the same persons");
    }
    // And in the protected tables: the same status row for row.
    let statuses = |t: usize| -> Vec<(String, String)> {
        let df = &p.tables[t].1;
        let level = df.column(&specs[t].dims[0]).unwrap().str().unwrap().clone();
        let state = df.column("state").unwrap().str().unwrap().clone();
        let status = df.column("status").unwrap().str().unwrap().clone();
        (0..df.height())
            .filter(|&i| level.get(i) == Some("none"))
            .map(|i| {
                (
                    state.get(i).unwrap().to_string(),
                    status.get(i).unwrap().to_string(),
                )
            })
            .collect()
    };
    let (a, b) = (statuses(0), statuses(1));
    assert_eq!(a.len(), STATES.len() + 1);
    assert_eq!(a, b);
    // The single-instrument mix cells are nested in the last-instrument ones.
    assert!(!p.cells.nested.is_empty());
    for &(sub, sup) in &p.cells.nested {
        assert!(p.cells.keys[sub].contains("trajectory_mix="));
        assert!(p.cells.keys[sup].contains("trajectory_last="));
        assert!(p.cells.values[sub] <= p.cells.values[sup]);
    }
}

#[test]
fn a_nested_cell_bounds_a_suppressed_cell_in_the_audit() {
    // T = a + c (T = 40 published, a and c suppressed: a in [0, 40]); b is
    // published as 6 and a is within b: a in [0, 6], too narrow for 10.
    let keys = vec!["T".to_string(), "a".into(), "c".into(), "b".into()];
    let values = vec![40.0, 4.0, 36.0, 6.0];
    let relations = vec![Relation {
        total: 0,
        parts: vec![1, 2],
    }];
    let plain = CellSet::new(keys.clone(), values.clone(), relations.clone());
    let nested = CellSet::new(keys, values, relations).with_nested(vec![(1, 3)]);
    let published = vec![Some(40.0), None, None, Some(6.0)];
    let required = vec![0.0, 10.0, 0.0, 0.0];
    let wide = audit(&plain, &published, &required, 0.0, Scope::Required).unwrap();
    assert!(wide.is_clean());
    let narrow = audit(&nested, &published, &required, 0.0, Scope::Required).unwrap();
    let v = narrow.violations();
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].lower, v[0].upper), (0.0, 6.0));
}

#[test]
fn packages_say_suppressed_and_old_packages_still_check() {
    let specs = vec![states("full", &["d0", "d1"]), states("first", &["d0"])];
    let tables = build_tables(&cohort(120, [3, 3, 2, 2], 7), &specs).unwrap();
    let rules = Rules::default();
    let p = protect(&tables, &rules).unwrap();
    assert!(p.summary.primary > 0 && p.summary.secondary > 0);
    // The run directory's tables keep primary and secondary ...
    let run_statuses = statuses(&p.tables[0].1);
    assert!(run_statuses.iter().any(|s| s == "primary"));
    // ... the package does not.
    let dir = tempfile::tempdir().unwrap();
    write_package(dir.path(), &p, &rules).unwrap();
    let file = std::fs::File::open(dir.path().join("tables/full.parquet")).unwrap();
    let df = ParquetReader::new(file).finish().unwrap();
    let mut seen = statuses(&df);
    seen.sort();
    seen.dedup();
    assert_eq!(seen, ["published", "suppressed"]);
    let report = check_tables(dir.path(), &rules).unwrap();
    assert!(report.passed(), "{:?}", report.findings);
    // A package written before the change (primary/secondary) still checks.
    let old = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(old.path().join("tables")).unwrap();
    for (name, df) in &p.tables {
        let file =
            std::fs::File::create(old.path().join(format!("tables/{name}.parquet"))).unwrap();
        ParquetWriter::new(file).finish(&mut df.clone()).unwrap();
    }
    std::fs::copy(
        dir.path().join("manifest.json"),
        old.path().join("manifest.json"),
    )
    .unwrap();
    let report = check_tables(old.path(), &rules).unwrap();
    assert!(report.passed(), "{:?}", report.findings);
    assert_eq!(report.audited, p.summary.primary);
    // Per-table information loss is reported.
    assert_eq!(p.summary.tables.len(), 2);
    for t in &p.summary.tables {
        assert_eq!(t.published + t.suppressed, t.cells);
        assert!(t.persons_published <= t.persons);
    }
}

#[test]
fn persons_in_published_cells_are_counted_per_horizon() {
    // 150 persons by one dimension, states at 6 and 12 months.
    let n = 150usize;
    let level: Vec<String> = (0..n)
        .map(|i| format!("a{}", if i % 25 == 0 { 3 } else { i % 3 }))
        .collect();
    let at = |shift: usize| -> Vec<&str> { (0..n).map(|i| STATES[(i * 7 + shift) % 5]).collect() };
    let persons = df!("d0" => level, "state_6m" => at(0), "state_12m" => at(3))
        .unwrap()
        .lazy();
    let mut spec = states("by_d0", &["d0"]);
    spec.horizons = vec![6, 12];
    let tables = build_tables(&persons, &[spec]).unwrap();
    let p = protect(&tables, &exact_rules()).unwrap();
    let t = &p.summary.tables[0];
    // Every person once per horizon: the cohort, not twice the cohort.
    assert_eq!(t.persons, n as f64);
    assert_eq!(t.by_horizon.len(), 2);
    // Recount from the protected table: base cells are level x state.
    let df = &p.tables[0].1;
    let d0 = df.column("d0").unwrap().str().unwrap().clone();
    let horizon = df.column("horizon").unwrap().str().unwrap().clone();
    let state = df.column("state").unwrap().str().unwrap().clone();
    let status = df.column("status").unwrap().str().unwrap().clone();
    for h in &t.by_horizon {
        let (mut all, mut published) = (0.0, 0.0);
        for i in 0..df.height() {
            if d0.get(i) == Some("Total")
                || state.get(i) == Some("Total")
                || horizon.get(i) != Some(h.horizon.as_str())
            {
                continue;
            }
            let key = count_key(
                &["d0".to_string()],
                &[d0.get(i).unwrap().to_string()],
                horizon.get(i),
                "persons",
                state.get(i).unwrap(),
            );
            let v = p.cells.values[p.cells.keys.iter().position(|k| *k == key).unwrap()];
            all += v;
            if status.get(i) == Some("published") {
                published += v;
            }
        }
        assert_eq!(h.persons, all);
        assert_eq!(h.persons_published, published);
    }
    let fewest = t
        .by_horizon
        .iter()
        .map(|h| h.persons_published)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(t.persons_published, fewest);
    assert!(t.persons_published <= t.persons);
}
