//! `koppel run` and `koppel verify`: the pipeline's stage graph
//! ([`crate::stages::graph`]) run by the generic engine ([`crate::graph`])
//! in a locked run directory, and the re-hash of a run directory against its
//! manifests.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tracing::info;

use crate::config::{load_pipeline, Pipeline};
use crate::error::PipelineError;
use crate::graph::{create_private_dir, execute, ExecOptions, StageReport};
use crate::manifest::{files_under, sha256_hex, StageManifest};
use crate::prepare::prepare;
use crate::stages::{graph, Context};

/// How to run a pipeline.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Run directory (overrides the pipeline's `output`).
    pub run_dir: Option<PathBuf>,
    /// Rerun this stage and every later one even when up to date.
    pub from: Option<String>,
    /// Stop after this stage.
    pub until: Option<String>,
    /// Rerun every stage.
    pub force: bool,
    /// Show progress bars (only when stderr is a terminal).
    pub progress: bool,
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

/// The names of the pipeline's stages, in order.
pub fn stage_names() -> Vec<&'static str> {
    graph().names()
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
    pipeline.check_run_dir(&run_dir)?;
    let stages = graph();
    for name in [&options.from, &options.until].into_iter().flatten() {
        stages.position(name)?;
    }
    // Every check that can fail on configuration runs before any work.
    let prepared = prepare(&pipeline)?;
    create_private_dir(&run_dir)?;
    let _lock = crate::lock::lock(&run_dir)?;
    let key_id = prepared.key_id.clone();
    info!(pipeline = %pipeline.name, run_dir = %run_dir.display(), key_id = key_id.as_deref().unwrap_or("-"), "run");
    let exec = ExecOptions {
        from: options.from.clone(),
        until: options.until.clone(),
        force: options.force,
        progress: options.progress
            && std::io::stderr().is_terminal()
            && std::env::var_os("CI").is_none(),
        pipeline: pipeline.name.clone(),
        pipeline_sha256: sha256_hex(pipeline.text.as_bytes()),
        key_id: key_id.clone(),
    };
    let ctx = Context { pipeline, prepared };
    let executed = execute(&stages, &ctx, &run_dir, &exec)?;
    let package = run_dir.join("export").join("package");
    let summary = RunSummary {
        package_dir: (executed.manifests.contains_key("export") && package.is_dir())
            .then_some(package),
        run_dir: run_dir.clone(),
        key_id,
        stages: executed.reports,
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
    let expected = expected_stages(run_dir);
    for stage in stage_names() {
        let dir = run_dir.join(stage);
        if !dir.is_dir() {
            if let Some(why) = expected.get(stage) {
                report.findings.push(VerifyFinding {
                    stage: stage.into(),
                    path: format!("{stage}/"),
                    problem: format!("the stage directory is missing ({why})"),
                });
            }
            continue;
        }
        report.stages.push(stage.into());
        let manifest = match StageManifest::read(&dir) {
            Ok(m) => m,
            Err(e) => {
                report.findings.push(VerifyFinding {
                    stage: stage.into(),
                    path: format!("{}/manifest.json", stage),
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
                    stage: stage.into(),
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
                    stage: stage.into(),
                    path: output.path.clone(),
                    problem: format!(
                        "SHA-256 {sha} differs from the manifest's {}",
                        output.sha256
                    ),
                }),
                Err(_) => report.findings.push(VerifyFinding {
                    stage: stage.into(),
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
                        stage: stage.into(),
                        path: input.path.clone(),
                        problem: "the stage read a different version of this file than its upstream stage now holds (rerun the pipeline)".into(),
                    });
                }
            }
        }
    }
    if report.stages.is_empty() && report.findings.is_empty() {
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
    if let Some(run_dir) = &pipeline.output {
        pipeline.check_run_dir(run_dir)?;
    }
    prepare(&pipeline)?;
    Ok(pipeline)
}

/// The stages a run directory must hold, with the reason: those its
/// `run.json` reports as complete, and the upstream stages of every stage
/// directory present.
fn expected_stages(run_dir: &Path) -> BTreeMap<&'static str, String> {
    let mut expected = BTreeMap::new();
    let stages = graph();
    for stage in &stages.stages {
        if run_dir.join(stage.name).is_dir() {
            for upstream in stage.upstream {
                expected
                    .entry(*upstream)
                    .or_insert_with(|| format!("stage {} read its outputs", stage.name));
            }
        }
    }
    let summary = std::fs::read_to_string(run_dir.join("run.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
    let listed = summary
        .as_ref()
        .and_then(|s| s.get("stages"))
        .and_then(|s| s.as_array())
        .cloned()
        .unwrap_or_default();
    for entry in listed {
        let name = entry.get("stage").and_then(|n| n.as_str()).unwrap_or("");
        if let Some(stage) = stages.stages.iter().find(|s| s.name == name) {
            expected
                .entry(stage.name)
                .or_insert_with(|| "run.json reports the stage complete".to_string());
        }
    }
    expected
}
