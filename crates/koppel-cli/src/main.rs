//! The `koppel` command-line tool. Wiring only: every command parses its
//! arguments and calls into a library crate.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod logging;

/// mimalloc instead of the system allocator: polars and the batch pipelines
/// allocate and free large column buffers all the time, which glibc's malloc
/// hands back to the kernel and faults in again (zeroed) on every batch.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// koppel: privacy-preserving linkage of social-assistance data into
/// disclosure-controlled cohort outcomes.
#[derive(Parser)]
#[command(name = "koppel", version, about, long_about = None)]
struct Cli {
    /// Log format on stderr: `human` (readable) or `json` (one object per line).
    #[arg(long, global = true, value_enum, default_value_t = logging::LogFormat::Human)]
    log_format: logging::LogFormat,

    /// Log more (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Re-verify a researcher package's disclosure control (exit 1 on violations).
    Check(commands::check::Args),
    /// Make a new pseudonymisation key or show a key's id.
    #[command(subcommand)]
    Key(commands::key::KeyCommand),
    /// Replace the BSN column of a CSV or Parquet file by keyed-hash pseudonyms.
    Pseudonymise(commands::pseudonymise::Args),
    /// Run a pipeline: ingest → link → aggregate → protect → export, resuming where it stopped.
    Run(commands::run::Args),
    /// Generate synthetic registers and municipal trajectory uploads (with injected faults).
    Synth(commands::synth::Args),
    /// Check an upload or register extract row by row (no key needed; exit 1 when rows are rejected).
    Validate(commands::validate::Args),
    /// Re-hash a run directory against its stage manifests (exit 1 on any mismatch).
    Verify(commands::verify::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format, cli.verbose);
    let result = match &cli.command {
        Command::Key(command) => commands::key::run(command),
        Command::Check(args) => commands::check::run(args),
        Command::Pseudonymise(args) => commands::pseudonymise::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Synth(args) => commands::synth::run(args),
        Command::Validate(args) => commands::validate::run(args),
        Command::Verify(args) => commands::verify::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            // `{:#}` prints the whole context chain on one line.
            tracing::error!("{error:#}");
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
