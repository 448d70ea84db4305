//! `koppel run PIPELINE`: run a pipeline's stages (ingest → link → aggregate
//! → protect → export), skipping those that are up to date.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use koppel_pipeline::{PipelineError, RunOptions};

/// Arguments of `koppel run`.
#[derive(clap::Args)]
pub struct Args {
    /// The pipeline file (`pipelines/*.toml`).
    pub pipeline: PathBuf,
    /// Rerun this stage and every later one (ingest, link, effect, aggregate, protect, export).
    #[arg(long, value_name = "STAGE", value_parser = stage_name)]
    pub from: Option<String>,
    /// Stop after this stage.
    #[arg(long, value_name = "STAGE", value_parser = stage_name)]
    pub until: Option<String>,
    /// Rerun every stage, even those that are up to date.
    #[arg(long)]
    pub force: bool,
    /// Run directory (default: the pipeline's `output`).
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// Only check the pipeline file, key and inputs; run nothing.
    #[arg(long)]
    pub check: bool,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// A stage name of the pipeline (refused at argument parsing otherwise).
fn stage_name(name: &str) -> Result<String, String> {
    let stages = koppel_pipeline::stage_names();
    if stages.contains(&name) {
        Ok(name.to_string())
    } else {
        Err(format!(
            "unknown stage {name:?} (stages: {})",
            stages.join(", ")
        ))
    }
}

/// Runs the pipeline; exit 0 on success, 1 when the export gate refused the
/// package, 2 on any other error.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if args.check {
        return Ok(match koppel_pipeline::check_pipeline(&args.pipeline) {
            Ok(p) => {
                outln!(
                    "{}: pipeline {:?} is ready to run",
                    args.pipeline.display(),
                    p.name
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        });
    }
    let options = RunOptions {
        run_dir: args.run_dir.clone(),
        from: args.from.clone(),
        until: args.until.clone(),
        force: args.force,
        progress: !args.quiet,
    };
    let summary = match koppel_pipeline::run(&args.pipeline, &options) {
        Ok(s) => s,
        Err(e) => return Ok(fail(&e)),
    };
    outln!("run directory: {}", summary.run_dir.display());
    if let Some(id) = &summary.key_id {
        outln!("key id: {id}");
    }
    outln!(
        "{:<10} {:<8} {:>9} {:>10}  rows",
        "stage",
        "action",
        "seconds",
        "peak MiB"
    );
    for s in &summary.stages {
        // Rows named `{item}.{count}` (the protect stage's information loss
        // per table) get one line per item under the stage's line.
        let mut items: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let mut rows: Vec<String> = Vec::new();
        for (k, v) in &s.rows {
            match k.split_once('.') {
                Some((item, count)) => items.entry(item).or_default().push(format!("{count}={v}")),
                None => rows.push(format!("{k}={v}")),
            }
        }
        outln!(
            "{:<10} {:<8} {:>9.2} {:>10}  {}",
            s.stage,
            s.action,
            s.duration_seconds,
            s.peak_rss_mib,
            rows.join(" ")
        );
        for (item, counts) in items {
            outln!("{:>41}  {item}: {}", "", counts.join(" "));
        }
    }
    if let Some(package) = &summary.package_dir {
        outln!("researcher package: {}", package.display());
        let report = package.join("report.html");
        if report.is_file() {
            outln!("report: {}", report.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn fail(e: &PipelineError) -> ExitCode {
    errln!("error: {e}");
    ExitCode::from(e.exit_code())
}
