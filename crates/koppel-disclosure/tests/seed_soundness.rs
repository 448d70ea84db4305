//! The audit's seed LPs only ever report *inner* bounds: every interval the
//! audit certifies from seed solutions (`exact == false`) is contained in the
//! exact interval computed cell by cell (no seeds run for a single target).

use koppel_disclosure::audit::{audit_component, components};
use koppel_disclosure::cells::{CellSet, Status};
use koppel_disclosure::secondary::suppress_secondary;
use proptest::prelude::*;

fn table(shape: &[usize], seed: u64) -> (CellSet, Vec<f64>) {
    let n: usize = shape.iter().product();
    let inner: Vec<f64> = (0..n as u64)
        .map(|i| {
            let h = (i ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 33;
            match h % 10 {
                0 | 1 => (1 + h % 9) as f64,
                2 => 0.0,
                _ => (10 + h % 90) as f64,
            }
        })
        .collect();
    let cells = CellSet::grid(shape, &inner);
    let required = cells
        .values
        .iter()
        .map(|&v| if v > 0.0 && v < 10.0 { 10.0 } else { 0.0 })
        .collect();
    (cells, required)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn seeded_intervals_lie_inside_the_exact_ones(
        a in 3usize..6, b in 3usize..6, c in 2usize..4, seed in any::<u64>()
    ) {
        let (cells, required) = table(&[a, b, c], seed);
        let mut status: Vec<Status> = required
            .iter()
            .map(|&r| if r > 0.0 { Status::Primary } else { Status::Published })
            .collect();
        suppress_secondary(&cells, &mut status, &required, 10.0).unwrap();
        let published: Vec<Option<f64>> = (0..cells.len())
            .map(|i| (!status[i].is_suppressed()).then_some(cells.values[i]))
            .collect();
        for component in components(&cells, &published) {
            let targets: Vec<usize> =
                component.iter().copied().filter(|&c| required[c] > 0.0).collect();
            if targets.is_empty() {
                continue;
            }
            let (seeded, _) =
                audit_component(&cells, &published, &required, 0.0, &component, &targets).unwrap();
            for interval in seeded {
                let (exact, _) = audit_component(
                    &cells, &published, &required, 0.0, &component, &[interval.cell],
                )
                .unwrap();
                let exact = &exact[0];
                prop_assert!(exact.exact);
                prop_assert!(interval.lower >= exact.lower - 1e-6, "{interval:?} vs {exact:?}");
                prop_assert!(interval.upper <= exact.upper + 1e-6, "{interval:?} vs {exact:?}");
                prop_assert!(!exact.is_violation(), "{exact:?}");
            }
        }
    }
}
