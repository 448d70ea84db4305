//! Disclosure rules (docs/disclosure.md): defaults, parsing of `config/disclosure.toml`,
//! and the tighten-only check (loosening needs `override_reason`).

use serde::{Deserialize, Serialize};

/// How published counts are rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoundingMethod {
    /// No rounding.
    None,
    /// Nearest multiple of the base (ties up).
    Nearest,
    /// Unbiased random rounding (up with probability remainder/base), seeded.
    Random,
}

/// The resolved disclosure rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// Count cells with `0 < n < min_count` are primary; also the required
    /// width of a primary cell's feasible interval.
    pub min_count: u64,
    /// Whether zero cells are primary too.
    pub zeros_are_disclosive: bool,
    /// Magnitude cells need at least this many contributors.
    pub min_contributors: u64,
    /// (n, k) dominance: n.
    pub dominance_n: usize,
    /// (n, k) dominance: k in percent.
    pub dominance_k: f64,
    /// p%-rule: p in percent.
    pub p_percent: f64,
    /// Rounding method.
    pub rounding: RoundingMethod,
    /// Rounding base.
    pub rounding_base: u64,
    /// Seed of random rounding.
    pub rounding_seed: u64,
    /// Why looser-than-default rules are acceptable (required to loosen).
    pub override_reason: Option<String>,
    /// The loosenings that were accepted with `override_reason` (filled in by
    /// [`Rules::parse`]; recorded in the manifest).
    pub loosened: Vec<String>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            min_count: 10,
            zeros_are_disclosive: false,
            min_contributors: 10,
            dominance_n: 2,
            dominance_k: 90.0,
            p_percent: 10.0,
            rounding: RoundingMethod::Nearest,
            rounding_base: 5,
            rounding_seed: 0,
            override_reason: None,
            loosened: Vec::new(),
        }
    }
}

/// The rules file is invalid.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// Not valid TOML or unknown keys.
    #[error("disclosure rules: {0}")]
    Parse(String),
    /// A value is out of range.
    #[error("disclosure rules: {0}")]
    Invalid(String),
    /// Looser than the defaults without `override_reason`.
    #[error("disclosure rules loosen the defaults without override_reason: {}", .0.join("; "))]
    Loosened(Vec<String>),
}

impl Rules {
    /// Parses TOML rules (missing keys take the defaults), validates ranges
    /// and refuses loosening without `override_reason`.
    pub fn parse(text: &str) -> Result<Rules, RulesError> {
        let mut rules: Rules =
            toml::from_str(text).map_err(|e| RulesError::Parse(e.to_string()))?;
        rules.validate()?;
        Ok(rules)
    }

    /// Reads and parses a rules file.
    pub fn load(path: &std::path::Path) -> Result<Rules, RulesError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RulesError::Parse(format!("{}: {e}", path.display())))?;
        Rules::parse(&text)
    }

    /// Parses TOML rules on top of the operator's `baseline` (usually
    /// `config/disclosure.toml`): missing keys take the compiled defaults,
    /// and loosening is measured against the baseline as well as the
    /// compiled defaults ([`Rules::validate_against`]).
    pub fn parse_against(text: &str, baseline: &Rules) -> Result<Rules, RulesError> {
        let mut rules: Rules =
            toml::from_str(text).map_err(|e| RulesError::Parse(e.to_string()))?;
        rules.validate_against(baseline)?;
        Ok(rules)
    }

    /// Range checks and the tighten-only rule against [`Rules::default`].
    pub fn validate(&mut self) -> Result<(), RulesError> {
        self.validate_against(&Rules::default())
    }

    /// Range checks and the tighten-only rule: anything looser than the
    /// compiled defaults or than `baseline` (the operator's configuration)
    /// needs `override_reason`, and is recorded in `loosened`.
    pub fn validate_against(&mut self, baseline: &Rules) -> Result<(), RulesError> {
        if self.min_count == 0 || self.min_contributors == 0 || self.dominance_n == 0 {
            return Err(RulesError::Invalid(
                "min_count, min_contributors and dominance_n must be positive".into(),
            ));
        }
        let percentage = |x: f64| (0.0..=100.0).contains(&x);
        if !percentage(self.dominance_k) || self.dominance_k == 0.0 || !percentage(self.p_percent) {
            return Err(RulesError::Invalid(
                "dominance_k and p_percent are percentages".into(),
            ));
        }
        if self.rounding != RoundingMethod::None && self.rounding_base < 2 {
            return Err(RulesError::Invalid(
                "rounding_base must be at least 2".into(),
            ));
        }
        let mut loose = self.looser_than(&Rules::default(), "");
        for l in self.looser_than(baseline, " (config/disclosure.toml)") {
            if !loose.iter().any(|known| l.starts_with(known.as_str())) {
                loose.push(l);
            }
        }
        let reason = self.override_reason.as_deref().map(str::trim).unwrap_or("");
        if !loose.is_empty() && reason.is_empty() {
            return Err(RulesError::Loosened(loose));
        }
        self.loosened = loose;
        Ok(())
    }

    /// How these rules are looser than `d` (`suffix` names `d`).
    fn looser_than(&self, d: &Rules, suffix: &str) -> Vec<String> {
        let mut loose = Vec::new();
        if self.min_count < d.min_count {
            loose.push(format!("min_count {} < {}", self.min_count, d.min_count));
        }
        if self.min_contributors < d.min_contributors {
            loose.push(format!(
                "min_contributors {} < {}",
                self.min_contributors, d.min_contributors
            ));
        }
        if self.dominance_n < d.dominance_n {
            loose.push(format!(
                "dominance_n {} < {}",
                self.dominance_n, d.dominance_n
            ));
        }
        if self.dominance_k > d.dominance_k {
            loose.push(format!(
                "dominance_k {} > {}",
                self.dominance_k, d.dominance_k
            ));
        }
        if self.p_percent < d.p_percent {
            loose.push(format!("p_percent {} < {}", self.p_percent, d.p_percent));
        }
        if self.rounding == RoundingMethod::None && d.rounding != RoundingMethod::None {
            loose.push("rounding disabled".into());
        } else if self.rounding_base < d.rounding_base && d.rounding != RoundingMethod::None {
            loose.push(format!(
                "rounding_base {} < {}",
                self.rounding_base, d.rounding_base
            ));
        }
        if !self.zeros_are_disclosive && d.zeros_are_disclosive {
            loose.push("zeros published".into());
        }
        for l in &mut loose {
            l.push_str(suffix);
        }
        loose
    }

    /// Largest difference between a true and a published (rounded) count.
    pub fn rounding_slack(&self) -> f64 {
        match self.rounding {
            RoundingMethod::None => 0.0,
            RoundingMethod::Nearest => (self.rounding_base / 2) as f64,
            RoundingMethod::Random => (self.rounding_base - 1) as f64,
        }
    }
}

/// Statistics of the contributors to a magnitude cell.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Contributors {
    /// Number of contributors.
    pub n: u64,
    /// Sum of their values.
    pub sum: f64,
    /// The largest values, descending (at least `dominance_n` or 2 where available).
    pub top: [f64; 3],
}

/// Why a cell is primary-suppressed (`None`: publishable).
pub fn magnitude_rule(rules: &Rules, c: &Contributors) -> Option<&'static str> {
    if c.n < rules.min_contributors {
        return Some("threshold");
    }
    let total = c.sum;
    if total > 0.0 {
        let n = rules.dominance_n.min(3);
        let top: f64 = c.top[..n].iter().sum();
        if top > rules.dominance_k / 100.0 * total {
            return Some("dominance");
        }
        let rest = total - c.top[0] - c.top[1];
        if rest < rules.p_percent / 100.0 * c.top[0] {
            return Some("p-percent");
        }
    }
    None
}

/// Whether a count cell is primary-suppressed.
pub fn count_is_primary(rules: &Rules, n: f64) -> bool {
    (n > 0.0 && n < rules.min_count as f64) || (n == 0.0 && rules.zeros_are_disclosive)
}

/// Rounds a count: deterministic per cell key and seed.
pub fn round_count(rules: &Rules, key: &str, value: f64) -> f64 {
    let b = rules.rounding_base as f64;
    match rules.rounding {
        RoundingMethod::None => value,
        RoundingMethod::Nearest => (value / b + 0.5).floor() * b,
        RoundingMethod::Random => {
            let low = (value / b).floor() * b;
            let rem = value - low;
            if rem == 0.0 {
                return value;
            }
            // SplitMix64 over FNV-1a of the key: a uniform draw in [0, 1).
            let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ rules.rounding_seed;
            for byte in key.bytes() {
                h = (h ^ byte as u64).wrapping_mul(0x100_0000_01b3);
            }
            h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
            h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            h ^= h >> 31;
            let u = (h >> 11) as f64 / (1u64 << 53) as f64;
            if u < rem / b {
                low + b
            } else {
                low
            }
        }
    }
}
