//! koppel-schema: the names koppel's crates agree on, in one place.
//!
//! A leaf crate without dependencies and without code that touches
//! identifiers: the kinds of input, the Parquet key-value metadata keys
//! koppel writes and checks, and the columns and values of the person-level
//! analysis file that the table stages may ask for.

/// The four kinds of input, in the order the pipeline ingests and links
/// them.
pub const INPUT_KINDS: [&str; 4] = ["persons", "benefits", "employment", "trajectories"];

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
}

/// The person-level analysis file written by the link stage.
pub mod analysis {
    /// The column holding the person's pseudonym.
    pub const PSEUDONYM: &str = "pseudonym";

    /// Outcome states per horizon (`state_{k}m`), in table order.
    pub const STATES: [&str; 5] = ["bijstand_met_werk", "bijstand", "werk", "ww", "overig"];

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
        "trajectory_last",
        "trajectory_mix",
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
