//! The link configuration (`[cohort]` and `[link]` of a pipeline file), civil
//! dates, and the bands of `config/bands.toml`.

use std::collections::HashSet;
use std::fmt;

use koppel_schema::calendar;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar date, stored as days since 1970-01-01 (the polars `Date`
/// representation). Written and read as `YYYY-MM-DD`; in TOML both a string
/// (`"2022-12-31"`) and a bare TOML date (`2022-12-31`) are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDate(pub i32);

impl CivilDate {
    /// The date `year-month-day`, if it exists.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<CivilDate> {
        calendar::date(year, month, day).map(CivilDate)
    }

    /// Year, month, day.
    pub fn ymd(self) -> (i32, u32, u32) {
        calendar::civil_from_days(self.0)
    }

    /// Parse `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<CivilDate> {
        calendar::parse_iso(text).map(CivilDate)
    }
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&calendar::format_iso(self.0))
    }
}

impl Serialize for CivilDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CivilDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CivilDate, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Toml(toml::value::Datetime),
        }
        let text = match Repr::deserialize(d)? {
            Repr::Text(t) => t,
            Repr::Toml(t) => t.to_string(),
        };
        CivilDate::parse(text.trim()).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid date {text:?}: expected an existing date written YYYY-MM-DD"
            ))
        })
    }
}

/// Which persons form the cohort (docs/definitions.md), and their reference date R.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Cohort {
    /// Persons with an assistance episode ending in `year` (the first one);
    /// R = episode end + 1 day.
    Outflow {
        /// Calendar year.
        year: i32,
    },
    /// Persons with an assistance episode covering `date`; R = `date`.
    Stock {
        /// The stock date.
        date: CivilDate,
    },
    /// Persons with an assistance episode starting in `year` (the first one);
    /// R = episode start.
    Inflow {
        /// Calendar year.
        year: i32,
    },
    /// Persons with a trajectory ending in `year` (the first one);
    /// R = trajectory end + 1 day.
    Trajectory {
        /// Calendar year.
        year: i32,
    },
}

impl Cohort {
    /// A short description such as `outflow 2022` or `stock 2021-12-31`.
    pub fn describe(&self) -> String {
        match self {
            Cohort::Outflow { year } => format!("outflow {year}"),
            Cohort::Stock { date } => format!("stock {date}"),
            Cohort::Inflow { year } => format!("inflow {year}"),
            Cohort::Trajectory { year } => format!("trajectory {year}"),
        }
    }

    /// The cohort kind (`outflow`, `stock`, `inflow`, `trajectory`).
    pub fn kind(&self) -> &'static str {
        match self {
            Cohort::Outflow { .. } => "outflow",
            Cohort::Stock { .. } => "stock",
            Cohort::Inflow { .. } => "inflow",
            Cohort::Trajectory { .. } => "trajectory",
        }
    }
}

fn default_horizons() -> Vec<u32> {
    vec![3, 6, 12, 18]
}
fn default_reentry() -> u32 {
    6
}
fn default_gap() -> u32 {
    31
}
fn default_types() -> Vec<String> {
    ["bijstand", "ioaw", "ioaz"].map(String::from).to_vec()
}
fn default_lookback() -> u32 {
    24
}

/// Settings of the link stage. Deserialised from a pipeline's `[link]`
/// section with its `[cohort]` section under the key `cohort`; unknown keys
/// are refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    /// The cohort.
    pub cohort: Cohort,
    /// Horizons in months after R (default 3, 6, 12, 18).
    #[serde(default = "default_horizons")]
    pub horizons: Vec<u32>,
    /// Re-entry window in months (default 6): column `reentry_{w}m`.
    #[serde(default = "default_reentry")]
    pub reentry_months: u32,
    /// Largest gap in days bridged when merging assistance spells into
    /// episodes (default 31).
    #[serde(default = "default_gap")]
    pub gap_days: u32,
    /// Benefit types that count as social assistance (default bijstand,
    /// ioaw, ioaz).
    #[serde(default = "default_types")]
    pub assistance_types: Vec<String>,
    /// Trajectory look-back in months (default 24): trajectories overlapping
    /// [R − lookback, R) are the person's exposure.
    #[serde(default = "default_lookback")]
    pub lookback_months: u32,
    /// Last day the register extracts cover. Horizons after it are counted
    /// in the summary as censored (their state would read `overig` for lack
    /// of data). Default: the latest start or end date in the benefit and
    /// employment registers.
    #[serde(default)]
    pub data_until: Option<CivilDate>,
}

impl LinkConfig {
    /// A configuration with every default and the given cohort.
    pub fn new(cohort: Cohort) -> LinkConfig {
        LinkConfig {
            cohort,
            horizons: default_horizons(),
            reentry_months: default_reentry(),
            gap_days: default_gap(),
            assistance_types: default_types(),
            lookback_months: default_lookback(),
            data_until: None,
        }
    }

    /// Check the settings; the message says what is wrong and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        let year_ok = |y: i32| (1900..=2100).contains(&y);
        match &self.cohort {
            Cohort::Outflow { year } | Cohort::Inflow { year } | Cohort::Trajectory { year } => {
                if !year_ok(*year) {
                    return Err(format!(
                        "cohort year must be between 1900 and 2100, got {year}"
                    ));
                }
            }
            Cohort::Stock { date } => {
                if !year_ok(date.ymd().0) {
                    return Err(format!(
                        "stock date must lie between 1900 and 2100, got {date}"
                    ));
                }
            }
        }
        if self.horizons.is_empty() {
            return Err("horizons must list at least one number of months".into());
        }
        let mut seen = HashSet::new();
        for &k in &self.horizons {
            if !(1..=240).contains(&k) {
                return Err(format!(
                    "horizon {k}: horizons must be between 1 and 240 months"
                ));
            }
            if !seen.insert(k) {
                return Err(format!("horizon {k} is listed twice"));
            }
        }
        if !(1..=240).contains(&self.reentry_months) {
            return Err(format!(
                "reentry_months must be between 1 and 240, got {}",
                self.reentry_months
            ));
        }
        if self.gap_days > 366 {
            return Err(format!(
                "gap_days must be between 0 and 366, got {}",
                self.gap_days
            ));
        }
        if !(1..=240).contains(&self.lookback_months) {
            return Err(format!(
                "lookback_months must be between 1 and 240, got {}",
                self.lookback_months
            ));
        }
        if self.assistance_types.is_empty() {
            return Err("assistance_types must name at least one benefit type".into());
        }
        if self.assistance_types.iter().any(|t| t == "ww") {
            return Err("assistance_types may not include ww (WW is its own outcome state)".into());
        }
        Ok(())
    }
}

/// One band: the half-open interval [`from`, `to`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// The value written to the analysis file.
    pub label: String,
    /// Inclusive lower bound (absent on the first band).
    #[serde(default)]
    pub from: Option<f64>,
    /// Exclusive upper bound (absent on the last band).
    #[serde(default)]
    pub to: Option<f64>,
}

/// The bands of `config/bands.toml`: age at R in completed years, episode
/// duration at R in completed months, contract hours per week, monthly wage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bands {
    /// Age bands (completed years at R).
    pub age: Vec<Band>,
    /// Assistance-duration bands (completed months at R).
    pub duration: Vec<Band>,
    /// Hours bands (contract hours per week).
    pub hours: Vec<Band>,
    /// Wage bands (gross monthly wage in euros, `wage_band_{k}m`). A bands
    /// file without `[[wage]]` gives `unknown` for everyone in work.
    #[serde(default)]
    pub wage: Vec<Band>,
}

/// The bands file compiled into the crate (`config/bands.toml`).
pub const BUILTIN_BANDS: &str = include_str!("../../../config/bands.toml");

/// Labels that bands may not use: they mean "missing" and "not applicable".
pub const RESERVED_LABELS: [&str; 2] = ["unknown", "none"];

impl Default for Bands {
    fn default() -> Self {
        // The embedded file is checked by a unit test.
        Bands::parse(BUILTIN_BANDS).expect("config/bands.toml compiled into koppel-link is valid")
    }
}

impl Bands {
    /// Parse and check bands text (see `config/bands.toml`).
    pub fn parse(text: &str) -> Result<Bands, String> {
        let bands: Bands = toml::from_str(text).map_err(|e| format!("bands: {e}"))?;
        for (name, list) in [
            ("age", &bands.age),
            ("duration", &bands.duration),
            ("hours", &bands.hours),
        ] {
            check_bands(name, list)?;
        }
        if !bands.wage.is_empty() {
            check_bands("wage", &bands.wage)?;
        }
        Ok(bands)
    }

    /// Read and check a bands file.
    pub fn load(path: &std::path::Path) -> Result<Bands, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Bands::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

fn check_bands(name: &str, list: &[Band]) -> Result<(), String> {
    if list.is_empty() {
        return Err(format!("[[{name}]]: at least one band is needed"));
    }
    let mut labels = HashSet::new();
    for (i, band) in list.iter().enumerate() {
        let at = format!("[[{name}]] band {} ({:?})", i + 1, band.label);
        if band.label.trim().is_empty() {
            return Err(format!("{at}: empty label"));
        }
        if RESERVED_LABELS.contains(&band.label.as_str()) {
            return Err(format!("{at}: the labels unknown and none are reserved"));
        }
        if !labels.insert(band.label.as_str()) {
            return Err(format!("{at}: label used twice"));
        }
        let finite = |v: Option<f64>| v.is_none_or(f64::is_finite);
        if !finite(band.from) || !finite(band.to) {
            return Err(format!("{at}: bounds must be finite numbers"));
        }
        if i == 0 && band.from.is_some() {
            return Err(format!(
                "{at}: the first band has no `from` (it takes everything below `to`)"
            ));
        }
        if i + 1 == list.len() && band.to.is_some() {
            return Err(format!(
                "{at}: the last band has no `to` (it takes everything from `from` on)"
            ));
        }
        if i + 1 < list.len() && band.to.is_none() {
            return Err(format!("{at}: only the last band may omit `to`"));
        }
        if i > 0 {
            let prev = list[i - 1].to;
            if band.from.is_none() || band.from != prev {
                return Err(format!(
                    "{at}: `from` must equal the previous band's `to` ({}) so the bands leave no gap",
                    prev.map_or("none".into(), |v| v.to_string())
                ));
            }
        }
        if let (Some(f), Some(t)) = (band.from, band.to) {
            if f >= t {
                return Err(format!("{at}: `from` must be below `to`"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_bands_parse() {
        let b = Bands::default();
        assert_eq!(b.age.len(), 5);
        assert_eq!(b.duration.len(), 7);
        assert_eq!(b.hours.len(), 4);
        assert_eq!(b.age[0].label, "<27");
        assert_eq!(b.duration[6].label, ">5");
    }

    #[test]
    fn bands_with_gaps_or_reserved_labels_are_refused() {
        let gap = "[[age]]\nlabel='a'\nto=10\n[[age]]\nlabel='b'\nfrom=11\n\
                   [[duration]]\nlabel='d'\n[[hours]]\nlabel='h'\n";
        assert!(Bands::parse(gap).unwrap_err().contains("no gap"));
        let reserved = "[[age]]\nlabel='none'\n[[duration]]\nlabel='d'\n[[hours]]\nlabel='h'\n";
        assert!(Bands::parse(reserved).unwrap_err().contains("reserved"));
        let ok = "[[age]]\nlabel='all'\n[[duration]]\nlabel='d'\n[[hours]]\nlabel='h'\n";
        assert!(Bands::parse(ok).is_ok());
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(CivilDate::parse("1970-01-01"), Some(CivilDate(0)));
        assert_eq!(CivilDate::parse("2023-02-29"), None);
        assert_eq!(
            CivilDate::parse("2024-02-29").unwrap().to_string(),
            "2024-02-29"
        );
    }

    #[test]
    fn config_from_toml_with_defaults() {
        let c: LinkConfig = toml::from_str("[cohort]\nkind = \"outflow\"\nyear = 2022\n").unwrap();
        assert_eq!(c, LinkConfig::new(Cohort::Outflow { year: 2022 }));
        let s: LinkConfig =
            toml::from_str("gap_days = 10\n[cohort]\nkind = \"stock\"\ndate = \"2022-12-31\"\n")
                .unwrap();
        assert_eq!(
            s.cohort,
            Cohort::Stock {
                date: CivilDate::parse("2022-12-31").unwrap()
            }
        );
        assert_eq!(s.gap_days, 10);
        let bare: LinkConfig =
            toml::from_str("[cohort]\nkind = \"stock\"\ndate = 2022-12-31\n").unwrap();
        assert_eq!(bare.cohort, s.cohort);
        // Through a toml::Value, as the pipeline hands it over.
        let v: toml::Value =
            toml::from_str("horizons = [6]\n[cohort]\nkind = \"stock\"\ndate = 2022-12-31\n")
                .unwrap();
        let via: LinkConfig = v.try_into().unwrap();
        assert_eq!(via.cohort, s.cohort);
        assert_eq!(via.horizons, vec![6]);
        assert!(
            toml::from_str::<LinkConfig>("[cohort]\nkind = \"outflow\"\nyear = 2022\nx = 1\n")
                .is_err()
        );
        assert!(toml::from_str::<LinkConfig>(
            "gapdays = 3\n[cohort]\nkind = \"inflow\"\nyear = 2022\n"
        )
        .is_err());
        assert!(toml::from_str::<LinkConfig>("[cohort]\nkind = \"flow\"\nyear = 2022\n").is_err());
        let mut bad = LinkConfig::new(Cohort::Inflow { year: 2022 });
        bad.horizons = vec![6, 6];
        assert!(bad.validate().unwrap_err().contains("twice"));
    }
}
