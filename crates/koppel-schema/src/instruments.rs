//! The catalogue of re-integration instruments, `config/instruments.toml`:
//! the one parser every crate uses (ingest maps spellings to codes, the
//! report labels them, the generator writes them).
//!
//! Each `[[instrument]]` has a canonical `code` (the value after ingest), a
//! Dutch and an English label, a `group` (one of [`GROUPS`]) and any number
//! of `aliases`. A name is compared by its [`name_key`] (case, surrounding
//! and repeated white space ignored), and no name may belong to two
//! instruments.

use std::collections::HashMap;

use serde::Deserialize;

/// The catalogue text compiled in (`config/instruments.toml`).
pub const BUILTIN: &str = include_str!("../../../config/instruments.toml");

/// The five instrument groups.
pub const GROUPS: [&str; 5] = [
    "work_placement",
    "training",
    "activation",
    "subsidy",
    "coaching",
];

/// One re-integration instrument.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
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

impl Instrument {
    /// Every name the instrument is known by: code, Dutch and English label,
    /// aliases.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        [&self.code, &self.label_nl, &self.label_en]
            .into_iter()
            .chain(&self.aliases)
            .map(String::as_str)
    }
}

/// Why a catalogue was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The text is not TOML of the expected shape.
    #[error("{0}")]
    Toml(#[source] toml::de::Error),
    /// There is no `[[instrument]]` entry.
    #[error("no [[instrument]] entries")]
    Empty,
    /// A group is not one of [`GROUPS`].
    #[error("instrument {code}: unknown group {group:?} (expected one of {})", GROUPS.join(", "))]
    UnknownGroup {
        /// The instrument's code.
        code: String,
        /// The group given.
        group: String,
    },
    /// A code, label or alias is empty.
    #[error("instrument {code}: empty name")]
    EmptyName {
        /// The instrument's code.
        code: String,
    },
    /// A name belongs to two instruments.
    #[error("'{name}' names both '{first}' and '{second}'")]
    SharedName {
        /// The name as written in the second instrument.
        name: String,
        /// The code of the instrument that has it first.
        first: String,
        /// The code of the other.
        second: String,
    },
}

/// All instruments, in file order.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// The instruments.
    #[serde(rename = "instrument")]
    pub instruments: Vec<Instrument>,
}

impl Catalogue {
    /// The catalogue compiled in ([`BUILTIN`]).
    pub fn builtin() -> Catalogue {
        // A unit test parses BUILTIN, so the fallback is never taken.
        Catalogue::parse(BUILTIN).unwrap_or(Catalogue {
            instruments: Vec::new(),
        })
    }

    /// Parse and check catalogue text: at least one instrument, known
    /// groups, no empty name, no name (by [`name_key`]) of two instruments.
    pub fn parse(text: &str) -> Result<Catalogue, CatalogueError> {
        let catalogue: Catalogue = toml::from_str(text).map_err(CatalogueError::Toml)?;
        if catalogue.instruments.is_empty() {
            return Err(CatalogueError::Empty);
        }
        let mut owner: HashMap<String, usize> = HashMap::new();
        for (index, inst) in catalogue.instruments.iter().enumerate() {
            if !GROUPS.contains(&inst.group.as_str()) {
                return Err(CatalogueError::UnknownGroup {
                    code: inst.code.clone(),
                    group: inst.group.clone(),
                });
            }
            for name in inst.names() {
                let key = name_key(name);
                if key.is_empty() {
                    return Err(CatalogueError::EmptyName {
                        code: inst.code.clone(),
                    });
                }
                let first = *owner.entry(key).or_insert(index);
                if first != index {
                    return Err(CatalogueError::SharedName {
                        name: name.to_string(),
                        first: catalogue.instruments[first].code.clone(),
                        second: inst.code.clone(),
                    });
                }
            }
        }
        Ok(catalogue)
    }

    /// Position of an instrument by code.
    pub fn index_of(&self, code: &str) -> Option<usize> {
        self.instruments.iter().position(|i| i.code == code)
    }

    /// Position of the instrument a name (code, label or alias, compared by
    /// [`name_key`]) belongs to.
    pub fn find(&self, name: &str) -> Option<usize> {
        let key = name_key(name);
        self.instruments
            .iter()
            .position(|i| i.names().any(|n| name_key(n) == key))
    }

    /// Whether `name` is a code, label or alias of some instrument.
    pub fn knows(&self, name: &str) -> bool {
        self.find(name).is_some()
    }
}

/// The form a name is compared in: lowercase, trimmed, inner white space
/// collapsed to one space.
pub fn name_key(name: &str) -> String {
    let mut key = String::new();
    name_key_into(name, &mut key);
    key
}

/// [`name_key`] appended to `out` (to reuse one buffer per value).
pub fn name_key_into(name: &str, out: &mut String) {
    let start = out.len();
    for word in name.split_whitespace() {
        if out.len() > start {
            out.push(' ');
        }
        for c in word.chars() {
            out.extend(c.to_lowercase());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_parses_and_has_the_required_instruments() {
        let c = Catalogue::parse(BUILTIN).unwrap();
        assert_eq!(Catalogue::builtin(), c);
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
        assert!(c.knows("LKS   KORTDUREND"));
        assert_eq!(
            c.find("Wage-cost subsidy"),
            c.index_of("loonkostensubsidie")
        );
        assert!(!c.knows("Toverstaf"));
    }

    fn two(alias_a: &str, alias_b: &str, group: &str) -> String {
        format!(
            "[[instrument]]\ncode = \"a\"\nlabel_nl = \"A\"\nlabel_en = \"A en\"\ngroup = \"training\"\n\
             aliases = [\"{alias_a}\"]\n[[instrument]]\ncode = \"b\"\nlabel_nl = \"B\"\n\
             label_en = \"B en\"\ngroup = \"{group}\"\naliases = [\"{alias_b}\"]\n"
        )
    }

    #[test]
    fn bad_catalogues_are_refused_with_a_reason() {
        assert!(Catalogue::parse(&two("X", "Y", "training")).is_ok());
        let err = Catalogue::parse(&two("X", " x ", "training")).unwrap_err();
        assert_eq!(err.to_string(), "' x ' names both 'a' and 'b'");
        let err = Catalogue::parse(&two("Half  Time", "half time", "training")).unwrap_err();
        assert!(matches!(err, CatalogueError::SharedName { .. }), "{err}");
        let err = Catalogue::parse(&two("X", "Y", "magic")).unwrap_err();
        assert!(err.to_string().contains("unknown group \"magic\""), "{err}");
        let err = Catalogue::parse(&two("X", " ", "training")).unwrap_err();
        assert!(matches!(err, CatalogueError::EmptyName { .. }), "{err}");
        assert!(matches!(
            Catalogue::parse("instrument = []").unwrap_err(),
            CatalogueError::Empty
        ));
        let err = Catalogue::parse("[[instrument]]\ncode = \"a\"\n").unwrap_err();
        assert!(matches!(err, CatalogueError::Toml(_)), "{err}");
        // An instrument may repeat its own name.
        assert!(Catalogue::parse(&two("a", "B EN", "coaching")).is_ok());
    }

    #[test]
    fn name_keys_fold_case_and_space() {
        assert_eq!(name_key("  Sociale   Activering "), "sociale activering");
        let mut scratch = String::from("x");
        name_key_into("A B", &mut scratch);
        assert_eq!(scratch, "xa b");
    }
}
