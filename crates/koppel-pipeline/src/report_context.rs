//! What the export stage tells the report besides the tables: title, the
//! cohort in words, the pipeline's definitions (cohort, reference date,
//! episodes, look-back, re-entry window) and the aggregated linkage-quality
//! counts of the link stage (which koppel-report protects before showing).

use std::path::Path;

use koppel_link::{Cohort, LinkConfig};
use koppel_report::{Definition, Labels, Lang, LinkageQuality, ReportContext};
use serde_json::{json, Value};

use crate::config::Pipeline;
use crate::error::PipelineError;

/// The language of a pipeline's report (`[report] lang`, default `nl`).
pub fn report_lang(pipeline: &Pipeline) -> Lang {
    match pipeline.report.lang.as_deref() {
        Some("en") => Lang::En,
        _ => Lang::Nl,
    }
}

fn types_text(config: &LinkConfig, lang: Lang) -> String {
    let names: Vec<String> = config
        .assistance_types
        .iter()
        .map(|t| match t.as_str() {
            "bijstand" => "bijstand".to_string(),
            other => other.to_uppercase(),
        })
        .collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => {
            let and = if lang == Lang::Nl { "of" } else { "or" };
            format!("{} {and} {last}", rest.join(", "))
        }
    }
}

/// The cohort in one or two sentences, in the report's language.
pub fn cohort_description(config: &LinkConfig, lang: Lang) -> String {
    let types = types_text(config, lang);
    match (&config.cohort, lang) {
        (Cohort::Outflow { year }, Lang::Nl) => format!(
            "Personen van wie de bijstand ({types}) in {year} eindigde. Per persoon telt de eerste \
             beëindigde bijstandsperiode in {year}."
        ),
        (Cohort::Outflow { year }, Lang::En) => format!(
            "Persons whose social assistance ({types}) ended in {year}. The first assistance \
             episode ending in {year} counts, once per person."
        ),
        (Cohort::Stock { date }, Lang::Nl) => {
            format!("Personen met bijstand ({types}) op {date}.")
        }
        (Cohort::Stock { date }, Lang::En) => {
            format!("Persons receiving social assistance ({types}) on {date}.")
        }
        (Cohort::Inflow { year }, Lang::Nl) => format!(
            "Personen van wie een bijstandsperiode ({types}) in {year} begon. Per persoon telt de \
             eerste periode die in {year} begon."
        ),
        (Cohort::Inflow { year }, Lang::En) => format!(
            "Persons whose social assistance ({types}) started in {year}. The first episode \
             starting in {year} counts, once per person."
        ),
        (Cohort::Trajectory { year }, Lang::Nl) => format!(
            "Personen van wie een re-integratietraject in {year} eindigde. Per persoon telt het \
             eerste traject dat in {year} eindigde."
        ),
        (Cohort::Trajectory { year }, Lang::En) => format!(
            "Persons whose re-integration trajectory ended in {year}. The first trajectory \
             ending in {year} counts, once per person."
        ),
    }
}

/// The pipeline's definitions, in the report's language.
pub fn definitions(config: &LinkConfig, lang: Lang) -> Vec<Definition> {
    let types = types_text(config, lang);
    let horizons: Vec<String> = config.horizons.iter().map(|h| h.to_string()).collect();
    let horizons = horizons.join(", ");
    let gap = config.gap_days;
    let lookback = config.lookback_months;
    let reentry = config.reentry_months;
    let reference = match (&config.cohort, lang) {
        (Cohort::Outflow { .. }, Lang::Nl) => "De dag na het einde van de bijstandsperiode.",
        (Cohort::Outflow { .. }, Lang::En) => "The day after the assistance episode ended.",
        (Cohort::Stock { .. }, Lang::Nl) => "De peildatum van het cohort.",
        (Cohort::Stock { .. }, Lang::En) => "The cohort's stock date.",
        (Cohort::Inflow { .. }, Lang::Nl) => "De eerste dag van de bijstandsperiode.",
        (Cohort::Inflow { .. }, Lang::En) => "The first day of the assistance episode.",
        (Cohort::Trajectory { .. }, Lang::Nl) => "De dag na het einde van het traject.",
        (Cohort::Trajectory { .. }, Lang::En) => "The day after the trajectory ended.",
    };
    match lang {
        Lang::Nl => vec![
            Definition::new("Cohort", cohort_description(config, lang)),
            Definition::new("Referentiedatum", reference),
            Definition::new(
                "Bijstandsperiode",
                format!(
                    "Aaneengesloten uitkering ({types}); onderbrekingen van hoogstens {gap} dagen \
                     worden overbrugd."
                ),
            ),
            Definition::new(
                "Peilmomenten",
                format!(
                    "{horizons} maanden na de referentiedatum (dag begrensd op het einde van de \
                     maand)."
                ),
            ),
            Definition::new(
                "Terugval",
                format!("Opnieuw bijstand binnen {reentry} maanden na de referentiedatum."),
            ),
            Definition::new(
                "Traject",
                format!(
                    "Re-integratietrajecten die overlappen met de {lookback} maanden vóór de \
                     referentiedatum."
                ),
            ),
        ],
        Lang::En => vec![
            Definition::new("Cohort", cohort_description(config, lang)),
            Definition::new("Reference date", reference),
            Definition::new(
                "Assistance episode",
                format!(
                    "Continuous benefit receipt ({types}); gaps of at most {gap} days are \
                     bridged."
                ),
            ),
            Definition::new(
                "Horizons",
                format!(
                    "{horizons} months after the reference date (day clamped to the month's \
                     end)."
                ),
            ),
            Definition::new(
                "Re-entry",
                format!("Assistance again within {reentry} months after the reference date."),
            ),
            Definition::new(
                "Trajectory",
                format!(
                    "Re-integration trajectories overlapping the {lookback} months before the \
                     reference date."
                ),
            ),
        ],
    }
}

/// Linkage quality per upload municipality from the link stage's
/// `quality.json`, as persons partitioned into linked (found, with
/// assistance around a trajectory), outside the period (found, without
/// such assistance) and not in the register. `None` without uploads.
pub fn linkage_quality(quality: &Value) -> Option<LinkageQuality> {
    let rows = quality.get("linkage")?.as_array()?;
    let get = |row: &Value, key: &str| row.get(key).and_then(Value::as_u64).unwrap_or(0);
    let rows: Vec<(String, Vec<u64>)> = rows
        .iter()
        .filter_map(|row| {
            let code = row.get("municipality")?.as_str()?.to_string();
            let found = get(row, "found_in_persons_register");
            let linked = get(row, "with_assistance_around_trajectories").min(found);
            Some((code, vec![linked, found - linked, get(row, "not_found")]))
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    Some(LinkageQuality {
        dimension: "municipality".into(),
        unit: "persons".into(),
        categories: vec![
            "linked".into(),
            "outside_window".into(),
            "not_in_register".into(),
        ],
        rows,
    })
}

/// The whole context for the export stage.
pub fn report_context(
    pipeline: &Pipeline,
    config: &LinkConfig,
    quality: &Value,
    manifest_extra: Value,
) -> Result<ReportContext, PipelineError> {
    let lang = report_lang(pipeline);
    let labels = Labels::from_config_dir(&pipeline.config_dir)
        .map_err(|e| PipelineError::stage("export", e))?;
    let title = pipeline.report.title.clone().unwrap_or_else(|| {
        if pipeline.description.is_empty() {
            pipeline.name.clone()
        } else {
            pipeline.description.clone()
        }
    });
    let mut ctx = ReportContext::new(title);
    ctx.lang = lang;
    ctx.labels = labels;
    ctx.cohort_description = cohort_description(config, lang);
    ctx.definitions = definitions(config, lang);
    ctx.linkage_quality = linkage_quality(quality);
    ctx.manifest_extra = manifest_extra;
    Ok(ctx)
}

/// Reads the link stage's `quality.json` (aggregated counts only).
pub fn read_quality(path: &Path) -> Result<Value, PipelineError> {
    let text = std::fs::read_to_string(path).map_err(PipelineError::io(path))?;
    serde_json::from_str(&text)
        .map_err(|e| PipelineError::stage("export", format!("{}: {e}", path.display())))
}

/// The provenance keys merged into the package manifest.
pub fn provenance(pipeline: &Pipeline, key_id: Option<&str>, config_hash: &str) -> Value {
    json!({
        "software": { "name": "koppel", "version": env!("CARGO_PKG_VERSION") },
        "pipeline": pipeline.name,
        "config_hash": config_hash,
        "key_id": key_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linkage_quality_partitions_found_persons() {
        let quality = json!({
            "linkage": [
                {"municipality": "GM0363", "persons_in_uploads": 100, "found_in_persons_register": 95,
                 "with_assistance_around_trajectories": 80, "not_found": 5},
                {"municipality": "GM0599", "persons_in_uploads": 10, "found_in_persons_register": 10,
                 "with_assistance_around_trajectories": 10, "not_found": 0}
            ]
        });
        let q = linkage_quality(&quality).unwrap();
        assert_eq!(q.rows[0], ("GM0363".to_string(), vec![80, 15, 5]));
        assert_eq!(q.rows[1], ("GM0599".to_string(), vec![10, 0, 0]));
        for (_, counts) in &q.rows {
            assert_eq!(counts.len(), q.categories.len());
        }
        assert!(linkage_quality(&json!({"linkage": []})).is_none());
        assert!(linkage_quality(&json!({})).is_none());
    }

    #[test]
    fn definitions_follow_the_configuration() {
        let mut config = LinkConfig::new(Cohort::Outflow { year: 2022 });
        config.gap_days = 45;
        config.horizons = vec![6, 12];
        let nl = definitions(&config, Lang::Nl);
        assert!(nl.iter().any(|d| d.text.contains("45 dagen")));
        assert!(nl.iter().any(|d| d.text.starts_with("6, 12 maanden")));
        assert!(nl[0].text.contains("2022"));
        let en = definitions(&config, Lang::En);
        assert!(en.iter().any(|d| d.text.contains("45 days")));
        assert_eq!(
            types_text(&config, Lang::En),
            "bijstand, IOAW or IOAZ",
            "default assistance types"
        );
    }
}
