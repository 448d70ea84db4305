//! The effect configuration: the `[effect]` section of a pipeline file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use koppel_link::CivilDate;
use serde::{Deserialize, Serialize};

/// A characteristic measured before time zero, usable for exact matching
/// and (when matched on) as a "for whom" subgroup dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Covariate {
    /// Paying municipality of the assistance spell (or its configured region).
    Municipality,
    /// Sex from the persons register.
    Sex,
    /// Age band (completed years; `config/bands.toml`).
    AgeBand,
    /// Household type from the persons register.
    HouseholdType,
    /// Origin from the persons register.
    Origin,
    /// Education level from the persons register.
    EducationLevel,
    /// Assistance duration band (completed months of the episode; `config/bands.toml`).
    DurationBand,
    /// Segment of the latest trajectory that ran in the history window, or `unknown`.
    Segment,
    /// Any trajectory overlapping the history window (`yes` / `no`).
    PriorTrajectory,
    /// Days in work in the history window, banded ([`EffectConfig::work_days_bands`]).
    WorkDaysBand,
}

/// Every covariate, in the order of the matched file and the balance table.
pub const COVARIATES: [Covariate; 10] = [
    Covariate::Municipality,
    Covariate::Sex,
    Covariate::AgeBand,
    Covariate::HouseholdType,
    Covariate::Origin,
    Covariate::EducationLevel,
    Covariate::DurationBand,
    Covariate::Segment,
    Covariate::PriorTrajectory,
    Covariate::WorkDaysBand,
];

impl Covariate {
    /// The column / dimension name (`age_band`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Covariate::Municipality => "municipality",
            Covariate::Sex => "sex",
            Covariate::AgeBand => "age_band",
            Covariate::HouseholdType => "household_type",
            Covariate::Origin => "origin",
            Covariate::EducationLevel => "education_level",
            Covariate::DurationBand => "duration_band",
            Covariate::Segment => "segment",
            Covariate::PriorTrajectory => "prior_trajectory",
            Covariate::WorkDaysBand => "work_days_band",
        }
    }

    /// Position in [`COVARIATES`].
    pub fn index(self) -> usize {
        COVARIATES
            .iter()
            .position(|c| *c == self)
            .expect("every covariate is listed")
    }
}

impl fmt::Display for Covariate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn default_horizons() -> Vec<u32> {
    vec![6, 12, 18, 24]
}
fn default_matching() -> Vec<Covariate> {
    COVARIATES.to_vec()
}
fn default_subgroups() -> Vec<Covariate> {
    vec![
        Covariate::AgeBand,
        Covariate::Sex,
        Covariate::DurationBand,
        Covariate::Segment,
    ]
}
fn default_work_bands() -> Vec<u32> {
    vec![1, 183, 366]
}
fn default_min_effect_n() -> u64 {
    50
}
fn default_washout() -> u32 {
    12
}
fn default_history() -> u32 {
    24
}
fn default_gap() -> u32 {
    31
}
fn default_types() -> Vec<String> {
    ["bijstand", "ioaw", "ioaz"].map(String::from).to_vec()
}

/// Settings of the effect stage (a pipeline's `[effect]` section; unknown
/// keys are refused).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EffectConfig {
    /// First day of the evaluation period (starts on or after it count).
    pub period_from: CivilDate,
    /// Last day of the evaluation period (starts on or before it count).
    pub period_to: CivilDate,
    /// Instrument codes evaluated one by one. With neither `instruments`
    /// nor `groups`, every instrument started in the period is evaluated.
    #[serde(default)]
    pub instruments: Vec<String>,
    /// Instrument groups evaluated as one treatment: name → codes.
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
    /// Outcome horizons in months after time zero (default 6, 12, 18, 24).
    #[serde(default = "default_horizons")]
    pub horizons: Vec<u32>,
    /// Covariates matched exactly (default: all ten).
    #[serde(default = "default_matching")]
    pub matching: Vec<Covariate>,
    /// "For whom" dimensions (default age band, sex, duration band,
    /// segment); each must be a matching covariate.
    #[serde(default = "default_subgroups")]
    pub subgroups: Vec<Covariate>,
    /// Lower bounds (days) of the work-history bands after the first band
    /// `0` (default 1, 183, 366: bands `0`, `1-182`, `183-365`, `366+`).
    #[serde(default = "default_work_bands")]
    pub work_days_bands: Vec<u32>,
    /// Coarser regions for the municipality covariate: name → municipality
    /// codes. Municipalities in no region stay themselves.
    #[serde(default)]
    pub regions: BTreeMap<String, Vec<String>>,
    /// Smallest treated n of a published estimate (default 50).
    #[serde(default = "default_min_effect_n")]
    pub min_effect_n: u64,
    /// A start counts only without a start of the same instrument in this
    /// many months before (default 12).
    #[serde(default = "default_washout")]
    pub washout_months: u32,
    /// Months before time zero of the trajectory and work history (default 24).
    #[serde(default = "default_history")]
    pub history_months: u32,
    /// Largest gap in days bridged when merging assistance spells into
    /// episodes (default 31, as the link stage).
    #[serde(default = "default_gap")]
    pub gap_days: u32,
    /// Benefit types that count as social assistance (default bijstand, ioaw, ioaz).
    #[serde(default = "default_types")]
    pub assistance_types: Vec<String>,
    /// Last day the registers cover; outcomes after it are not observed.
    /// Default: the latest date in the benefit and employment registers.
    #[serde(default)]
    pub data_until: Option<CivilDate>,
}

impl EffectConfig {
    /// A configuration with every default and the given period.
    pub fn new(period_from: CivilDate, period_to: CivilDate) -> EffectConfig {
        EffectConfig {
            period_from,
            period_to,
            instruments: Vec::new(),
            groups: BTreeMap::new(),
            horizons: default_horizons(),
            matching: default_matching(),
            subgroups: default_subgroups(),
            work_days_bands: default_work_bands(),
            regions: BTreeMap::new(),
            min_effect_n: default_min_effect_n(),
            washout_months: default_washout(),
            history_months: default_history(),
            gap_days: default_gap(),
            assistance_types: default_types(),
            data_until: None,
        }
    }

    /// Check the settings; the message names the key and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        if self.period_from > self.period_to {
            return Err(format!(
                "period_from ({}) must not be after period_to ({})",
                self.period_from, self.period_to
            ));
        }
        let (fy, _, _) = self.period_from.ymd();
        let (ty, _, _) = self.period_to.ymd();
        if !(1900..=2100).contains(&fy) || !(1900..=2100).contains(&ty) {
            return Err("the evaluation period must lie between 1900 and 2100".into());
        }
        if self.horizons.is_empty() {
            return Err("horizons must list at least one number of months".into());
        }
        let mut seen = BTreeSet::new();
        for &k in &self.horizons {
            if !(1..=120).contains(&k) || !seen.insert(k) {
                return Err(format!(
                    "horizon {k}: horizons must be distinct numbers of months between 1 and 120"
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for c in &self.matching {
            if !seen.insert(*c) {
                return Err(format!("matching lists {c} twice"));
            }
        }
        let mut seen_sub = BTreeSet::new();
        for c in &self.subgroups {
            if !seen.contains(c) {
                return Err(format!(
                    "subgroup {c} is not a matching variable: a subgroup estimate is only comparable \
                     when the subgroup is matched exactly (add it to matching or drop it from subgroups)"
                ));
            }
            if !seen_sub.insert(*c) {
                return Err(format!("subgroups lists {c} twice"));
            }
        }
        if self.work_days_bands.windows(2).any(|w| w[0] >= w[1])
            || self.work_days_bands.first() == Some(&0)
        {
            return Err(
                "work_days_bands must be increasing day counts above 0 (the first band is 0 days)"
                    .into(),
            );
        }
        let mut codes = BTreeMap::new();
        for (name, list) in &self.groups {
            if name.trim().is_empty() || list.is_empty() {
                return Err(format!(
                    "instrument group {name:?} needs a name and at least one instrument"
                ));
            }
            if self.instruments.contains(name) {
                return Err(format!(
                    "{name:?} is both an instrument and a group name; rename the group"
                ));
            }
        }
        for code in &self.instruments {
            if codes.insert(code.clone(), ()).is_some() {
                return Err(format!("instrument {code:?} is listed twice"));
            }
        }
        let mut in_region = BTreeMap::new();
        for (region, list) in &self.regions {
            for m in list {
                if let Some(other) = in_region.insert(m.clone(), region.clone()) {
                    return Err(format!(
                        "municipality {m} is in two regions ({other} and {region})"
                    ));
                }
            }
        }
        if self.min_effect_n == 0 {
            return Err("min_effect_n must be at least 1".into());
        }
        if !(1..=120).contains(&self.washout_months) || !(1..=120).contains(&self.history_months) {
            return Err("washout_months and history_months must be between 1 and 120".into());
        }
        if self.gap_days > 366 {
            return Err(format!(
                "gap_days must be between 0 and 366, got {}",
                self.gap_days
            ));
        }
        if self.assistance_types.is_empty() || self.assistance_types.iter().any(|t| t == "ww") {
            return Err("assistance_types must name at least one benefit type, not ww".into());
        }
        Ok(())
    }

    /// Labels of the work-history bands.
    pub fn work_band_labels(&self) -> Vec<String> {
        let mut labels = vec!["0".to_string()];
        let b = &self.work_days_bands;
        for (i, lo) in b.iter().enumerate() {
            labels.push(match b.get(i + 1) {
                Some(next) => format!("{lo}-{}", next - 1),
                None => format!("{lo}+"),
            });
        }
        labels
    }

    /// The band index of `days` in work.
    pub fn work_band(&self, days: u32) -> usize {
        self.work_days_bands
            .iter()
            .filter(|lo| days >= **lo)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_refusals() {
        let c: EffectConfig =
            toml::from_str("period_from = 2019-01-01\nperiod_to = \"2020-12-31\"\n").unwrap();
        assert_eq!(c.horizons, vec![6, 12, 18, 24]);
        assert_eq!(c.matching.len(), 10);
        assert_eq!(c.min_effect_n, 50);
        assert!(c.validate().is_ok());
        assert_eq!(c.work_band_labels(), ["0", "1-182", "183-365", "366+"]);
        assert_eq!(c.work_band(0), 0);
        assert_eq!(c.work_band(182), 1);
        assert_eq!(c.work_band(183), 2);
        assert_eq!(c.work_band(5000), 3);
        let mut bad = c.clone();
        bad.matching = vec![Covariate::Sex];
        assert!(bad
            .validate()
            .unwrap_err()
            .contains("not a matching variable"));
        assert!(toml::from_str::<EffectConfig>(
            "period_from = 2019-01-01\nperiod_to = 2020-12-31\nmatch = []\n"
        )
        .is_err());
        assert!(toml::from_str::<EffectConfig>(
            "period_from = 2019-01-01\nperiod_to = 2020-12-31\nmatching = [\"shoe_size\"]\n"
        )
        .is_err());
    }
}
