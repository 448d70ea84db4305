//! koppel-schema: the names koppel's crates agree on, in one place.
//!
//! A leaf crate without code that touches identifiers: the kinds of input,
//! the Parquet key-value metadata keys koppel writes and checks, the columns
//! and values of the person-level analysis file that the table stages may
//! ask for, the instrument catalogue ([`instruments`]) and calendar
//! arithmetic on polars day numbers ([`calendar`]).

pub mod calendar;
pub mod instruments;

/// The names of the four kinds of input.
pub mod kind {
    /// The population register extract.
    pub const PERSONS: &str = "persons";
    /// The benefit spells register extract.
    pub const BENEFITS: &str = "benefits";
    /// The employment spells register extract.
    pub const EMPLOYMENT: &str = "employment";
    /// The municipal trajectory uploads.
    pub const TRAJECTORIES: &str = "trajectories";
}

/// The four kinds of input, in the order the pipeline ingests and links
/// them.
pub const INPUT_KINDS: [&str; 4] = [
    kind::PERSONS,
    kind::BENEFITS,
    kind::EMPLOYMENT,
    kind::TRAJECTORIES,
];

/// Parquet key-value metadata keys written by koppel.
pub mod metadata {
    /// The key id the pseudonyms in the file were made with.
    pub const KEY_ID: &str = "koppel.key_id";
    /// The pseudonymisation spec (domain prefix, normalisation).
    pub const SPEC: &str = "koppel.pseudonym_spec";
    /// The input kind of a pseudonymised file (or `analysis`).
    pub const KIND: &str = "koppel.kind";
    /// The cohort description (analysis file).
    pub const COHORT: &str = "koppel.cohort";
    /// The link configuration as JSON (analysis file).
    pub const LINK_CONFIG: &str = "koppel.link_config";

    /// The [`KIND`] of the person-level analysis file.
    pub const KIND_ANALYSIS: &str = "analysis";
    /// The [`KIND`] of the effect stage's matched-pairs file.
    pub const KIND_MATCHED: &str = "matched";
    /// The [`SPEC`] of pseudonyms koppel makes today.
    pub const SPEC_V1: &str = "v1";
}

/// The person-level analysis file written by the link stage.
pub mod analysis {
    /// The column holding the person's pseudonym.
    pub const PSEUDONYM: &str = "pseudonym";

    /// The outcome states, one per person and horizon (`state_{k}m`).
    pub mod state {
        /// On assistance and in work.
        pub const BIJSTAND_MET_WERK: &str = "bijstand_met_werk";
        /// On assistance, not in work.
        pub const BIJSTAND: &str = "bijstand";
        /// In work, off assistance.
        pub const WERK: &str = "werk";
        /// On unemployment benefit (WW), neither of the above.
        pub const WW: &str = "ww";
        /// Anything else, also persons who left the registers.
        pub const OVERIG: &str = "overig";
    }

    /// Outcome states per horizon (`state_{k}m`), in table order.
    pub const STATES: [&str; 5] = [
        state::BIJSTAND_MET_WERK,
        state::BIJSTAND,
        state::WERK,
        state::WW,
        state::OVERIG,
    ];

    /// The states in which a person is in work.
    pub const WORK_STATES: [&str; 2] = [state::BIJSTAND_MET_WERK, state::WERK];

    /// The dimension of the last trajectory's instrument.
    pub const TRAJECTORY_LAST: &str = "trajectory_last";
    /// The dimension of the mix of instruments followed.
    pub const TRAJECTORY_MIX: &str = "trajectory_mix";

    /// Dimension columns a table may break down by.
    pub const DIMENSIONS: [&str; 10] = [
        "sex",
        "age_band",
        "household_type",
        "origin",
        "education_level",
        "duration_band",
        "municipality",
        "segment",
        TRAJECTORY_LAST,
        TRAJECTORY_MIX,
    ];

    /// The columns of each horizon (`{name}_{k}m`), in the file's order.
    pub const HORIZON_COLUMNS: [&str; 6] = [
        "state",
        "sector",
        "contract",
        "hours_band",
        "wage",
        "wage_band",
    ];

    /// Numeric outcomes per horizon (`{name}_{k}m`), of which a table may
    /// publish a mean or a median.
    pub const NUMERIC_OUTCOMES: [&str; 1] = ["wage"];

    /// Boolean outcome columns besides the re-entry flag.
    pub const FLAGS: [&str; 2] = ["durable_outflow", "durable_outflow_work"];

    /// The re-entry flag for a window of `months` months.
    pub fn reentry_flag(months: u32) -> String {
        format!("reentry_{months}m")
    }

    /// The column of a per-horizon outcome (`state`, `wage`, ...) at
    /// horizon `months`.
    pub fn at_horizon(name: &str, months: u32) -> String {
        format!("{name}_{months}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut all: Vec<&str> = analysis::DIMENSIONS.to_vec();
        all.extend(analysis::STATES);
        all.extend(INPUT_KINDS);
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len());
        assert!(all
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        assert_eq!(analysis::reentry_flag(12), "reentry_12m");
        assert_eq!(analysis::at_horizon("state", 6), "state_6m");
    }
}
