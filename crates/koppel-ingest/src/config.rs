//! Reference configuration of the ingest stage: header aliases
//! (`config/columns.toml`), CBS municipality codes
//! (`config/municipalities.toml`) and the instrument catalogue
//! (`config/instruments.toml`).
//!
//! The repository's files are compiled in ([`IngestConfig::builtin`]), so the
//! binary works from any directory; [`IngestConfig::load`] reads another
//! directory and [`IngestConfig::from_env`] honours `KOPPEL_CONFIG_DIR`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::schema::{header_key, InputKind};
use crate::IngestError;

/// `config/columns.toml` as compiled in.
pub const BUILTIN_COLUMNS: &str = include_str!("../../../config/columns.toml");
/// `config/municipalities.toml` as compiled in.
pub const BUILTIN_MUNICIPALITIES: &str = include_str!("../../../config/municipalities.toml");
/// `config/instruments.toml` as compiled in.
pub const BUILTIN_INSTRUMENTS: &str = include_str!("../../../config/instruments.toml");

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
        Ok(Municipalities { by_code })
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
#[derive(Clone, Debug, Default)]
pub struct Instruments {
    codes: Vec<String>,
    by_name: HashMap<String, u16>,
}

#[derive(Deserialize)]
struct InstrumentFile {
    instrument: Vec<InstrumentEntry>,
}

#[derive(Deserialize)]
struct InstrumentEntry {
    code: String,
    label_nl: String,
    #[serde(default)]
    label_en: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
}

impl Instruments {
    /// Parse `instruments.toml` text; `source` names it in errors.
    pub fn parse(text: &str, source: &Path) -> Result<Instruments, IngestError> {
        let file: InstrumentFile = toml::from_str(text).map_err(|e| config_error(source, e))?;
        let mut this = Instruments::default();
        for (i, entry) in file.instrument.into_iter().enumerate() {
            let index = u16::try_from(i)
                .map_err(|_| config_error(source, "too many instruments".to_string()))?;
            let mut own = HashSet::new();
            let names = [
                Some(entry.code.clone()),
                Some(entry.label_nl),
                entry.label_en,
            ]
            .into_iter()
            .flatten()
            .chain(entry.aliases);
            for name in names {
                let key = instrument_key(&name);
                if !own.insert(key.clone()) {
                    continue;
                }
                if let Some(&other) = this.by_name.get(&key) {
                    if other != index {
                        return Err(config_error(
                            source,
                            format!(
                                "'{name}' names both '{}' and '{}'",
                                this.codes[usize::from(other)],
                                entry.code
                            ),
                        ));
                    }
                }
                this.by_name.insert(key, index);
            }
            this.codes.push(entry.code);
        }
        if this.codes.is_empty() {
            return Err(config_error(
                source,
                "no [[instrument]] entries".to_string(),
            ));
        }
        Ok(this)
    }

    /// The canonical code of an instrument written as its code, Dutch or
    /// English label or any alias (case and surrounding or repeated spaces
    /// ignored). `scratch` is reused to avoid allocating per value.
    pub fn lookup(&self, name: &str, scratch: &mut String) -> Option<&str> {
        scratch.clear();
        key_into(name, scratch);
        self.by_name
            .get(scratch.as_str())
            .map(|&i| self.codes[usize::from(i)].as_str())
    }

    /// All canonical codes.
    pub fn codes(&self) -> &[String] {
        &self.codes
    }
}

fn instrument_key(name: &str) -> String {
    let mut key = String::new();
    key_into(name, &mut key);
    key
}

/// Lowercase, trimmed, inner whitespace collapsed to one space.
fn key_into(name: &str, out: &mut String) {
    for word in name.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in word.chars() {
            out.extend(c.to_lowercase());
        }
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
            source: "built-in".to_string(),
        })
    }

    /// Read `columns.toml`, `municipalities.toml` and `instruments.toml`
    /// from `dir`.
    pub fn load(dir: &Path) -> Result<IngestConfig, IngestError> {
        let read = |name: &str| -> Result<(String, PathBuf), IngestError> {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).map_err(|e| config_error(&path, e))?;
            Ok((text, path))
        };
        let (columns, columns_path) = read("columns.toml")?;
        let (munis, munis_path) = read("municipalities.toml")?;
        let (instruments, instruments_path) = read("instruments.toml")?;
        Ok(IngestConfig {
            columns: ColumnAliases::parse(&columns, &columns_path)?,
            municipalities: Municipalities::parse(&munis, &munis_path)?,
            instruments: Instruments::parse(&instruments, &instruments_path)?,
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
    fn synth_municipalities_are_all_known() {
        let config = IngestConfig::builtin().unwrap();
        for m in koppel_synth::municipalities::MUNICIPALITIES {
            assert!(config.municipalities.get(m.code).is_some(), "{}", m.code);
        }
    }

    #[test]
    fn conflicting_aliases_are_refused() {
        let text = "[trajectories]\nbsn = [\"nummer\"]\ntrajectory_id = [\"Nummer\"]\n";
        assert!(ColumnAliases::parse(text, Path::new("c.toml")).is_err());
        let text = "[trajectories]\nfoo = [\"x\"]\n";
        assert!(ColumnAliases::parse(text, Path::new("c.toml")).is_err());
    }
}
