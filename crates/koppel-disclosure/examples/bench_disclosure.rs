//! Benchmark: a 4-dimensional table with every margin protected by the
//! audit-driven greedy, by the greedy followed by the release pass (what the
//! protect stage runs), and by the naive baseline, each run through the LP
//! audit. Run: `make bench-disclosure` (shapes 4×5×6×7, 5×6×7×8 and
//! 8×9×10×11, the last 11,880 cells with margins), or pass four dimension
//! sizes. Figures in BENCHMARKS.md.

use std::time::Instant;

use koppel_disclosure::audit::{audit, Scope};
use koppel_disclosure::cells::{primary_pattern, CellSet, Status};
use koppel_disclosure::release::{cell_costs, release_pass};
use koppel_disclosure::secondary::{naive_baseline, suppress_secondary};

fn main() {
    let shape: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("dimension size"))
        .collect();
    let shape = if shape.len() == 4 {
        shape
    } else {
        vec![5, 6, 7, 8]
    };
    let n: usize = shape.iter().product();
    // Deterministic values: mostly 10..200, ~4% small (1..9), ~3% zero.
    let inner: Vec<f64> = (0..n as u64)
        .map(|i| {
            let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 33;
            match h % 100 {
                0..=3 => (1 + h % 9) as f64,
                4..=6 => 0.0,
                _ => (10 + h % 190) as f64,
            }
        })
        .collect();
    let cells = CellSet::grid(&shape, &inner);
    let min = 10.0;
    let (primary, required) = primary_pattern(&cells.values, min, |v| v > 0.0 && v < min);
    let n_primary = primary.iter().filter(|s| **s == Status::Primary).count();
    println!(
        "table: shape {shape:?} + margins = {} cells, {} relations, {n_primary} primary",
        cells.len(),
        cells.relations.len()
    );

    for method in ["greedy", "greedy+release", "naive"] {
        let mut status = primary.clone();
        let t = Instant::now();
        let stats = if method.starts_with("greedy") {
            let mut stats = match suppress_secondary(&cells, &mut status, &required, min) {
                Ok(stats) => stats,
                Err(e) => {
                    println!("{method:>14}: protection failed: {e}");
                    continue;
                }
            };
            if method == "greedy+release" {
                match release_pass(&cells, &mut status, &required, &cell_costs(&cells)) {
                    Ok(released) => {
                        stats.lps_solved += released.lps_solved;
                        let left: Vec<usize> = (0..cells.len())
                            .filter(|&i| status[i] == Status::Secondary)
                            .collect();
                        stats.cells = left.len();
                        stats.total_value = left.iter().map(|&i| cells.values[i]).sum();
                    }
                    Err(e) => {
                        println!("{method:>14}: release pass failed: {e}");
                        continue;
                    }
                }
            }
            stats
        } else {
            naive_baseline(&cells, &mut status)
        };
        let protect_time = t.elapsed();
        let published: Vec<Option<f64>> = status
            .iter()
            .zip(&cells.values)
            .map(|(s, v)| (!s.is_suppressed()).then_some(*v))
            .collect();
        let t = Instant::now();
        let report = match audit(&cells, &published, &required, 0.0, Scope::Required) {
            Ok(report) => report,
            Err(e) => {
                println!("{method:>14}: audit failed: {e}");
                continue;
            }
        };
        let audit_time = t.elapsed();
        let exact = report
            .intervals
            .iter()
            .filter(|i| i.required > 0.0 && i.width() < 1e-6)
            .count();
        println!(
            "{method:>14}: secondary {} cells, value {:.0}; protect {:.2}s ({} rounds, {} LPs); audit {:.2}s ({} primary cells, {} LPs): {} violations ({} exactly disclosed)",
            stats.cells,
            stats.total_value,
            protect_time.as_secs_f64(),
            stats.rounds,
            stats.lps_solved,
            audit_time.as_secs_f64(),
            report.intervals.len(),
            report.lps_solved,
            report.violations().len(),
            exact
        );
    }
}
