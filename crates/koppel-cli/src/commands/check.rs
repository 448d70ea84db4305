//! `koppel check PACKAGE_DIR`: re-verify a researcher package's disclosure control.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `koppel check`.
#[derive(clap::Args)]
pub struct Args {
    /// The researcher package directory (`manifest.json` + `tables/*.parquet`).
    pub package_dir: PathBuf,
    /// Check against these rules (TOML, like `config/disclosure.toml`)
    /// instead of the manifest's `rules` section.
    #[arg(long)]
    pub rules: Option<PathBuf>,
}

/// Runs the check: exit 0 when clean, 1 with violations listed, 2 (via the
/// error path) when the package cannot be read.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let rules = match &args.rules {
        Some(path) => Some(koppel_disclosure::rules::Rules::load(path).context("reading --rules")?),
        None => None,
    };
    let report = koppel_disclosure::package::check_package(&args.package_dir, rules)
        .with_context(|| format!("cannot check package {}", args.package_dir.display()))?;
    for v in &report.violations {
        outln!("violation [{}]: {}", v.table, v.message);
    }
    outln!(
        "{}: {} tables, {} rows, {} suppressed cells audited, {} violations",
        args.package_dir.display(),
        report.tables,
        report.rows,
        report.audited,
        report.violations.len()
    );
    Ok(if report.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
