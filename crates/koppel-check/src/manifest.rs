//! The package manifest: the rules it states, and the files it lists.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{CheckError, Report, Rule, Rules};

/// The rule settings the manifest must state, and how a stated value may
/// differ from the operator's: not at all, or only by being stricter (a
/// package made under tightened rules passes a check with the defaults).
/// `override_reason` and `loosened` only describe the rules.
const RULE_KEYS: [(&str, Stricter); 9] = [
    ("min_count", Stricter::Larger),
    ("zeros_are_disclosive", Stricter::True),
    ("min_contributors", Stricter::Larger),
    ("dominance_n", Stricter::Larger),
    ("dominance_k", Stricter::Smaller),
    ("p_percent", Stricter::Larger),
    ("rounding", Stricter::Never),
    ("rounding_base", Stricter::Multiple),
    ("rounding_seed", Stricter::Never),
];

/// Which stated values count as at least as strict as the operator's.
#[derive(Clone, Copy)]
enum Stricter {
    /// Only the same value.
    Never,
    /// A larger number.
    Larger,
    /// A smaller number.
    Smaller,
    /// `true` where the operator has `false`.
    True,
    /// A multiple of the operator's number.
    Multiple,
}

fn at_least_as_strict(stated: &Value, operator: &Value, how: Stricter) -> bool {
    if let (Some(a), Some(b)) = (stated.as_f64(), operator.as_f64()) {
        return match how {
            Stricter::Larger => a >= b,
            Stricter::Smaller => a <= b,
            Stricter::Multiple => b > 0.0 && a >= b && (a % b) == 0.0,
            Stricter::Never | Stricter::True => a == b,
        };
    }
    match (how, stated.as_bool(), operator.as_bool()) {
        (Stricter::True, Some(a), Some(b)) => a || !b,
        _ => stated == operator,
    }
}

/// Reads `dir/manifest.json`.
pub(crate) fn read(dir: &Path) -> Result<Value, CheckError> {
    let path = dir.join("manifest.json");
    read_at(&path).map_err(|reason| CheckError::NotAPackage {
        path: dir.to_path_buf(),
        reason,
    })
}

/// Reads a manifest file; the reason it cannot be used otherwise.
pub(crate) fn read_at(path: &Path) -> Result<Value, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("manifest.json cannot be read ({e})"))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("manifest.json is not JSON ({e})"))?;
    if !value.is_object() {
        return Err("manifest.json is not a JSON object".into());
    }
    Ok(value)
}

/// The manifest's stated rules must be the operator's.
pub(crate) fn check_rules(manifest: &Value, file: &str, rules: &Rules, report: &mut Report) {
    let Some(stated) = manifest.get("rules").and_then(Value::as_object) else {
        report.add(file, Rule::Rules, "the manifest states no rules");
        return;
    };
    let operator = serde_json::to_value(rules).unwrap_or(Value::Null);
    for (key, how) in RULE_KEYS {
        let expected = &operator[key];
        let ok = stated
            .get(key)
            .is_some_and(|v| at_least_as_strict(v, expected, how));
        if !ok {
            let shown = stated
                .get(key)
                .map_or_else(|| "missing".to_string(), Value::to_string);
            report.add(
                file,
                Rule::Rules,
                format!(
                    "{key} is {shown} in the manifest but {expected} in the operator's configuration"
                ),
            );
        }
    }
}

/// The files of the package (relative, `/` separated), except the top-level
/// `manifest.json`.
pub(crate) fn files_on_disk(dir: &Path) -> Result<BTreeSet<String>, CheckError> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| CheckError::Io {
            path: d.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| CheckError::Io {
                path: d.clone(),
                source,
            })?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|source| CheckError::Io {
                path: path.clone(),
                source,
            })?;
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = relative(dir, &path);
            if rel != "manifest.json" {
                out.insert(rel);
            }
        }
    }
    Ok(out)
}

fn relative(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every file on disk is listed with its SHA-256 and size, and every listed
/// file is there unchanged.
pub(crate) fn check_files(
    dir: &Path,
    manifest: &Value,
    report: &mut Report,
) -> Result<(), CheckError> {
    let listed = match manifest.pointer("/report/files").and_then(Value::as_array) {
        Some(list) => list,
        None => {
            report.add(
                "manifest.json",
                Rule::Files,
                "the manifest lists no files (report.files)",
            );
            return Ok(());
        }
    };
    let mut expected: BTreeMap<String, (String, Option<u64>)> = BTreeMap::new();
    for entry in listed {
        let path = entry.get("path").and_then(Value::as_str);
        let sha = entry.get("sha256").and_then(Value::as_str);
        match (path, sha) {
            (Some(p), Some(s)) if safe_relative(p) => {
                let bytes = entry.get("bytes").and_then(Value::as_u64);
                expected.insert(p.to_string(), (s.to_ascii_lowercase(), bytes));
            }
            _ => report.add(
                "manifest.json",
                Rule::Files,
                format!("a file entry without a safe relative path and a sha256: {entry}"),
            ),
        }
    }
    let on_disk = files_on_disk(dir)?;
    for rel in &on_disk {
        if !expected.contains_key(rel) {
            report.add(
                rel.clone(),
                Rule::Files,
                "not listed in the manifest (an extra file)",
            );
        }
    }
    for (rel, (sha, bytes)) in &expected {
        if !on_disk.contains(rel) {
            report.add(
                rel.clone(),
                Rule::Files,
                "listed in the manifest but missing",
            );
            continue;
        }
        report.files += 1;
        let path = dir.join(rel);
        let (actual, size) = sha256_file(&path).map_err(|source| CheckError::Io {
            path: path.clone(),
            source,
        })?;
        if &actual != sha || bytes.is_some_and(|b| b != size) {
            report.add(
                rel.clone(),
                Rule::Files,
                "changed since the package was written (SHA-256 differs from the manifest)",
            );
        }
    }
    Ok(())
}

/// A relative path inside the package (no `..`, not absolute).
fn safe_relative(p: &str) -> bool {
    !p.is_empty() && !p.starts_with('/') && !p.split('/').any(|c| c == ".." || c.is_empty())
}

fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), size))
}
