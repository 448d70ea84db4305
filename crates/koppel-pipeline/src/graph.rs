//! The stage graph as data, and the engine that runs any such graph.
//!
//! A pipeline is a list of [`StageDef`] descriptors in running order. Each
//! descriptor says everything the engine needs to know about a stage:
//!
//! - `name`: the stage's name and the name of its directory `RUN/<name>/`;
//! - `upstream`: the earlier stages whose outputs it reads: their manifests'
//!   output lists become its input files ([`StageInputs`]), and their hashes
//!   go into its fingerprint;
//! - `code`: the crates whose source decides its result (their build
//!   identity goes into its fingerprint, so a code change reruns it);
//! - `config`: the configuration it depends on (pipeline sections and the
//!   text of the `config_dir` files it reads), hashed into `config_hash`;
//! - `external_inputs`: the files from outside the run directory it reads,
//!   hashed into its fingerprint (the engine hashes them, see
//!   [`FileHashes`]);
//! - `run`: the body, which writes into the temporary directory it is given.
//!
//! The engine ([`execute`]) is generic over the context `C` the descriptors
//! are written against; it knows nothing of any particular stage. For each
//! stage in order it computes the fingerprint (stage name, build identity,
//! `config_hash`, key id, every input file's SHA-256) and skips the stage
//! when its manifest holds the same fingerprint and every output file still
//! has the hash the manifest recorded. Otherwise the stage runs into
//! `RUN/.<name>.tmp/`, its `manifest.json` is written there, and the
//! directory is renamed to `RUN/<name>/`. A stage directory therefore exists
//! only when the stage completed; a crash leaves at most a `.tmp` (or
//! `.old`) directory, which the next run removes before resuming after the
//! last complete stage.
//!
//! Hashes of unchanged files are remembered between runs in
//! `RUN/.file-hashes.json` ([`crate::file_hashes`]), so that deciding what
//! is up to date does not read gigabytes of registers on every run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::json;
use tracing::{info, warn};

use crate::error::PipelineError;
use crate::file_hashes::FileHashes;
use crate::manifest::{
    files_under, now_rfc3339, sha256_hex, FileRecord, StageManifest, SOFTWARE_VERSION,
};
use crate::memory;

/// One stage of a pipeline, declared as data (see the module docs).
pub struct StageDef<C> {
    /// The stage's name and directory.
    pub name: &'static str,
    /// The earlier stages whose outputs this stage reads.
    pub upstream: &'static [&'static str],
    /// The crates whose source code decides this stage's result.
    pub code: &'static [&'static str],
    /// Everything in the configuration this stage's result depends on.
    pub config: fn(&C) -> Result<serde_json::Value, PipelineError>,
    /// The files outside the run directory this stage reads.
    pub external_inputs: fn(&C) -> Result<Vec<ExternalFile>, PipelineError>,
    /// The stage's body: reads its inputs, writes into `out`.
    pub run: fn(&C, &StageInputs, &Path, &Progress) -> Result<StageOutcome, PipelineError>,
}

/// A file from outside the run directory that a stage reads.
#[derive(Debug, Clone)]
pub struct ExternalFile {
    /// Where it is.
    pub path: PathBuf,
    /// How the manifest names it.
    pub shown_as: String,
}

/// A pipeline's stages in running order, and how to name the code they run.
pub struct Graph<C> {
    /// The stages; every stage's upstream stages come before it.
    pub stages: Vec<StageDef<C>>,
    /// The build identity of a set of crates (a hash of their sources).
    pub build_identity: fn(&[&str]) -> String,
}

impl<C> Graph<C> {
    /// Checks that every stage name is unique and every upstream stage is
    /// declared earlier.
    pub fn check(&self) -> Result<(), PipelineError> {
        for (i, stage) in self.stages.iter().enumerate() {
            if self.stages[..i].iter().any(|s| s.name == stage.name) {
                return Err(PipelineError::stage(
                    stage.name,
                    "declared twice in the stage graph",
                ));
            }
            for upstream in stage.upstream {
                if !self.stages[..i].iter().any(|s| s.name == *upstream) {
                    return Err(PipelineError::stage(
                        stage.name,
                        format!("upstream stage {upstream:?} is not declared before it"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The stage names in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.stages.iter().map(|s| s.name).collect()
    }

    /// The position of a stage, or an error listing the stages.
    pub fn position(&self, name: &str) -> Result<usize, PipelineError> {
        self.stages
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| PipelineError::UnknownStage {
                name: name.to_string(),
                known: self.names().join(", "),
            })
    }
}

/// Row counts and details of a finished stage.
pub struct StageOutcome {
    /// Row counts for the manifest.
    pub rows: BTreeMap<String, u64>,
    /// Aggregated details for the manifest.
    pub details: serde_json::Value,
}

/// The files a stage may read from the run directory: the outputs its
/// upstream stages' manifests list, and its own configuration hash.
pub struct StageInputs {
    run_dir: PathBuf,
    upstream: BTreeMap<&'static str, Vec<FileRecord>>,
    /// The stage's configuration hash (for provenance).
    pub config_hash: String,
}

impl StageInputs {
    /// Inputs for tests and for callers outside the engine.
    pub fn new(
        run_dir: &Path,
        upstream: BTreeMap<&'static str, Vec<FileRecord>>,
        config_hash: String,
    ) -> StageInputs {
        StageInputs {
            run_dir: run_dir.to_path_buf(),
            upstream,
            config_hash,
        }
    }

    fn outputs(&self, stage: &str) -> Result<&[FileRecord], PipelineError> {
        self.upstream
            .get(stage)
            .map(Vec::as_slice)
            .ok_or_else(|| PipelineError::NotUpstream {
                stage: stage.to_string(),
            })
    }

    /// The absolute path of the output `rel` (relative to the stage's
    /// directory) of upstream stage `stage`; an error when its manifest does
    /// not list that file.
    pub fn file(&self, stage: &str, rel: &str) -> Result<PathBuf, PipelineError> {
        let wanted = format!("{stage}/{rel}");
        self.outputs(stage)?
            .iter()
            .find(|f| f.path == wanted)
            .map(|f| self.run_dir.join(&f.path))
            .ok_or_else(|| PipelineError::MissingInput {
                stage: stage.to_string(),
                file: rel.to_string(),
            })
    }

    /// Every output of upstream stage `stage` in its subdirectory `dir`
    /// (direct children only) whose name ends in `suffix`, sorted by name.
    pub fn files(
        &self,
        stage: &str,
        dir: &str,
        suffix: &str,
    ) -> Result<Vec<PathBuf>, PipelineError> {
        let prefix = if dir.is_empty() {
            format!("{stage}/")
        } else {
            format!("{stage}/{dir}/")
        };
        Ok(self
            .outputs(stage)?
            .iter()
            .filter(|f| {
                f.path.strip_prefix(&prefix).is_some_and(|name| {
                    !name.contains('/') && name.ends_with(suffix) && name.len() > suffix.len()
                })
            })
            .map(|f| self.run_dir.join(&f.path))
            .collect())
    }
}

/// Spinner (or nothing) for a stage.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A spinner on stderr when `show`, else silent.
    pub fn new(stage: &str, show: bool) -> Progress {
        if !show {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:>9} {elapsed:>4} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(stage.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress(Some(bar))
    }

    /// A silent progress handle.
    pub fn hidden() -> Progress {
        Progress(None)
    }

    /// Shows what the stage is doing now.
    pub fn message(&self, message: impl Into<String>) {
        if let Some(bar) = &self.0 {
            bar.set_message(message.into());
        }
    }

    /// Clears the spinner.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// What happened to one stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    /// The stage.
    pub stage: &'static str,
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

/// How the engine runs a graph.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Rerun this stage and every later one even when up to date.
    pub from: Option<String>,
    /// Stop after this stage.
    pub until: Option<String>,
    /// Rerun every stage.
    pub force: bool,
    /// Show spinners.
    pub progress: bool,
    /// The pipeline's name (written into the manifests).
    pub pipeline: String,
    /// SHA-256 of the pipeline file's text (written into the manifests).
    pub pipeline_sha256: String,
    /// The key id the data is pseudonymised under.
    pub key_id: Option<String>,
}

/// The result of [`execute`]: a report per stage considered and the
/// manifests of the stages that are complete.
#[derive(Debug)]
pub struct Executed {
    /// One report per stage considered.
    pub reports: Vec<StageReport>,
    /// The manifest of every complete stage.
    pub manifests: BTreeMap<&'static str, StageManifest>,
}

/// A stage's fingerprint: equal fingerprints mean equal results.
fn fingerprint(
    stage: &str,
    build: &str,
    config_hash: &str,
    key_id: Option<&str>,
    inputs: &[FileRecord],
) -> String {
    let canonical = json!({
        "stage": stage,
        "software_version": SOFTWARE_VERSION,
        "build": build,
        "config_hash": config_hash,
        "key_id": key_id,
        "inputs": inputs,
    });
    sha256_hex(canonical.to_string().as_bytes())
}

/// Why a completed stage must rerun (`None`: up to date).
fn stale_reason(
    run_dir: &Path,
    stage: &str,
    fingerprint: &str,
    hashes: &FileHashes,
) -> Option<String> {
    let dir = run_dir.join(stage);
    if !dir.is_dir() {
        return Some("not run yet".into());
    }
    let manifest = match StageManifest::read(&dir) {
        Ok(m) => m,
        Err(e) => return Some(format!("its manifest is unreadable ({e})")),
    };
    if manifest.fingerprint != fingerprint {
        return Some("its inputs, configuration or code changed".into());
    }
    for output in &manifest.outputs {
        let path = run_dir.join(&output.path);
        match hashes.sha256(&path) {
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
pub fn create_private_dir(path: &Path) -> Result<(), PipelineError> {
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
fn crash_hook(variable: &str, stage: &str) {
    if std::env::var(variable).ok().as_deref() == Some(stage) {
        eprintln!("{variable}={stage}: simulated crash");
        std::process::abort();
    }
}

/// Removes the partial output of an interrupted run.
fn remove_leftovers<C>(graph: &Graph<C>, run_dir: &Path) -> Result<(), PipelineError> {
    for stage in &graph.stages {
        for leftover in [
            format!(".{}.tmp", stage.name),
            format!(".{}.old", stage.name),
        ] {
            let path = run_dir.join(leftover);
            if path.exists() {
                warn!(
                    stage = stage.name,
                    "removing the partial output of an interrupted run"
                );
                std::fs::remove_dir_all(&path).map_err(PipelineError::io(&path))?;
            }
        }
    }
    Ok(())
}

/// Runs the stages of `graph` against `ctx` in `run_dir` (which must exist
/// and be locked by the caller), skipping those that are up to date.
pub fn execute<C>(
    graph: &Graph<C>,
    ctx: &C,
    run_dir: &Path,
    options: &ExecOptions,
) -> Result<Executed, PipelineError> {
    graph.check()?;
    let from = options
        .from
        .as_deref()
        .map(|n| graph.position(n))
        .transpose()?;
    let until = options
        .until
        .as_deref()
        .map(|n| graph.position(n))
        .transpose()?;
    remove_leftovers(graph, run_dir)?;
    let hashes = FileHashes::load(run_dir);
    let result = execute_stages(graph, ctx, run_dir, options, &hashes, (from, until));
    hashes.save();
    result
}

/// The body of [`execute`]: every stage in order, `from`/`until` resolved
/// to positions.
fn execute_stages<C>(
    graph: &Graph<C>,
    ctx: &C,
    run_dir: &Path,
    options: &ExecOptions,
    hashes: &FileHashes,
    (from, until): (Option<usize>, Option<usize>),
) -> Result<Executed, PipelineError> {
    let mut done = Executed {
        reports: Vec::new(),
        manifests: BTreeMap::new(),
    };
    for (index, stage) in graph.stages.iter().enumerate() {
        if until.is_some_and(|until| index > until) {
            break;
        }
        let mut inputs = (stage.external_inputs)(ctx)?
            .into_iter()
            .map(|f| hashes.record(&f.path, f.shown_as))
            .collect::<Result<Vec<_>, _>>()?;
        let mut upstream = BTreeMap::new();
        for name in stage.upstream {
            let manifest = done.manifests.get(name).ok_or_else(|| {
                PipelineError::stage(stage.name, format!("stage {name} has no manifest"))
            })?;
            inputs.extend(manifest.outputs.iter().cloned());
            upstream.insert(*name, manifest.outputs.clone());
        }
        let config_hash = sha256_hex((stage.config)(ctx)?.to_string().as_bytes());
        let build = (graph.build_identity)(stage.code);
        let fp = fingerprint(
            stage.name,
            &build,
            &config_hash,
            options.key_id.as_deref(),
            &inputs,
        );
        let reason = if options.force {
            Some("--force".to_string())
        } else if from.is_some_and(|from| index >= from) {
            Some(format!("--from {}", options.from.as_deref().unwrap_or("")))
        } else {
            stale_reason(run_dir, stage.name, &fp, hashes)
        };
        let Some(reason) = reason else {
            let manifest = StageManifest::read(&run_dir.join(stage.name))?;
            info!(stage = stage.name, "up to date: skipped");
            done.reports.push(StageReport {
                stage: stage.name,
                action: "skipped",
                reason: "up to date".into(),
                duration_seconds: 0.0,
                peak_rss_mib: 0,
                rows: manifest.rows.clone(),
            });
            done.manifests.insert(stage.name, manifest);
            continue;
        };
        let planned = Planned {
            fingerprint: fp,
            build,
            inputs,
            stage_inputs: StageInputs::new(run_dir, upstream, config_hash),
        };
        let (report, manifest) = run_one(stage, ctx, run_dir, options, planned, reason, hashes)?;
        done.reports.push(report);
        done.manifests.insert(stage.name, manifest);
        crash_hook("KOPPEL_CRASH_AFTER", stage.name);
    }
    Ok(done)
}

/// What the engine decided about a stage before running it.
struct Planned {
    fingerprint: String,
    build: String,
    inputs: Vec<FileRecord>,
    stage_inputs: StageInputs,
}

/// Runs one stage into its temporary directory, writes its manifest and
/// swaps the directory in.
fn run_one<C>(
    stage: &StageDef<C>,
    ctx: &C,
    run_dir: &Path,
    options: &ExecOptions,
    planned: Planned,
    reason: String,
    hashes: &FileHashes,
) -> Result<(StageReport, StageManifest), PipelineError> {
    info!(stage = stage.name, reason = %reason, "running");
    let tmp = run_dir.join(format!(".{}.tmp", stage.name));
    std::fs::create_dir_all(&tmp).map_err(PipelineError::io(&tmp))?;
    memory::reset_peak();
    let started_at = now_rfc3339();
    let clock = Instant::now();
    let progress = Progress::new(stage.name, options.progress);
    let outcome = (stage.run)(ctx, &planned.stage_inputs, &tmp, &progress);
    progress.finish();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    crash_hook("KOPPEL_CRASH_IN", stage.name);
    let duration_seconds = clock.elapsed().as_secs_f64();
    let peak_rss_mib = memory::peak_mib();
    let mut outputs = Vec::new();
    for (path, rel) in files_under(&tmp, &tmp)? {
        outputs.push(hashes.record(&path, format!("{}/{rel}", stage.name))?);
    }
    let manifest = StageManifest {
        stage: stage.name.into(),
        pipeline: options.pipeline.clone(),
        pipeline_sha256: options.pipeline_sha256.clone(),
        software_version: SOFTWARE_VERSION.into(),
        build: planned.build,
        fingerprint: planned.fingerprint,
        config_hash: planned.stage_inputs.config_hash,
        key_id: options.key_id.clone(),
        inputs: planned.inputs,
        outputs,
        rows: outcome.rows.clone(),
        details: outcome.details,
        started_at,
        duration_seconds,
        peak_rss_mib,
    };
    manifest.write(&tmp)?;
    // Swap the completed directory in.
    let stage_dir = run_dir.join(stage.name);
    let old = run_dir.join(format!(".{}.old", stage.name));
    if stage_dir.exists() {
        std::fs::rename(&stage_dir, &old).map_err(PipelineError::io(&stage_dir))?;
    }
    std::fs::rename(&tmp, &stage_dir).map_err(PipelineError::io(&stage_dir))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(PipelineError::io(&old))?;
    }
    info!(
        stage = stage.name,
        seconds = duration_seconds,
        peak_rss_mib,
        "done"
    );
    let report = StageReport {
        stage: stage.name,
        action: "ran",
        reason,
        duration_seconds,
        peak_rss_mib,
        rows: outcome.rows,
    };
    Ok((report, manifest))
}

#[cfg(test)]
mod tests {
    //! The engine over a toy graph a → b → c, where `a` also reads an
    //! external file.

    use std::cell::RefCell;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use super::*;

    struct Toy {
        external: PathBuf,
        config: BTreeMap<&'static str, String>,
        crash_in: Option<&'static str>,
        ran: RefCell<Vec<&'static str>>,
    }

    impl Toy {
        fn new(dir: &Path) -> Toy {
            let external = dir.join("external.txt");
            std::fs::write(&external, "outside").unwrap();
            Toy {
                external,
                config: [("a", "1"), ("b", "2"), ("c", "3")]
                    .map(|(k, v)| (k, v.to_string()))
                    .into(),
                crash_in: None,
                ran: RefCell::new(Vec::new()),
            }
        }

        /// Records the run, writes `out/<name>.txt`, and simulates a crash
        /// after partial output when asked to.
        fn body(&self, name: &'static str, input: String, out: &Path) -> StageOutcome {
            self.ran.borrow_mut().push(name);
            std::fs::write(out.join("partial.txt"), "half").unwrap();
            if self.crash_in == Some(name) {
                panic!("simulated crash in {name}");
            }
            std::fs::remove_file(out.join("partial.txt")).unwrap();
            let text = format!("{input}|{name}={}", self.config[name]);
            std::fs::write(out.join(format!("{name}.txt")), text).unwrap();
            StageOutcome {
                rows: BTreeMap::from([("n".to_string(), 1)]),
                details: json!(null),
            }
        }
    }

    fn read(path: PathBuf) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    fn toy_graph(code_c: &'static [&'static str]) -> Graph<Toy> {
        Graph {
            stages: vec![
                StageDef {
                    name: "a",
                    upstream: &[],
                    code: &["a-code"],
                    config: |t| Ok(json!(t.config["a"])),
                    external_inputs: |t| {
                        Ok(vec![ExternalFile {
                            path: t.external.clone(),
                            shown_as: t.external.display().to_string(),
                        }])
                    },
                    run: |t, _, out, _| Ok(t.body("a", read(t.external.clone()), out)),
                },
                StageDef {
                    name: "b",
                    upstream: &["a"],
                    code: &["b-code"],
                    config: |t| Ok(json!(t.config["b"])),
                    external_inputs: |_| Ok(Vec::new()),
                    run: |t, inputs, out, _| Ok(t.body("b", read(inputs.file("a", "a.txt")?), out)),
                },
                StageDef {
                    name: "c",
                    upstream: &["b"],
                    code: code_c,
                    config: |t| Ok(json!(t.config["c"])),
                    external_inputs: |_| Ok(Vec::new()),
                    run: |t, inputs, out, _| {
                        assert_eq!(inputs.files("b", "", ".txt")?.len(), 1);
                        Ok(t.body("c", read(inputs.file("b", "b.txt")?), out))
                    },
                },
            ],
            build_identity: |code| code.join("+"),
        }
    }

    fn run(graph: &Graph<Toy>, toy: &Toy, dir: &Path) -> Vec<&'static str> {
        toy.ran.borrow_mut().clear();
        execute(graph, toy, dir, &ExecOptions::default()).unwrap();
        toy.ran.borrow().clone()
    }

    #[test]
    fn skips_what_is_up_to_date_and_reruns_what_changed_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let run_dir = tmp.path().join("run");
        std::fs::create_dir(&run_dir).unwrap();
        let graph = toy_graph(&["c-code"]);
        let mut toy = Toy::new(tmp.path());
        assert_eq!(run(&graph, &toy, &run_dir), ["a", "b", "c"]);
        assert_eq!(read(run_dir.join("c/c.txt")), "outside|a=1|b=2|c=3");
        assert!(run(&graph, &toy, &run_dir).is_empty(), "all up to date");

        // Configuration of b: b reruns, and c because b's output changed.
        toy.config.insert("b", "20".into());
        assert_eq!(run(&graph, &toy, &run_dir), ["b", "c"]);
        // Configuration of c only.
        toy.config.insert("c", "30".into());
        assert_eq!(run(&graph, &toy, &run_dir), ["c"]);
        // The build identity of c's code only.
        assert_eq!(run(&toy_graph(&["c-code-v2"]), &toy, &run_dir), ["c"]);
        // The external input, replaced in place.
        std::fs::write(&toy.external, "changed").unwrap();
        assert_eq!(run(&graph, &toy, &run_dir), ["a", "b", "c"]);
        assert_eq!(read(run_dir.join("c/c.txt")), "changed|a=1|b=20|c=30");
        // A tampered output reruns its stage; equal output stops there.
        std::fs::write(run_dir.join("b/b.txt"), "tampered").unwrap();
        assert_eq!(run(&graph, &toy, &run_dir), ["b"]);
        // An extra file in a stage directory reruns it.
        std::fs::write(run_dir.join("a/extra"), "x").unwrap();
        assert_eq!(run(&graph, &toy, &run_dir), ["a"]);
        assert!(!run_dir.join("a/extra").exists());
    }

    #[test]
    fn from_until_and_force() {
        let tmp = tempfile::tempdir().unwrap();
        let graph = toy_graph(&["c-code"]);
        let toy = Toy::new(tmp.path());
        let exec = |options: ExecOptions| {
            toy.ran.borrow_mut().clear();
            execute(&graph, &toy, tmp.path(), &options).map(|_| toy.ran.borrow().clone())
        };
        let until_b = ExecOptions {
            until: Some("b".into()),
            ..Default::default()
        };
        assert_eq!(exec(until_b).unwrap(), ["a", "b"]);
        assert!(!tmp.path().join("c").exists());
        let from_b = ExecOptions {
            from: Some("b".into()),
            ..Default::default()
        };
        assert_eq!(exec(from_b).unwrap(), ["b", "c"]);
        let force = ExecOptions {
            force: true,
            ..Default::default()
        };
        assert_eq!(exec(force).unwrap(), ["a", "b", "c"]);
        let unknown = ExecOptions {
            from: Some("z".into()),
            ..Default::default()
        };
        let err = exec(unknown).unwrap_err().to_string();
        assert!(err.contains("\"z\"") && err.contains("a, b, c"), "{err}");
    }

    #[test]
    fn resumes_after_a_crash_in_each_stage() {
        let reference = tempfile::tempdir().unwrap();
        let toy = Toy::new(reference.path());
        let graph = toy_graph(&["c-code"]);
        run(&graph, &toy, reference.path());
        let expected = read(reference.path().join("c/c.txt"));
        for (i, stage) in ["a", "b", "c"].into_iter().enumerate() {
            let tmp = tempfile::tempdir().unwrap();
            let mut toy = Toy::new(tmp.path());
            toy.crash_in = Some(stage);
            let crashed = catch_unwind(AssertUnwindSafe(|| run(&graph, &toy, tmp.path())));
            assert!(crashed.is_err(), "the crash in {stage} happened");
            assert!(tmp
                .path()
                .join(format!(".{stage}.tmp/partial.txt"))
                .exists());
            assert!(!tmp.path().join(stage).exists(), "{stage} is not complete");
            toy.crash_in = None;
            let ran = run(&graph, &toy, tmp.path());
            assert_eq!(ran, ["a", "b", "c"][i..], "resumed at {stage}");
            assert!(!tmp.path().join(format!(".{stage}.tmp")).exists());
            assert_eq!(read(tmp.path().join("c/c.txt")), expected);
            assert!(run(&graph, &toy, tmp.path()).is_empty());
        }
    }

    #[test]
    fn a_stage_reads_only_what_its_upstream_recorded() {
        let tmp = tempfile::tempdir().unwrap();
        let mut graph = toy_graph(&["c-code"]);
        graph.stages[2].upstream = &["a"];
        let toy = Toy::new(tmp.path());
        let err = execute(&graph, &toy, tmp.path(), &ExecOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("stage b"), "{err}");
        graph.stages[2].upstream = &["d"];
        let err = graph.check().unwrap_err().to_string();
        assert!(err.contains("\"d\" is not declared before it"), "{err}");
    }
}
