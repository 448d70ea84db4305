//! Benchmark of information loss: protects unprotected table sets (the
//! `aggregate` stage's `tables.json` of a pipeline run) with the default
//! rules and prints, per set, the count cells, primary and secondary cells,
//! the share of non-zero cells published, whether the cohort total and the
//! whole-cohort state cells of every horizon are published, the protect wall
//! time, the violations an independent audit finds, and how many secondary
//! cells could still be published on their own. Run: `make
//! bench-disclosure-loss` (the demo table set at four cohort sizes); or pass
//! `label=path/to/tables.json` arguments. Figures in BENCHMARKS.md.

use std::collections::BTreeMap;
use std::time::Instant;

use koppel_disclosure::audit::{audit, Scope};
use koppel_disclosure::cells::Status;
use koppel_disclosure::rules::Rules;
use koppel_disclosure::table::{protect, Table};

fn main() {
    let rules = Rules::default();
    println!(
        "| set | count cells | primary | secondary | non-zero published | non-zero non-primary published | cohort total | whole-cohort states published (per horizon) | protect | released | violations | secondary publishable alone |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|");
    for arg in std::env::args().skip(1) {
        let (label, path) = arg.split_once('=').unwrap_or((arg.as_str(), arg.as_str()));
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let tables: Vec<Table> = serde_json::from_str(&text).expect("tables.json");
        let started = Instant::now();
        let protected = protect(&tables, &rules).expect("protect");
        let seconds = started.elapsed().as_secs_f64();
        let cells = &protected.cells;
        let status = &protected.status;
        let n = cells.len();
        let primary = status.iter().filter(|s| **s == Status::Primary).count();
        let secondary = status.iter().filter(|s| **s == Status::Secondary).count();
        let nonzero: Vec<usize> = (0..n).filter(|&i| cells.values[i] > 0.0).collect();
        let nz_published = nonzero
            .iter()
            .filter(|&&i| status[i] == Status::Published)
            .count();
        let nz_nonprimary = nonzero
            .iter()
            .filter(|&&i| status[i] != Status::Primary)
            .count();
        let cohort = cells
            .keys
            .iter()
            .position(|k| k == "persons|*|Total")
            .map(|i| {
                format!(
                    "{} ({})",
                    status[i].as_str(),
                    cells.values[i] as u64 // a benchmark on synthetic data
                )
            })
            .unwrap_or_else(|| "absent".into());
        // Whole-cohort state cells: `persons|{horizon}|{state}`.
        let mut per_horizon: BTreeMap<u32, (usize, usize, Vec<String>)> = BTreeMap::new();
        for (i, key) in cells.keys.iter().enumerate() {
            let parts: Vec<&str> = key.split('|').collect();
            if parts.len() == 3 && parts[0] == "persons" && parts[1] != "*" {
                let h: u32 = parts[1].trim_end_matches('m').parse().unwrap_or(0);
                let e = per_horizon.entry(h).or_default();
                e.1 += 1;
                match status[i] {
                    Status::Published => e.0 += 1,
                    Status::Primary => e.2.push(format!("{} primary", parts[2])),
                    Status::Secondary | Status::Suppressed => {}
                }
            }
        }
        let whole: Vec<String> = per_horizon
            .iter()
            .map(|(h, (p, t, prim))| {
                if prim.is_empty() {
                    format!("{h}m {p}/{t}")
                } else {
                    format!("{h}m {p}/{t} ({})", prim.join(", "))
                }
            })
            .collect();
        let min = rules.min_count as f64;
        let required: Vec<f64> = status
            .iter()
            .map(|s| if *s == Status::Primary { min } else { 0.0 })
            .collect();
        let published: Vec<Option<f64>> = (0..n)
            .map(|i| (!status[i].is_suppressed()).then_some(cells.values[i]))
            .collect();
        let report = audit(cells, &published, &required, 0.0, Scope::Required).expect("audit");
        // The information-loss invariant, checked by the audit: publish each
        // secondary cell alone and see whether every primary stays wide.
        // One full audit per secondary cell: minutes on the larger sets, so
        // only with LOSS_ALONE=1.
        let check_alone = std::env::var("LOSS_ALONE").is_ok_and(|v| v == "1");
        let mut releasable = 0;
        for c in (0..n).filter(|&i| check_alone && status[i] == Status::Secondary) {
            let mut trial = published.clone();
            trial[c] = Some(cells.values[c]);
            if audit(cells, &trial, &required, 0.0, Scope::Required)
                .expect("audit")
                .is_clean()
            {
                releasable += 1;
            }
        }
        let alone = if check_alone {
            releasable.to_string()
        } else {
            "not checked".to_string()
        };
        let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
        println!(
            "| {label} | {n} | {primary} | {secondary} | {nz_published}/{} ({:.1}%) | {:.1}% | {cohort} | {} | {seconds:.2} s | {} | {} | {alone} |",
            nonzero.len(),
            pct(nz_published, nonzero.len()),
            pct(nz_published, nz_nonprimary),
            whole.join("; "),
            protected.summary.released,
            report.violations().len(),
        );
    }
}
