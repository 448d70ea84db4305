//! koppel-pipeline: the staged pipeline runner behind `koppel run` (docs/README.md).
//!
//! A pipeline file (`pipelines/*.toml`, see [`config`]) names the inputs, the
//! key file (never the key), the cohort, the tables and the disclosure
//! settings. [`run`] executes ingest → link → effect (with `[effect]`) →
//! aggregate → protect → export, each stage writing its outputs atomically
//! into `RUN/<stage>/` with a `manifest.json` (inputs and outputs with
//! SHA-256, configuration hash, key id, software version, row counts, duration, peak memory). A rerun skips
//! stages whose fingerprint is unchanged and whose outputs still match their
//! hashes; a killed run resumes after its last complete stage. [`verify`]
//! re-hashes a run directory against its manifests.
//!
//! Only the ingest stage sees BSNs; it keeps rejected rows in
//! `RUN/ingest/quarantine/` (mode 0700, files 0600). The export stage writes
//! the researcher package only when the independent package check
//! (`koppel_check::check_package`, the code behind `koppel check`, with the
//! pipeline's rules) finds nothing.

pub mod config;
mod effect_stage;
pub mod error;
pub mod file_hashes;
pub mod graph;
mod identity;
pub mod lock;
pub mod manifest;
mod memory;
pub mod prepare;
pub mod report_context;
pub mod runner;
pub mod stages;

pub use config::{load_pipeline, Pipeline};
pub use error::PipelineError;
pub use graph::StageReport;
pub use runner::{check_pipeline, run, stage_names, verify, RunOptions, RunSummary, VerifyReport};
