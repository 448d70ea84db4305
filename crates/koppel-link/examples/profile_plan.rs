//! Times the stages of the link plans on synthetic persons held in memory
//! (development aid): `cargo run -p koppel-link --example profile_plan -- 100000`.
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use koppel_link::{Bands, Cohort, LinkConfig};
use polars::prelude::*;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let t = Instant::now();
    let histories = support::synth_histories(n, 7);
    let key = support::test_key();
    let (data, _) = support::synth_data(&histories, &koppel_pseudonym::Pseudonymiser::new(&key));
    let frames = support::to_frames(&data);
    // Materialise the inputs so the timings below are the plans only.
    let frames = koppel_link::LinkFrames {
        persons: frames.persons.collect().unwrap().lazy(),
        benefits: frames.benefits.collect().unwrap().lazy(),
        employment: frames.employment.collect().unwrap().lazy(),
        trajectories: frames.trajectories.collect().unwrap().lazy(),
    };
    eprintln!("inputs: {:.2?}", t.elapsed());
    let config = LinkConfig::new(Cohort::Outflow { year: 2021 });
    for engine in [Engine::InMemory, Engine::Streaming] {
        let t = Instant::now();
        let cohort = koppel_link::cohort_plan(&frames, &config)
            .collect_with_engine(engine)
            .unwrap()
            .unwrap_single();
        eprintln!("{engine:?} cohort {}: {:.2?}", cohort.height(), t.elapsed());
        let t = Instant::now();
        let out = koppel_link::outcomes_frame(&frames, cohort, &config, &Bands::default()).unwrap();
        eprintln!("{engine:?} outcomes {}: {:.2?}", out.height(), t.elapsed());
        let t = Instant::now();
        let q = koppel_link::linkage_quality_plan(&frames, &config)
            .collect_with_engine(engine)
            .unwrap()
            .unwrap_single();
        eprintln!("{engine:?} quality {}: {:.2?}", q.height(), t.elapsed());
    }
}
