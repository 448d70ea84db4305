//! The stage runner: fingerprints, skip/resume decisions, atomic stage
//! directories, manifests, and `koppel verify`.
//!
//! Each stage writes into `RUN/.<stage>.tmp/`, then its `manifest.json`, then
//! the directory is renamed to `RUN/<stage>/`. A stage directory therefore
//! exists only when the stage completed; a crash leaves at most a `.tmp`
//! directory, removed by the next run. A stage is skipped when its manifest's
//! fingerprint (software version, stage configuration, key id, and the SHA-256
//! of every input) equals the current one *and* every output file still has
//! the hash its manifest recorded; a changed or corrupted file makes the stage
//! rerun (and, through the fingerprints, everything downstream of a change).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use serde_json::json;
use tracing::{info, warn};

use crate::config::{load_pipeline, Pipeline};
use crate::error::PipelineError;
use crate::manifest::{
    files_under, now_rfc3339, record, sha256_hex, FileRecord, StageManifest, SOFTWARE_VERSION,
};
use crate::memory;
use crate::stages::{self, StageOutcome};

/// The stages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Validate and pseudonymise every input (the only stage that sees BSNs).
    Ingest,
    /// Link and derive the person-level analysis file.
    Link,
    /// Tables with all margins (unprotected).
    Aggregate,
    /// Primary and secondary suppression, audit, rounding.
    Protect,
    /// The researcher package, after a fail-closed re-check.
    Export,
}

impl Stage {
    /// Every stage in order.
    pub const ALL: [Stage; 5] = [
        Stage::Ingest,
        Stage::Link,
        Stage::Aggregate,
        Stage::Protect,
        Stage::Export,
    ];

    /// The stage's name (and directory).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Link => "link",
            Stage::Aggregate => "aggregate",
            Stage::Protect => "protect",
            Stage::Export => "export",
        }
    }

    /// The stages whose outputs this stage reads.
    pub fn upstream(self) -> &'static [Stage] {
        match self {
            Stage::Ingest => &[],
            Stage::Link => &[Stage::Ingest],
            Stage::Aggregate => &[Stage::Link],
            Stage::Protect => &[Stage::Aggregate],
            Stage::Export => &[Stage::Ingest, Stage::Link, Stage::Protect],
        }
    }
}

impl std::str::FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Stage, String> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.name() == s)
            .ok_or_else(|| {
                format!("unknown stage {s:?} (stages: ingest, link, aggregate, protect, export)")
            })
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How to run a pipeline.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Run directory (overrides the pipeline's `output`).
    pub run_dir: Option<PathBuf>,
    /// Rerun this stage and every later one even when up to date.
    pub from: Option<Stage>,
    /// Stop after this stage.
    pub until: Option<Stage>,
    /// Rerun every stage.
    pub force: bool,
    /// Show progress bars (only when stderr is a terminal).
    pub progress: bool,
}

/// What happened to one stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    /// The stage.
    pub stage: Stage,
    /// `ran` or `skipped` (up to date).
    pub action: &'static str,
    /// Why it ran (or was skipped).
    pub reason: String,
    /// Wall time of this run of the stage (0 when skipped).
    pub duration_seconds: f64,
    /// Peak resident memory during the stage, MiB.
    pub peak_rss_mib: u64,
    /// Row counts from the manifest.
    pub rows: BTreeMap<String, u64>,
}

/// The result of `koppel run`.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// The run directory.
    pub run_dir: PathBuf,
    /// The key id the run's data is pseudonymised under.
    pub key_id: Option<String>,
    /// Each stage that was considered.
    pub stages: Vec<StageReport>,
    /// The researcher package, when the export stage is complete.
    pub package_dir: Option<PathBuf>,
}

fn fingerprint(
    stage: Stage,
    config_hash: &str,
    key_id: Option<&str>,
    inputs: &[FileRecord],
) -> String {
    let canonical = json!({
        "stage": stage.name(),
        "software_version": SOFTWARE_VERSION,
        "config_hash": config_hash,
        "key_id": key_id,
        "inputs": inputs,
    });
    sha256_hex(canonical.to_string().as_bytes())
}

/// Why a completed stage must rerun (`None`: up to date).
fn stale_reason(run_dir: &Path, stage: Stage, fingerprint: &str) -> Option<String> {
    let dir = run_dir.join(stage.name());
    if !dir.is_dir() {
        return Some("not run yet".into());
    }
    let manifest = match StageManifest::read(&dir) {
        Ok(m) => m,
        Err(e) => return Some(format!("its manifest is unreadable ({e})")),
    };
    if manifest.fingerprint != fingerprint {
        return Some("its inputs or configuration changed".into());
    }
    for output in &manifest.outputs {
        let path = run_dir.join(&output.path);
        match crate::manifest::sha256_file(&path) {
            Ok((sha, _)) if sha == output.sha256 => {}
            Ok(_) => return Some(format!("{} changed since the stage wrote it", output.path)),
            Err(_) => return Some(format!("{} is missing", output.path)),
        }
    }
    let on_disk = files_under(&dir, run_dir)
        .map(|f| f.len())
        .unwrap_or(usize::MAX);
    if on_disk != manifest.outputs.len() {
        return Some("files were added to or removed from its directory".into());
    }
    None
}

/// Creates a private directory (mode 0700 on Unix).
pub(crate) fn create_private_dir(path: &Path) -> Result<(), PipelineError> {
    std::fs::create_dir_all(path).map_err(PipelineError::io(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(PipelineError::io(path))?;
    }
    Ok(())
}

/// Test hook: `KOPPEL_CRASH_AFTER=<stage>` aborts the process right after
/// that stage completed, `KOPPEL_CRASH_IN=<stage>` in the middle of it (after
/// partial output was written). Used by the resume tests to simulate a
/// killed run; never set in production.
fn crash_hook(variable: &str, stage: Stage) {
    if std::env::var(variable).ok().as_deref() == Some(stage.name()) {
        eprintln!("{variable}={stage}: simulated crash");
        std::process::abort();
    }
}

/// Runs a pipeline file.
pub fn run(pipeline_path: &Path, options: &RunOptions) -> Result<RunSummary, PipelineError> {
    let pipeline = load_pipeline(pipeline_path)?;
    let run_dir = match (&options.run_dir, &pipeline.output) {
        (Some(dir), _) => dir.clone(),
        (None, Some(dir)) => dir.clone(),
        (None, None) => {
            return Err(PipelineError::Config {
                file: pipeline.path.clone(),
                line: 0,
                message: "no run directory".into(),
                hint: "add `output = \"runs/NAME\"` to the pipeline or pass --run-dir DIR".into(),
            })
        }
    };
    // Every check that can fail on configuration runs before any work.
    let prepared = stages::prepare(&pipeline)?;
    create_private_dir(&run_dir)?;
    for stage in Stage::ALL {
        for leftover in [format!(".{stage}.tmp"), format!(".{stage}.old")] {
            let path = run_dir.join(leftover);
            if path.exists() {
                warn!(
                    stage = stage.name(),
                    "removing the partial output of an interrupted run"
                );
                std::fs::remove_dir_all(&path).map_err(PipelineError::io(&path))?;
            }
        }
    }
    let key_id = prepared.key_id.clone();
    info!(pipeline = %pipeline.name, run_dir = %run_dir.display(), key_id = key_id.as_deref().unwrap_or("-"), "run");

    let mut reports = Vec::new();
    let mut manifests: BTreeMap<Stage, StageManifest> = BTreeMap::new();
    let show_progress =
        options.progress && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    for stage in Stage::ALL {
        if options.until.is_some_and(|until| stage > until) {
            break;
        }
        let mut inputs = Vec::new();
        if stage == Stage::Ingest {
            inputs = stages::external_inputs(&pipeline)?;
        }
        for upstream in stage.upstream() {
            let manifest = manifests.get(upstream).ok_or_else(|| {
                PipelineError::stage(stage.name(), format!("stage {upstream} has no manifest"))
            })?;
            inputs.extend(manifest.outputs.iter().cloned());
        }
        let config_hash = stages::config_hash(stage, &pipeline, &prepared)?;
        let fp = fingerprint(stage, &config_hash, key_id.as_deref(), &inputs);
        let forced = options.force || options.from.is_some_and(|from| stage >= from);
        let reason = if forced {
            Some(if options.force {
                "--force".to_string()
            } else {
                format!("--from {}", options.from.unwrap_or(stage))
            })
        } else {
            stale_reason(&run_dir, stage, &fp)
        };
        let stage_dir = run_dir.join(stage.name());
        let Some(reason) = reason else {
            let manifest = StageManifest::read(&stage_dir)?;
            info!(stage = stage.name(), "up to date: skipped");
            reports.push(StageReport {
                stage,
                action: "skipped",
                reason: "up to date".into(),
                duration_seconds: 0.0,
                peak_rss_mib: 0,
                rows: manifest.rows.clone(),
            });
            manifests.insert(stage, manifest);
            continue;
        };
        info!(stage = stage.name(), reason = %reason, "running");
        let tmp = run_dir.join(format!(".{stage}.tmp"));
        std::fs::create_dir_all(&tmp).map_err(PipelineError::io(&tmp))?;
        memory::reset_peak();
        let started_at = now_rfc3339();
        let clock = Instant::now();
        let progress = stages::Progress::new(stage, show_progress);
        let outcome: StageOutcome =
            match stages::run_stage(stage, &pipeline, &prepared, &run_dir, &tmp, &progress) {
                Ok(outcome) => outcome,
                Err(e) => {
                    progress.finish();
                    let _ = std::fs::remove_dir_all(&tmp);
                    return Err(e);
                }
            };
        progress.finish();
        crash_hook("KOPPEL_CRASH_IN", stage);
        let duration_seconds = clock.elapsed().as_secs_f64();
        let peak_rss_mib = memory::peak_mib();
        let mut outputs = Vec::new();
        for (path, rel) in files_under(&tmp, &tmp)? {
            outputs.push(record(&path, format!("{}/{rel}", stage.name()))?);
        }
        let manifest = StageManifest {
            stage: stage.name().into(),
            pipeline: pipeline.name.clone(),
            software_version: SOFTWARE_VERSION.into(),
            fingerprint: fp,
            config_hash,
            key_id: key_id.clone(),
            inputs,
            outputs,
            rows: outcome.rows.clone(),
            details: outcome.details,
            started_at,
            duration_seconds,
            peak_rss_mib,
        };
        manifest.write(&tmp)?;
        // Swap the completed directory in.
        let old = run_dir.join(format!(".{stage}.old"));
        if stage_dir.exists() {
            std::fs::rename(&stage_dir, &old).map_err(PipelineError::io(&stage_dir))?;
        }
        std::fs::rename(&tmp, &stage_dir).map_err(PipelineError::io(&stage_dir))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(PipelineError::io(&old))?;
        }
        info!(
            stage = stage.name(),
            seconds = duration_seconds,
            peak_rss_mib,
            "done"
        );
        reports.push(StageReport {
            stage,
            action: "ran",
            reason,
            duration_seconds,
            peak_rss_mib,
            rows: outcome.rows,
        });
        manifests.insert(stage, manifest);
        crash_hook("KOPPEL_CRASH_AFTER", stage);
    }
    let package = run_dir.join("export").join("package");
    let summary = RunSummary {
        package_dir: (manifests.contains_key(&Stage::Export) && package.is_dir())
            .then_some(package),
        run_dir: run_dir.clone(),
        key_id,
        stages: reports,
    };
    let path = run_dir.join("run.json");
    let text =
        serde_json::to_string_pretty(&summary).map_err(|e| PipelineError::stage("run", e))?;
    std::fs::write(&path, text + "\n").map_err(PipelineError::io(&path))?;
    Ok(summary)
}

/// One finding of `koppel verify`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyFinding {
    /// The stage.
    pub stage: String,
    /// The file (relative to the run directory).
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

/// The result of `koppel verify`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Stages with a manifest.
    pub stages: Vec<String>,
    /// Files checked.
    pub files: usize,
    /// Mismatches (empty: the run directory matches its manifests).
    pub findings: Vec<VerifyFinding>,
}

/// Re-hashes every file of a run directory against its stage manifests and
/// checks that each stage's recorded inputs are what its upstream stages
/// recorded as outputs.
pub fn verify(run_dir: &Path) -> Result<VerifyReport, PipelineError> {
    if !run_dir.is_dir() {
        return Err(PipelineError::Run {
            dir: run_dir.to_path_buf(),
            message: "not a directory".into(),
        });
    }
    let mut report = VerifyReport::default();
    let mut outputs: BTreeMap<String, String> = BTreeMap::new();
    for stage in Stage::ALL {
        let dir = run_dir.join(stage.name());
        if !dir.is_dir() {
            continue;
        }
        report.stages.push(stage.name().into());
        let manifest = match StageManifest::read(&dir) {
            Ok(m) => m,
            Err(e) => {
                report.findings.push(VerifyFinding {
                    stage: stage.name().into(),
                    path: format!("{}/manifest.json", stage.name()),
                    problem: e.to_string(),
                });
                continue;
            }
        };
        let listed: std::collections::BTreeSet<&str> =
            manifest.outputs.iter().map(|o| o.path.as_str()).collect();
        for (_, rel) in files_under(&dir, run_dir)? {
            if !listed.contains(rel.as_str()) {
                report.findings.push(VerifyFinding {
                    stage: stage.name().into(),
                    path: rel,
                    problem: "not in the manifest (added after the stage ran)".into(),
                });
            }
        }
        for output in &manifest.outputs {
            report.files += 1;
            let path = run_dir.join(&output.path);
            match crate::manifest::sha256_file(&path) {
                Ok((sha, _)) if sha == output.sha256 => {}
                Ok((sha, _)) => report.findings.push(VerifyFinding {
                    stage: stage.name().into(),
                    path: output.path.clone(),
                    problem: format!(
                        "SHA-256 {sha} differs from the manifest's {}",
                        output.sha256
                    ),
                }),
                Err(_) => report.findings.push(VerifyFinding {
                    stage: stage.name().into(),
                    path: output.path.clone(),
                    problem: "missing".into(),
                }),
            }
            outputs.insert(output.path.clone(), output.sha256.clone());
        }
        for input in &manifest.inputs {
            if let Some(sha) = outputs.get(&input.path) {
                if *sha != input.sha256 {
                    report.findings.push(VerifyFinding {
                        stage: stage.name().into(),
                        path: input.path.clone(),
                        problem: "the stage read a different version of this file than its upstream stage now holds (rerun the pipeline)".into(),
                    });
                }
            }
        }
    }
    if report.stages.is_empty() {
        return Err(PipelineError::Run {
            dir: run_dir.to_path_buf(),
            message: "no stage manifests found: is this a koppel run directory?".into(),
        });
    }
    Ok(report)
}

/// Loads a pipeline and runs only the checks that precede any work.
pub fn check_pipeline(pipeline_path: &Path) -> Result<Pipeline, PipelineError> {
    let pipeline = load_pipeline(pipeline_path)?;
    stages::prepare(&pipeline)?;
    Ok(pipeline)
}
