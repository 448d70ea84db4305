//! The LP helper's presolve, dependent-row elimination and warm re-solves
//! give the same intervals as plain cold LPs on the model as written, on
//! random tables with random suppression patterns (exact relations, and
//! rounding bands).

use koppel_disclosure::cells::CellSet;
use koppel_disclosure::lp::{ranges, LinearRow, LpError, Model, Options};
use proptest::prelude::*;

/// The attacker's model of a table with the cells in `hidden` suppressed
/// (written here, independently of the audit): one variable per hidden
/// cell, one row per relation with a hidden member, bands of `slack` per
/// published member.
fn model(cells: &CellSet, hidden: &[bool], slack: f64) -> (Model, Vec<usize>) {
    let vars: Vec<usize> = (0..cells.len()).filter(|&i| hidden[i]).collect();
    let index = |c: usize| vars.binary_search(&c).ok();
    let mut rows = Vec::new();
    for relation in &cells.relations {
        let mut terms = Vec::new();
        let mut rhs = 0.0;
        let mut known = 0.0;
        for (pos, m) in relation.members().enumerate() {
            let coef = relation.coefficient(pos);
            match index(m) {
                Some(v) => terms.push((v, coef)),
                None => {
                    rhs -= coef * cells.values[m];
                    known += 1.0;
                }
            }
        }
        if !terms.is_empty() {
            rows.push(LinearRow {
                terms,
                lo: rhs - slack * known,
                hi: rhs + slack * known,
            });
        }
    }
    (nonnegative(vars.len(), rows), vars)
}

/// `n` variables, each at least 0, under `rows`.
fn nonnegative(n: usize, rows: Vec<LinearRow>) -> Model {
    Model {
        lower: vec![0.0; n],
        upper: vec![f64::INFINITY; n],
        rows,
    }
}

/// The equation `terms = k`.
fn row(terms: &[(usize, f64)], k: f64) -> LinearRow {
    LinearRow {
        terms: terms.to_vec(),
        lo: k,
        hi: k,
    }
}

fn plain() -> Options {
    Options {
        presolve: false,
        seeds: false,
        warm: false,
        ..Options::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a.is_infinite() && a == b) || (a - b).abs() <= 1e-6 * (1.0 + a.abs().max(b.abs()))
}

fn strategy() -> impl Strategy<Value = (Vec<usize>, Vec<f64>, Vec<bool>, bool)> {
    prop_oneof![
        prop::collection::vec(2usize..5, 2),
        prop::collection::vec(2usize..4, 3),
        prop::collection::vec(2usize..3, 4),
    ]
    .prop_flat_map(|shape| {
        let n: usize = shape.iter().product();
        let full: usize = shape.iter().map(|s| s + 1).product();
        let value = prop_oneof![3 => 10u32..80, 1 => 1u32..10, 1 => Just(0u32)];
        (
            Just(shape),
            prop::collection::vec(value.prop_map(f64::from), n),
            prop::collection::vec(prop::bool::weighted(0.35), full),
            any::<bool>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn presolved_intervals_equal_plain_ones((shape, inner, hidden, rounded) in strategy()) {
        let cells = CellSet::grid(&shape, &inner);
        let slack = if rounded { 2.0 } else { 0.0 };
        let (model, vars) = model(&cells, &hidden, slack);
        prop_assume!(!vars.is_empty());
        let targets: Vec<usize> = (0..vars.len()).collect();
        // Requirement 0: every interval exact, no certification shortcut.
        let required = vec![0.0; targets.len()];
        let expected = ranges(&model, &targets, &required, &plain()).unwrap();
        for options in [
            Options::default(),
            Options { warm: false, ..Options::default() },
            Options { presolve: false, ..Options::default() },
        ] {
            let got = ranges(&model, &targets, &required, &options).unwrap();
            for (t, (e, g)) in expected.ranges.iter().zip(&got.ranges).enumerate() {
                prop_assert!(g.exact);
                prop_assert!(
                    close(e.lower, g.lower) && close(e.upper, g.upper),
                    "cell {}: plain {:?}, {:?} {:?}", cells.keys[vars[t]], e, options, g
                );
            }
        }
        // With requirements, inner bounds lie inside the exact intervals.
        let required = vec![10.0; targets.len()];
        let got = ranges(&model, &targets, &required, &Options::default()).unwrap();
        for (e, g) in expected.ranges.iter().zip(&got.ranges) {
            prop_assert!(g.lower >= e.lower - 1e-6 && g.upper <= e.upper + 1e-6, "{e:?} {g:?}");
            prop_assert_eq!(g.upper - g.lower < 10.0 - 1e-6, e.upper - e.lower < 10.0 - 1e-6);
        }
        // Unproven shortfalls (prove_limit 0) are still inner bounds, and a
        // target found wide enough is wide enough.
        let lazy = Options { prove_limit: 0, ..Options::default() };
        let got = ranges(&model, &targets, &required, &lazy).unwrap();
        for (e, g) in expected.ranges.iter().zip(&got.ranges) {
            prop_assert!(g.lower >= e.lower - 1e-6 && g.upper <= e.upper + 1e-6, "{e:?} {g:?}");
            if g.upper - g.lower >= 10.0 {
                prop_assert!(e.upper - e.lower >= 10.0 - 1e-6);
            }
        }
    }
}

#[test]
fn dependent_equations_are_dropped_and_checked() {
    // A 2x3 table with all margins, every cell hidden: rows and columns
    // share the grand total, so one of the 6 relations is dependent.
    let cells = CellSet::grid(&[2, 3], &[5.0, 7.0, 9.0, 11.0, 13.0, 15.0]);
    let hidden: Vec<bool> = cells.keys.iter().map(|k| !k.contains('T')).collect();
    let (model, vars) = model(&cells, &hidden, 0.0);
    let targets: Vec<usize> = (0..vars.len()).collect();
    let required = vec![0.0; targets.len()];
    let a = ranges(&model, &targets, &required, &Options::default()).unwrap();
    let b = ranges(&model, &targets, &required, &plain()).unwrap();
    assert_eq!(a.ranges.len(), b.ranges.len());
    for (x, y) in a.ranges.iter().zip(&b.ranges) {
        assert!(
            close(x.lower, y.lower) && close(x.upper, y.upper),
            "{x:?} {y:?}"
        );
    }
    // Inconsistent published margins: found by presolve as well.
    let mut bad = model.clone();
    bad.rows[0].lo += 1.0;
    bad.rows[0].hi += 1.0;
    assert_eq!(
        ranges(&bad, &targets, &required, &Options::default()),
        Err(LpError::Infeasible)
    );
}

#[test]
fn chains_of_two_member_relations_collapse_without_lp() {
    // x0 + x1 = 10, x1 + x2 = 12, x2 - x3 = 1: one free variable left; its
    // bounds give every interval exactly.
    let model = nonnegative(
        4,
        vec![
            row(&[(0, 1.0), (1, 1.0)], 10.0),
            row(&[(1, 1.0), (2, 1.0)], 12.0),
            row(&[(2, 1.0), (3, -1.0)], 1.0),
        ],
    );
    let out = ranges(&model, &[0, 1, 2, 3], &[0.0; 4], &Options::default()).unwrap();
    assert_eq!(out.lps, 0);
    let got: Vec<(f64, f64)> = out.ranges.iter().map(|r| (r.lower, r.upper)).collect();
    // x1 in [0, 10]; x2 = 12 - x1 >= 1 (x3 >= 0) so x1 <= 11; x0 = 10 - x1.
    for (g, e) in got
        .iter()
        .zip([(0.0, 10.0), (0.0, 10.0), (2.0, 12.0), (1.0, 11.0)])
    {
        assert!(close(g.0, e.0) && close(g.1, e.1), "{got:?}");
    }
}

#[test]
fn nan_constants_are_refused_not_dropped() {
    let model = nonnegative(
        2,
        vec![row(&[(0, 1.0), (1, 1.0)], 10.0), row(&[(0, 1.0)], f64::NAN)],
    );
    for options in [Options::default(), plain()] {
        assert!(matches!(
            ranges(&model, &[0, 1], &[0.0, 0.0], &options),
            Err(LpError::Invalid(_))
        ));
    }
}

#[test]
fn contradictions_away_from_the_targets_are_still_found() {
    // x0 = 3 is settled by presolve; x1 + x2 + x3 = 5 and x1 + x2 - x3 = 7
    // need x3 = -1 < 0: only an LP sees that.
    let model = nonnegative(
        4,
        vec![
            row(&[(0, 1.0)], 3.0),
            row(&[(1, 1.0), (2, 1.0), (3, 1.0)], 5.0),
            row(&[(1, 1.0), (2, 1.0), (3, -1.0)], 7.0),
        ],
    );
    for options in [Options::default(), plain()] {
        assert_eq!(
            ranges(&model, &[0], &[0.0], &options),
            Err(LpError::Infeasible)
        );
    }
    let lax = Options {
        check_consistency: false,
        ..Options::default()
    };
    let out = ranges(&model, &[0], &[0.0], &lax).unwrap();
    assert_eq!((out.ranges[0].lower, out.ranges[0].upper), (3.0, 3.0));
}
