//! The effect stage: matched estimates of trajectory effects (crate
//! `koppel-effect`), protected and rounded for the researcher package.
//!
//! Reads the ingest output (and pre-pseudonymised inputs) like the link
//! stage, because its units are trajectory starts and comparison persons,
//! not the cohort. Writes into its directory:
//!
//! ```text
//! matched.parquet            treated and comparison rows (pseudonymised, operator only)
//! tables/effects.parquet     the published estimates (protected, rounded)
//! tables/balance.parquet     balance before/after weighting
//! tables/effect_support.parquet  starts matched and unmatched (protected)
//! summary.json               selection counts, protection counts (aggregates)
//! ```
//!
//! Without an `[effect]` section the stage writes only `summary.json`.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;
use serde_json::json;

use crate::error::PipelineError;
use crate::graph::{Progress, StageInputs, StageOutcome};
use crate::stages::Context;

/// The published tables, in the order the package lists them.
pub const TABLES: [&str; 3] = ["effects", "balance", "effect_support"];

/// What the effect stage's result depends on.
pub fn effect_config(ctx: &Context) -> Result<serde_json::Value, PipelineError> {
    Ok(json!({
        "effect": ctx.pipeline.effect_section.as_ref().map(|t| t.to_string()),
        "bands": ctx.prepared.bands_text,
        "rules": ctx.pipeline.rules,
    }))
}

fn write_table(path: &Path, df: &DataFrame) -> Result<(), PipelineError> {
    let mut df = df.clone();
    df.rechunk_mut();
    let mut w = koppel_io::TableWriter::create(path, df.schema(), &[])
        .map_err(|e| PipelineError::stage("effect", e))?;
    w.write(&df)
        .map_err(|e| PipelineError::stage("effect", e))?;
    w.finish().map_err(|e| PipelineError::stage("effect", e))?;
    Ok(())
}

/// The stage body.
pub fn effect(
    ctx: &Context,
    inputs: &StageInputs,
    out: &Path,
    progress: &Progress,
) -> Result<StageOutcome, PipelineError> {
    let summary_path = out.join("summary.json");
    let Some(config) = &ctx.prepared.effect_config else {
        std::fs::write(&summary_path, "{\"effect\": null}\n")
            .map_err(PipelineError::io(&summary_path))?;
        return Ok(StageOutcome {
            rows: BTreeMap::new(),
            details: json!({ "note": "no [effect] section" }),
        });
    };
    let link_inputs = crate::stages::pseudonymised_files(ctx, inputs)?;
    progress.message("matching trajectory starts");
    let extracts = inputs.file("ingest", koppel_link::extract::INDEX_FILE).ok();
    let (summary, results) = koppel_effect::run_with_extracts(
        &link_inputs,
        extracts.as_deref(),
        config,
        &ctx.prepared.bands,
        out,
    )
    .map_err(|e| PipelineError::stage("effect", e))?;
    progress.message("protecting the effect tables");
    let published = koppel_effect::publish::publish(
        &results.effects,
        &results.balance,
        &results.support,
        config.min_effect_n,
        &ctx.pipeline.rules,
    )
    .map_err(|e| PipelineError::stage("effect", e))?;
    let frames = published
        .frames()
        .map_err(|e| PipelineError::stage("effect", e))?;
    let tables = out.join("tables");
    std::fs::create_dir_all(&tables).map_err(PipelineError::io(&tables))?;
    for (name, df) in TABLES.iter().zip([&frames.0, &frames.1, &frames.2]) {
        write_table(&tables.join(format!("{name}.parquet")), df)?;
    }
    let details = json!({
        "support": summary.support,
        "without_person_record": summary.without_person_record,
        "data_until": summary.data_until,
        "protection": published.protection,
        "min_effect_n": config.min_effect_n,
    });
    let text =
        serde_json::to_string_pretty(&details).map_err(|e| PipelineError::stage("effect", e))?;
    std::fs::write(&summary_path, text + "\n").map_err(PipelineError::io(&summary_path))?;
    let mut rows = BTreeMap::new();
    rows.insert(
        "treated_starts".into(),
        summary.support.iter().map(|s| s.counts.treated).sum(),
    );
    rows.insert("matched_rows".into(), summary.matched_rows);
    rows.insert(
        "estimates_published".into(),
        published.protection.published as u64,
    );
    Ok(StageOutcome { rows, details })
}

/// The published effect tables of a run, for the report (none without an
/// `[effect]` section).
pub fn effect_tables(
    ctx: &Context,
    inputs: &StageInputs,
) -> Result<Option<koppel_report::effects::EffectTables>, PipelineError> {
    let Some(config) = &ctx.prepared.effect_config else {
        return Ok(None);
    };
    let read = |name: &str| -> Result<DataFrame, PipelineError> {
        let path = inputs.file("effect", &format!("tables/{name}.parquet"))?;
        let file = std::fs::File::open(&path).map_err(PipelineError::io(&path))?;
        ParquetReader::new(file)
            .finish()
            .map_err(|e| PipelineError::stage("export", format!("{}: {e}", path.display())))
    };
    Ok(Some(koppel_report::effects::EffectTables {
        effects: read("effects")?,
        balance: read("balance")?,
        support: read("effect_support")?,
        min_effect_n: config.min_effect_n,
    }))
}
