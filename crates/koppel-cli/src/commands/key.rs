//! `koppel key new` and `koppel key id`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use koppel_pseudonym::Key;

/// Key management.
#[derive(Subcommand)]
pub enum KeyCommand {
    /// Write a fresh random key to a new file readable by its owner only (mode 0600).
    /// Never overwrites an existing file.
    New {
        /// Where to write the key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the key id (safe to share: it identifies the key, it does not reveal it).
    Id {
        /// The key file.
        file: PathBuf,
    },
}

/// Run a key subcommand.
pub fn run(command: &KeyCommand) -> Result<ExitCode> {
    match command {
        KeyCommand::New { out } => {
            let key = Key::generate()?;
            key.write_new(out)?;
            tracing::info!(key_id = %key.id(), path = %out.display(), "wrote new key (mode 0600)");
            outln!("{}", key.id());
        }
        KeyCommand::Id { file } => {
            let key = Key::load(file)?;
            outln!("{}", key.id());
        }
    }
    Ok(ExitCode::SUCCESS)
}
