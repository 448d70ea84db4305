//! The pipeline's stage graph: one [`StageDef`] per stage, in running order,
//! and the stage bodies.
//!
//! # Adding a stage
//!
//! 1. Write its body: `fn NAME(ctx: &Context, inputs: &StageInputs, out:
//!    &Path, progress: &Progress) -> Result<StageOutcome, PipelineError>`.
//!    Read upstream outputs only through `inputs.file(stage, rel)` /
//!    `inputs.files(stage, dir, suffix)` (they come from the upstream
//!    manifests, so a file the upstream stage did not record is an error),
//!    and write everything into `out`.
//! 2. Write its `config` function: a JSON value of every pipeline section
//!    and `config_dir` file text its result depends on (nothing more, or
//!    it reruns needlessly; nothing less, or it is skipped on stale data).
//!    Files from outside the run directory go in `external_inputs`.
//! 3. Add a `StageDef` to [`graph`] after its upstream stages, naming the
//!    crates whose code decides its result in `code`; list the new stage in
//!    the `upstream` of the stages that read its outputs.
//!
//! Nothing else changes: the engine, `--from`/`--until`, manifests, resume
//! and `koppel verify` work from this list.

use std::collections::BTreeMap;
use std::path::Path;

use koppel_disclosure::cells::CellSet;
use koppel_disclosure::table::{build_tables, protect, Protected, ProtectionSummary, Table};
use polars::prelude::*;
use serde_json::json;

use crate::config::{Pipeline, INPUT_KINDS};
use crate::error::PipelineError;
use crate::graph::ExternalFile;
use crate::graph::{create_private_dir, Graph, Progress, StageDef, StageInputs, StageOutcome};
use crate::prepare::{Prepared, INGEST_CONFIG_FILES};
use crate::report_context::{provenance, read_quality, report_context, report_lang};
use koppel_schema::kind;

/// What every stage is run against: the loaded pipeline and what the checks
/// before any work resolved.
pub struct Context {
    /// The pipeline.
    pub pipeline: Pipeline,
    /// The key, link, bands and ingest configuration.
    pub prepared: Prepared,
}

/// The crate of the runner itself (its code is part of every stage).
const RUNNER: &str = "koppel-pipeline";

/// The stages of `koppel run`, in order.
pub fn graph() -> Graph<Context> {
    Graph {
        stages: vec![
            // Validate and pseudonymise every input (the only stage that sees BSNs).
            StageDef {
                name: "ingest",
                upstream: &[],
                // koppel-link writes the register extracts.
                code: &[RUNNER, "koppel-ingest", "koppel-link"],
                config: ingest_config,
                external_inputs: raw_inputs,
                run: ingest,
            },
            // Link and derive the person-level analysis file.
            StageDef {
                name: "link",
                upstream: &["ingest"],
                code: &[RUNNER, "koppel-link"],
                config: link_config,
                external_inputs: pseudonymised_inputs,
                run: link,
            },
            // Matched estimates of trajectory effects (with an [effect] section).
            StageDef {
                name: "effect",
                upstream: &["ingest"],
                code: &[RUNNER, "koppel-effect"],
                config: crate::effect_stage::effect_config,
                external_inputs: pseudonymised_inputs,
                run: crate::effect_stage::effect,
            },
            // Tables with all margins (unprotected).
            StageDef {
                name: "aggregate",
                upstream: &["link"],
                code: &[RUNNER, "koppel-disclosure"],
                config: |ctx| Ok(json!({ "tables": ctx.pipeline.tables })),
                external_inputs: no_external_inputs,
                run: aggregate,
            },
            // Primary and secondary suppression, audit, rounding.
            StageDef {
                name: "protect",
                upstream: &["aggregate"],
                code: &[RUNNER, "koppel-disclosure"],
                config: |ctx| Ok(json!({ "rules": ctx.pipeline.rules })),
                external_inputs: no_external_inputs,
                run: protect_stage,
            },
            // The researcher package, after a fail-closed re-check.
            StageDef {
                name: "export",
                upstream: &["ingest", "link", "effect", "protect"],
                code: &[RUNNER, "koppel-report"],
                config: export_config,
                external_inputs: no_external_inputs,
                run: export,
            },
        ],
        build_identity: crate::identity::identity,
    }
}

fn no_external_inputs(_: &Context) -> Result<Vec<ExternalFile>, PipelineError> {
    Ok(Vec::new())
}

/// The external input files of one group, in kind order.
fn input_files(group: &str, map: &BTreeMap<String, Vec<std::path::PathBuf>>) -> Vec<ExternalFile> {
    INPUT_KINDS
        .iter()
        .flat_map(|kind| {
            map.get(*kind)
                .into_iter()
                .flatten()
                .map(move |file| ExternalFile {
                    path: file.clone(),
                    shown_as: format!("{group}:{kind}:{}", file.display()),
                })
        })
        .collect()
}

/// The files holding BSNs (read by ingest).
fn raw_inputs(ctx: &Context) -> Result<Vec<ExternalFile>, PipelineError> {
    Ok(input_files("raw", &ctx.pipeline.raw_inputs))
}

/// The pre-pseudonymised files (read by link).
fn pseudonymised_inputs(ctx: &Context) -> Result<Vec<ExternalFile>, PipelineError> {
    Ok(input_files(
        "pseudonymised",
        &ctx.pipeline.pseudonymised_inputs,
    ))
}

fn read_config_file(pipeline: &Pipeline, name: &str) -> String {
    std::fs::read_to_string(pipeline.config_dir.join(name))
        .unwrap_or_else(|_| format!("default {name}"))
}

fn ingest_config(ctx: &Context) -> Result<serde_json::Value, PipelineError> {
    let [columns, municipalities, instruments] =
        INGEST_CONFIG_FILES.map(|name| read_config_file(&ctx.pipeline, name));
    Ok(json!({
        "columns": columns,
        "municipalities": municipalities,
        "instruments": instruments,
    }))
}

fn link_config(ctx: &Context) -> Result<serde_json::Value, PipelineError> {
    Ok(json!({
        "link": ctx.pipeline.link_section.to_string(),
        "bands": ctx.prepared.bands_text,
    }))
}

fn export_config(ctx: &Context) -> Result<serde_json::Value, PipelineError> {
    let pipeline = &ctx.pipeline;
    Ok(json!({
        "name": pipeline.name,
        "description": pipeline.description,
        "report": pipeline.report,
        "rules": pipeline.rules,
        "tables": pipeline.tables,
        "link": pipeline.link_section.to_string(),
        "labels": read_config_file(pipeline, "labels.toml"),
        "instruments": read_config_file(pipeline, "instruments.toml"),
        "municipalities": read_config_file(pipeline, "municipalities.toml"),
        "bands": ctx.prepared.bands_text,
    }))
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

/// The order ingest takes the kinds in: the uploads and the benefits
/// register first, because their persons are the population of the
/// register extracts written beside the persons and employment registers.
const INGEST_ORDER: [&str; 4] = [
    kind::TRAJECTORIES,
    kind::BENEFITS,
    kind::PERSONS,
    kind::EMPLOYMENT,
];

fn ingest(
    ctx: &Context,
    _inputs: &StageInputs,
    out: &Path,
    progress: &Progress,
) -> Result<StageOutcome, PipelineError> {
    let (pipeline, prepared) = (&ctx.pipeline, &ctx.prepared);
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
    let stage_error = |e: koppel_link::LinkError| PipelineError::stage("ingest", e);
    let mut written: BTreeMap<&str, Vec<std::path::PathBuf>> = BTreeMap::new();
    let mut extracts = Extracts::new(out, pipeline);
    for kind_name in INGEST_ORDER {
        if matches!(kind_name, kind::PERSONS | kind::EMPLOYMENT) {
            extracts.choose_population();
        }
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
            let output = dir.join(format!("{name}.parquet"));
            let rejects = quarantine.join(format!("{kind_name}_{name}.rejects.csv"));
            let selector = extracts.selector(kind_name);
            let extract_path = extracts.path(kind_name, &name);
            let select = |frame: &DataFrame| match &selector {
                Some(selector) => selector.select(frame),
                None => Ok(BooleanChunked::full("keep".into(), false, frame.height())),
            };
            let observe = |frame: &DataFrame| extracts.collector.observe(kind_name, frame);
            let hooks = koppel_ingest::OutputHooks {
                observe: extracts.collecting(kind_name).then_some(&observe as _),
                extract: selector.as_ref().map(|_| koppel_ingest::ExtractOutput {
                    path: &extract_path,
                    select: &select,
                }),
            };
            if hooks.extract.is_some() {
                std::fs::create_dir_all(extracts.dir(kind_name))
                    .map_err(PipelineError::io(&extracts.dir(kind_name)))?;
            }
            let report = koppel_ingest::ingest_file_with_hooks(
                kind,
                input,
                pseudonymiser,
                &output,
                &rejects,
                &prepared.ingest_options,
                &hooks,
            )
            .map_err(|e| PipelineError::stage("ingest", e))?;
            if let Some(selector) = selector {
                let counts = selector.counts();
                extracts
                    .index
                    .record(kind_name, &output, &extract_path, counts)
                    .map_err(stage_error)?;
            }
            written.entry(kind_name).or_default().push(output);
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
    progress.message("writing the register extracts".to_string());
    let extracts = extracts.finish(&written).map_err(stage_error)?;
    // The manifest lists the files in the usual kind order.
    let rank = |f: &serde_json::Value| INPUT_KINDS.iter().position(|k| f["kind"] == *k);
    files.sort_by_key(rank);
    Ok(StageOutcome {
        rows,
        details: json!({ "files": files, "extracts": extracts }),
    })
}

/// The register extracts ingest writes for the link stage (module
/// `koppel_link::extract`): under `extract/<kind>/`, with the index
/// `extracts.json`. Written only when ingest pseudonymises the benefits
/// register itself, since the population comes from it.
struct Extracts<'a> {
    out: &'a Path,
    enabled: bool,
    /// The population, collected while the uploads and benefits are written.
    collector: koppel_link::extract::PopulationCollector,
    population: Option<std::sync::Arc<koppel_link::PersonSet>>,
    index: koppel_link::extract::IndexBuilder,
}

impl<'a> Extracts<'a> {
    fn new(out: &'a Path, pipeline: &Pipeline) -> Extracts<'a> {
        Extracts {
            out,
            enabled: pipeline.raw_inputs.contains_key(kind::BENEFITS),
            collector: Default::default(),
            population: None,
            index: koppel_link::extract::IndexBuilder::new(out),
        }
    }

    fn dir(&self, kind_name: &str) -> std::path::PathBuf {
        self.out.join("extract").join(kind_name)
    }

    fn path(&self, kind_name: &str, name: &str) -> std::path::PathBuf {
        self.dir(kind_name).join(format!("{name}.parquet"))
    }

    /// Whether the population is collected from files of `kind_name`.
    fn collecting(&self, kind_name: &str) -> bool {
        self.enabled && matches!(kind_name, kind::BENEFITS | kind::TRAJECTORIES)
    }

    /// End the collection: the uploads and benefits are written.
    fn choose_population(&mut self) {
        if !self.enabled || self.population.is_some() {
            return;
        }
        let set = std::mem::take(&mut self.collector).finish();
        tracing::info!(
            persons = set.len(),
            "ingest: population of the register extracts"
        );
        self.population = Some(std::sync::Arc::new(set));
    }

    /// The selector for a persons or employment file being ingested.
    fn selector(&self, kind_name: &str) -> Option<koppel_link::extract::ExtractSelector> {
        let kind_name: &'static str = match kind_name {
            kind::PERSONS => kind::PERSONS,
            kind::EMPLOYMENT => kind::EMPLOYMENT,
            _ => return None,
        };
        let population = self.population.clone()?;
        Some(koppel_link::extract::ExtractSelector::new(
            kind_name, population,
        ))
    }

    /// Write the benefits extracts (filtered from the benefits outputs) and
    /// the index; returns the manifest's summary of the extracts.
    fn finish(
        mut self,
        written: &BTreeMap<&str, Vec<std::path::PathBuf>>,
    ) -> Result<serde_json::Value, koppel_link::LinkError> {
        let Some(population) = self.population.clone() else {
            return Ok(json!(null));
        };
        let started = std::time::Instant::now();
        let of = |k: &str| written.get(k).cloned().unwrap_or_default();
        for source in of(kind::BENEFITS) {
            let dir = self.dir(kind::BENEFITS);
            std::fs::create_dir_all(&dir).map_err(|e| koppel_link::LinkError::Input {
                file: dir.display().to_string(),
                reason: e.to_string(),
            })?;
            let name = source.file_stem().map(|s| s.to_string_lossy().to_string());
            let extract = self.path(kind::BENEFITS, &name.unwrap_or_default());
            let counts = koppel_link::extract::write_extract(
                kind::BENEFITS,
                &source,
                population.clone(),
                &extract,
            )?;
            self.index
                .record(kind::BENEFITS, &source, &extract, counts)?;
        }
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "ingest: benefits extract written"
        );
        let mut population_from = of(kind::BENEFITS);
        population_from.extend(of(kind::TRAJECTORIES));
        let index = self
            .index
            .finish(&population_from, population.len() as u64)?;
        let mut rows = BTreeMap::<&str, (u64, u64)>::new();
        for entry in &index.files {
            let totals = rows.entry(entry.kind.as_str()).or_default();
            totals.0 += entry.source.rows;
            totals.1 += entry.extract.rows;
        }
        Ok(json!({
            "persons": index.persons,
            "rows": rows
                .iter()
                .map(|(k, (all, kept))| (k.to_string(), json!({"register": all, "extract": kept})))
                .collect::<serde_json::Map<_, _>>(),
        }))
    }
}

/// The pseudonymised files of every kind: ingest's outputs and the
/// pipeline's pre-pseudonymised inputs (what the link and effect stages
/// read).
pub(crate) fn pseudonymised_files(
    ctx: &Context,
    inputs: &StageInputs,
) -> Result<koppel_link::LinkInputs, PipelineError> {
    let files = |kind: &str| -> Result<Vec<std::path::PathBuf>, PipelineError> {
        let mut list = inputs.files("ingest", kind, ".parquet")?;
        list.extend(
            ctx.pipeline
                .pseudonymised_inputs
                .get(kind)
                .cloned()
                .unwrap_or_default(),
        );
        Ok(list)
    };
    Ok(koppel_link::LinkInputs {
        persons: files(kind::PERSONS)?,
        benefits: files(kind::BENEFITS)?,
        employment: files(kind::EMPLOYMENT)?,
        trajectories: files(kind::TRAJECTORIES)?,
    })
}

fn link(
    ctx: &Context,
    inputs: &StageInputs,
    out: &Path,
    progress: &Progress,
) -> Result<StageOutcome, PipelineError> {
    let (pipeline, prepared) = (&ctx.pipeline, &ctx.prepared);
    let link_inputs = pseudonymised_files(ctx, inputs)?;
    // Ingest's register extracts, when it wrote them (the link stage checks
    // that they describe exactly these inputs).
    let extracts = inputs.file("ingest", koppel_link::extract::INDEX_FILE).ok();
    progress.message("linking and deriving outcomes");
    let summary = koppel_link::link_with_extracts(
        &link_inputs,
        extracts.as_deref(),
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
    ctx: &Context,
    inputs: &StageInputs,
    out: &Path,
    progress: &Progress,
) -> Result<StageOutcome, PipelineError> {
    let pipeline = &ctx.pipeline;
    progress.message("building tables with all margins");
    let analysis = inputs.file("link", "analysis.parquet")?;
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

fn read_tables(inputs: &StageInputs) -> Result<Vec<Table>, PipelineError> {
    let path = inputs.file("aggregate", "tables.json")?;
    let text = std::fs::read_to_string(&path).map_err(PipelineError::io(&path))?;
    serde_json::from_str(&text)
        .map_err(|e| PipelineError::stage("protect", format!("{}: {e}", path.display())))
}

fn protect_stage(
    ctx: &Context,
    inputs: &StageInputs,
    out: &Path,
    progress: &Progress,
) -> Result<StageOutcome, PipelineError> {
    let pipeline = &ctx.pipeline;
    progress.message("primary and secondary suppression, audit, rounding");
    let tables = read_tables(inputs)?;
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
    // Information loss per table: rows published and suppressed, persons in
    // published base cells (at the horizon where they are fewest).
    for t in &s.tables {
        rows.insert(format!("{}.published", t.table), t.published as u64);
        rows.insert(format!("{}.suppressed", t.table), t.suppressed as u64);
        rows.insert(
            format!("{}.persons_published", t.table),
            t.persons_published.round() as u64,
        );
    }
    Ok(StageOutcome {
        rows,
        details: serde_json::to_value(&protected.summary).unwrap_or_default(),
    })
}

/// The protect stage's tables, in pipeline order, as a [`Protected`] (the
/// cell set stays internal to the protect stage; the export gate re-derives
/// everything it checks from the published tables).
fn read_protected(pipeline: &Pipeline, inputs: &StageInputs) -> Result<Protected, PipelineError> {
    let mut tables = Vec::new();
    for spec in &pipeline.tables {
        let path = inputs.file("protect", &format!("tables/{}.parquet", spec.name))?;
        let file = std::fs::File::open(&path).map_err(PipelineError::io(&path))?;
        let df = ParquetReader::new(file)
            .finish()
            .map_err(|e| PipelineError::stage("export", format!("{}: {e}", path.display())))?;
        tables.push((spec.name.clone(), df));
    }
    let path = inputs.file("protect", "summary.json")?;
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
    ctx: &Context,
    inputs: &StageInputs,
    out: &Path,
    progress: &Progress,
) -> Result<StageOutcome, PipelineError> {
    let (pipeline, prepared) = (&ctx.pipeline, &ctx.prepared);
    progress.message("writing the researcher package and report");
    let protected = read_protected(pipeline, inputs)?;
    let package = out.join("package");
    let quality = read_quality(&inputs.file("link", "quality.json")?)?;
    let mut extra = provenance(pipeline, prepared.key_id.as_deref(), &inputs.config_hash);
    if let (Some(config), Some(obj)) = (&prepared.effect_config, extra.as_object_mut()) {
        // The effect tables' own publication rule, beside the disclosure
        // rules: an estimate needs at least this many matched treated.
        obj.insert(
            "effects".into(),
            json!({ "min_effect_n": config.min_effect_n }),
        );
    }
    let effects = crate::effect_stage::effect_tables(ctx, inputs)?;
    let mut ctx = report_context(pipeline, &prepared.link_config, &quality, extra)?;
    ctx.effects = effects;
    // write_researcher_package re-checks the package with `koppel check`'s
    // code (koppel-check, with the pipeline's rules: files against the
    // manifest, figures against the tables, margins, the LP audit, no
    // person-level data) and scans it for identifiers; on any finding it
    // removes the directory and fails: nothing is exported unless it passes.
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
    rows.insert("checked_relations".into(), summary.relations as u64);
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
