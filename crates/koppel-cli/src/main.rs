//! The `koppel` command-line tool. Every command parses its arguments and
//! calls into a library crate; the logic lives there.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// The printing macros (`outln!`, ...) must be defined before the commands.
#[macro_use]
mod output;
mod commands;
mod logging;

/// mimalloc instead of the system allocator: polars and the batch pipelines
/// allocate and free large column buffers all the time, which glibc's malloc
/// hands back to the kernel and faults in again (zeroed) on every batch.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Transparent huge pages off for this process (Linux).
///
/// mimalloc asks the kernel for huge pages on its large regions. When it
/// hands part of such a region back (it does so a few milliseconds after a
/// batch's buffers are freed) and later uses it again, the kernel faults in
/// and zeroes a whole 2 MiB page. The link stage streams 62 million
/// register rows through short-lived decode buffers, and at national scale
/// a quarter of its CPU time went to the kernel zeroing pages (half of it
/// system time). With huge pages off, pages are faulted in at 4 KiB as they
/// are touched: system time 4.9 s to 2.2 s, link wall time 10.3 s to 9.0 s
/// and peak memory 2.02-2.12 GB to 1.90-1.92 GB (BENCHMARKS.md). Same as
/// mimalloc's `MIMALLOC_ALLOW_THP=0`, without depending on the environment.
fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments and only sets a
    // flag of this process; a failure (an old kernel) leaves it unchanged,
    // which is harmless.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// koppel: privacy-preserving linkage of social-assistance data into
/// disclosure-controlled cohort outcomes.
#[derive(Parser)]
#[command(
    name = "koppel",
    version,
    about = "koppel links municipal re-integration trajectories to the population, benefit and \
             employment registers under keyed pseudonyms, and publishes cohort outcomes \
             (work, assistance, other) as tables protected against disclosure.",
    long_about = "koppel links municipal re-integration trajectories to the population, benefit and \
                  employment registers under keyed pseudonyms, and publishes cohort outcomes \
                  (work, assistance, other) as tables protected against disclosure.\n\n\
                  Municipalities check their uploads with `koppel validate` (no key needed); the \
                  operator runs a pipeline with `koppel run`, which ingests (validates and \
                  pseudonymises), links, aggregates, protects and exports a researcher package. \
                  BSNs never leave the ingest stage's quarantine.",
    after_help = "Examples:\n  \
        koppel validate --kind trajectories uploads/berkelland.csv --report controle.html\n  \
        koppel key new --out secrets/koppel.key\n  \
        koppel pseudonymise --key secrets/koppel.key --kind trajectories --in upload.csv --out upload.parquet\n  \
        koppel run pipelines/demo.toml\n  \
        koppel verify demo-out/run\n  \
        koppel check demo-out/run/export/package\n  \
        koppel synth --out data --persons 50000\n\n\
        The whole job on synthetic data: make demo (see README.md)."
)]
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
    #[command(after_help = "Example:\n  koppel check demo-out/run/export/package")]
    Check(commands::check::Args),
    /// Make a new pseudonymisation key or show a key's id.
    #[command(
        subcommand,
        after_help = "Examples:\n  koppel key new --out secrets/koppel.key\n  koppel key id secrets/koppel.key"
    )]
    Key(commands::key::KeyCommand),
    /// Replace the BSN column of a file by keyed-hash pseudonyms (with --kind: a pipeline input).
    #[command(after_help = "Examples:\n  \
        koppel pseudonymise --key secrets/koppel.key --kind trajectories --in upload.csv --out upload.parquet\n  \
        koppel pseudonymise --key secrets/koppel.key --in upload.csv --out upload.pseudonymised.csv --rejects rejects.csv")]
    Pseudonymise(commands::pseudonymise::Args),
    /// Run a pipeline: ingest → link → effect (when the pipeline has `[effect]`) → aggregate → protect → export, resuming where it stopped.
    #[command(after_help = "Examples:\n  \
        koppel run pipelines/demo.toml\n  \
        koppel run pipelines/outflow-cohort.toml --check\n  \
        koppel run pipelines/outflow-cohort.toml --from protect")]
    Run(commands::run::Args),
    /// Generate synthetic registers and municipal trajectory uploads (with injected faults).
    #[command(
        after_help = "Example:\n  koppel synth --out data --persons 50000 --municipalities 3"
    )]
    Synth(commands::synth::Args),
    /// Check an upload or register extract row by row (no key needed; exit 1 when rows are rejected).
    #[command(after_help = "Examples:\n  \
        koppel validate --kind trajectories uploads/berkelland.csv --report controle.html\n  \
        koppel validate --kind persons registers/persons.csv --report problems.csv")]
    Validate(commands::validate::Args),
    /// Re-hash a run directory against its stage manifests (exit 1 on any mismatch).
    #[command(after_help = "Example:\n  koppel verify demo-out/run")]
    Verify(commands::verify::Args),
}

fn main() -> ExitCode {
    disable_transparent_huge_pages();
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
            let message = error_message(&error);
            // Printed once: as a JSON log event for log collectors, else as
            // one plain line.
            match cli.log_format {
                logging::LogFormat::Json => tracing::error!("{message}"),
                logging::LogFormat::Human => errln!("error: {message}"),
            }
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, each cause once: a cause whose text
/// the message already holds (an OS reason quoted by its wrapper) is not
/// repeated.
fn error_message(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_os_reason_is_printed_once() {
        let os = std::io::Error::from(std::io::ErrorKind::NotFound);
        let shown = os.to_string();
        let error =
            anyhow::Error::new(os).context(format!("in.csv: cannot read the file: {shown}"));
        assert_eq!(error_message(&error).matches(&shown).count(), 1);
        let error = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::NotFound))
            .context("in.csv: cannot read the file");
        assert_eq!(
            error_message(&error),
            format!("in.csv: cannot read the file: {shown}")
        );
    }
}
