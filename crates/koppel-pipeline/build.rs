//! Computes a build identity per workspace crate: a SHA-256 over the crate's
//! `Cargo.toml`, `build.rs` and every file under `src/`, over the same for
//! each workspace crate it depends on (transitively), and over the
//! workspace's `Cargo.lock`. The pipeline's stage fingerprints include the
//! identity of the crates whose code decides each stage's result, so a code
//! change reruns exactly the stages it can affect, even without a version
//! bump. Outside the workspace (a packaged crate) every identity is the
//! crate version.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The workspace crates listed under `[dependencies]` of a manifest.
fn workspace_dependencies(manifest: &str) -> Vec<String> {
    let mut in_dependencies = false;
    let mut out = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
        } else if in_dependencies && line.starts_with("koppel-") {
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            out.push(name);
        }
    }
    out
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let crates_dir = manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let lock = crates_dir.join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let lock_text = std::fs::read(&lock).unwrap_or_default();

    // Each crate's own hash and its workspace dependencies.
    let mut own: BTreeMap<String, String> = BTreeMap::new();
    let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let entries = std::fs::read_dir(&crates_dir).map(|d| d.flatten().collect::<Vec<_>>());
    for entry in entries.unwrap_or_default() {
        let dir = entry.path();
        let cargo_toml = dir.join("Cargo.toml");
        let Ok(manifest) = std::fs::read_to_string(&cargo_toml) else {
            continue;
        };
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        println!("cargo:rerun-if-changed={}", cargo_toml.display());
        println!("cargo:rerun-if-changed={}", dir.join("src").display());
        // A path that does not exist would rerun this script on every build.
        if dir.join("build.rs").is_file() {
            println!("cargo:rerun-if-changed={}", dir.join("build.rs").display());
        }
        let mut files = vec![cargo_toml.clone(), dir.join("build.rs")];
        files_under(&dir.join("src"), &mut files);
        files.sort();
        let mut hasher = Sha256::new();
        for file in &files {
            if let Ok(bytes) = std::fs::read(file) {
                let rel = file.strip_prefix(&dir).unwrap_or(file);
                hasher.update(rel.to_string_lossy().as_bytes());
                hasher.update((bytes.len() as u64).to_le_bytes());
                hasher.update(&bytes);
            }
        }
        own.insert(name.clone(), hex(&hasher.finalize()));
        deps.insert(name, workspace_dependencies(&manifest));
    }

    let mut code = String::from("/// Build identity per workspace crate (see build.rs).\n");
    code.push_str("pub const CRATE_IDENTITIES: &[(&str, &str)] = &[\n");
    for name in own.keys() {
        let mut closure = BTreeSet::new();
        let mut stack = vec![name.clone()];
        while let Some(next) = stack.pop() {
            if closure.insert(next.clone()) {
                stack.extend(deps.get(&next).cloned().unwrap_or_default());
            }
        }
        let mut hasher = Sha256::new();
        hasher.update(&lock_text);
        for member in &closure {
            hasher.update(member.as_bytes());
            hasher.update(
                own.get(member)
                    .map(String::as_str)
                    .unwrap_or("absent")
                    .as_bytes(),
            );
        }
        let _ = writeln!(code, "    ({name:?}, {:?}),", hex(&hasher.finalize()));
    }
    code.push_str("];\n");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("build_identity.rs");
    std::fs::write(&out, code).expect("OUT_DIR is writable");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
