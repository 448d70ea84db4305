//! The five stages' bodies: each reads its upstream stage directories (or the
//! external inputs) and writes into its own temporary directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use koppel_disclosure::cells::CellSet;
use koppel_disclosure::table::{build_tables, protect, Protected, ProtectionSummary, Table};
use koppel_pseudonym::{Key, Pseudonymiser};
use polars::prelude::*;
use serde_json::json;

use crate::config::{Pipeline, INPUT_KINDS};
use crate::error::PipelineError;
use crate::manifest::{record, sha256_hex, FileRecord};
use crate::report_context::{provenance, read_quality, report_context, report_lang};
use crate::runner::{create_private_dir, Stage};

/// What the checks before any work resolved: the pseudonymiser (never the
/// key itself), the key id, and the parsed link configuration.
pub struct Prepared {
    /// The key id of the run.
    pub key_id: Option<String>,
    pseudonymiser: Option<Pseudonymiser>,
    /// The cohort and link settings.
    pub link_config: koppel_link::LinkConfig,
    /// Bands (from `config/bands.toml`).
    pub bands: koppel_link::Bands,
    bands_text: String,
}

/// Spinner (or nothing) for a stage.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A spinner on stderr when `show`, else silent.
    pub fn new(stage: Stage, show: bool) -> Progress {
        if !show {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:>9} {elapsed:>4} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(stage.name());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress(Some(bar))
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

/// Row counts and details of a finished stage.
pub struct StageOutcome {
    /// Row counts for the manifest.
    pub rows: BTreeMap<String, u64>,
    /// Aggregated details for the manifest.
    pub details: serde_json::Value,
}

fn config_error(pipeline: &Pipeline, message: String, hint: &str) -> PipelineError {
    PipelineError::Config {
        file: pipeline.path.clone(),
        line: 0,
        message,
        hint: hint.into(),
    }
}

/// The checks that precede any work: the key file (permissions, format),
/// key ids of pre-pseudonymised inputs, the link configuration and bands.
pub fn prepare(pipeline: &Pipeline) -> Result<Prepared, PipelineError> {
    let mut key_id = None;
    let mut pseudonymiser = None;
    if !pipeline.raw_inputs.is_empty() {
        let path = pipeline.key_file.as_ref().ok_or_else(|| {
            config_error(pipeline, "no key_file".into(), "add key_file = \"...\"")
        })?;
        let key =
            Key::load(path).map_err(|e| PipelineError::Key(format!("{}: {e}", path.display())))?;
        let p = Pseudonymiser::new(&key);
        drop(key);
        key_id = Some(p.key_id().to_string());
        pseudonymiser = Some(p);
    }
    if let Some(declared) = &pipeline.pseudonymised_key_id {
        if let Some(ours) = &key_id {
            if ours != declared {
                return Err(PipelineError::KeyMismatch(format!(
                    "[inputs.pseudonymised] were made with key id {declared}, but key_file has key id {ours}: \
                     pseudonyms of different keys never match, so linking them is refused"
                )));
            }
        }
        for files in pipeline.pseudonymised_inputs.values() {
            for file in files {
                let metadata = koppel_io::read_parquet_metadata(file).map_err(|e| {
                    PipelineError::Config {
                        file: pipeline.path.clone(),
                        line: 0,
                        message: format!("pre-pseudonymised input {}: {e}", file.display()),
                        hint: "pre-pseudonymised inputs are Parquet files written by koppel (with a koppel.key_id)".into(),
                    }
                })?;
                let found = metadata
                    .iter()
                    .find(|(k, _)| k == koppel_ingest::KEY_ID_METADATA)
                    .map(|(_, v)| v.clone());
                match found {
                    Some(id) if &id == declared => {}
                    Some(id) => {
                        return Err(PipelineError::KeyMismatch(format!(
                        "{} was pseudonymised with key id {id}, the pipeline declares {declared}",
                        file.display()
                    )))
                    }
                    None => {
                        return Err(PipelineError::KeyMismatch(format!(
                        "{} carries no key id ({}), so its pseudonyms cannot be trusted to match",
                        file.display(),
                        koppel_ingest::KEY_ID_METADATA
                    )))
                    }
                }
            }
        }
        key_id = Some(declared.clone());
    }
    let link_config: koppel_link::LinkConfig = toml::Value::Table(pipeline.link_section.clone())
        .try_into()
        .map_err(|e: toml::de::Error| {
            config_error(
                pipeline,
                format!("[cohort]/[link]: {}", e.message()),
                "cohort: kind = \"outflow\" | \"stock\" | \"inflow\" | \"trajectory\" with year (or date for stock); \
                 link: horizons, reentry_months, gap_days, assistance_types, lookback_months",
            )
        })?;
    let bands_path = pipeline.config_dir.join("bands.toml");
    let (bands, bands_text) = if bands_path.is_file() {
        let text = std::fs::read_to_string(&bands_path).map_err(PipelineError::io(&bands_path))?;
        let bands = koppel_link::Bands::parse(&text).map_err(|e| PipelineError::Config {
            file: bands_path.clone(),
            line: 0,
            message: e.to_string(),
            hint: "restore config/bands.toml from the repository".into(),
        })?;
        (bands, text)
    } else {
        (koppel_link::Bands::default(), String::from("default"))
    };
    Ok(Prepared {
        key_id,
        pseudonymiser,
        link_config,
        bands,
        bands_text,
    })
}

/// The external input files (raw and pre-pseudonymised) with their hashes.
pub fn external_inputs(pipeline: &Pipeline) -> Result<Vec<FileRecord>, PipelineError> {
    let mut out = Vec::new();
    for kind in INPUT_KINDS {
        for (group, map) in [
            ("raw", &pipeline.raw_inputs),
            ("pseudonymised", &pipeline.pseudonymised_inputs),
        ] {
            for file in map.get(kind).into_iter().flatten() {
                out.push(record(file, format!("{group}:{kind}:{}", file.display()))?);
            }
        }
    }
    Ok(out)
}

fn read_config_file(pipeline: &Pipeline, name: &str) -> String {
    std::fs::read_to_string(pipeline.config_dir.join(name))
        .unwrap_or_else(|_| format!("default {name}"))
}

/// Hash of everything in the configuration a stage's result depends on.
pub fn config_hash(
    stage: Stage,
    pipeline: &Pipeline,
    prepared: &Prepared,
) -> Result<String, PipelineError> {
    let value = match stage {
        Stage::Ingest => json!({
            "columns": read_config_file(pipeline, "columns.toml"),
            "municipalities": read_config_file(pipeline, "municipalities.toml"),
            "instruments": read_config_file(pipeline, "instruments.toml"),
        }),
        Stage::Link => json!({
            "link": pipeline.link_section.to_string(),
            "bands": prepared.bands_text,
        }),
        Stage::Aggregate => json!({ "tables": pipeline.tables }),
        Stage::Protect => json!({ "rules": pipeline.rules }),
        Stage::Export => json!({
            "name": pipeline.name,
            "description": pipeline.description,
            "report": pipeline.report,
            "rules": pipeline.rules,
            "tables": pipeline.tables,
            "link": pipeline.link_section.to_string(),
            "labels": read_config_file(pipeline, "labels.toml"),
            "instruments": read_config_file(pipeline, "instruments.toml"),
            "municipalities": read_config_file(pipeline, "municipalities.toml"),
            "bands": prepared.bands_text,
        }),
    };
    Ok(sha256_hex(value.to_string().as_bytes()))
}

/// Runs one stage into `out` (its temporary directory).
pub fn run_stage(
    stage: Stage,
    pipeline: &Pipeline,
    prepared: &Prepared,
    run_dir: &Path,
    out: &Path,
    progress: &Progress,
) -> Result<StageOutcome, PipelineError> {
    match stage {
        Stage::Ingest => ingest(pipeline, prepared, out, progress),
        Stage::Link => link(pipeline, prepared, run_dir, out, progress),
        Stage::Aggregate => aggregate(pipeline, run_dir, out, progress),
        Stage::Protect => protect_stage(pipeline, run_dir, out, progress),
        Stage::Export => export(pipeline, prepared, run_dir, out, progress),
    }
}

/// A file-name-safe stem.
fn safe_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn ingest(
    pipeline: &Pipeline,
    prepared: &Prepared,
    out: &Path,
    progress: &Progress,
) -> Result<StageOutcome, PipelineError> {
    let mut rows = BTreeMap::new();
    let mut files = Vec::new();
    let quarantine = out.join("quarantine");
    create_private_dir(&quarantine)?;
    let reports = out.join("reports");
    std::fs::create_dir_all(&reports).map_err(PipelineError::io(&reports))?;
    let Some(pseudonymiser) = &prepared.pseudonymiser else {
        return Ok(StageOutcome {
            rows,
            details: json!({"files": files, "note": "every input was pre-pseudonymised"}),
        });
    };
    for kind_name in INPUT_KINDS {
        let Some(inputs) = pipeline.raw_inputs.get(kind_name) else {
            continue;
        };
        let kind: koppel_ingest::InputKind = kind_name
            .parse()
            .map_err(|e| PipelineError::stage("ingest", format!("{kind_name}: {e}")))?;
        let dir = out.join(kind_name);
        std::fs::create_dir_all(&dir).map_err(PipelineError::io(&dir))?;
        for (i, input) in inputs.iter().enumerate() {
            let name = format!("{i:03}_{}", safe_stem(input));
            progress.message(format!("{kind_name}: {}", input.display()));
            let report = koppel_ingest::ingest_file(
                kind,
                input,
                pseudonymiser,
                &dir.join(format!("{name}.parquet")),
                &quarantine.join(format!("{kind_name}_{name}.rejects.csv")),
                &koppel_ingest::IngestOptions::default(),
            )
            .map_err(|e| PipelineError::stage("ingest", e))?;
            for (key, value) in [
                ("read", report.rows_read),
                ("accepted", report.accepted),
                ("rejected", report.rejected),
            ] {
                *rows.entry(format!("{kind_name}_{key}")).or_insert(0) += value;
            }
            let report_path = reports.join(format!("{kind_name}_{name}.json"));
            let text = serde_json::to_string_pretty(&report)
                .map_err(|e| PipelineError::stage("ingest", e))?;
            std::fs::write(&report_path, text + "\n").map_err(PipelineError::io(&report_path))?;
            files.push(json!({
                "kind": kind_name,
                "file": input.file_name().map(|n| n.to_string_lossy().to_string()),
                "output": format!("ingest/{kind_name}/{name}.parquet"),
                "read": report.rows_read,
                "accepted": report.accepted,
                "rejected": report.rejected,
            }));
        }
    }
    Ok(StageOutcome {
        rows,
        details: json!({ "files": files }),
    })
}

/// Parquet files directly under `dir`, sorted.
fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>, PipelineError> {
    let mut files = Vec::new();
    if dir.is_dir() {
        for entry in std::fs::read_dir(dir).map_err(PipelineError::io(dir))? {
            let path = entry.map_err(PipelineError::io(dir))?.path();
            if path.extension().is_some_and(|e| e == "parquet") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn link(
    pipeline: &Pipeline,
    prepared: &Prepared,
    run_dir: &Path,
    out: &Path,
    progress: &Progress,
) -> Result<StageOutcome, PipelineError> {
    let files = |kind: &str| -> Result<Vec<PathBuf>, PipelineError> {
        let mut list = parquet_files(&run_dir.join("ingest").join(kind))?;
        list.extend(
            pipeline
                .pseudonymised_inputs
                .get(kind)
                .cloned()
                .unwrap_or_default(),
        );
        Ok(list)
    };
    let inputs = koppel_link::LinkInputs {
        persons: files("persons")?,
        benefits: files("benefits")?,
        employment: files("employment")?,
        trajectories: files("trajectories")?,
    };
    progress.message("linking and deriving outcomes");
    let summary = koppel_link::link(
        &inputs,
        &prepared.link_config,
        &prepared.bands,
        &out.join("analysis.parquet"),
    )
    .map_err(|e| PipelineError::stage("link", e))?;
    let quality_path = out.join("quality.json");
    let mut quality =
        serde_json::to_value(&summary).map_err(|e| PipelineError::stage("link", e))?;
    // Wall time lives in the manifest: the stage's outputs stay
    // byte-identical between runs, so later stages are not rerun for it.
    if let Some(object) = quality.as_object_mut() {
        object.remove("seconds");
    }
    let text =
        serde_json::to_string_pretty(&quality).map_err(|e| PipelineError::stage("link", e))?;
    std::fs::write(&quality_path, text + "\n").map_err(PipelineError::io(&quality_path))?;
    let mut rows = BTreeMap::new();
    rows.insert("cohort_persons".into(), summary.cohort_persons as u64);
    Ok(StageOutcome {
        rows,
        details: json!({ "cohort": pipeline.link_section.get("cohort").map(|c| c.to_string()) }),
    })
}

fn aggregate(
    pipeline: &Pipeline,
    run_dir: &Path,
    out: &Path,
    progress: &Progress,
) -> Result<StageOutcome, PipelineError> {
    progress.message("building tables with all margins");
    let analysis = run_dir.join("link").join("analysis.parquet");
    let persons = LazyFrame::scan_parquet(
        PlRefPath::new(analysis.to_string_lossy().as_ref()),
        ScanArgsParquet::default(),
    )
    .map_err(|e| PipelineError::stage("aggregate", format!("{}: {e}", analysis.display())))?;
    let tables = build_tables(&persons, &pipeline.tables)
        .map_err(|e| PipelineError::stage("aggregate", e))?;
    let cells: usize = tables.iter().map(|t| t.rows.len()).sum();
    let path = out.join("tables.json");
    let text = serde_json::to_string(&tables).map_err(|e| PipelineError::stage("aggregate", e))?;
    std::fs::write(&path, text).map_err(PipelineError::io(&path))?;
    let mut rows = BTreeMap::new();
    rows.insert("tables".into(), tables.len() as u64);
    rows.insert("cells".into(), cells as u64);
    Ok(StageOutcome {
        rows,
        details: json!({ "tables": tables.iter().map(|t| &t.spec.name).collect::<Vec<_>>() }),
    })
}

fn read_tables(run_dir: &Path) -> Result<Vec<Table>, PipelineError> {
    let path = run_dir.join("aggregate").join("tables.json");
    let text = std::fs::read_to_string(&path).map_err(PipelineError::io(&path))?;
    serde_json::from_str(&text)
        .map_err(|e| PipelineError::stage("protect", format!("{}: {e}", path.display())))
}

fn protect_stage(
    pipeline: &Pipeline,
    run_dir: &Path,
    out: &Path,
    progress: &Progress,
) -> Result<StageOutcome, PipelineError> {
    progress.message("primary and secondary suppression, audit, rounding");
    let tables = read_tables(run_dir)?;
    let protected =
        protect(&tables, &pipeline.rules).map_err(|e| PipelineError::stage("protect", e))?;
    let dir = out.join("tables");
    std::fs::create_dir_all(&dir).map_err(PipelineError::io(&dir))?;
    for (name, df) in &protected.tables {
        let path = dir.join(format!("{name}.parquet"));
        let file = std::fs::File::create(&path).map_err(PipelineError::io(&path))?;
        let mut df = df.clone();
        ParquetWriter::new(file)
            .finish(&mut df)
            .map_err(|e| PipelineError::stage("protect", format!("{}: {e}", path.display())))?;
    }
    let path = out.join("summary.json");
    let text = serde_json::to_string_pretty(&protected.summary)
        .map_err(|e| PipelineError::stage("protect", e))?;
    std::fs::write(&path, text + "\n").map_err(PipelineError::io(&path))?;
    let s = &protected.summary;
    let mut rows = BTreeMap::new();
    rows.insert("count_cells".into(), s.count_cells as u64);
    rows.insert("primary".into(), s.primary as u64);
    rows.insert("secondary".into(), s.secondary as u64);
    rows.insert("magnitude_cells".into(), s.magnitude_cells as u64);
    rows.insert("magnitude_primary".into(), s.magnitude_primary as u64);
    Ok(StageOutcome {
        rows,
        details: serde_json::to_value(&protected.summary).unwrap_or_default(),
    })
}

/// The protect stage's tables, in pipeline order, as a [`Protected`] (the
/// cell set stays internal to the protect stage; the export gate re-derives
/// everything it checks from the published tables).
fn read_protected(pipeline: &Pipeline, run_dir: &Path) -> Result<Protected, PipelineError> {
    let dir = run_dir.join("protect");
    let mut tables = Vec::new();
    for spec in &pipeline.tables {
        let path = dir.join("tables").join(format!("{}.parquet", spec.name));
        let file = std::fs::File::open(&path).map_err(PipelineError::io(&path))?;
        let df = ParquetReader::new(file)
            .finish()
            .map_err(|e| PipelineError::stage("export", format!("{}: {e}", path.display())))?;
        tables.push((spec.name.clone(), df));
    }
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(PipelineError::io(&path))?;
    let summary: ProtectionSummary = serde_json::from_str(&text)
        .map_err(|e| PipelineError::stage("export", format!("{}: {e}", path.display())))?;
    Ok(Protected {
        tables,
        summary,
        cells: CellSet::default(),
        status: Vec::new(),
    })
}

fn export(
    pipeline: &Pipeline,
    prepared: &Prepared,
    run_dir: &Path,
    out: &Path,
    progress: &Progress,
) -> Result<StageOutcome, PipelineError> {
    progress.message("writing the researcher package and report");
    let protected = read_protected(pipeline, run_dir)?;
    let package = out.join("package");
    let quality = read_quality(run_dir)?;
    let config_hash = config_hash(Stage::Export, pipeline, prepared)?;
    let extra = provenance(pipeline, prepared.key_id.as_deref(), &config_hash);
    let ctx = report_context(pipeline, &prepared.link_config, &quality, extra)?;
    // write_researcher_package re-checks the package with `koppel check`'s
    // own code and scans it for identifiers; on any finding it removes the
    // directory and fails: nothing is exported unless the audit passes.
    let summary =
        koppel_report::write_researcher_package(&package, &protected, &pipeline.rules, &ctx)
            .map_err(|e| match e {
                koppel_report::ReportError::Refused(findings) => {
                    PipelineError::ExportRefused(findings)
                }
                other => PipelineError::stage("export", other),
            })?;
    let mut rows = BTreeMap::new();
    rows.insert("tables".into(), summary.tables as u64);
    rows.insert("published_rows".into(), summary.rows as u64);
    rows.insert("audited_cells".into(), summary.audited as u64);
    rows.insert("report_figures".into(), summary.figures as u64);
    rows.insert("bars_withheld".into(), summary.bars_withheld as u64);
    Ok(StageOutcome {
        rows,
        details: json!({
            "package": "export/package",
            "report": "export/package/report.html",
            "language": report_lang(pipeline).code(),
        }),
    })
}
