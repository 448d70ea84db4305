//! `koppel verify RUN_DIR`: re-hash a run directory against its manifests.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `koppel verify`.
#[derive(clap::Args)]
pub struct Args {
    /// The run directory of `koppel run`.
    pub run_dir: PathBuf,
}

/// Exit 0 when every file matches its manifest, 1 when not, 2 when the
/// directory is not a run directory.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let report = koppel_pipeline::verify(&args.run_dir)
        .with_context(|| format!("cannot verify {}", args.run_dir.display()))?;
    for f in &report.findings {
        outln!("{}: {}: {}", f.stage, f.path, f.problem);
    }
    outln!(
        "{}: {} stages, {} files checked, {} problems",
        args.run_dir.display(),
        report.stages.len(),
        report.files,
        report.findings.len()
    );
    Ok(if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
