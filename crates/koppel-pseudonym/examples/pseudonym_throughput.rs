//! Benchmark (run by `make bench`): pseudonyms per second on one core, and
//! over a whole column on all cores. Not a test: it prints figures.
//!
//! `cargo run --release -p koppel-pseudonym --example pseudonym_throughput [N]`

use std::time::Instant;

use koppel_pseudonym::bsn::synthetic_bsn;
use koppel_pseudonym::{Key, Pseudonymiser};
use polars::prelude::*;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000_000);
    let pseudonymiser = Pseudonymiser::new(&Key::from_bytes([42u8; 32]));
    let bsns: Vec<_> = (0..n as u64).map(synthetic_bsn).collect();

    // Core: keyed-state HMAC of "bsn:" + 9 digits, one thread.
    let start = Instant::now();
    let mut fold = 0u8;
    for bsn in &bsns {
        fold ^= pseudonymiser.bsn(bsn).as_bytes()[0];
    }
    let core = start.elapsed().as_secs_f64();
    println!(
        "core pseudonyms (1 thread, valid BSN in hand): {:.2} million/s per core ({:.0} ns each) [{fold}]",
        n as f64 / core / 1e6,
        core * 1e9 / n as f64
    );

    // Raw text: normalise + eleven-test + HMAC + hex, one thread.
    let raws: Vec<String> = bsns.iter().map(|b| b.as_str().to_string()).collect();
    let start = Instant::now();
    let mut ok = 0usize;
    for raw in &raws {
        ok += usize::from(pseudonymiser.raw_bsn(raw).is_ok_and(|p| p.to_hex()[0] != 0));
    }
    let text = start.elapsed().as_secs_f64();
    println!(
        "raw text to hex pseudonym (1 thread): {:.2} million/s per core [{ok}]",
        n as f64 / text / 1e6
    );

    // Whole column, all cores (rayon), including building the output column.
    let column = StringChunked::from_iter_values("bsn".into(), raws.iter().map(String::as_str));
    let start = Instant::now();
    let out = pseudonymiser.bsn_column(&column, "pseudonym");
    let col = start.elapsed().as_secs_f64();
    println!(
        "column of {n} on {} threads: {:.2} million/s ({} rejected)",
        rayon::current_num_threads(),
        n as f64 / col / 1e6,
        out.rejected.len()
    );
}
