//! The input contracts of docs/input-contracts.md: the kinds of input, their canonical
//! columns, which are required, and what values each column allows.

use std::fmt;
use std::str::FromStr;

use koppel_pseudonym::IdKind;
use koppel_schema::kind;
use serde::{Deserialize, Serialize};

/// The four kinds of input the ingest stage reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Municipal trajectory uploads.
    Trajectories,
    /// Population register extract.
    Persons,
    /// Benefit spells register extract.
    Benefits,
    /// Employment spells register extract.
    Employment,
}

impl InputKind {
    /// Every kind.
    pub const ALL: [InputKind; 4] = [
        InputKind::Trajectories,
        InputKind::Persons,
        InputKind::Benefits,
        InputKind::Employment,
    ];

    /// The snake_case name (`trajectories`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Trajectories => kind::TRAJECTORIES,
            InputKind::Persons => kind::PERSONS,
            InputKind::Benefits => kind::BENEFITS,
            InputKind::Employment => kind::EMPLOYMENT,
        }
    }

    /// The canonical columns of this kind, in output order (`bsn` first).
    pub fn columns(self) -> &'static [ColumnSpec] {
        match self {
            InputKind::Trajectories => TRAJECTORIES,
            InputKind::Persons => PERSONS,
            InputKind::Benefits => BENEFITS,
            InputKind::Employment => EMPLOYMENT,
        }
    }
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InputKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InputKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown input kind '{s}': expected trajectories, persons, benefits or employment"
                )
            })
    }
}

/// What a column holds and how its values are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// A BSN (docs/pseudonymisation.md); replaced by the pseudonym on ingest.
    Bsn,
    /// A CBS municipality code, `GM` + 4 digits (`363`, `0363` and `gm0363`
    /// are accepted and written as `GM0363`).
    Municipality,
    /// An instrument code, label or alias from `config/instruments.toml`,
    /// written as its canonical code.
    Instrument,
    /// Free text (trimmed).
    Text,
    /// An identifier the municipality or register made up itself (a
    /// trajectory or job number), written as its keyed hash under the
    /// kind's own prefix: such numbers are often built from the BSN.
    LocalId(IdKind),
    /// A date `YYYY-MM-DD` or `DD-MM-YYYY` (also `D-M-YYYY`), in
    /// `min_year..=max year` (the max year is next year by default).
    Date {
        /// Earliest year allowed.
        min_year: i32,
    },
    /// One of the listed values (matched case-insensitively, written as listed).
    Enum(&'static [&'static str]),
    /// Hours per week, 0–80 (decimal point or comma).
    Hours,
    /// A monthly wage in euros, ≥ 0 (decimal point or comma).
    Wage,
}

impl ValueType {
    /// Whether the output column is a number (`Float64`).
    pub fn is_number(self) -> bool {
        matches!(self, ValueType::Hours | ValueType::Wage)
    }

    /// Whether the output column is a date.
    pub fn is_date(self) -> bool {
        matches!(self, ValueType::Date { .. })
    }
}

/// One canonical column of an input kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnSpec {
    /// Canonical snake_case name.
    pub name: &'static str,
    /// The column must be present in the file.
    pub column_required: bool,
    /// Every row must have a value in it.
    pub value_required: bool,
    /// What the values are.
    pub ty: ValueType,
    /// Ingest writes the column. Free text that no later stage reads is
    /// validated and then left out, so whatever a clerk typed in it (a
    /// BSN, a name) never leaves the quarantine.
    pub written: bool,
}

const fn col(name: &'static str, column: bool, value: bool, ty: ValueType) -> ColumnSpec {
    ColumnSpec {
        name,
        column_required: column,
        value_required: value,
        ty,
        written: true,
    }
}

/// A column that is read and checked but not written by ingest.
const fn unwritten(name: &'static str, column: bool, value: bool, ty: ValueType) -> ColumnSpec {
    ColumnSpec {
        written: false,
        ..col(name, column, value, ty)
    }
}

/// Uploads: dates from 1990 (dates lie in 1990..next year).
const UPLOAD_DATE: ValueType = ValueType::Date { min_year: 1990 };
/// Registers carry birth dates and spells that started long ago (AOW,
/// Wajong): dates from 1900.
const REGISTER_DATE: ValueType = ValueType::Date { min_year: 1900 };

/// `end_reason` of trajectories.
pub const TRAJECTORY_END_REASONS: &[&str] =
    &["completed", "not_completed", "ongoing", "moved", "other"];
/// `segment` of trajectories.
pub const SEGMENTS: &[&str] = &["werk", "perspectief", "meedoen", "niet_ingedeeld"];
/// `sex` of persons.
pub const SEXES: &[&str] = &["M", "V"];
/// `household_type` of persons.
pub const HOUSEHOLD_TYPES: &[&str] = &[
    "single",
    "single_parent",
    "couple_no_children",
    "couple_with_children",
    "child_at_home",
    "institution",
    "other",
];
/// `origin` of persons.
pub const ORIGINS: &[&str] = &["nl", "europe", "outside_europe"];
/// `education_level` of persons.
pub const EDUCATION_LEVELS: &[&str] = &["low", "middle", "high", "unknown"];
/// `benefit_type` of benefit spells.
pub const BENEFIT_TYPES: &[&str] = &[
    "bijstand", "ioaw", "ioaz", "ww", "wia", "wajong", "zw", "aow", "anw", "other",
];
/// Benefit types that are social assistance: their spells must name the
/// paying municipality.
pub const ASSISTANCE_TYPES: &[&str] = &["bijstand", "ioaw", "ioaz"];
/// `end_reason` of benefit spells.
pub const BENEFIT_END_REASONS: &[&str] = &[
    "work",
    "moved",
    "pension",
    "education",
    "enforcement",
    "partner_income",
    "other",
];
/// `employment_type` of jobs.
pub const EMPLOYMENT_TYPES: &[&str] = &["employee", "self_employed"];
/// `contract` of jobs.
pub const CONTRACTS: &[&str] = &["permanent", "fixed_term", "flex", "unknown"];
/// `sector` of jobs: SBI section letters A–U.
pub const SECTORS: &[&str] = &[
    "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S",
    "T", "U",
];

const TRAJECTORIES: &[ColumnSpec] = &[
    col("bsn", true, true, ValueType::Bsn),
    col("municipality", true, true, ValueType::Municipality),
    col(
        "trajectory_id",
        false,
        false,
        ValueType::LocalId(IdKind::Trajectory),
    ),
    col("instrument", true, true, ValueType::Instrument),
    unwritten("provider", false, false, ValueType::Text),
    col("start_date", true, true, UPLOAD_DATE),
    col("end_date", false, false, UPLOAD_DATE),
    col(
        "end_reason",
        false,
        false,
        ValueType::Enum(TRAJECTORY_END_REASONS),
    ),
    col("segment", false, false, ValueType::Enum(SEGMENTS)),
];

const PERSONS: &[ColumnSpec] = &[
    col("bsn", true, true, ValueType::Bsn),
    col("birth_date", true, true, REGISTER_DATE),
    col("sex", true, true, ValueType::Enum(SEXES)),
    col(
        "household_type",
        true,
        false,
        ValueType::Enum(HOUSEHOLD_TYPES),
    ),
    col("origin", true, false, ValueType::Enum(ORIGINS)),
    col(
        "education_level",
        true,
        false,
        ValueType::Enum(EDUCATION_LEVELS),
    ),
    col("municipality", true, false, ValueType::Municipality),
    col("death_date", false, false, REGISTER_DATE),
    col("emigration_date", false, false, REGISTER_DATE),
];

const BENEFITS: &[ColumnSpec] = &[
    col("bsn", true, true, ValueType::Bsn),
    col("benefit_type", true, true, ValueType::Enum(BENEFIT_TYPES)),
    col("start_date", true, true, REGISTER_DATE),
    col("end_date", true, false, REGISTER_DATE),
    col("municipality", true, false, ValueType::Municipality),
    col(
        "end_reason",
        false,
        false,
        ValueType::Enum(BENEFIT_END_REASONS),
    ),
];

const EMPLOYMENT: &[ColumnSpec] = &[
    col("bsn", true, true, ValueType::Bsn),
    col("job_id", true, false, ValueType::LocalId(IdKind::Job)),
    col("start_date", true, true, REGISTER_DATE),
    col("end_date", true, false, REGISTER_DATE),
    col(
        "employment_type",
        true,
        false,
        ValueType::Enum(EMPLOYMENT_TYPES),
    ),
    col("contract", true, false, ValueType::Enum(CONTRACTS)),
    col("hours_per_week", true, false, ValueType::Hours),
    col("monthly_wage", true, false, ValueType::Wage),
    col("sector", true, false, ValueType::Enum(SECTORS)),
];

/// The matching key of a header or alias: lowercase, accents removed, only
/// letters and digits kept (`Reden beëindiging` → `redenbeeindiging`).
pub fn header_key(text: &str) -> String {
    let mut key = String::with_capacity(text.len());
    for c in text.chars() {
        let c = fold_accent(c);
        for lower in c.to_lowercase() {
            if lower.is_alphanumeric() {
                key.push(lower);
            }
        }
    }
    key
}

/// The unaccented letter for common Latin-1 accented letters.
fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'A',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'È' | 'É' | 'Ê' | 'Ë' => 'E',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'Ì' | 'Í' | 'Î' | 'Ï' => 'I',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'O',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'Ù' | 'Ú' | 'Û' | 'Ü' => 'U',
        'ý' | 'ÿ' => 'y',
        'ç' => 'c',
        'ñ' => 'n',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_print() {
        for kind in InputKind::ALL {
            assert_eq!(kind.as_str().parse::<InputKind>().unwrap(), kind);
            assert_eq!(kind.columns()[0].name, "bsn");
        }
        assert_eq!(
            " Persons ".parse::<InputKind>().unwrap(),
            InputKind::Persons
        );
        assert!("people".parse::<InputKind>().is_err());
        assert_eq!(
            serde_json::to_string(&InputKind::Trajectories).unwrap(),
            "\"trajectories\""
        );
    }

    #[test]
    fn header_keys_ignore_case_accents_and_punctuation() {
        assert_eq!(header_key("Reden beëindiging"), "redenbeeindiging");
        assert_eq!(
            header_key("Re-integratie-instrument"),
            "reintegratieinstrument"
        );
        assert_eq!(header_key(" start_date "), "startdate");
    }
}
