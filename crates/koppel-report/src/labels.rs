//! Dutch and English labels from `config/labels.toml` (embedded default),
//! instrument labels from `config/instruments.toml` and municipality names
//! from `config/municipalities.toml`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr;

use koppel_schema::analysis::{TRAJECTORY_LAST, TRAJECTORY_MIX};
use koppel_schema::instruments::Catalogue;
use serde::Deserialize;

use crate::ReportError;

/// The default labels (`config/labels.toml`).
pub const DEFAULT_LABELS: &str = include_str!("../../../config/labels.toml");
/// The default instrument catalogue (`config/instruments.toml`).
pub use koppel_schema::instruments::BUILTIN as DEFAULT_INSTRUMENTS;
/// The default municipality list (`config/municipalities.toml`).
pub const DEFAULT_MUNICIPALITIES: &str = include_str!("../../../config/municipalities.toml");

/// Language of the package (CSV headers, definitions, report).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Dutch (default).
    #[default]
    Nl,
    /// English.
    En,
}

impl Lang {
    /// `nl` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }
}

impl FromStr for Lang {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "nl" | "nld" | "dutch" => Ok(Lang::Nl),
            "en" | "eng" | "english" => Ok(Lang::En),
            other => Err(ReportError::Config(format!(
                "language {other:?} is not supported (nl or en)"
            ))),
        }
    }
}

/// A Dutch/English pair.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Text {
    /// Dutch.
    pub nl: String,
    /// English.
    pub en: String,
}

impl Text {
    /// The text in a language.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Nl => &self.nl,
            Lang::En => &self.en,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Coded {
    code: String,
    nl: String,
    en: String,
    #[serde(default)]
    color: Option<String>,
    #[serde(default)]
    ink: Option<String>,
    #[serde(default)]
    description_nl: Option<String>,
    #[serde(default)]
    description_en: Option<String>,
}

impl Coded {
    /// The Dutch/English label.
    fn text(&self) -> Text {
        Text {
            nl: self.nl.clone(),
            en: self.en.clone(),
        }
    }

    /// The code with its label.
    fn coded_text(&self) -> (String, Text) {
        (self.code.clone(), self.text())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DimensionText {
    code: String,
    nl: String,
    en: String,
    #[serde(default)]
    levels: Vec<Coded>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HorizonText {
    nl: String,
    en: String,
    short_nl: String,
    short_en: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelsFile {
    state: Vec<Coded>,
    horizon: HorizonText,
    #[serde(default)]
    measure: Vec<Coded>,
    #[serde(default)]
    common_level: Vec<Coded>,
    #[serde(default)]
    dimension: Vec<DimensionText>,
    #[serde(default)]
    linkage_category: Vec<Coded>,
    #[serde(default)]
    linkage_unit: Vec<Coded>,
    ui: BTreeMap<String, Text>,
}

#[derive(Debug, Clone, Deserialize)]
struct MunicipalitiesFile {
    #[serde(default)]
    current: BTreeMap<String, String>,
    #[serde(default)]
    merged: BTreeMap<String, MergedText>,
}

#[derive(Debug, Clone, Deserialize)]
struct MergedText {
    name: String,
}

/// A state or category with its colours.
#[derive(Debug, Clone)]
pub struct Category {
    /// Code in the tables.
    pub code: String,
    /// Labels.
    pub label: Text,
    /// Bar colour.
    pub color: String,
    /// Colour of text on the bar.
    pub ink: String,
    /// Description (may be empty).
    pub description: Text,
}

/// The labels of one package, in both languages.
#[derive(Debug, Clone)]
pub struct Labels {
    states: Vec<Category>,
    horizon: HorizonText,
    measures: Vec<Coded>,
    common_levels: HashMap<String, Text>,
    dims: Vec<(String, Text)>,
    /// Per dimension: ordered (code, label).
    levels: HashMap<String, Vec<(String, Text)>>,
    linkage_categories: Vec<Category>,
    linkage_units: HashMap<String, Text>,
    ui: BTreeMap<String, Text>,
}

/// Every UI key the report uses (a test checks that the default labels
/// define all of them in both languages).
pub const UI_KEYS: &[&str] = &[
    "lang",
    "contents",
    "summary",
    "how_to_read",
    "states_section",
    "flags_section",
    "trajectory_section",
    "wage_section",
    "linkage_section",
    "definitions_section",
    "rules_section",
    "package_section",
    "cohort_size",
    "persons_unit",
    "n_persons",
    "states_by",
    "flag_by",
    "whole_cohort",
    "whole_cohort_intro",
    "state_chart_intro",
    "flag_chart_intro",
    "withheld",
    "no_persons",
    "figures",
    "too_many_groups",
    "chart_groups_note",
    "group",
    "horizon",
    "total",
    "share_yes",
    "legend_suppressed",
    "legend_rounded",
    "legend_not_rounded",
    "legend_percent",
    "legend_withheld",
    "legend_mean",
    "legend_causal",
    "legend_colours",
    "trajectory_intro",
    "in_work",
    "linkage_intro",
    "linkage_none",
    "wage_intro",
    "rule_min_count",
    "rule_zeros",
    "rule_zeros_secret",
    "rule_magnitude",
    "rule_rounding_nearest",
    "rule_rounding_random",
    "rule_override",
    "files_intro",
    "file_parquet",
    "file_csv",
    "file_definitions",
    "file_manifest",
    "file_quality",
    "file_report",
    "cohort_section",
    "states_defs",
    "horizons_defs",
    "horizons_text",
    "measures_defs",
    "dimensions_defs",
    "legend_defs",
    "rounding_term",
    "percent_term",
    "and",
    "generated_by",
    "tables_list",
    "trajectory_intro_work",
    "trajectory_intro_flag",
    "suppressed_together",
    "linkage_chart_intro",
    "linkage_categories",
    "jobs_section",
    "jobs_intro",
    "in_work_total",
    "of_all_in_work",
    "flow_section",
    "flow_intro",
    "flow_from",
    "flow_to",
    "flow_share",
    "mostly_suppressed",
    "by",
    "csv_readme",
    "csv_readme_intro",
    "xlsx_cover",
    "file_xlsx",
];

const FALLBACK_COLORS: [(&str, &str); 6] = [
    ("#56B4E9", "#000000"),
    ("#CC79A7", "#000000"),
    ("#F0E442", "#000000"),
    ("#0072B2", "#FFFFFF"),
    ("#009E73", "#FFFFFF"),
    ("#9A9A9A", "#000000"),
];

impl Category {
    /// The label in a language.
    pub fn label_in(&self, lang: Lang) -> String {
        self.label.get(lang).to_string()
    }
}

fn category(c: &Coded, i: usize) -> Category {
    let (fc, fi) = FALLBACK_COLORS[i % FALLBACK_COLORS.len()];
    Category {
        code: c.code.clone(),
        label: c.text(),
        color: c.color.clone().unwrap_or_else(|| fc.into()),
        ink: c.ink.clone().unwrap_or_else(|| fi.into()),
        description: Text {
            nl: c.description_nl.clone().unwrap_or_default(),
            en: c.description_en.clone().unwrap_or_default(),
        },
    }
}

fn valid_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|c| c.is_ascii_hexdigit())
}

impl Default for Labels {
    /// The embedded `config/` files (they are tested to parse).
    fn default() -> Self {
        Labels::parse(
            DEFAULT_LABELS,
            Some(DEFAULT_INSTRUMENTS),
            Some(DEFAULT_MUNICIPALITIES),
        )
        .expect("embedded config/labels.toml is valid")
    }
}

impl Labels {
    /// Parses `labels.toml`, optionally with `instruments.toml` (levels of
    /// the trajectory dimensions) and `municipalities.toml` (names).
    pub fn parse(
        labels: &str,
        instruments: Option<&str>,
        municipalities: Option<&str>,
    ) -> Result<Labels, ReportError> {
        let file: LabelsFile =
            toml::from_str(labels).map_err(|e| ReportError::Config(format!("labels.toml: {e}")))?;
        let mut levels: HashMap<String, Vec<(String, Text)>> = HashMap::new();
        let mut dims = Vec::new();
        for d in &file.dimension {
            dims.push((
                d.code.clone(),
                Text {
                    nl: d.nl.clone(),
                    en: d.en.clone(),
                },
            ));
            levels.insert(
                d.code.clone(),
                d.levels.iter().map(Coded::coded_text).collect(),
            );
        }
        if let Some(text) = instruments {
            let inst = Catalogue::parse(text).map_err(ReportError::Instruments)?;
            for dim in [TRAJECTORY_LAST, TRAJECTORY_MIX] {
                let list = levels.entry(dim.into()).or_default();
                // Instruments go before `multiple`.
                let at = list
                    .iter()
                    .position(|(c, _)| c == "multiple")
                    .unwrap_or(list.len());
                let new: Vec<(String, Text)> = inst
                    .instruments
                    .iter()
                    .filter(|i| !list.iter().any(|(c, _)| *c == i.code))
                    .map(|i| {
                        (
                            i.code.clone(),
                            Text {
                                nl: i.label_nl.clone(),
                                en: i.label_en.clone(),
                            },
                        )
                    })
                    .collect();
                list.splice(at..at, new);
            }
        }
        if let Some(text) = municipalities {
            let m: MunicipalitiesFile = toml::from_str(text)
                .map_err(|e| ReportError::Config(format!("municipalities.toml: {e}")))?;
            let mut all: Vec<(String, String)> = m.current.into_iter().collect();
            all.extend(m.merged.into_iter().map(|(k, v)| (k, v.name)));
            // Alphabetical by name, as a reader looks them up.
            all.sort_by_key(|a| a.1.to_lowercase());
            let list = levels.entry("municipality".into()).or_default();
            for (code, name) in all {
                if !list.iter().any(|(c, _)| *c == code) {
                    let label = format!("{name} ({code})");
                    list.push((
                        code,
                        Text {
                            nl: label.clone(),
                            en: label,
                        },
                    ));
                }
            }
        }
        let states: Vec<Category> = file
            .state
            .iter()
            .enumerate()
            .map(|(i, c)| category(c, i))
            .collect();
        let linkage_categories: Vec<Category> = file
            .linkage_category
            .iter()
            .enumerate()
            .map(|(i, c)| category(c, i))
            .collect();
        for c in states.iter().chain(&linkage_categories) {
            if !valid_color(&c.color) || !valid_color(&c.ink) {
                return Err(ReportError::Config(format!(
                    "labels.toml: colours of {} must be #RRGGBB",
                    c.code
                )));
            }
        }
        Ok(Labels {
            states,
            horizon: file.horizon,
            measures: file.measure,
            common_levels: file.common_level.iter().map(Coded::coded_text).collect(),
            dims,
            levels,
            linkage_categories,
            linkage_units: file.linkage_unit.iter().map(Coded::coded_text).collect(),
            ui: file.ui,
        })
    }

    /// Reads `labels.toml`, `instruments.toml` and `municipalities.toml`
    /// from a configuration directory; a file that is absent there falls
    /// back to the embedded default.
    pub fn from_config_dir(dir: &Path) -> Result<Labels, ReportError> {
        let read = |name: &str, default: &'static str| -> Result<String, ReportError> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(t) => Ok(t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(default.to_string()),
                Err(e) => Err(ReportError::Config(format!("{}: {e}", path.display()))),
            }
        };
        let labels = read("labels.toml", DEFAULT_LABELS)?;
        let instruments = read("instruments.toml", DEFAULT_INSTRUMENTS)?;
        let municipalities = read("municipalities.toml", DEFAULT_MUNICIPALITIES)?;
        Labels::parse(&labels, Some(&instruments), Some(&municipalities))
    }

    /// A UI string (the key itself when missing).
    pub fn ui(&self, lang: Lang, key: &str) -> String {
        self.ui
            .get(key)
            .map(|t| t.get(lang).to_string())
            .unwrap_or_else(|| key.to_string())
    }

    /// Whether a UI key is defined with both languages non-empty.
    pub fn has_ui(&self, key: &str) -> bool {
        self.ui
            .get(key)
            .is_some_and(|t| !t.nl.is_empty() && !t.en.is_empty())
    }

    /// The five outcome states in publication order.
    pub fn states(&self) -> &[Category] {
        &self.states
    }

    /// The state (or linkage category) with this code, else a neutral one.
    pub fn category(&self, code: &str, linkage: bool) -> Category {
        let list = if linkage {
            &self.linkage_categories
        } else {
            &self.states
        };
        if let Some(c) = list.iter().find(|c| c.code == code) {
            return c.clone();
        }
        let (color, ink) = FALLBACK_COLORS[code.len() % FALLBACK_COLORS.len()];
        Category {
            code: code.into(),
            label: Text {
                nl: code.into(),
                en: code.into(),
            },
            color: color.into(),
            ink: ink.into(),
            description: Text::default(),
        }
    }

    /// Label of a state code.
    pub fn state(&self, lang: Lang, code: &str) -> String {
        self.states
            .iter()
            .find(|c| c.code == code)
            .map(|c| c.label.get(lang).to_string())
            .or_else(|| self.common_levels.get(code).map(|t| t.get(lang).into()))
            .unwrap_or_else(|| code.to_string())
    }

    /// Label of a dimension.
    pub fn dim(&self, lang: Lang, code: &str) -> String {
        self.dims
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, t)| t.get(lang).to_string())
            .unwrap_or_else(|| code.to_string())
    }

    /// Label of a level of a dimension (exact code, then case-insensitive,
    /// then the levels every dimension shares, then the code).
    pub fn level(&self, lang: Lang, dim: &str, code: &str) -> String {
        if let Some(list) = self.levels.get(dim) {
            if let Some((_, t)) = list
                .iter()
                .find(|(c, _)| c == code)
                .or_else(|| list.iter().find(|(c, _)| c.eq_ignore_ascii_case(code)))
            {
                return t.get(lang).to_string();
            }
        }
        self.common_levels
            .get(code)
            .map(|t| t.get(lang).to_string())
            .unwrap_or_else(|| code.to_string())
    }

    /// Sort position of a level: `Total` first, listed levels in their
    /// order, unlisted ones after (`None`), `unknown` last.
    pub fn level_rank(&self, dim: &str, code: &str) -> (u8, usize) {
        if code == koppel_disclosure::table::TOTAL {
            return (0, 0);
        }
        if code == koppel_disclosure::table::UNKNOWN {
            return (3, 0);
        }
        match self.levels.get(dim).and_then(|l| {
            l.iter()
                .position(|(c, _)| c == code)
                .or_else(|| l.iter().position(|(c, _)| c.eq_ignore_ascii_case(code)))
        }) {
            Some(i) => (1, i),
            None => (2, 0),
        }
    }

    /// Label of a measure (`persons`, a flag, `mean_wage`, ...). A
    /// magnitude by a job field (`median_wage_by_contract`) is the base
    /// measure's label "by" the field's label.
    pub fn measure(&self, lang: Lang, code: &str) -> String {
        if let Some(c) = self.measures.iter().find(|c| c.code == code) {
            return match lang {
                Lang::Nl => c.nl.clone(),
                Lang::En => c.en.clone(),
            };
        }
        if let Some((base, field)) = code.split_once("_by_") {
            let dim = self.dim(lang, field);
            let mut chars = dim.chars();
            let dim = match chars.next() {
                Some(f) => f.to_lowercase().chain(chars).collect(),
                None => dim,
            };
            return format!("{} {} {dim}", self.measure(lang, base), self.ui(lang, "by"));
        }
        code.to_string()
    }

    /// The linkage-quality categories (with descriptions).
    pub fn linkage_categories(&self) -> &[Category] {
        &self.linkage_categories
    }

    /// Description of a measure (may be empty; a magnitude by a job field
    /// has its base measure's description).
    pub fn measure_description(&self, lang: Lang, code: &str) -> String {
        let code = code.split_once("_by_").map_or(code, |(base, _)| base);
        self.measures
            .iter()
            .find(|c| c.code == code)
            .and_then(|c| match lang {
                Lang::Nl => c.description_nl.clone(),
                Lang::En => c.description_en.clone(),
            })
            .unwrap_or_default()
    }

    /// Label of a linkage-quality unit (`trajectories`, `persons`, ...).
    pub fn linkage_unit(&self, lang: Lang, code: &str) -> String {
        self.linkage_units
            .get(code)
            .map(|t| t.get(lang).to_string())
            .unwrap_or_else(|| code.to_string())
    }

    /// Long horizon label (`6m` → "na 6 maanden").
    pub fn horizon(&self, lang: Lang, horizon: &str) -> String {
        let k = horizon.trim_end_matches('m');
        let t = match lang {
            Lang::Nl => &self.horizon.nl,
            Lang::En => &self.horizon.en,
        };
        t.replace("{k}", k)
    }

    /// Short horizon label (`6m` → "6 mnd").
    pub fn horizon_short(&self, lang: Lang, horizon: &str) -> String {
        let k = horizon.trim_end_matches('m');
        let t = match lang {
            Lang::Nl => &self.horizon.short_nl,
            Lang::En => &self.horizon.short_en,
        };
        t.replace("{k}", k)
    }

    /// Every label text in both languages (used by tests to tell label
    /// digits, such as "27 tot 35 jaar", from figures).
    pub fn all_text(&self) -> String {
        let mut out = String::new();
        let mut push = |t: &Text| {
            out.push_str(&t.nl);
            out.push('\n');
            out.push_str(&t.en);
            out.push('\n');
        };
        for c in self.states.iter().chain(&self.linkage_categories) {
            push(&c.label);
            push(&c.description);
        }
        for m in &self.measures {
            push(&Text {
                nl: m.nl.clone(),
                en: m.en.clone(),
            });
            push(&Text {
                nl: m.description_nl.clone().unwrap_or_default(),
                en: m.description_en.clone().unwrap_or_default(),
            });
        }
        for t in self.common_levels.values() {
            push(t);
        }
        for (_, t) in &self.dims {
            push(t);
        }
        for list in self.levels.values() {
            for (c, t) in list {
                push(&Text {
                    nl: c.clone(),
                    en: String::new(),
                });
                push(t);
            }
        }
        for t in self.linkage_units.values() {
            push(t);
        }
        for t in self.ui.values() {
            push(t);
        }
        out.push_str(&self.horizon.nl);
        out.push_str(&self.horizon.en);
        out
    }
}
