//! `koppel pseudonymise`: replace the BSN column of a file by pseudonyms.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use koppel_ingest::{pseudonymise_file, PseudonymiseOptions, BSN_HEADER_ALIASES};
use koppel_pseudonym::{Key, Pseudonymiser};

/// Arguments of `koppel pseudonymise`.
#[derive(clap::Args)]
pub struct Args {
    /// The key file (64 hex characters, mode 0600).
    #[arg(long)]
    key: PathBuf,
    /// Input: CSV (comma or semicolon; UTF-8 or Windows-1252) or Parquet.
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// Output: .csv or .parquet (Parquet carries the key id in its metadata).
    #[arg(long = "out", value_name = "FILE")]
    output: PathBuf,
    /// The identifier column (matched case-insensitively). Default: the first
    /// of `bsn`, `Burgerservicenummer`, `bsn_nummer`, `bsnnummer` present.
    #[arg(long)]
    column: Option<String>,
    /// Write rejected rows (row number, reason, original row) here, mode 0600.
    /// This quarantine file holds identifiers: keep it with the operator.
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
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
    let options = PseudonymiseOptions {
        columns: match &args.column {
            Some(column) => vec![column.clone()],
            None => BSN_HEADER_ALIASES.iter().map(|s| s.to_string()).collect(),
        },
        rejects: args.rejects.clone(),
        batch_rows: args.batch_rows,
    };
    let summary = pseudonymise_file(&pseudonymiser, &args.input, &args.output, &options)?;
    println!(
        "rows read: {} / pseudonymised: {} / rejected: {}",
        summary.rows_read, summary.pseudonymised, summary.rejected
    );
    println!("key id: {}", pseudonymiser.key_id());
    for (code, count) in &summary.rejected_by_reason {
        println!("  rejected {count:>10}  {code}");
    }
    if summary.rejected > 0 {
        for (row, reason) in &summary.first_rejects {
            println!("  row {row}: {reason}");
        }
        if summary.rejected > summary.first_rejects.len() as u64 {
            println!(
                "  … and {} more",
                summary.rejected - summary.first_rejects.len() as u64
            );
        }
        match &args.rejects {
            Some(path) => println!("rejected rows written to {} (mode 0600)", path.display()),
            None => println!(
                "rejected rows were not kept: rerun with --rejects FILE to quarantine them"
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}
