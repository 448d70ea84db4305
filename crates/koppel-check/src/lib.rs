//! `koppel check`: a researcher package is verified by code that shares
//! nothing with the code that protected it, and trusts nothing the package
//! says about itself.
//!
//! - **Rules** come from the operator's configuration (`config/disclosure.toml`
//!   or the pipeline), handed in by the caller. The package's manifest only
//!   states which rules were applied; every stated rule must equal the
//!   operator's or be stricter (a larger `min_count`, a multiple of the
//!   rounding base), and the rounding method must be the same
//!   ([`Rule::Rules`]). The checks below apply the operator's rules.
//! - **Files**: every file of the package is listed in the manifest with its
//!   SHA-256 and size; a missing, extra or changed file is refused
//!   ([`Rule::Files`]).
//! - **Rows** of every Parquet table: a published count is a non-negative
//!   integer, at least `min_count` (zeros only where zeros are not
//!   disclosive), a multiple of the rounding base; a suppressed cell has no
//!   value; percentages come from published counts ([`Rule::Threshold`],
//!   [`Rule::Rounding`], [`Rule::Format`]).
//! - **Margins**: every additive relation (a margin and its parts, along
//!   every dimension and along the states) holds within the rounding
//!   tolerance: with all cells published, `|total - sum| <= slack * (n + 1)`;
//!   with some suppressed, the published parts may not exceed the total by
//!   more than the tolerance. The same cell in two tables has one status and
//!   one value ([`Rule::Margins`]).
//! - **Figures** shown to people are exactly the published figures of their
//!   Parquet table: each CSV row's numbers must be the published counts and
//!   percentages of one group of the table, and every figure of the HTML
//!   report (tagged with its table, row and column) the published value or
//!   percentage of that row, `.` where suppressed ([`Rule::Figures`]).
//! - **Person-level data**: no column named like an identifier, no value
//!   shaped like a pseudonym (a run of 32 hex characters) or a BSN (nine
//!   digits passing the eleven-test) in any file ([`Rule::PersonLevel`]).
//!
//! Whether a suppressed cell can be narrowed by an attacker (the LP audit)
//! is checked by the disclosure crate's independent auditor; `koppel check`
//! runs both.

mod figures;
mod manifest;
mod scan;
mod tables;

use std::fmt;
use std::path::{Path, PathBuf};

pub use koppel_disclosure::rules::Rules;

/// The rule a finding breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// The manifest's stated rules differ from the operator's configuration.
    Rules,
    /// A file is missing, extra, or differs from its manifest entry.
    Files,
    /// A published count below the threshold (or a disclosive zero).
    Threshold,
    /// A published count that is not rounded to the base.
    Rounding,
    /// A margin that does not add up, or one cell with two values.
    Margins,
    /// A figure shown in a CSV that is not the table's published figure.
    Figures,
    /// An identifier column or an identifier-shaped value.
    PersonLevel,
    /// A table or row that is not in the package format.
    Format,
}

impl Rule {
    /// The rule's short name, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Rules => "rules",
            Rule::Files => "files",
            Rule::Threshold => "threshold",
            Rule::Rounding => "rounding",
            Rule::Margins => "margins",
            Rule::Figures => "figures",
            Rule::PersonLevel => "person-level",
            Rule::Format => "format",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason to refuse the package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The file, relative to the package directory (`/` separated).
    pub file: String,
    /// The rule broken.
    pub rule: Rule,
    /// What is wrong (never an identifier's value).
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]: {}", self.file, self.rule, self.message)
    }
}

/// What the check read and found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Files verified against the manifest.
    pub files: usize,
    /// Parquet tables read.
    pub tables: usize,
    /// Table rows read.
    pub rows: usize,
    /// Additive relations checked.
    pub relations: usize,
    /// CSV rows compared with their table.
    pub figures: usize,
    /// Everything wrong (empty: the package passes).
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when nothing was found.
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }

    fn add(&mut self, file: impl Into<String>, rule: Rule, message: impl Into<String>) {
        self.findings.push(Finding {
            file: file.into(),
            rule,
            message: message.into(),
        });
    }
}

/// The package could not be checked at all (exit code 2, not a finding).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The package directory cannot be read.
    #[error("cannot read the package {}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The path is not a package directory.
    #[error("{} is not a researcher package: {reason}", path.display())]
    NotAPackage {
        /// The path.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
}

/// Checks the package in `dir` against the operator's `rules`. `Err` only
/// when `dir` is not a readable package; everything wrong inside it is a
/// [`Finding`].
pub fn check_package(dir: &Path, rules: &Rules) -> Result<Report, CheckError> {
    if !dir.is_dir() {
        return Err(CheckError::NotAPackage {
            path: dir.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let mut report = Report::default();
    let manifest = manifest::read(dir)?;
    manifest::check_rules(&manifest, "manifest.json", rules, &mut report);
    manifest::check_files(dir, &manifest, &mut report)?;
    let on_disk = manifest::files_on_disk(dir)?;
    // A sub-package (linkage quality) states its own rules.
    for rel in on_disk.iter().filter(|f| f.ends_with("/manifest.json")) {
        match manifest::read_at(&dir.join(rel)) {
            Ok(sub) => manifest::check_rules(&sub, rel, rules, &mut report),
            Err(reason) => report.add(rel.clone(), Rule::Format, reason),
        }
    }
    let mut cells = tables::SharedCells::default();
    let mut read = std::collections::BTreeMap::new();
    for rel in on_disk.iter().filter(|f| f.ends_with(".parquet")) {
        let path = dir.join(rel);
        match tables::Table::read(&path) {
            Ok(table) => {
                report.tables += 1;
                report.rows += table.rows.len();
                scan::check_columns(rel, &table.columns, &mut report);
                scan::check_values(rel, table.texts(), &mut report);
                tables::check_rows(rel, &table, rules, &mut report);
                tables::check_margins(rel, &table, rules, &mut report);
                cells.add(rel, &table, &mut report);
                let csv = rel.trim_end_matches(".parquet").to_string() + ".csv";
                if on_disk.contains(&csv) {
                    figures::check_csv(dir, &csv, &table, &mut report);
                }
                read.insert(rel.clone(), table);
            }
            Err(reason) => report.add(rel.clone(), Rule::Format, reason),
        }
    }
    for rel in on_disk.iter().filter(|f| f.ends_with(".html")) {
        figures::check_html(dir, rel, &read, &mut report);
    }
    scan::check_file(dir, "manifest.json", &mut report)?;
    for rel in on_disk.iter().filter(|f| !f.ends_with(".parquet")) {
        scan::check_file(dir, rel, &mut report)?;
        if rel.ends_with(".csv")
            && !on_disk.contains(&(rel.trim_end_matches(".csv").to_string() + ".parquet"))
        {
            report.add(
                rel.clone(),
                Rule::Figures,
                "a CSV without its Parquet table: its figures cannot be verified",
            );
        }
    }
    if report.tables == 0 {
        report.add("tables", Rule::Format, "the package holds no Parquet table");
    }
    Ok(report)
}
