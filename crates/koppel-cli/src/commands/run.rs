//! `koppel run PIPELINE`: run a pipeline's stages (ingest → link → aggregate
//! → protect → export), skipping those that are up to date.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use koppel_pipeline::{PipelineError, RunOptions, RunSummary};

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
    print_summary(&summary);
    Ok(ExitCode::SUCCESS)
}

/// The closing summary, for the researcher: where things are, how many
/// persons the cohort holds, what was published and what was withheld.
fn print_summary(summary: &RunSummary) {
    outln!("run directory: {}", shown(&summary.run_dir));
    if let Some(id) = &summary.key_id {
        outln!("key id: {id}");
    }
    outln!(
        "{:<10} {:<8} {:>9} {:>10}",
        "stage",
        "action",
        "seconds",
        "peak MiB"
    );
    for s in &summary.stages {
        outln!(
            "{:<10} {:<8} {:>9.2} {:>10}",
            s.stage,
            s.action,
            s.duration_seconds,
            s.peak_rss_mib
        );
    }
    let rows = |stage: &str| -> BTreeMap<String, u64> {
        summary
            .stages
            .iter()
            .find(|s| s.stage == stage)
            .map(|s| s.rows.clone())
            .unwrap_or_default()
    };
    if let Some(n) = rows("link").get("cohort_persons") {
        outln!("cohort: {} persons", thousands(*n));
    }
    let aggregate = rows("aggregate");
    if let (Some(tables), Some(cells)) = (aggregate.get("tables"), aggregate.get("cells")) {
        outln!(
            "tables: {tables} ({} cells, every margin included)",
            thousands(*cells)
        );
    }
    let protect = rows("protect");
    for line in suppression_lines(&protect) {
        outln!("{line}");
    }
    for line in table_loss_lines(&protect) {
        outln!("{line}");
    }
    if let Some(package) = &summary.package_dir {
        outln!("researcher package: {}", shown(package));
        let report = package.join("report.html");
        if report.is_file() {
            outln!("report: {} (open it in a browser)", shown(&report));
        }
    }
}

/// What the protect stage withheld, in words.
fn suppression_lines(protect: &BTreeMap<String, u64>) -> Vec<String> {
    let get = |k: &str| protect.get(k).copied().unwrap_or(0);
    let mut out = Vec::new();
    let (cells, primary, secondary) = (get("count_cells"), get("primary"), get("secondary"));
    if cells > 0 {
        let withheld = primary + secondary;
        if withheld == 0 {
            out.push(format!(
                "suppressed: none of the {} count cells",
                thousands(cells)
            ));
        } else {
            out.push(format!(
                "suppressed: {} of {} count cells ({:.1}%): {} count too few persons to publish, \
                 {} more are withheld so those cannot be worked out from totals",
                thousands(withheld),
                thousands(cells),
                100.0 * withheld as f64 / cells as f64,
                thousands(primary),
                thousands(secondary)
            ));
        }
    }
    let (magnitudes, withheld) = (get("magnitude_cells"), get("magnitude_primary"));
    if magnitudes > 0 {
        out.push(format!(
            "suppressed: {} of {} means and medians (too few persons, or one person would \
             dominate the figure)",
            thousands(withheld),
            thousands(magnitudes)
        ));
    }
    out
}

/// What each table lost to protection, one line per table: the protect
/// stage reports `{table}.published`, `{table}.suppressed` and
/// `{table}.persons_published` (persons in published cells at the horizon
/// where they are fewest).
fn table_loss_lines(protect: &BTreeMap<String, u64>) -> Vec<String> {
    let mut tables: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for (k, v) in protect {
        if let Some((table, count)) = k.split_once('.') {
            tables.entry(table).or_default().insert(count, *v);
        }
    }
    tables
        .into_iter()
        .map(|(table, counts)| {
            let get = |k: &str| counts.get(k).copied().unwrap_or(0);
            let (published, suppressed) = (get("published"), get("suppressed"));
            let mut line = format!(
                "  {table}: {} of {} count cells published",
                thousands(published),
                thousands(published + suppressed)
            );
            match counts.get("persons_published") {
                Some(0) => line.push_str("; at some horizon no person is in a published cell"),
                Some(persons) => line.push_str(&format!(
                    "; at every horizon at least {} persons are in published cells",
                    thousands(*persons)
                )),
                None => {}
            }
            line
        })
        .collect()
}

/// `12,345`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A path as a reader wants it: relative to the working directory when it
/// lies below it, else absolute, without `..` or `.` steps.
fn shown(path: &Path) -> String {
    let full = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let cwd = std::env::current_dir().and_then(|d| d.canonicalize());
    match cwd.as_ref().map(|cwd| full.strip_prefix(cwd)) {
        Ok(Ok(rel)) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => full.display().to_string(),
    }
}

fn fail(e: &PipelineError) -> ExitCode {
    errln!("error: {e}");
    ExitCode::from(e.exit_code())
}
