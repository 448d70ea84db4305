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
//! - **Margins**: every additive relation of the package format holds
//!   within the rounding tolerance: with all cells published,
//!   `|total - sum| <= slack * (n + 1)`; with some suppressed, the published
//!   parts may not exceed the total by more than the tolerance. The
//!   relations and cell identities are the package format's, taken from the
//!   disclosure crate's definition rather than restated here: every
//!   dimension margin and state split, flows (`a>b` adding up to `a>Total`
//!   and `Total>b`, whose margins are the states cells), job tables (job
//!   levels and the two work states adding up to persons in work), one cell
//!   for the persons total of a group in every table, one cell for
//!   `trajectory_mix = none` and `trajectory_last = none`, and a
//!   single-instrument mix never above the same last instrument. The same
//!   cell in two tables has one status and one value ([`Rule::Margins`]).
//! - **Audit**: no suppressed count cell can be narrowed by an attacker,
//!   from the published cells and relations, to an interval that shows it
//!   is a small count (a cell stated as primary in an older package: to an
//!   interval narrower than `min_count`) ([`Rule::Audit`]; the disclosure
//!   crate's LP auditor).
//!   No relation has exactly one suppressed cell: that cell is the total
//!   minus the published parts. The LP audit alone would let it pass when
//!   the rounding tolerance of several published parts adds up to
//!   `min_count` or more, and correct protection never leaves a relation
//!   with one suppressed cell, so the check refuses it outright.
//! - **Effect tables** (`tables/effects`, `tables/balance`,
//!   `tables/effect_support`): statuses (a suppressed estimate shows no
//!   figure; a support row is suppressed exactly when one of its counts is
//!   withheld), rounded counts at or above the threshold, whole-percentage
//!   shares, estimates inside their intervals, treated n over subgroups and
//!   treated = matched + unmatched within the tolerance, no estimate
//!   published with a treated n below `min_effect_n` (the operator's, else
//!   the one the manifest states); their CSVs equal the tables.
//! - **Figures** shown to people are exactly the published figures of their
//!   Parquet table: each CSV row's numbers must be the published counts and
//!   percentages of one group of the table, and every figure of the HTML
//!   report (tagged with its table, row and column) the published value or
//!   percentage of that row, `.` where suppressed; every table sheet of
//!   `tables.xlsx` like its CSV ([`Rule::Figures`]).
//! - **Person-level data**: no column named like an identifier, no value
//!   shaped like a pseudonym (a run of 32 hex characters) or a BSN (nine
//!   digits passing the eleven-test) in any file, every cell of a workbook
//!   included ([`Rule::PersonLevel`]).
//!
//! Mean and median tables are checked row by row (their contributors are
//! not in the package, so the magnitude rules were applied by the protect
//! stage and cannot be re-derived here).

mod figures;
mod manifest;
mod scan;
mod tables;
mod wide;
mod xlsx;

use std::collections::{BTreeMap, BTreeSet};
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
    /// A suppressed cell an attacker can narrow too far from the published
    /// cells (the LP audit).
    Audit,
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
            Rule::Audit => "audit",
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
    /// CSV rows and report figures compared with their table.
    pub figures: usize,
    /// Suppressed count cells whose feasible interval was computed.
    pub audited: usize,
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

    /// A row whose `status` is neither published nor suppressed.
    fn unknown_status(&mut self, file: &str, line: usize, status: impl std::fmt::Debug) {
        self.add(
            file,
            Rule::Format,
            format!("row {line}: status {status:?} is not published or suppressed"),
        );
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
/// [`Finding`]. The effect tables' rule is the one the manifest states (see
/// [`check_package_with`]).
pub fn check_package(dir: &Path, rules: &Rules) -> Result<Report, CheckError> {
    check_package_with(dir, rules, None)
}

/// [`check_package`] with the operator's `min_effect_n` (the least treated
/// n of a published effect estimate), when the operator's configuration
/// holds an effect section: a manifest stating a smaller one is refused.
/// Without it, the manifest's stated `effects.min_effect_n` is applied.
pub fn check_package_with(
    dir: &Path,
    rules: &Rules,
    min_effect_n: Option<u64>,
) -> Result<Report, CheckError> {
    if !dir.is_dir() {
        return Err(CheckError::NotAPackage {
            path: dir.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let mut report = Report::default();
    let manifest = manifest::read(dir)?;
    manifest::check_rules(&manifest, "manifest.json", rules, &mut report);
    let stated = manifest
        .pointer("/effects/min_effect_n")
        .and_then(|v| v.as_u64());
    if let (Some(stated), Some(operator)) = (stated, min_effect_n) {
        if stated < operator {
            report.add(
                "manifest.json",
                Rule::Rules,
                format!(
                    "effects.min_effect_n: the package states {stated}, looser than the operator's {operator}"
                ),
            );
        }
    }
    let min_effect_n = min_effect_n.or(stated);
    manifest::check_files(dir, &manifest, &mut report)?;
    let on_disk = manifest::files_on_disk(dir)?;
    // A sub-package (linkage quality) states its own rules.
    for rel in on_disk.iter().filter(|f| f.ends_with("/manifest.json")) {
        match manifest::read_at(&dir.join(rel)) {
            Ok(sub) => manifest::check_rules(&sub, rel, rules, &mut report),
            Err(reason) => report.add(rel.clone(), Rule::Format, reason),
        }
    }
    let (long, wide) = check_parquet(dir, &on_disk, rules, min_effect_n, &mut report);
    for (rel, table) in &long {
        let csv = rel.trim_end_matches(".parquet").to_string() + ".csv";
        if on_disk.contains(&csv) {
            figures::check_csv(dir, &csv, table, &mut report);
        }
    }
    for (rel, table) in &wide {
        let csv = rel.trim_end_matches(".parquet").to_string() + ".csv";
        if on_disk.contains(&csv) {
            wide::check_csv(dir, &csv, table, &mut report);
        }
    }
    let english = manifest.pointer("/report/lang").and_then(|l| l.as_str()) == Some("en");
    let tables = figures::Tables {
        long: &long,
        wide: &wide,
    };
    for rel in on_disk.iter().filter(|f| f.ends_with(".html")) {
        figures::check_html(dir, rel, &tables, english, &mut report);
    }
    scan::check_file(dir, "manifest.json", &mut report)?;
    for rel in on_disk.iter().filter(|f| f.ends_with(".xlsx")) {
        xlsx::check_workbook(dir, rel, &long, &mut report);
    }
    // Workbooks are compressed: their cells were scanned above.
    for rel in on_disk
        .iter()
        .filter(|f| !f.ends_with(".parquet") && !f.ends_with(".xlsx"))
    {
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

/// Checks only the Parquet tables under `dir` (rows, margins, shared cells,
/// the LP audit, person-level data), for a package before its report and
/// manifest file list are written.
pub fn check_tables(dir: &Path, rules: &Rules) -> Result<Report, CheckError> {
    if !dir.is_dir() {
        return Err(CheckError::NotAPackage {
            path: dir.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let mut report = Report::default();
    let on_disk = manifest::files_on_disk(dir)?;
    check_parquet(dir, &on_disk, rules, None, &mut report);
    if report.tables == 0 {
        report.add("tables", Rule::Format, "the package holds no Parquet table");
    }
    Ok(report)
}

/// Long-form tables and effect tables, by file.
type ReadTables = (
    BTreeMap<String, tables::Table>,
    BTreeMap<String, wide::WideTable>,
);

/// Reads and checks every Parquet table: the effect tables
/// ([`wide::EFFECT_TABLES`] in the package's `tables/`) as such, every
/// other one as a long-form table, with the count cells of each
/// package (the top level, `quality/`) checked together.
fn check_parquet(
    dir: &Path,
    on_disk: &BTreeSet<String>,
    rules: &Rules,
    min_effect_n: Option<u64>,
    report: &mut Report,
) -> ReadTables {
    let mut cells: BTreeMap<String, tables::PackageCells> = BTreeMap::new();
    let mut long = BTreeMap::new();
    let mut wide = BTreeMap::new();
    for rel in on_disk.iter().filter(|f| f.ends_with(".parquet")) {
        let path = dir.join(rel);
        if let Some(kind) = wide::effect_table(rel) {
            match wide::WideTable::read(&path, kind) {
                Ok(table) => {
                    report.tables += 1;
                    report.rows += table.height;
                    scan::check_columns(rel, &table.names(), report);
                    scan::check_values(rel, table.texts(), report);
                    wide::check_rows(rel, &table, rules, min_effect_n, report);
                    wide.insert(rel.clone(), table);
                }
                Err(reason) => report.add(rel.clone(), Rule::Format, reason),
            }
            continue;
        }
        match tables::Table::read(&path) {
            Ok(table) => {
                report.tables += 1;
                report.rows += table.rows.len();
                scan::check_columns(rel, &table.columns, report);
                scan::check_values(rel, table.texts(), report);
                tables::check_rows(rel, &table, rules, report);
                let package = rel.rsplit_once("tables/").map_or("", |(p, _)| p);
                cells
                    .entry(package.to_string())
                    .or_default()
                    .add(rel, &table, report);
                long.insert(rel.clone(), table);
            }
            Err(reason) => report.add(rel.clone(), Rule::Format, reason),
        }
    }
    for package in cells.into_values() {
        package.check(rules, report);
    }
    (long, wide)
}
