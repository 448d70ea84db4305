//! Errors of a pipeline run, each saying what to do about it.

use std::path::PathBuf;

/// Why a pipeline could not run (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The pipeline file (or a config file) is wrong: file, line and a hint.
    #[error("{}{}: {message}\n  hint: {hint}", file.display(), if *line > 0 { format!(":{line}") } else { String::new() })]
    Config {
        /// The file.
        file: PathBuf,
        /// 1-based line (0: not tied to a line).
        line: usize,
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The key file cannot be used (permissions, format).
    #[error("key file: {0}")]
    Key(String),
    /// Inputs were pseudonymised under different keys.
    #[error("key ids differ: {0}")]
    KeyMismatch(String),
    /// A stage failed.
    #[error("stage {stage} failed: {source}")]
    Stage {
        /// The stage.
        stage: &'static str,
        /// What went wrong: the typed error of the crate that failed, or a
        /// message.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The export gate refused the package: the disclosure re-check found
    /// violations. Nothing was written.
    #[error("export refused: the disclosure re-check found {} violation(s): {}", .0.len(), .0.join("; "))]
    ExportRefused(Vec<String>),
    /// `--from`/`--until` named a stage the pipeline does not have.
    #[error("unknown stage {name:?} (stages: {known})")]
    UnknownStage {
        /// The name given.
        name: String,
        /// The stages, in order.
        known: String,
    },
    /// A stage asked for a file its upstream stage's manifest does not list.
    #[error("stage {stage} recorded no output {file:?}: rerun the pipeline")]
    MissingInput {
        /// The upstream stage.
        stage: String,
        /// The file, relative to that stage's directory.
        file: String,
    },
    /// A stage asked for the outputs of a stage not declared upstream of it.
    #[error("stage {stage} is not declared upstream of the stage reading its outputs")]
    NotUpstream {
        /// The stage whose outputs were asked for.
        stage: String,
    },
    /// Another run holds the run directory's lock.
    #[error("run directory {} is in use by {holder}: wait for it to finish (or use another --run-dir)", dir.display())]
    Locked {
        /// The run directory.
        dir: PathBuf,
        /// Who holds the lock, as it recorded itself.
        holder: String,
    },
    /// The ingest configuration in `config_dir` cannot be used.
    #[error("ingest configuration: {source}")]
    IngestConfig {
        /// The cause.
        #[source]
        source: koppel_ingest::IngestError,
    },
    /// `koppel verify` found files that do not match their manifests.
    #[error("run directory {}: {message}", dir.display())]
    Run {
        /// The run directory.
        dir: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl PipelineError {
    /// A stage error from a typed error (kept as the source) or a message.
    pub fn stage(
        stage: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> PipelineError {
        PipelineError::Stage {
            stage,
            source: source.into(),
        }
    }

    /// An I/O error on a path.
    pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> PipelineError + '_ {
        move |source| PipelineError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The process exit code for this error: 1 when the export gate refused
    /// the package, 2 for everything else (bad configuration, unreadable
    /// input, a failed stage).
    pub fn exit_code(&self) -> u8 {
        match self {
            PipelineError::ExportRefused(_) => 1,
            _ => 2,
        }
    }
}
