//! `koppel synth`: generate synthetic registers and municipal uploads.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use koppel_synth::{date, Catalogue, RegisterFormat, SynthConfig};

/// Register file format.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    /// Apache Parquet (dates as Date).
    Parquet,
    /// CSV (UTF-8, comma, dates YYYY-MM-DD).
    Csv,
}

/// Arguments of `koppel synth`.
#[derive(clap::Args)]
pub struct Args {
    /// Output directory: registers/, uploads/ and truth/ are written here.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Number of persons (residents); 18000000 is national scale.
    #[arg(long, default_value_t = 50_000)]
    persons: u64,
    /// Number of municipalities (real CBS codes, large and small mixed).
    #[arg(long, default_value_t = 10)]
    municipalities: usize,
    /// Seed: the same parameters and seed give byte-identical files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First day of the window (YYYY-MM-DD).
    #[arg(long, default_value = "2015-01-01")]
    from: String,
    /// Last day of the window, the extract date (YYYY-MM-DD).
    #[arg(long, default_value = "2024-12-31")]
    to: String,
    /// Register format.
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    format: Format,
    /// Share of upload rows that get an injected fault (0 to 1).
    #[arg(long, default_value_t = 0.02)]
    fault_rate: f64,
    /// Instrument catalogue (default: the built-in config/instruments.toml).
    #[arg(long, value_name = "FILE")]
    instruments: Option<PathBuf>,
    /// First start date of the evaluation period of truth/effects.csv
    /// (YYYY-MM-DD; default: 24 months after --from).
    #[arg(long, value_name = "DATE")]
    effect_from: Option<String>,
    /// Last start date of the evaluation period of truth/effects.csv
    /// (YYYY-MM-DD; default: 24 months before --to).
    #[arg(long, value_name = "DATE")]
    effect_to: Option<String>,
    /// Persons per batch (bounds memory).
    #[arg(long, default_value_t = 250_000, hide = true)]
    batch_size: usize,
}

fn parse_date(flag: &str, value: &str) -> Result<date::Day> {
    match date::parse_iso(value.trim()) {
        Some(d) => Ok(d),
        None => bail!("{flag} {value:?} is not a date in the form YYYY-MM-DD"),
    }
}

/// Run `koppel synth`.
pub fn run(args: &Args) -> Result<ExitCode> {
    let catalogue = match &args.instruments {
        Some(path) => koppel_synth::instruments::load(path)?,
        None => Catalogue::builtin(),
    };
    let config = SynthConfig {
        persons: args.persons,
        municipalities: args.municipalities,
        seed: args.seed,
        from: parse_date("--from", &args.from)?,
        to: parse_date("--to", &args.to)?,
        format: match args.format {
            Format::Parquet => RegisterFormat::Parquet,
            Format::Csv => RegisterFormat::Csv,
        },
        fault_rate: args.fault_rate,
        batch_size: args.batch_size,
        catalogue,
        effect_from: args
            .effect_from
            .as_deref()
            .map(|d| parse_date("--effect-from", d))
            .transpose()?,
        effect_to: args
            .effect_to
            .as_deref()
            .map(|d| parse_date("--effect-to", d))
            .transpose()?,
    };
    config.validate()?;
    let started = Instant::now();
    tracing::info!(
        persons = config.persons,
        municipalities = config.municipalities,
        seed = config.seed,
        "generating"
    );
    let summary = koppel_synth::generate_with_progress(&config, &args.out, &mut |done, total| {
        tracing::info!(
            done,
            total,
            elapsed_s = started.elapsed().as_secs_f64(),
            "persons generated"
        );
    })
    .with_context(|| format!("generating into {}", args.out.display()))?;
    outln!(
        "persons: {} / benefit spells: {} / employment spells: {} / upload files: {} / upload rows: {} / injected faults: {}",
        summary.persons,
        summary.benefit_spells,
        summary.employment_spells,
        summary.upload_files,
        summary.upload_rows,
        summary.faults
    );
    outln!(
        "written to {} in {:.1} s",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
