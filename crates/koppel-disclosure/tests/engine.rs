//! Hand-made tables with known protection, and property tests, on the cell engine.

use koppel_disclosure::audit::{audit, Scope};
use koppel_disclosure::cells::{primary_pattern, CellSet, Relation, Status};
use koppel_disclosure::secondary::{naive_baseline, suppress_secondary};
use proptest::prelude::*;

/// Primary (0 < v < min), secondary suppression, then the independent audit.
fn protect(cells: &CellSet, min: f64) -> Vec<Status> {
    let (mut status, required) = primary_pattern(&cells.values, min, |v| v > 0.0 && v < min);
    suppress_secondary(cells, &mut status, &required, min).unwrap();
    let published: Vec<Option<f64>> = status
        .iter()
        .zip(&cells.values)
        .map(|(s, v)| (!s.is_suppressed()).then_some(*v))
        .collect();
    let report = audit(cells, &published, &required, 0.0, Scope::All).unwrap();
    assert!(report.is_clean(), "{:?}", report.violations());
    status
}

fn suppressed(cells: &CellSet, status: &[Status]) -> Vec<String> {
    (0..cells.len())
        .filter(|&i| status[i].is_suppressed())
        .map(|i| cells.keys[i].clone())
        .collect()
}

#[test]
fn single_small_cell_in_2d_table_gets_a_rectangle() {
    let cells = CellSet::grid(&[3, 3], &[20., 30., 40., 25., 3., 35., 50., 45., 60.]);
    let status = protect(&cells, 10.0);
    let s = suppressed(&cells, &status);
    assert_eq!(s.len(), 4, "{s:?}");
    assert!(s.contains(&"1,1".to_string()));
    assert!(
        !s.iter().any(|k| k.contains('T')),
        "no margin needed: {s:?}"
    );
}

#[test]
fn two_small_cells_in_one_row_are_protected() {
    let cells = CellSet::grid(
        &[3, 4],
        &[2., 4., 40., 50., 30., 35., 45., 25., 60., 70., 20., 30.],
    );
    let status = protect(&cells, 10.0);
    let s = suppressed(&cells, &status);
    assert!(s.contains(&"0,0".to_string()) && s.contains(&"0,1".to_string()));
    assert!(s.len() >= 4 && s.len() <= 8, "{s:?}");
}

#[test]
fn hierarchy_with_small_subtotal() {
    // grand = A + B; A = a1 + a2; B = b1 + b2 + b3; subtotal A = 7 is small.
    let keys = ["grand", "A", "B", "a1", "a2", "b1", "b2", "b3"]
        .map(String::from)
        .to_vec();
    let values = vec![67., 7., 60., 3., 4., 20., 25., 15.];
    let relations = vec![
        Relation {
            total: 0,
            parts: vec![1, 2],
        },
        Relation {
            total: 1,
            parts: vec![3, 4],
        },
        Relation {
            total: 2,
            parts: vec![5, 6, 7],
        },
    ];
    let cells = CellSet::new(keys, values, relations);
    let status = protect(&cells, 10.0);
    let s = suppressed(&cells, &status);
    // A is small: with grand published, B must go too, and B's parts need a pair.
    assert!(
        s.contains(&"A".to_string())
            && (s.contains(&"B".to_string()) || s.contains(&"grand".to_string())),
        "{s:?}"
    );
}

#[test]
fn linked_tables_sharing_a_margin() {
    // Table 1: age (3) x sex (2); table 2: age (3) x household (2); they share
    // the age margin. Cells: age x sex, age x household, age totals, grand.
    let mut keys = Vec::new();
    let mut values = Vec::new();
    let mut add = |k: &str, v: f64| {
        keys.push(k.to_string());
        values.push(v);
        keys.len() - 1
    };
    let sex = [[5., 30.], [40., 35.], [25., 45.]];
    let hh = [[20., 15.], [50., 25.], [30., 40.]];
    let mut rel = Vec::new();
    let mut age_tot = Vec::new();
    let mut s_cells = vec![vec![]; 3];
    let mut h_cells = vec![vec![]; 3];
    for a in 0..3 {
        for j in 0..2 {
            s_cells[a].push(add(&format!("a{a}s{j}"), sex[a][j]));
            h_cells[a].push(add(&format!("a{a}h{j}"), hh[a][j]));
        }
        age_tot.push(add(&format!("a{a}"), sex[a].iter().sum()));
    }
    let grand = add("grand", 180.);
    let mut sex_tot = vec![];
    let mut hh_tot = vec![];
    for j in 0..2 {
        sex_tot.push(add(&format!("s{j}"), (0..3).map(|a| sex[a][j]).sum()));
        hh_tot.push(add(&format!("h{j}"), (0..3).map(|a| hh[a][j]).sum()));
    }
    for a in 0..3 {
        rel.push(Relation {
            total: age_tot[a],
            parts: s_cells[a].clone(),
        });
        rel.push(Relation {
            total: age_tot[a],
            parts: h_cells[a].clone(),
        });
    }
    for j in 0..2 {
        rel.push(Relation {
            total: sex_tot[j],
            parts: (0..3).map(|a| s_cells[a][j]).collect(),
        });
        rel.push(Relation {
            total: hh_tot[j],
            parts: (0..3).map(|a| h_cells[a][j]).collect(),
        });
    }
    rel.push(Relation {
        total: grand,
        parts: age_tot.clone(),
    });
    rel.push(Relation {
        total: grand,
        parts: sex_tot.clone(),
    });
    rel.push(Relation {
        total: grand,
        parts: hh_tot.clone(),
    });
    let cells = CellSet::new(keys, values, rel);
    let status = protect(&cells, 10.0);
    let s = suppressed(&cells, &status);
    assert!(s.contains(&"a0s0".to_string()), "{s:?}");
}

#[test]
fn audit_detects_a_naive_pattern() {
    // Only the small cell suppressed: the row relation discloses it exactly.
    let cells = CellSet::grid(&[2, 2], &[3., 30., 40., 50.]);
    let published: Vec<Option<f64>> = cells
        .keys
        .iter()
        .zip(&cells.values)
        .map(|(k, v)| (k != "0,0").then_some(*v))
        .collect();
    let required: Vec<f64> = cells
        .keys
        .iter()
        .map(|k| if k == "0,0" { 10. } else { 0. })
        .collect();
    let report = audit(&cells, &published, &required, 0.0, Scope::All).unwrap();
    let v = report.violations();
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].lower, v[0].upper), (3.0, 3.0));
}

fn table_strategy() -> impl Strategy<Value = (Vec<usize>, Vec<f64>)> {
    prop_oneof![
        prop::collection::vec(2usize..5, 2),
        prop::collection::vec(2usize..4, 3),
        prop::collection::vec(2usize..3, 4),
    ]
    .prop_flat_map(|shape| {
        let n: usize = shape.iter().product();
        let value = prop_oneof![3 => 10u32..80, 1 => 1u32..10, 1 => Just(0u32)];
        (
            Just(shape),
            prop::collection::vec(value.prop_map(f64::from), n),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_tables_pass_the_audit((shape, inner) in table_strategy()) {
        let cells = CellSet::grid(&shape, &inner);
        protect(&cells, 10.0);
    }

    #[test]
    fn tables_without_small_cells_get_no_suppression(shape in prop::collection::vec(2usize..4, 2..5), seed in 0u32..1000) {
        let n: usize = shape.iter().product();
        let inner: Vec<f64> = (0..n as u32).map(|i| f64::from(10 + (i * 7919 + seed) % 90)).collect();
        let cells = CellSet::grid(&shape, &inner);
        let status = protect(&cells, 10.0);
        prop_assert!(status.iter().all(|s| *s == Status::Published));
    }
}

#[test]
fn audit_finds_every_primary_disclosed_by_the_naive_baseline_in_4d() {
    // Row/column complements only: the other dimensions' relations undo
    // them, and the presolve (or the LP) must find every primary exactly.
    let shape = [3, 4, 5, 6];
    let n: usize = shape.iter().product();
    let inner: Vec<f64> = (0..n as u64)
        .map(|i| {
            let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 33;
            match h % 20 {
                0 => (1 + h % 9) as f64,
                _ => (10 + h % 90) as f64,
            }
        })
        .collect();
    let cells = CellSet::grid(&shape, &inner);
    let (mut status, required) = primary_pattern(&cells.values, 10.0, |v| v > 0.0 && v < 10.0);
    let primaries = required.iter().filter(|&&r| r > 0.0).count();
    assert!(primaries > 5);
    naive_baseline(&cells, &mut status);
    let published: Vec<Option<f64>> = status
        .iter()
        .zip(&cells.values)
        .map(|(s, v)| (!s.is_suppressed()).then_some(*v))
        .collect();
    let report = audit(&cells, &published, &required, 0.0, Scope::Required).unwrap();
    assert_eq!(report.violations().len(), primaries);
    for v in report.violations() {
        assert!(v.exact);
        assert_eq!(v.lower, cells.values[v.cell]);
        assert_eq!(v.upper, cells.values[v.cell]);
    }
}

/// Tables dense with small cells, so that one component holds far more
/// primaries than the greedy certifies exactly per round (its repairs are
/// then sized from inner bounds): protection must still succeed and pass
/// the audit, and never give up on a cell whose exact interval is wide
/// enough.
#[test]
fn dense_small_cells_in_large_components_are_protected() {
    for (shape, seed, small_share) in [
        (vec![4, 5, 6, 3], 1u64, 4),
        (vec![6, 6, 5], 2, 3),
        (vec![3, 4, 5, 6], 3, 5),
        (vec![8, 9], 4, 2),
    ] {
        let n: usize = shape.iter().product();
        let inner: Vec<f64> = (0..n as u64)
            .map(|i| {
                let h = (i ^ seed.wrapping_mul(0x2545_f491_4f6c_dd1d))
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    >> 33;
                if h % small_share == 0 {
                    (1 + h % 9) as f64
                } else {
                    (10 + h % 60) as f64
                }
            })
            .collect();
        let primaries = inner.iter().filter(|&&v| v < 10.0).count();
        assert!(primaries > 32, "{shape:?}: only {primaries} primaries");
        let cells = CellSet::grid(&shape, &inner);
        let status = protect(&cells, 10.0);
        let kept_primary = status.iter().filter(|s| **s == Status::Primary).count();
        assert_eq!(kept_primary, primaries, "{shape:?}");
    }
}
