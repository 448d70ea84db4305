//! Stage manifests (`<stage>/manifest.json`) and file fingerprints.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::PipelineError;

/// The software version written into every manifest.
pub const SOFTWARE_VERSION: &str = concat!("koppel ", env!("CARGO_PKG_VERSION"));

/// A file with its SHA-256 and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Path: absolute for external inputs, relative to the run directory for
    /// files of the run.
    pub path: String,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// What a stage did: enough to decide whether it must rerun, and an audit
/// trail for the operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageManifest {
    /// The stage name.
    pub stage: String,
    /// The pipeline's name.
    pub pipeline: String,
    /// SHA-256 of the pipeline file's text (for the audit trail; the
    /// fingerprint covers only the sections the stage depends on).
    #[serde(default)]
    pub pipeline_sha256: String,
    /// The koppel version that wrote it.
    pub software_version: String,
    /// The build identity of the code behind the stage (a hash of its
    /// crates' sources).
    #[serde(default)]
    pub build: String,
    /// Hash of everything the stage's result depends on (build identity,
    /// config, key id, input hashes): equal fingerprints mean the stage may be skipped.
    pub fingerprint: String,
    /// Hash of the stage's configuration (pipeline sections and config files).
    pub config_hash: String,
    /// The key id the data is pseudonymised under (never the key).
    pub key_id: Option<String>,
    /// The input files with their hashes.
    pub inputs: Vec<FileRecord>,
    /// The output files (relative to the run directory) with their hashes.
    pub outputs: Vec<FileRecord>,
    /// Row counts (read, accepted, rejected, persons, cells...).
    pub rows: BTreeMap<String, u64>,
    /// Stage-specific details (aggregates only).
    pub details: serde_json::Value,
    /// Start time, RFC 3339 UTC.
    pub started_at: String,
    /// Wall time in seconds.
    pub duration_seconds: f64,
    /// Peak resident memory during the stage, MiB (Linux; 0 elsewhere).
    pub peak_rss_mib: u64,
}

impl StageManifest {
    /// Reads `dir/manifest.json`.
    pub fn read(dir: &Path) -> Result<StageManifest, PipelineError> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(PipelineError::io(&path))?;
        serde_json::from_str(&text).map_err(|e| PipelineError::Run {
            dir: dir.to_path_buf(),
            message: format!("{} is not a stage manifest: {e}", path.display()),
        })
    }

    /// Writes `dir/manifest.json`.
    pub fn write(&self, dir: &Path) -> Result<(), PipelineError> {
        let path = dir.join("manifest.json");
        let text =
            serde_json::to_string_pretty(self).map_err(|e| PipelineError::stage("manifest", e))?;
        std::fs::write(&path, text + "\n").map_err(PipelineError::io(&path))
    }
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<(String, u64), PipelineError> {
    let mut file = std::fs::File::open(path).map_err(PipelineError::io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(PipelineError::io(path))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// SHA-256 of a byte string, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every regular file under `dir`, sorted, relative to `base`.
pub fn files_under(dir: &Path, base: &Path) -> Result<Vec<(PathBuf, String)>, PipelineError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(PipelineError::io(&d))? {
            let entry = entry.map_err(PipelineError::io(&d))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(PipelineError::io(&path))?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && path.file_name() != Some("manifest.json".as_ref()) {
                let rel = path
                    .strip_prefix(base)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((path, rel));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// Now as RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
