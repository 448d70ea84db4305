//! What koppel-cli's integration tests share: the `koppel` binary cargo
//! built for them, run without the caller's log and configuration
//! settings, and its output as text.

// Each test file uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `koppel` binary with `RUST_LOG` and `KOPPEL_CONFIG_DIR` removed
/// from its environment, so a developer's settings do not change what a
/// test sees.
pub fn koppel_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_koppel"));
    command
        .env_remove("RUST_LOG")
        .env_remove("KOPPEL_CONFIG_DIR");
    command
}

/// Runs `koppel ARGS` to completion.
pub fn koppel(args: &[&str]) -> Output {
    koppel_command().args(args).output().expect("koppel runs")
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A new key made by `koppel key new` in `dir`; its path.
pub fn new_key(dir: &Path) -> PathBuf {
    let path = dir.join("test.key");
    let out = koppel(&["key", "new", "--out", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    path
}
