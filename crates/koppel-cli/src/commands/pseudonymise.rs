//! `koppel pseudonymise`: replace the BSN column of a file by pseudonyms,
//! either column by column as the file stands, or (with `--kind`) validated
//! and typed as the pipeline's ingest stage does, so the output is a
//! pipeline input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use koppel_ingest::{
    ingest_file, pseudonymise_file, IngestConfig, InputKind, PseudonymiseOptions, ValidateOptions,
    BSN_HEADER_ALIASES,
};
use koppel_pseudonym::{Key, Pseudonymiser};

/// Arguments of `koppel pseudonymise`.
#[derive(clap::Args)]
pub struct Args {
    /// The key file (64 hex characters, mode 0600).
    #[arg(long)]
    key: PathBuf,
    /// Input: CSV (comma or semicolon; UTF-8 or Windows-1252), a
    /// spreadsheet (.xlsx, .xlsm, .xlsb, .xls, .ods) or Parquet.
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// The sheet of a workbook to read (default: the first sheet).
    #[arg(long, value_name = "NAME")]
    sheet: Option<String>,
    /// Output: .csv or .parquet (Parquet carries the key id in its
    /// metadata). With --kind: .parquet only.
    #[arg(long = "out", value_name = "FILE")]
    output: PathBuf,
    /// What the file holds (trajectories, persons, benefits, employment):
    /// validate and type every column as the pipeline's ingest stage does,
    /// so the Parquet output can be listed under [inputs.pseudonymised] of
    /// a pipeline. Without it only the BSN column is replaced and the other
    /// columns are copied as text: that output is not a pipeline input.
    #[arg(long)]
    kind: Option<InputKind>,
    /// The identifier column (matched case-insensitively). Default: the first
    /// of `bsn`, `Burgerservicenummer`, `bsn_nummer`, `bsnnummer` present.
    /// Without --kind only (with --kind the column aliases apply).
    #[arg(long, conflicts_with = "kind")]
    column: Option<String>,
    /// Write rejected rows (row number, reason, original row) here, mode 0600.
    /// This quarantine file holds identifiers: keep it with the operator.
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
    /// Configuration directory (with --kind; as for `koppel validate`).
    #[arg(long, value_name = "DIR", requires = "kind")]
    config: Option<PathBuf>,
    /// Rows per batch (bounds memory).
    #[arg(long, default_value_t = 256 * 1024, hide = true)]
    batch_rows: usize,
}

/// Run `koppel pseudonymise`. Exit 0 even when rows were rejected: the counts
/// say so, and the rejects file (if asked for) holds them.
pub fn run(args: &Args) -> Result<ExitCode> {
    let key = Key::load(&args.key)?;
    let pseudonymiser = Pseudonymiser::new(&key);
    drop(key);
    if let Some(kind) = args.kind {
        return run_kind(args, kind, &pseudonymiser);
    }
    let options = PseudonymiseOptions {
        columns: match &args.column {
            Some(column) => vec![column.clone()],
            None => BSN_HEADER_ALIASES.iter().map(|s| s.to_string()).collect(),
        },
        rejects: args.rejects.clone(),
        batch_rows: args.batch_rows,
        sheet: args.sheet.clone(),
    };
    let summary = pseudonymise_file(&pseudonymiser, &args.input, &args.output, &options)?;
    outln!(
        "rows read: {} / pseudonymised: {} / rejected: {}",
        summary.rows_read,
        summary.pseudonymised,
        summary.rejected
    );
    outln!("key id: {}", pseudonymiser.key_id());
    match summary.bsn_zeros_restored {
        0 => {}
        n => outln!(
            "warning: {} in the sheet had lost leading zeros; restored to 9 digits (the \
             eleven-test then passes). Format the BSN column as text",
            if n == 1 {
                "1 BSN typed as a number".to_string()
            } else {
                format!("{n} BSNs typed as numbers")
            }
        ),
    }
    for (code, count) in &summary.rejected_by_reason {
        outln!("  rejected {count:>10}  {code}");
    }
    if summary.rejected > 0 {
        for (row, reason) in &summary.first_rejects {
            outln!("  row {row}: {reason}");
        }
        if summary.rejected > summary.first_rejects.len() as u64 {
            outln!(
                "  … and {} more",
                summary.rejected - summary.first_rejects.len() as u64
            );
        }
        print_rejects_note(args.rejects.as_deref());
    }
    outln!(
        "note: only the BSN column was replaced; the other columns are copied as text, so \
         this output is not a pipeline input. Use --kind trajectories|persons|benefits|employment \
         for a file that can be listed under [inputs.pseudonymised]."
    );
    Ok(ExitCode::SUCCESS)
}

fn print_rejects_note(rejects: Option<&Path>) {
    match rejects {
        Some(path) => outln!("rejected rows written to {} (mode 0600)", path.display()),
        None => {
            outln!("rejected rows were not kept: rerun with --rejects FILE to quarantine them")
        }
    }
}

/// `--kind`: validate, type and pseudonymise as the ingest stage does.
fn run_kind(args: &Args, kind: InputKind, pseudonymiser: &Pseudonymiser) -> Result<ExitCode> {
    let is_parquet = args
        .output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"));
    if !is_parquet {
        bail!(
            "{}: with --kind the output is a pipeline input, which is a Parquet file: \
             name it .parquet",
            args.output.display()
        );
    }
    let config = match &args.config {
        Some(dir) => IngestConfig::load(dir)?,
        None => IngestConfig::from_env()?,
    };
    let mut options = ValidateOptions::with_config(config);
    options.batch_rows = args.batch_rows;
    options.sheet = args.sheet.clone();
    // Without --rejects the rejected rows are counted, and their quarantine
    // file (it holds BSNs) is removed again.
    let quarantine = match &args.rejects {
        Some(path) => path.clone(),
        None => {
            let name = args
                .output
                .file_name()
                .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
            args.output
                .with_file_name(format!(".{name}.koppel-rejects.csv"))
        }
    };
    let report = ingest_file(
        kind,
        &args.input,
        pseudonymiser,
        &args.output,
        &quarantine,
        &options,
    );
    if args.rejects.is_none() {
        let _ = std::fs::remove_file(&quarantine);
    }
    let report = report?;
    print!("{}", report.summary_text());
    outln!("key id: {}", pseudonymiser.key_id());
    if report.rejected > 0 {
        for p in report.problems.iter().take(20) {
            outln!("  row {}: {}: {}", p.row, p.reason_code, p.reason);
        }
        print_rejects_note(args.rejects.as_deref());
    }
    outln!(
        "{}: a pipeline input of kind {kind}: list it under [inputs.pseudonymised] with key_id = \"{}\"",
        args.output.display(),
        pseudonymiser.key_id()
    );
    Ok(ExitCode::SUCCESS)
}
