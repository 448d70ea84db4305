//! `koppel check PACKAGE_DIR`: verify a researcher package against the
//! operator's rules, trusting nothing the package says about itself.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use koppel_disclosure::rules::Rules;

/// Arguments of `koppel check`.
#[derive(clap::Args)]
pub struct Args {
    /// The researcher package directory (`manifest.json`, `tables/`, CSV, report).
    pub package_dir: PathBuf,
    /// The operator's configuration directory: the rules are read from its
    /// `disclosure.toml` (default: $KOPPEL_CONFIG_DIR, else the compiled defaults).
    #[arg(long, value_name = "DIR")]
    pub config: Option<PathBuf>,
    /// The pipeline file the package was made with: its resolved rules
    /// (config/disclosure.toml plus its [disclosure] section) are used.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["config", "rules"])]
    pub pipeline: Option<PathBuf>,
    /// A rules file (TOML, like `config/disclosure.toml`).
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    pub rules: Option<PathBuf>,
}

/// The operator's rules (with the effect tables' `min_effect_n` when the
/// pipeline sets one), and where they came from. Never the package's.
fn operator_rules(args: &Args) -> anyhow::Result<(Rules, Option<u64>, String)> {
    if let Some(pipeline) = &args.pipeline {
        // Only the rules: the package may be checked where the inputs are not.
        let loaded = koppel_pipeline::config::load_pipeline_rules(pipeline)
            .with_context(|| format!("reading the pipeline {}", pipeline.display()))?;
        let source = format!("pipeline {}", pipeline.display());
        return Ok((loaded.rules, loaded.min_effect_n, source));
    }
    if let Some(path) = &args.rules {
        let rules = Rules::load(path).with_context(|| format!("reading {}", path.display()))?;
        return Ok((rules, None, path.display().to_string()));
    }
    let dir = args
        .config
        .clone()
        .or_else(|| std::env::var_os(koppel_ingest::CONFIG_DIR_ENV).map(PathBuf::from));
    match dir {
        Some(dir) => {
            let path = dir.join("disclosure.toml");
            if !path.is_file() {
                anyhow::bail!("{} has no disclosure.toml", dir.display());
            }
            let rules =
                Rules::load(&path).with_context(|| format!("reading {}", path.display()))?;
            Ok((rules, None, path.display().to_string()))
        }
        None => Ok((Rules::default(), None, "the compiled defaults".to_string())),
    }
}

/// Runs the check: exit 0 when clean, 1 with every finding listed, 2 (via
/// the error path) when the package cannot be read.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let (rules, min_effect_n, source) = operator_rules(args)?;
    let dir = &args.package_dir;
    let report = koppel_check::check_package_with(dir, &rules, min_effect_n)?;
    let findings: Vec<String> = report.findings.iter().map(|f| f.to_string()).collect();
    for f in &findings {
        outln!("violation: {f}");
    }
    outln!(
        "{}: rules from {source}; {} files, {} tables, {} rows, {} relations, {} CSV rows, {} suppressed cells audited; {} violations",
        dir.display(),
        report.files,
        report.tables,
        report.rows,
        report.relations,
        report.figures,
        report.audited,
        findings.len()
    );
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
