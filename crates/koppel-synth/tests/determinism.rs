//! Same parameters and seed give byte-identical files; batch size and thread
//! count do not change the data; bad parameters give clear errors.

use std::collections::BTreeMap;
use std::path::Path;

use koppel_synth::date::from_ymd;
use koppel_synth::{generate, RegisterFormat, SynthConfig, SynthError};

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["registers", "uploads", "truth"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let entry = entry.unwrap();
            out.insert(
                format!("{sub}/{}", entry.file_name().to_string_lossy()),
                std::fs::read(entry.path()).unwrap(),
            );
        }
    }
    out
}

fn config(format: RegisterFormat) -> SynthConfig {
    SynthConfig {
        persons: 12_000,
        municipalities: 8,
        seed: 99,
        format,
        fault_rate: 0.05,
        ..SynthConfig::default()
    }
}

#[test]
fn same_seed_gives_byte_identical_files() {
    for format in [RegisterFormat::Parquet, RegisterFormat::Csv] {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let c = SynthConfig {
            batch_size: 5_000,
            ..config(format)
        };
        generate(&c, a.path()).unwrap();
        // A second run, on a single thread, must not differ either.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        pool.install(|| generate(&c, b.path())).unwrap();
        let (sa, sb) = (snapshot(a.path()), snapshot(b.path()));
        assert_eq!(sa.keys().collect::<Vec<_>>(), sb.keys().collect::<Vec<_>>());
        assert_eq!(sa.len(), 3 + 8 + 4);
        for (name, bytes) in &sa {
            assert!(bytes == &sb[name], "{name} differs between runs");
        }
    }
}

#[test]
fn batch_size_does_not_change_the_data_and_seed_does() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    generate(
        &SynthConfig {
            batch_size: 1_000,
            ..config(RegisterFormat::Csv)
        },
        a.path(),
    )
    .unwrap();
    generate(
        &SynthConfig {
            batch_size: 250_000,
            ..config(RegisterFormat::Csv)
        },
        b.path(),
    )
    .unwrap();
    generate(
        &SynthConfig {
            seed: 100,
            ..config(RegisterFormat::Csv)
        },
        c.path(),
    )
    .unwrap();
    assert_eq!(snapshot(a.path()), snapshot(b.path()));
    assert_ne!(
        snapshot(a.path())["registers/persons.csv"],
        snapshot(c.path())["registers/persons.csv"]
    );
}

#[test]
fn fault_rate_does_not_change_the_registers() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate(
        &SynthConfig {
            fault_rate: 0.0,
            ..config(RegisterFormat::Csv)
        },
        a.path(),
    )
    .unwrap();
    generate(
        &SynthConfig {
            fault_rate: 0.5,
            ..config(RegisterFormat::Csv)
        },
        b.path(),
    )
    .unwrap();
    let (sa, sb) = (snapshot(a.path()), snapshot(b.path()));
    for name in [
        "registers/persons.csv",
        "registers/benefits.csv",
        "registers/employment.csv",
    ] {
        assert_eq!(sa[name], sb[name], "{name}");
    }
}

#[test]
fn bad_parameters_are_refused_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(SynthConfig, &str)> = vec![
        (
            SynthConfig {
                from: from_ymd(2024, 1, 1),
                to: from_ymd(2020, 1, 1),
                ..SynthConfig::default()
            },
            "--from",
        ),
        (
            SynthConfig {
                fault_rate: 1.5,
                ..SynthConfig::default()
            },
            "--fault-rate",
        ),
        (
            SynthConfig {
                fault_rate: -0.1,
                ..SynthConfig::default()
            },
            "--fault-rate",
        ),
        (
            SynthConfig {
                fault_rate: f64::NAN,
                ..SynthConfig::default()
            },
            "--fault-rate",
        ),
        (
            SynthConfig {
                persons: 0,
                ..SynthConfig::default()
            },
            "--persons",
        ),
        (
            SynthConfig {
                persons: 90_000_000,
                ..SynthConfig::default()
            },
            "--persons",
        ),
        (
            SynthConfig {
                municipalities: 0,
                ..SynthConfig::default()
            },
            "--municipalities",
        ),
        (
            SynthConfig {
                municipalities: 10_000,
                ..SynthConfig::default()
            },
            "--municipalities",
        ),
    ];
    for (config, flag) in cases {
        match generate(&config, dir.path()) {
            Err(SynthError::InvalidArgument(message)) => {
                assert!(message.contains(flag), "{message}")
            }
            other => panic!("expected an InvalidArgument error mentioning {flag}, got {other:?}"),
        }
    }
    // Nothing was written for refused parameters.
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}
