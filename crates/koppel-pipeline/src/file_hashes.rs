//! SHA-256 of the files a run reads and writes, remembered between runs.
//!
//! Deciding whether a stage is up to date hashes every file it reads from
//! outside the run directory and every output it wrote before. At national
//! scale that is ≈ 3 GB (the registers, the uploads and the pseudonymised
//! files) hashed on every `koppel run`, ≈ 2 s even when one stage is asked
//! for. [`FileHashes`] keeps each file's hash in `RUN/.file-hashes.json`
//! together with what the file system says about the file when it was
//! hashed: device, inode, size, modification and status-change times
//! (nanoseconds). A later run reuses the hash only when all of these are
//! unchanged.
//!
//! Why this is safe: every write to a file, and every change of its times
//! (`touch -d`, `cp -p`), sets its status-change time (`ctime`) to the
//! current time, which no user command can set back; replacing a file by
//! another one changes its inode. One race remains, the one git calls
//! "racily clean": the kernel's clock for file times advances in steps of a
//! few milliseconds, so a write in the same step as the hash could leave
//! the times unchanged. An entry is therefore only trusted when the file's
//! status-change time lies at least [`SETTLED`] before the moment its
//! hashing started; a file written just before a run is hashed again on the
//! next run and remembered from then on.
//!
//! Only the up-to-date decision uses the cache. `koppel verify` (the
//! integrity check an operator runs) hashes every file again. On systems
//! other than Unix the cache is not used.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::PipelineError;
use crate::manifest::{sha256_file, FileRecord};

/// The cache's file name in the run directory.
pub const CACHE_FILE: &str = ".file-hashes.json";

/// How long before hashing a file's last change must lie for its hash to be
/// reused (nanoseconds; see the module docs).
pub const SETTLED: i128 = 2_000_000_000;

/// What the file system says about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stat {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

/// A remembered hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    stat: Stat,
    /// When hashing started, nanoseconds since the Unix epoch.
    hashed_at_ns: i128,
    sha256: String,
}

impl Entry {
    /// Whether this entry may stand for a file that now has `stat`.
    fn still_valid(&self, stat: &Stat) -> bool {
        self.stat == *stat && stat.ctime_ns <= self.hashed_at_ns - SETTLED
    }
}

/// File hashes of one run directory, loaded at the start of a run and
/// saved at its end (see the module docs).
#[derive(Debug)]
pub struct FileHashes {
    file: Option<PathBuf>,
    entries: Mutex<BTreeMap<String, Entry>>,
}

impl FileHashes {
    /// The cache of `run_dir`; an unreadable or damaged cache is ignored
    /// (every file is hashed again).
    pub fn load(run_dir: &Path) -> FileHashes {
        let file = run_dir.join(CACHE_FILE);
        let entries = std::fs::read(&file)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        FileHashes {
            file: Some(file),
            entries: Mutex::new(entries),
        }
    }

    /// No cache: every file is hashed (for `koppel verify` and tests).
    pub fn none() -> FileHashes {
        FileHashes {
            file: None,
            entries: Mutex::new(BTreeMap::new()),
        }
    }

    /// SHA-256 (hex) and size of `path`, from the cache when the file is
    /// unchanged since it was hashed.
    pub fn sha256(&self, path: &Path) -> Result<(String, u64), PipelineError> {
        let Some(key) = self.file.as_ref().and_then(|_| cache_key(path)) else {
            return sha256_file(path);
        };
        let before = stat(path);
        if let Some(before) = before {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(entry) = entries.get(&key).filter(|e| e.still_valid(&before)) {
                return Ok((entry.sha256.clone(), before.size));
            }
        }
        let hashed_at_ns = now_ns();
        let (sha256, size) = sha256_file(path)?;
        // Remember the hash only when the file did not change while it was
        // read.
        if let (Some(before), Some(after)) = (before, stat(path)) {
            if before == after && before.size == size {
                let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
                entries.insert(
                    key,
                    Entry {
                        stat: before,
                        hashed_at_ns,
                        sha256: sha256.clone(),
                    },
                );
            }
        }
        Ok((sha256, size))
    }

    /// A record of `path` (its hash and size), shown as `shown_as`.
    pub fn record(&self, path: &Path, shown_as: String) -> Result<FileRecord, PipelineError> {
        let (sha256, bytes) = self.sha256(path)?;
        Ok(FileRecord {
            path: shown_as,
            sha256,
            bytes,
        })
    }

    /// Writes the cache (atomically), dropping entries of files that no
    /// longer exist. A cache that cannot be written is not an error: the
    /// next run hashes again.
    pub fn save(&self) {
        let Some(file) = &self.file else {
            return;
        };
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|key, _| Path::new(key).exists());
        let Ok(text) = serde_json::to_vec(&*entries) else {
            return;
        };
        let tmp = file.with_extension("json.tmp");
        if std::fs::write(&tmp, text).is_ok() && std::fs::rename(&tmp, file).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// The cache key of a file: its canonical path.
fn cache_key(path: &Path) -> Option<String> {
    std::fs::canonicalize(path)
        .ok()
        .and_then(|p| p.to_str().map(str::to_owned))
}

#[cfg(unix)]
fn stat(path: &Path) -> Option<Stat> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    if !m.is_file() {
        return None;
    }
    let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
    Some(Stat {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_ns: ns(m.mtime(), m.mtime_nsec()),
        ctime_ns: ns(m.ctime(), m.ctime_nsec()),
    })
}

#[cfg(not(unix))]
fn stat(_: &Path) -> Option<Stat> {
    None
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Makes every entry look hashed long after the file last changed, as
    /// on a later run.
    fn age(hashes: &FileHashes) {
        for entry in hashes.entries.lock().unwrap().values_mut() {
            entry.hashed_at_ns = entry.stat.ctime_ns + SETTLED;
        }
    }

    fn entry_count(hashes: &FileHashes) -> usize {
        hashes.entries.lock().unwrap().len()
    }

    #[test]
    fn a_settled_unchanged_file_is_not_hashed_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.csv");
        std::fs::write(&file, "a;b\n1;2\n").unwrap();
        let hashes = FileHashes::load(dir.path());
        let (first, size) = hashes.sha256(&file).unwrap();
        assert_eq!(size, 8);
        age(&hashes);
        hashes.save();
        let again = FileHashes::load(dir.path());
        assert_eq!(entry_count(&again), 1);
        // The cached hash is returned (a planted one proves it was used).
        for entry in again.entries.lock().unwrap().values_mut() {
            entry.sha256 = "cached".into();
        }
        assert_eq!(again.sha256(&file).unwrap().0, "cached");
        assert_ne!(first, "cached");
    }

    #[test]
    fn a_file_changed_in_place_is_hashed_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.csv");
        std::fs::write(&file, "a;b\n1;2\n").unwrap();
        let hashes = FileHashes::load(dir.path());
        let (first, _) = hashes.sha256(&file).unwrap();
        age(&hashes);
        // Same size, and the modification time put back: the status-change
        // time still moves, so the file is hashed again.
        let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&file, "a;b\n1;3\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let (second, _) = hashes.sha256(&file).unwrap();
        assert_ne!(first, second);
        assert_eq!(second, sha256_file(&file).unwrap().0);
    }

    #[test]
    fn a_replaced_file_and_a_fresh_entry_are_hashed_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.csv");
        std::fs::write(&file, "one").unwrap();
        let hashes = FileHashes::load(dir.path());
        hashes.sha256(&file).unwrap();
        // Not settled yet (hashed right after it was written): not trusted.
        for entry in hashes.entries.lock().unwrap().values_mut() {
            entry.sha256 = "planted".into();
        }
        assert_ne!(hashes.sha256(&file).unwrap().0, "planted");
        age(&hashes);
        let other = dir.path().join("other.csv");
        std::fs::write(&other, "two").unwrap();
        std::fs::rename(&other, &file).unwrap();
        assert_eq!(
            hashes.sha256(&file).unwrap().0,
            sha256_file(&file).unwrap().0
        );
    }

    #[test]
    fn a_damaged_cache_is_ignored_and_missing_files_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CACHE_FILE), "{not json").unwrap();
        let hashes = FileHashes::load(dir.path());
        let file = dir.path().join("in.csv");
        std::fs::write(&file, "x").unwrap();
        hashes.sha256(&file).unwrap();
        std::fs::remove_file(&file).unwrap();
        hashes.save();
        assert_eq!(entry_count(&FileHashes::load(dir.path())), 0);
        assert!(hashes.sha256(&file).is_err(), "a missing file is an error");
        let none = FileHashes::none();
        std::fs::write(&file, "x").unwrap();
        none.sha256(&file).unwrap();
        assert_eq!(entry_count(&none), 0);
    }
}
