//! `koppel validate`: check an upload or register extract before it is sent.
//! No key is needed; nothing is written except the optional report.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use koppel_ingest::{validate_file, IngestConfig, InputKind, ValidateOptions};

/// Arguments of `koppel validate`.
#[derive(clap::Args)]
pub struct Args {
    /// What the file holds: trajectories, persons, benefits or employment.
    #[arg(long)]
    kind: InputKind,
    /// The file: CSV (comma/semicolon/tab, UTF-8 or Windows-1252), a
    /// spreadsheet (.xlsx, .xlsm, .xlsb, .xls, .ods) or Parquet.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The sheet of a workbook to read (default: the first sheet).
    #[arg(long, value_name = "NAME")]
    sheet: Option<String>,
    /// Also write the problems to this file: .csv, or .html for a readable page.
    #[arg(long, value_name = "OUT")]
    report: Option<PathBuf>,
    /// Configuration directory (columns.toml, municipalities.toml,
    /// instruments.toml). Default: $KOPPEL_CONFIG_DIR, else the built-in files.
    #[arg(long, value_name = "DIR")]
    config: Option<PathBuf>,
    /// Most problems to list (all are counted).
    #[arg(long, default_value_t = 100_000)]
    max_problems: usize,
    /// Rows per batch (bounds memory).
    #[arg(long, default_value_t = 256 * 1024, hide = true)]
    batch_rows: usize,
}

/// Run `koppel validate`: exit 0 when every row is accepted, 1 when rows were
/// rejected, 2 (via the error path) when the file cannot be read at all.
pub fn run(args: &Args) -> Result<ExitCode> {
    let config = match &args.config {
        Some(dir) => IngestConfig::load(dir)?,
        None => IngestConfig::from_env()?,
    };
    let mut options = ValidateOptions::with_config(config);
    options.max_problems = args.max_problems;
    options.batch_rows = args.batch_rows;
    options.sheet = args.sheet.clone();
    let report = validate_file(args.kind, &args.file, &options)?;
    out!("{}", report.summary_text());
    if !report.problems.is_empty() {
        outln!("problems (file, row, column, reason, trajectory_id):");
        for p in &report.problems {
            let column = match (p.column.as_str(), p.source_column.as_str()) {
                ("", _) => "-".to_string(),
                (c, "") => c.to_string(),
                (c, s) if c == s => c.to_string(),
                (c, s) => format!("{c} ({s})"),
            };
            outln!(
                "{}\trow {}\t{}\t{}: {}\t{}",
                p.file,
                p.row,
                column,
                p.reason_code,
                p.reason,
                p.trajectory_id.as_deref().unwrap_or("-")
            );
        }
        if report.problems_omitted() > 0 {
            outln!(
                "… and {} more problems (raise --max-problems to list them)",
                report.problems_omitted()
            );
        }
    }
    if let Some(out) = &args.report {
        let html = out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
        let text = if html {
            report.to_html()
        } else {
            report.to_csv()
        };
        std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?;
        outln!("report written to {}", out.display());
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
