//! The checks that precede any work: the key file, the key ids of
//! pre-pseudonymised inputs, the link configuration, the bands and the
//! ingest configuration from `config_dir`. Everything that can fail on
//! configuration fails here, before the first stage runs.

use koppel_pseudonym::{Key, Pseudonymiser};

use crate::config::Pipeline;
use crate::error::PipelineError;

/// What the checks before any work resolved: the pseudonymiser (never the
/// key itself), the key id, and the parsed link configuration.
pub struct Prepared {
    /// The key id of the run.
    pub key_id: Option<String>,
    /// The pseudonymiser (only when some input holds BSNs).
    pub pseudonymiser: Option<Pseudonymiser>,
    /// The cohort and link settings.
    pub link_config: koppel_link::LinkConfig,
    /// Bands (from `config/bands.toml`).
    pub bands: koppel_link::Bands,
    /// The text the bands were parsed from (`default` without a file).
    pub bands_text: String,
    /// The ingest configuration (aliases, municipalities, instruments).
    pub ingest_options: koppel_ingest::IngestOptions,
    /// The `[effect]` settings, if the pipeline estimates effects.
    pub effect_config: Option<koppel_effect::EffectConfig>,
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
                    .find(|(k, _)| k == koppel_schema::metadata::KEY_ID)
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
                        koppel_schema::metadata::KEY_ID
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
    link_config.validate().map_err(|message| {
        config_error(
            pipeline,
            format!("[cohort]/[link]: {message}"),
            "fix the value in the pipeline file; nothing has run yet",
        )
    })?;
    check_tables_against_link(pipeline, &link_config)?;
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
    let effect_config = effect_config(pipeline)?;
    Ok(Prepared {
        key_id,
        pseudonymiser,
        link_config,
        bands,
        bands_text,
        ingest_options: ingest_options(pipeline)?,
        effect_config,
    })
}

/// The `[effect]` settings, parsed and checked (none without the section).
fn effect_config(
    pipeline: &Pipeline,
) -> Result<Option<koppel_effect::EffectConfig>, PipelineError> {
    let Some(section) = &pipeline.effect_section else {
        return Ok(None);
    };
    let config: koppel_effect::EffectConfig = toml::Value::Table(section.clone())
        .try_into()
        .map_err(|e: toml::de::Error| {
            config_error(
                pipeline,
                format!("[effect]: {}", e.message()),
                "effect: period_from, period_to (dates), instruments, [effect.groups], horizons, \
                 matching, subgroups, work_days_bands, [effect.regions], min_effect_n",
            )
        })?;
    config.validate().map_err(|e| {
        config_error(
            pipeline,
            format!("[effect]: {e}"),
            "see README, Effects of trajectories",
        )
    })?;
    Ok(Some(config))
}

/// The ingest files of `config_dir`.
pub const INGEST_CONFIG_FILES: [&str; 3] =
    ["columns.toml", "municipalities.toml", "instruments.toml"];

/// Ingest's configuration: read from `config_dir` when it holds any of the
/// ingest files (then all three must be there and parse), the compiled-in
/// copy of the repository's `config/` otherwise.
fn ingest_options(pipeline: &Pipeline) -> Result<koppel_ingest::IngestOptions, PipelineError> {
    let dir = &pipeline.config_dir;
    let config = if INGEST_CONFIG_FILES.iter().any(|f| dir.join(f).is_file()) {
        koppel_ingest::IngestConfig::load(dir)
    } else {
        koppel_ingest::IngestConfig::builtin()
    }
    .map_err(|source| PipelineError::IngestConfig { source })?;
    Ok(koppel_ingest::IngestOptions::with_config(config))
}

/// The tables must ask for what the link stage will derive: horizons among
/// the link horizons, and a re-entry flag of the configured window.
fn check_tables_against_link(
    pipeline: &Pipeline,
    link: &koppel_link::LinkConfig,
) -> Result<(), PipelineError> {
    use koppel_disclosure::table::Measure;
    for table in &pipeline.tables {
        match &table.measure {
            Measure::Flag(flag) if flag.starts_with("reentry_") => {
                let expected = koppel_schema::analysis::reentry_flag(link.reentry_months);
                if *flag != expected {
                    return Err(config_error(
                        pipeline,
                        format!(
                            "table {:?}: flag {flag:?} does not exist with a re-entry window of \
                             {} months (the link stage derives {expected})",
                            table.name, link.reentry_months
                        ),
                        "use the flag of the window, or set reentry_months under [link]",
                    ));
                }
            }
            Measure::Flag(_) => {}
            Measure::States
            | Measure::Mean(_)
            | Measure::Median(_)
            | Measure::Job(_)
            | Measure::JobMean(_)
            | Measure::JobMedian(_)
            | Measure::Flow(_) => {
                // A flow's horizons are in its measure; the others' in `horizons`.
                let horizons = match &table.measure {
                    Measure::Flow(hs) => hs,
                    _ => &table.horizons,
                };
                if let Some(h) = horizons.iter().find(|h| !link.horizons.contains(h)) {
                    let listed: Vec<String> = link.horizons.iter().map(u32::to_string).collect();
                    return Err(config_error(
                        pipeline,
                        format!(
                            "table {:?}: horizon {h} is not among the link horizons ({})",
                            table.name,
                            listed.join(", ")
                        ),
                        "add it to horizons under [link], or drop it from the table's horizons",
                    ));
                }
            }
        }
    }
    Ok(())
}
