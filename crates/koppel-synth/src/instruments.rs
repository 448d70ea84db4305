//! The instrument catalogue, `config/instruments.toml`.
//!
//! The file is embedded at build time ([`Catalogue::builtin`]) so the
//! generator works from any directory; [`Catalogue::load`] reads another copy.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

use crate::SynthError;

/// The catalogue text compiled into the crate.
pub const BUILTIN_TOML: &str = include_str!("../../../config/instruments.toml");

/// The five instrument groups.
pub const GROUPS: [&str; 5] = [
    "work_placement",
    "training",
    "activation",
    "subsidy",
    "coaching",
];

/// One re-integration instrument.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Instrument {
    /// Canonical code (snake_case), the value after ingest.
    pub code: String,
    /// Dutch label, as municipalities write it.
    pub label_nl: String,
    /// English label.
    pub label_en: String,
    /// One of [`GROUPS`].
    pub group: String,
    /// Other spellings municipalities use.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// All instruments, in file order.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// The instruments.
    #[serde(rename = "instrument")]
    pub instruments: Vec<Instrument>,
}

impl Catalogue {
    /// The catalogue compiled into the crate.
    pub fn builtin() -> Catalogue {
        // The embedded file is checked by a unit test, so this cannot fail.
        Catalogue::parse(BUILTIN_TOML).unwrap_or(Catalogue {
            instruments: Vec::new(),
        })
    }

    /// Read and check a catalogue file.
    pub fn load(path: &Path) -> Result<Catalogue, SynthError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SynthError::Io(format!("cannot read {}: {e}", path.display())))?;
        Catalogue::parse(&text)
    }

    /// Parse and check catalogue text: at least one instrument, known groups,
    /// unique codes, and no label or alias shared by two instruments
    /// (compared case-insensitively).
    pub fn parse(text: &str) -> Result<Catalogue, SynthError> {
        let catalogue: Catalogue =
            toml::from_str(text).map_err(|e| SynthError::Catalogue(e.to_string()))?;
        if catalogue.instruments.is_empty() {
            return Err(SynthError::Catalogue("no [[instrument]] entries".into()));
        }
        let mut seen = HashSet::new();
        for inst in &catalogue.instruments {
            if !GROUPS.contains(&inst.group.as_str()) {
                return Err(SynthError::Catalogue(format!(
                    "instrument {}: unknown group {:?} (expected one of {})",
                    inst.code,
                    inst.group,
                    GROUPS.join(", ")
                )));
            }
            let mut names: Vec<String> = vec![inst.code.clone(), inst.label_nl.clone()];
            names.extend(inst.aliases.iter().cloned());
            let mut own = HashSet::new();
            for name in names {
                let key = name.trim().to_lowercase();
                if key.is_empty() {
                    return Err(SynthError::Catalogue(format!(
                        "instrument {}: empty alias",
                        inst.code
                    )));
                }
                if own.insert(key.clone()) && !seen.insert(key) {
                    return Err(SynthError::Catalogue(format!(
                        "instrument {}: name {name:?} is also used by another instrument",
                        inst.code
                    )));
                }
            }
        }
        Ok(catalogue)
    }

    /// Position of an instrument by code.
    pub fn index_of(&self, code: &str) -> Option<usize> {
        self.instruments.iter().position(|i| i.code == code)
    }

    /// True when `name` is a code, Dutch label or alias of some instrument.
    pub fn knows(&self, name: &str) -> bool {
        let key = name.trim().to_lowercase();
        self.instruments.iter().any(|i| {
            i.code.to_lowercase() == key
                || i.label_nl.to_lowercase() == key
                || i.aliases.iter().any(|a| a.trim().to_lowercase() == key)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_parses_and_has_the_required_instruments() {
        let c = Catalogue::parse(BUILTIN_TOML).unwrap();
        for code in [
            "loonkostensubsidie",
            "jobcoaching",
            "werkervaringsplek",
            "proefplaatsing",
            "training",
            "scholing",
            "sociale_activering",
            "vrijwilligerswerk",
            "coaching_naar_werk",
            "trajectbegeleiding",
            "basisdienstverlening",
            "taal_en_ontwikkeling",
            "work_first",
        ] {
            assert!(c.index_of(code).is_some(), "{code} missing");
        }
        assert!(c.knows("Klaar voor de Start"));
        assert!(c.knows(" lks "));
        assert!(!c.knows("Toverstaf"));
    }

    #[test]
    fn shared_alias_is_refused() {
        let text = r#"
[[instrument]]
code = "a"
label_nl = "A"
label_en = "A"
group = "training"
aliases = ["X"]
[[instrument]]
code = "b"
label_nl = "B"
label_en = "B"
group = "training"
aliases = ["x"]
"#;
        assert!(Catalogue::parse(text).is_err());
    }
}
