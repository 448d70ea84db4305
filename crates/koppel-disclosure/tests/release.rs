//! The release pass on random linked table sets: after the greedy and the
//! release pass, the independent audit finds every primary wide enough, no
//! secondary cell can be published on its own, and the result is exactly
//! that of trying the secondary cells one at a time in cost order (the
//! plain procedure the pass's group trials stand in for).

use std::collections::BTreeMap;

use koppel_disclosure::audit::{audit, Scope};
use koppel_disclosure::capacity::{model_costs, relaxation, release_order, release_with_model};
use koppel_disclosure::cells::{primary_pattern, CellSet, CellSetBuilder, Status};
use koppel_disclosure::release::{cell_costs, release_pass};
use koppel_disclosure::secondary::suppress_secondary;
use proptest::prelude::*;

const MIN: f64 = 5.0;

/// The count tables over the given attribute subsets of `persons` (one level
/// per attribute each), every margin included, linked through the cells they
/// share (same attributes and levels: same key).
fn linked_tables(persons: &[Vec<u8>], tables: &[Vec<usize>]) -> CellSet {
    let mut builder = CellSetBuilder::default();
    for attributes in tables {
        // Every subset of the table's attributes fixed, the rest summed.
        for mask in 0u32..(1 << attributes.len()) {
            let fixed: Vec<usize> = (0..attributes.len())
                .filter(|b| mask & (1 << b) != 0)
                .map(|b| attributes[b])
                .collect();
            let mut counts: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
            for p in persons {
                *counts
                    .entry(fixed.iter().map(|&a| p[a]).collect())
                    .or_default() += 1.0;
            }
            // Empty combinations are zero cells of the table.
            let levels: Vec<u8> = fixed.iter().map(|&a| LEVELS[a]).collect();
            for combination in combinations(&levels) {
                let value = counts.get(&combination).copied().unwrap_or(0.0);
                let cell = builder.cell(&key(&fixed, &combination), value).unwrap();
                // This cell totals each attribute of the table it leaves free.
                for &free in attributes.iter().filter(|a| !fixed.contains(a)) {
                    for level in 0..LEVELS[free] {
                        let mut with: Vec<(usize, u8)> = fixed
                            .iter()
                            .copied()
                            .zip(combination.iter().copied())
                            .collect();
                        with.push((free, level));
                        with.sort_unstable();
                        let (a, l): (Vec<usize>, Vec<u8>) = with.into_iter().unzip();
                        let value = persons
                            .iter()
                            .filter(|p| a.iter().zip(&l).all(|(&a, &l)| p[a] == l))
                            .count() as f64;
                        let part = builder.cell(&key(&a, &l), value).unwrap();
                        builder.relate(cell, &format!("attribute {free}"), part);
                    }
                }
            }
        }
    }
    builder.finish()
}

/// Levels per attribute.
const LEVELS: [u8; 4] = [3, 2, 3, 2];

fn key(attributes: &[usize], levels: &[u8]) -> String {
    let mut pairs: Vec<String> = attributes
        .iter()
        .zip(levels)
        .map(|(a, l)| format!("a{a}={l}"))
        .collect();
    pairs.sort();
    if pairs.is_empty() {
        "all".to_string()
    } else {
        pairs.join(",")
    }
}

fn combinations(levels: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new()];
    for &n in levels {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                (0..n).map(move |l| {
                    let mut next = prefix.clone();
                    next.push(l);
                    next
                })
            })
            .collect();
    }
    out
}

fn published(cells: &CellSet, status: &[Status]) -> Vec<Option<f64>> {
    status
        .iter()
        .zip(&cells.values)
        .map(|(s, v)| (!s.is_suppressed()).then_some(*v))
        .collect()
}

/// Primary cells `0 < v < MIN`, then the greedy.
fn greedy(cells: &CellSet) -> (Vec<Status>, Vec<f64>) {
    let (mut status, required) = primary_pattern(&cells.values, MIN, |v| v > 0.0 && v < MIN);
    suppress_secondary(cells, &mut status, &required, MIN).unwrap();
    (status, required)
}

fn clean(cells: &CellSet, published: &[Option<f64>], required: &[f64]) -> bool {
    audit(cells, published, required, 0.0, Scope::Required)
        .unwrap()
        .is_clean()
}

/// The first secondary cell that could be published on its own (every
/// primary staying wide, by the independent audit), if any.
fn releasable_alone(cells: &CellSet, status: &[Status], required: &[f64]) -> Option<String> {
    let now = published(cells, status);
    (0..cells.len())
        .filter(|&i| status[i] == Status::Secondary)
        .find(|&c| {
            let mut trial = now.clone();
            trial[c] = Some(cells.values[c]);
            clean(cells, &trial, required)
        })
        .map(|c| cells.keys[c].clone())
}

fn strategy() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<Vec<usize>>)> {
    let person = (0..3u8, 0..2u8, 0..3u8, 0..2u8).prop_map(|(a, b, c, d)| vec![a, b, c, d]);
    let tables = prop_oneof![
        // Two 2-D tables sharing attribute 0.
        Just(vec![vec![0, 1], vec![0, 2]]),
        // A 3-D table and a 2-D table sharing two attributes' margins.
        Just(vec![vec![0, 1, 2], vec![0, 3]]),
        // A 4-D table with a linked 2-D one.
        Just(vec![vec![0, 1, 2, 3], vec![1, 2]]),
        // Three 2-D tables in a cycle.
        Just(vec![vec![0, 1], vec![1, 2], vec![0, 2]]),
    ];
    (prop::collection::vec(person, 20..90), tables)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn released_cells_keep_every_primary_wide_and_no_secondary_is_releasable_alone(
        (persons, tables) in strategy()
    ) {
        let cells = linked_tables(&persons, &tables);
        let (mut status, required) = greedy(&cells);
        let cost = cell_costs(&cells);

        // The plain procedure: each secondary cell in cost order, one audit
        // per trial.
        let mut plain = status.clone();
        let mut order: Vec<usize> = (0..cells.len())
            .filter(|&i| plain[i] == Status::Secondary)
            .collect();
        order.sort_by(|&a, &b| cost[b].total_cmp(&cost[a]).then(a.cmp(&b)));
        for &c in &order {
            let mut trial = published(&cells, &plain);
            trial[c] = Some(cells.values[c]);
            if clean(&cells, &trial, &required) {
                plain[c] = Status::Published;
            }
        }

        let stats = release_pass(&cells, &mut status, &required, &cost).unwrap();
        prop_assert_eq!(&status, &plain);
        prop_assert_eq!(
            stats.released,
            order.iter().filter(|&&c| status[c] == Status::Published).count()
        );

        // The independent audit: every primary wide enough...
        prop_assert!(clean(&cells, &published(&cells, &status), &required));
        // ...and every secondary cell left is needed.
        prop_assert_eq!(releasable_alone(&cells, &status, &required), None);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// The capacity cuts hold for every safe pattern, so the relaxation's
    /// objective is a lower bound on the model cost of the greedy's pattern
    /// and of the released ones; the release guided by the model keeps every
    /// primary wide, leaves no secondary releasable alone, and the integer
    /// master's pattern is kept only when it is cheaper.
    #[test]
    fn relaxation_bounds_every_safe_pattern_and_its_order_releases_safely(
        (persons, tables) in strategy()
    ) {
        let cells = linked_tables(&persons, &tables);
        let (mut status, required) = greedy(&cells);
        let model = model_costs(&cells);
        let cost_of = |status: &[Status]| -> f64 {
            (0..cells.len()).filter(|&i| status[i].is_suppressed()).map(|i| model[i]).sum()
        };
        let (_, stats, _) = relaxation(&cells, &required, &model).unwrap();
        prop_assert!(stats.bound <= cost_of(&status) + 1e-6, "{} > greedy {}", stats.bound, cost_of(&status));

        // The release in the relaxation's order alone, and with the integer
        // master: both safe, the second never dearer in the model.
        let mut first = status.clone();
        let (order, _) = release_order(&cells, &required, &cell_costs(&cells)).unwrap();
        release_pass(&cells, &mut first, &required, &order).unwrap();
        let (_, model_stats) = release_with_model(&cells, &mut status, &required).unwrap();
        prop_assert!(cost_of(&status) <= cost_of(&first) + 1e-9);
        prop_assert_eq!(model_stats.integer_improved, cost_of(&status) < cost_of(&first) - 1e-9);
        for pattern in [&first, &status] {
            prop_assert!(stats.bound <= cost_of(pattern) + 1e-6, "{} > released {}", stats.bound, cost_of(pattern));
            let shown = published(&cells, pattern);
            prop_assert!(clean(&cells, &shown, &required));
        }
        prop_assert_eq!(releasable_alone(&cells, &status, &required), None);
    }
}

#[test]
fn one_primary_in_a_two_way_table_costs_one_rectangle() {
    // A 3 x 3 table (attributes 0 and 2) with margins: cell (0, 0) holds 2
    // persons, every other inner cell 6 to 10. The cheapest protection is
    // a rectangle: three inner cells besides the primary, no margin.
    let mut persons = Vec::new();
    for a in 0..3u8 {
        for c in 0..3u8 {
            let n = if (a, c) == (0, 0) { 2 } else { 6 + a + c };
            persons.extend((0..n).map(|_| vec![a, 0, c, 0]));
        }
    }
    let cells = linked_tables(&persons, &[vec![0, 2]]);
    let (mut status, required) = greedy(&cells);
    let (order, stats) = release_order(&cells, &required, &cell_costs(&cells)).unwrap();
    assert!(!stats.stopped_early);
    // The relaxation needs a complement in the primary's row and column.
    let primary = cells.keys.iter().position(|k| k == "a0=0,a2=0").unwrap();
    assert!(
        stats.cuts >= 2 && stats.bound > model_costs(&cells)[primary] + 1.0,
        "{stats:?}"
    );
    release_pass(&cells, &mut status, &required, &order).unwrap();
    let suppressed: Vec<&str> = (0..cells.len())
        .filter(|&i| status[i].is_suppressed())
        .map(|i| cells.keys[i].as_str())
        .collect();
    assert_eq!(suppressed.len(), 4, "{suppressed:?}");
    assert!(
        suppressed
            .iter()
            .all(|k| k.contains("a0=") && k.contains("a2=")),
        "{suppressed:?}"
    );
    assert!(clean(&cells, &published(&cells, &status), &required));
}

#[test]
fn margins_are_tried_before_inner_cells() {
    // The whole-population cell totals the most relations: it costs most.
    let persons: Vec<Vec<u8>> = (0..60u8)
        .map(|i| vec![i % 3, i % 2, (i / 2) % 3, 0])
        .collect();
    let cells = linked_tables(&persons, &[vec![0, 1], vec![0, 2]]);
    let cost = cell_costs(&cells);
    let all = cells.keys.iter().position(|k| k == "all").unwrap();
    let inner = cells.keys.iter().position(|k| k == "a0=0,a1=0").unwrap();
    let margin = cells.keys.iter().position(|k| k == "a0=0").unwrap();
    assert!(cost[all] > cost[margin] && cost[margin] > cost[inner]);
}
