//! Benchmark driver without the CLI: `synth_bench OUT_DIR PERSONS [MUNICIPALITIES]`.
//! Same defaults as `koppel synth` (seed 1, 2015-01-01..2024-12-31, Parquet,
//! fault rate 0.02).

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: synth_bench OUT_DIR PERSONS [MUNICIPALITIES]");
        std::process::exit(2);
    }
    let persons = args[2].parse().unwrap_or(50_000);
    let municipalities = args.get(3).and_then(|m| m.parse().ok()).unwrap_or(10);
    let config = koppel_synth::SynthConfig {
        persons,
        municipalities,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let result = koppel_synth::generate_with_progress(
        &config,
        std::path::Path::new(&args[1]),
        &mut |done, total| {
            eprintln!(
                "{done}/{total} persons, {:.1} s",
                started.elapsed().as_secs_f64()
            );
        },
    );
    match result {
        Ok(summary) => println!("{summary:?} in {:.1} s", started.elapsed().as_secs_f64()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
