//! The exclusive lock on a run directory: one `koppel run` at a time per
//! directory. The lock is an advisory OS lock on `RUN/.lock` (released by
//! the OS when the process ends, also after a crash); the file records who
//! holds it so that a second run can say so.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::PipelineError;

/// Held while a run works in its directory; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
}

/// The lock file of a run directory.
pub fn lock_path(run_dir: &Path) -> PathBuf {
    run_dir.join(".lock")
}

/// Takes the exclusive lock on `run_dir`, or says who holds it.
pub fn lock(run_dir: &Path) -> Result<RunLock, PipelineError> {
    let path = lock_path(run_dir);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(PipelineError::io(&path))?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(PipelineError::Locked {
                dir: run_dir.to_path_buf(),
                holder: if holder.is_empty() {
                    "another process".into()
                } else {
                    holder.to_string()
                },
            });
        }
        Err(fs4::TryLockError::Error(source)) => {
            return Err(PipelineError::Io { path, source });
        }
    }
    let holder = format!(
        "koppel run (process {}, started {})",
        std::process::id(),
        crate::manifest::now_rfc3339()
    );
    file.set_len(0).map_err(PipelineError::io(&path))?;
    file.rewind().map_err(PipelineError::io(&path))?;
    file.write_all(holder.as_bytes())
        .map_err(PipelineError::io(&path))?;
    Ok(RunLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        let err = lock(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("in use") && err.contains(&format!("process {}", std::process::id())),
            "{err}"
        );
        drop(first);
        lock(dir.path()).unwrap();
    }
}
