//! Reference configuration of the ingest stage: header aliases
//! (`config/columns.toml`), CBS municipality codes
//! (`config/municipalities.toml`), the instrument catalogue
//! (`config/instruments.toml`) and labels of coded values
//! (`config/values.toml`).
//!
//! The repository's files are compiled in ([`IngestConfig::builtin`]), so the
//! binary works from any directory; [`IngestConfig::load`] reads another
//! directory and [`IngestConfig::from_env`] honours `KOPPEL_CONFIG_DIR`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use koppel_schema::instruments::{name_key, name_key_into, Catalogue};
use serde::Deserialize;

use crate::schema::{header_key, ColumnSpec, InputKind, ValueType};
use crate::IngestError;

/// `config/columns.toml` as compiled in.
pub const BUILTIN_COLUMNS: &str = include_str!("../../../config/columns.toml");
/// `config/municipalities.toml` as compiled in.
pub const BUILTIN_MUNICIPALITIES: &str = include_str!("../../../config/municipalities.toml");
/// `config/instruments.toml` as compiled in.
pub use koppel_schema::instruments::BUILTIN as BUILTIN_INSTRUMENTS;
/// `config/values.toml` as compiled in.
pub const BUILTIN_VALUES: &str = include_str!("../../../config/values.toml");

/// Environment variable naming a configuration directory to use instead of
/// the compiled-in files.
pub const CONFIG_DIR_ENV: &str = "KOPPEL_CONFIG_DIR";

/// Header aliases per kind: canonical column → accepted headers.
#[derive(Clone, Debug, Default)]
pub struct ColumnAliases {
    by_kind: BTreeMap<InputKind, BTreeMap<String, Vec<String>>>,
}

impl ColumnAliases {
    /// Parse `columns.toml` text; `source` names it in errors.
    pub fn parse(text: &str, source: &Path) -> Result<ColumnAliases, IngestError> {
        let raw: BTreeMap<String, BTreeMap<String, Vec<String>>> =
            toml::from_str(text).map_err(|e| config_error(source, e))?;
        let mut by_kind = BTreeMap::new();
        for (kind_name, columns) in raw {
            let kind: InputKind = kind_name
                .parse()
                .map_err(|e: String| config_error(source, e))?;
            let mut seen: HashMap<String, String> = HashMap::new();
            for (column, aliases) in &columns {
                if !kind.columns().iter().any(|c| c.name == column) {
                    return Err(config_error(
                        source,
                        format!("[{kind}] has no column '{column}'"),
                    ));
                }
                for alias in aliases.iter().chain(std::iter::once(column)) {
                    let key = header_key(alias);
                    if key.is_empty() {
                        return Err(config_error(
                            source,
                            format!("[{kind}] {column}: empty alias"),
                        ));
                    }
                    if let Some(other) = seen.insert(key, column.clone()) {
                        if other != *column {
                            return Err(config_error(
                                source,
                                format!(
                                    "[{kind}] alias '{alias}' names both '{other}' and '{column}'"
                                ),
                            ));
                        }
                    }
                }
            }
            by_kind.insert(kind, columns);
        }
        Ok(ColumnAliases { by_kind })
    }

    /// The accepted headers of a canonical column (the name itself first).
    pub fn names(&self, kind: InputKind, column: &str) -> Vec<String> {
        let mut names = vec![column.to_string()];
        if let Some(aliases) = self.by_kind.get(&kind).and_then(|k| k.get(column)) {
            names.extend(aliases.iter().cloned());
        }
        names
    }
}

/// One CBS municipality code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Municipality {
    /// `GM` + 4 digits.
    pub code: String,
    /// Official name.
    pub name: String,
    /// For a municipality merged away: the year it ceased to exist.
    pub ended: Option<i32>,
    /// For a municipality merged away: its successor codes.
    pub into: Vec<String>,
}

/// The known municipality codes, current and merged away since 2015.
#[derive(Clone, Debug, Default)]
pub struct Municipalities {
    by_code: HashMap<String, Municipality>,
    /// Name key ([`header_key`]) → code; a current municipality wins over a
    /// merged one of the same name.
    by_name: HashMap<String, String>,
}

#[derive(Deserialize)]
struct MunicipalitiesFile {
    current: BTreeMap<String, String>,
    #[serde(default)]
    merged: BTreeMap<String, MergedEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergedEntry {
    name: String,
    ended: i32,
    #[serde(default)]
    into: Vec<String>,
}

impl Municipalities {
    /// Parse `municipalities.toml` text; `source` names it in errors.
    pub fn parse(text: &str, source: &Path) -> Result<Municipalities, IngestError> {
        let file: MunicipalitiesFile = toml::from_str(text).map_err(|e| config_error(source, e))?;
        let mut by_code = HashMap::new();
        let well_formed = |code: &str| {
            code.len() == 6
                && code.starts_with("GM")
                && code[2..].bytes().all(|b| b.is_ascii_digit())
        };
        for (code, name) in file.current {
            if !well_formed(&code) {
                return Err(config_error(source, format!("bad code '{code}'")));
            }
            by_code.insert(
                code.clone(),
                Municipality {
                    code,
                    name,
                    ended: None,
                    into: Vec::new(),
                },
            );
        }
        for (code, entry) in file.merged {
            if !well_formed(&code) || by_code.contains_key(&code) {
                return Err(config_error(
                    source,
                    format!("merged code '{code}' is malformed or also current"),
                ));
            }
            by_code.insert(
                code.clone(),
                Municipality {
                    code,
                    name: entry.name,
                    ended: Some(entry.ended),
                    into: entry.into,
                },
            );
        }
        let mut by_name = HashMap::new();
        let mut names: Vec<&Municipality> = by_code.values().collect();
        // Current first, then merged (latest first); codes break ties.
        names.sort_by_key(|m| (m.ended.map_or(i32::MIN, |y| -y), m.code.clone()));
        for m in names {
            by_name
                .entry(header_key(&m.name))
                .or_insert_with(|| m.code.clone());
        }
        Ok(Municipalities { by_code, by_name })
    }

    /// The code of the municipality named `name` (case, accents, spaces and
    /// punctuation ignored: `'s-Hertogenbosch` = `s hertogenbosch`), current
    /// or merged away.
    pub fn code_of_name(&self, name: &str) -> Option<&str> {
        self.by_name.get(&header_key(name)).map(String::as_str)
    }

    /// The municipality with this `GMxxxx` code.
    pub fn get(&self, code: &str) -> Option<&Municipality> {
        self.by_code.get(code)
    }

    /// Number of codes that currently exist.
    pub fn current_count(&self) -> usize {
        self.by_code.values().filter(|m| m.ended.is_none()).count()
    }

    /// Number of codes known (current and merged away).
    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    /// True when no codes are known.
    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }
}

/// The instrument catalogue as a lookup from any spelling to the code.
///
/// The file is parsed and checked by the one catalogue parser
/// ([`koppel_schema::instruments::Catalogue`]) the report and the
/// generator use too; this adds the index ingest looks values up in.
#[derive(Clone, Debug, Default)]
pub struct Instruments {
    codes: Vec<String>,
    /// Dutch label per code.
    labels_nl: Vec<String>,
    /// Name key ([`name_key`]) → index into `codes`.
    by_name: HashMap<String, u16>,
}

impl Instruments {
    /// Parse `instruments.toml` text; `source` names it in errors.
    pub fn parse(text: &str, source: &Path) -> Result<Instruments, IngestError> {
        let catalogue = Catalogue::parse(text).map_err(|e| IngestError::Instruments {
            path: source.to_path_buf(),
            source: e,
        })?;
        Instruments::from_catalogue(catalogue, source)
    }

    /// The lookup of a checked catalogue; `source` names it in errors.
    fn from_catalogue(catalogue: Catalogue, source: &Path) -> Result<Instruments, IngestError> {
        let mut this = Instruments::default();
        for (i, instrument) in catalogue.instruments.into_iter().enumerate() {
            let index = u16::try_from(i)
                .map_err(|_| config_error(source, "too many instruments".to_string()))?;
            // The catalogue refuses a name of two instruments, so no key
            // is taken yet by another index.
            for name in instrument.names() {
                this.by_name.entry(name_key(name)).or_insert(index);
            }
            this.labels_nl.push(instrument.label_nl);
            this.codes.push(instrument.code);
        }
        Ok(this)
    }

    /// The canonical code of an instrument written as its code, Dutch or
    /// English label or any alias (case and surrounding or repeated spaces
    /// ignored). `scratch` is reused to avoid allocating per value.
    pub fn lookup(&self, name: &str, scratch: &mut String) -> Option<&str> {
        scratch.clear();
        name_key_into(name, scratch);
        self.by_name
            .get(scratch.as_str())
            .map(|&i| self.codes[usize::from(i)].as_str())
    }

    /// All canonical codes.
    pub fn codes(&self) -> &[String] {
        &self.codes
    }

    /// The Dutch label of every code, in catalogue order.
    pub fn dutch_labels(&self) -> Vec<String> {
        self.labels_nl.clone()
    }
}

/// Labels accepted for coded values, per kind and column: label key
/// ([`header_key`]) → code, and the Dutch name of each code.
#[derive(Clone, Debug, Default)]
pub struct ValueLabels {
    by_column: HashMap<(InputKind, String), ColumnLabels>,
}

#[derive(Clone, Debug, Default)]
struct ColumnLabels {
    /// Label key → index into the column's allowed codes.
    by_key: HashMap<String, usize>,
    /// Per allowed code: its Dutch name (the code itself when none is given).
    dutch: Vec<String>,
}

impl ValueLabels {
    /// Parse `values.toml` text; `source` names it in errors.
    pub fn parse(text: &str, source: &Path) -> Result<ValueLabels, IngestError> {
        type Raw = BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<String>>>>;
        let raw: Raw = toml::from_str(text).map_err(|e| config_error(source, e))?;
        let mut by_column = HashMap::new();
        for (kind_name, columns) in raw {
            let kind: InputKind = kind_name
                .parse()
                .map_err(|e: String| config_error(source, e))?;
            for (column, codes) in columns {
                let allowed = match kind.columns().iter().find(|c| c.name == column) {
                    Some(ColumnSpec {
                        ty: ValueType::Enum(allowed),
                        ..
                    }) => *allowed,
                    _ => {
                        return Err(config_error(
                            source,
                            format!("[{kind}.{column}] is not a column with a fixed list of codes"),
                        ))
                    }
                };
                let mut labels = ColumnLabels {
                    by_key: HashMap::new(),
                    dutch: allowed.iter().map(|a| (*a).to_string()).collect(),
                };
                for (code, names) in codes {
                    let index = allowed.iter().position(|a| *a == code).ok_or_else(|| {
                        config_error(
                            source,
                            format!(
                                "[{kind}.{column}] has no code '{code}' (codes: {})",
                                allowed.join(", ")
                            ),
                        )
                    })?;
                    if let Some(first) = names.first() {
                        labels.dutch[index].clone_from(first);
                    }
                    for name in &names {
                        let key = header_key(name);
                        if key.is_empty() {
                            return Err(config_error(
                                source,
                                format!("[{kind}.{column}] {code}: empty label"),
                            ));
                        }
                        if let Some(other) = labels.by_key.insert(key, index) {
                            if other != index {
                                return Err(config_error(
                                    source,
                                    format!(
                                        "[{kind}.{column}] label '{name}' names both '{}' and '{code}'",
                                        allowed[other]
                                    ),
                                ));
                            }
                        }
                    }
                }
                by_column.insert((kind, column), labels);
            }
        }
        Ok(ValueLabels { by_column })
    }

    /// The index (into the column's allowed codes) of the code `label`
    /// stands for.
    pub fn lookup(&self, kind: InputKind, column: &str, label: &str) -> Option<usize> {
        let labels = self.by_column.get(&(kind, column.to_string()))?;
        labels.by_key.get(&header_key(label)).copied()
    }

    /// The Dutch names of the allowed codes of a column, in code order
    /// (`None` when the column has no fixed list).
    pub fn dutch_names(&self, kind: InputKind, column: &str) -> Option<Vec<String>> {
        let spec = kind.columns().iter().find(|c| c.name == column)?;
        let ValueType::Enum(allowed) = spec.ty else {
            return None;
        };
        Some(match self.by_column.get(&(kind, column.to_string())) {
            Some(labels) => labels.dutch.clone(),
            None => allowed.iter().map(|a| (*a).to_string()).collect(),
        })
    }
}

/// Everything validation needs to know besides the input.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    /// Header aliases.
    pub columns: ColumnAliases,
    /// Municipality codes.
    pub municipalities: Municipalities,
    /// Instrument catalogue.
    pub instruments: Instruments,
    /// Labels of coded values (Dutch names and aliases).
    pub values: ValueLabels,
    /// Where it came from (for logs): a directory or `built-in`.
    pub source: String,
}

impl IngestConfig {
    /// The configuration compiled into the binary (the repository's `config/`).
    pub fn builtin() -> Result<IngestConfig, IngestError> {
        let dir = Path::new("config");
        Ok(IngestConfig {
            columns: ColumnAliases::parse(BUILTIN_COLUMNS, &dir.join("columns.toml"))?,
            municipalities: Municipalities::parse(
                BUILTIN_MUNICIPALITIES,
                &dir.join("municipalities.toml"),
            )?,
            instruments: Instruments::parse(BUILTIN_INSTRUMENTS, &dir.join("instruments.toml"))?,
            values: ValueLabels::parse(BUILTIN_VALUES, &dir.join("values.toml"))?,
            source: "built-in".to_string(),
        })
    }

    /// Read `columns.toml`, `municipalities.toml`, `instruments.toml` and
    /// `values.toml` from `dir` (a directory without `values.toml` gets the
    /// built-in labels).
    pub fn load(dir: &Path) -> Result<IngestConfig, IngestError> {
        let read = |name: &str| -> Result<(String, PathBuf), IngestError> {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).map_err(|e| config_error(&path, e))?;
            Ok((text, path))
        };
        let (columns, columns_path) = read("columns.toml")?;
        let (munis, munis_path) = read("municipalities.toml")?;
        let (instruments, instruments_path) = read("instruments.toml")?;
        let values_path = dir.join("values.toml");
        let values = if values_path.exists() {
            let (text, path) = read("values.toml")?;
            ValueLabels::parse(&text, &path)?
        } else {
            ValueLabels::parse(BUILTIN_VALUES, Path::new("config/values.toml"))?
        };
        Ok(IngestConfig {
            columns: ColumnAliases::parse(&columns, &columns_path)?,
            municipalities: Municipalities::parse(&munis, &munis_path)?,
            instruments: Instruments::parse(&instruments, &instruments_path)?,
            values,
            source: dir.display().to_string(),
        })
    }

    /// `KOPPEL_CONFIG_DIR` when set, else the compiled-in configuration.
    pub fn from_env() -> Result<IngestConfig, IngestError> {
        match std::env::var_os(CONFIG_DIR_ENV) {
            Some(dir) if !dir.is_empty() => IngestConfig::load(Path::new(&dir)),
            _ => IngestConfig::builtin(),
        }
    }
}

fn config_error(path: &Path, reason: impl std::fmt::Display) -> IngestError {
    IngestError::Config {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_configuration_loads_and_matches_the_repository_files() {
        let config = IngestConfig::builtin().unwrap();
        assert_eq!(config.municipalities.current_count(), 342);
        assert!(config.municipalities.len() > 400);
        let weesp = config.municipalities.get("GM0457").unwrap();
        assert_eq!(
            (weesp.ended, weesp.into.as_slice()),
            (Some(2022), &["GM0363".to_string()][..])
        );
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        let loaded = IngestConfig::load(&dir).unwrap();
        assert_eq!(loaded.municipalities.len(), config.municipalities.len());
        assert_eq!(loaded.instruments.codes(), config.instruments.codes());
    }

    #[test]
    fn instruments_match_codes_labels_and_aliases() {
        let config = IngestConfig::builtin().unwrap();
        let mut s = String::new();
        let i = &config.instruments;
        assert_eq!(i.lookup("LKS", &mut s), Some("loonkostensubsidie"));
        assert_eq!(i.lookup("  training/CURSUS ", &mut s), Some("training"));
        assert_eq!(
            i.lookup("Sociale  activering", &mut s),
            Some("sociale_activering")
        );
        assert_eq!(i.lookup("Budgetcoaching", &mut s), None);
    }

    #[test]
    fn bad_instrument_catalogues_are_refused_naming_the_file() {
        let text = "[[instrument]]\ncode = \"a\"\nlabel_nl = \"A\"\nlabel_en = \"A en\"\n\
                    group = \"training\"\n[[instrument]]\ncode = \"b\"\nlabel_nl = \" a \"\n\
                    label_en = \"B en\"\ngroup = \"coaching\"\n";
        let err = Instruments::parse(text, Path::new("conf/instruments.toml")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration conf/instruments.toml: ' a ' names both 'a' and 'b'"
        );
        assert!(std::error::Error::source(&err).is_some());
        let err = Instruments::parse("instrument = []", Path::new("i.toml")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration i.toml: no [[instrument]] entries"
        );
    }

    #[test]
    fn synth_municipalities_are_all_known() {
        let config = IngestConfig::builtin().unwrap();
        for m in koppel_synth::municipalities::MUNICIPALITIES {
            assert!(config.municipalities.get(m.code).is_some(), "{}", m.code);
        }
    }

    #[test]
    fn dutch_value_labels_and_municipality_names_are_understood() {
        let config = IngestConfig::builtin().unwrap();
        let kind = InputKind::Trajectories;
        let reasons = crate::schema::TRAJECTORY_END_REASONS;
        let code = |label| {
            config
                .values
                .lookup(kind, "end_reason", label)
                .map(|i| reasons[i])
        };
        assert_eq!(code("Afgerond"), Some("completed"));
        assert_eq!(code("loopt  nog"), Some("ongoing"));
        assert_eq!(code("VERHUISD"), Some("moved"));
        assert_eq!(code("Gezellig"), None);
        let dutch = config.values.dutch_names(kind, "end_reason").unwrap();
        assert_eq!(dutch[0], "Afgerond");
        assert_eq!(dutch.len(), reasons.len());
        assert_eq!(config.values.dutch_names(kind, "provider"), None);
        let m = &config.municipalities;
        assert_eq!(m.code_of_name("Berkelland"), Some("GM1859"));
        assert_eq!(m.code_of_name("'s-Hertogenbosch"), Some("GM0796"));
        // Merged away (into Amsterdam in 2022).
        assert_eq!(m.code_of_name("weesp"), Some("GM0457"));
        assert_eq!(m.code_of_name("Atlantis"), None);
    }

    #[test]
    fn conflicting_value_labels_are_refused() {
        let text = "[trajectories.end_reason]\ncompleted = [\"Klaar\"]\nother = [\"klaar\"]\n";
        assert!(ValueLabels::parse(text, Path::new("v.toml")).is_err());
        let text = "[trajectories.end_reason]\nfinished = [\"Klaar\"]\n";
        assert!(ValueLabels::parse(text, Path::new("v.toml")).is_err());
        let text = "[trajectories.provider]\nx = [\"y\"]\n";
        assert!(ValueLabels::parse(text, Path::new("v.toml")).is_err());
    }

    #[test]
    fn conflicting_aliases_are_refused() {
        let text = "[trajectories]\nbsn = [\"nummer\"]\ntrajectory_id = [\"Nummer\"]\n";
        assert!(ColumnAliases::parse(text, Path::new("c.toml")).is_err());
        let text = "[trajectories]\nfoo = [\"x\"]\n";
        assert!(ColumnAliases::parse(text, Path::new("c.toml")).is_err());
    }
}
