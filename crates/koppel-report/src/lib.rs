//! koppel-report: the researcher package and its self-contained HTML report
//! (docs/disclosure.md, issue #8).
//!
//! The export stage calls one function, [`write_researcher_package`], with
//! the protected tables ([`Protected`]), the disclosure [`Rules`] they were
//! protected with, and a [`ReportContext`] (language, title, cohort text,
//! definitions, optional linkage-quality counts, provenance for the
//! manifest). It writes:
//!
//! ```text
//! DIR/tables/NAME.parquet   long form (dims, horizon, measure, state, value, status, percent), from write_package
//! DIR/tables/NAME.csv       wide form for spreadsheets: labels in the package language,
//!                           one row per group and horizon, counts then percentages;
//!                           suppressed or unavailable = "."; nl: ';' and decimal comma,
//!                           en: ',' and decimal point; UTF-8 with BOM (Excel)
//! DIR/quality/              only with linkage quality: a protected package of its own
//!   tables/linkage_quality.parquet|.csv, manifest.json    (`koppel check DIR/quality`)
//! DIR/tables.xlsx           every table in one workbook: a cover sheet, then one sheet per
//!                           table with the CSV's header and rows, figures as numbers,
//!                           suppressed as "." (layout in the `xlsx` module docs)
//! DIR/tables/README.txt     (LEESMIJ.txt in Dutch) title, cohort, what the CSVs hold, rules, symbols
//! DIR/definitions.md        cohort, definitions, states, horizons, measures, breakdowns, rules
//! DIR/report.html           the report (below)
//! DIR/manifest.json         write_package's `rules` and `disclosure` sections, plus
//!                           `report` (language, title, every file with size and SHA-256),
//!                           `linkage_quality` (its protection summary) and the caller's
//!                           `manifest_extra` keys (software version, config hash, ...)
//! ```
//!
//! **Fail closed.** The directory must be absent or empty. After writing,
//! the package is re-verified with `koppel check`'s own code
//! (`koppel_check::check_package`, with the rules it was made under: every
//! file against the manifest, every figure against its table, margins, the
//! attacker's LP audit, `DIR/quality` included) and scanned for anything
//! shaped like an identifier (a 32-hex-digit pseudonym or a 9-digit number
//! passing the BSN eleven-test, in every text file and every string cell of
//! every Parquet file). On any error or finding the whole directory is
//! removed and an error returned.
//!
//! **Numbers in the report.** Every figure in `report.html` is a published
//! cell of a table in the package, rendered from that cell: it is wrapped
//! in an element carrying `data-t` (the table's path in the package, e.g.
//! `tables/states_by_sex`), `data-r` (its row in the Parquet file) and
//! `data-c` (`v` value, `p` percent), so a reader (and the tests) can trace
//! it. The cohort size is the published grand total, never a number passed
//! in by the caller. Other digits in the report come only from labels
//! (age bands, horizons), the caller's texts, and the rules.
//!
//! **Charts and suppression (the rule).** A stacked bar (one group at one
//! horizon, split by state) is drawn in full when the group total and
//! every state are published (widths: the published counts over their
//! sum). When some states are suppressed, the bar is drawn only if the
//! group total is published and *two or more* states are suppressed: the
//! published segments on the scale of the published total, then one
//! hatched block "suppressed, together" for the rest. That block's length
//! is the total minus the published segments, the sum of at least two
//! suppressed cells, which any reader can already compute from the
//! published table; no single suppressed value can be read off. Otherwise
//! (total suppressed, or exactly one state suppressed) the bar is withheld:
//! a hatched placeholder of fixed full width marked "not shown (.)". A
//! flag bar (share "yes") and a job bar (share of those in work) are drawn
//! only from the published percentage; the grey track behind is the whole
//! group (100%), independent of any cell. The flow chart follows the same
//! rule (see the `html::flow` module): published blocks and bands only,
//! suppressed flows out of or into one block as one hatched band when
//! there are two or more. The published figures stay readable in the table
//! below each chart, with "." for the suppressed ones, exactly as in the
//! CSV. A table of which fewer than half the cells are published gets a
//! line saying so (the share of its cells published, a count of table
//! cells, not a statistic) and suggesting a coarser table.
//!
//! **Tables by kind.** States and flag tables as before; job tables
//! (`job_{field}`: persons in work by sector, CBS sector group, contract,
//! hours band or wage band, with the work states their total is made of);
//! flow tables (`flow`, horizon `6m>12m`, state `from>to`); wages (means
//! and medians, by a job field with the level in `state`).
//!
//! **Why maud.** The report is generated from Rust data with loops over
//! tables, groups and horizons; `maud` checks the markup at compile time,
//! escapes every interpolated string (labels from config, levels from the
//! data, the caller's title) so nothing can inject markup, needs no template
//! files at run time and has no run-time dependencies. Inline SVG is
//! written with the same macro: the charts are simple rectangles and text,
//! which no charting crate draws more simply or without scripts.
//! The report has no script, no external font, image or style sheet, and
//! no link other than `#` anchors: it opens from a USB stick.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use koppel_disclosure::package::{write_package, PackageError};
use koppel_disclosure::rules::Rules;
use koppel_disclosure::table::{DisclosureError, Protected};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub mod csv_out;
mod defs;
pub mod effects;
mod html;
pub mod xlsx;

pub mod labels;
pub mod model;
pub mod quality;
pub mod scan;

pub use labels::{Labels, Lang};

/// One definition supplied by the pipeline (cohort kind, reference date,
/// gap days, ...), shown in `definitions.md` and the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Definition {
    /// The term ("Referentiedatum").
    pub term: String,
    /// Its explanation.
    pub text: String,
}

impl Definition {
    /// A definition.
    pub fn new(term: impl Into<String>, text: impl Into<String>) -> Self {
        Definition {
            term: term.into(),
            text: text.into(),
        }
    }
}

/// Aggregated, *unprotected* linkage-quality counts per group (usually per
/// municipality). The categories partition the unit: the group total is the
/// sum of its counts. The report protects them with the package's rules
/// (small counts suppressed, secondary suppression over the margins,
/// rounding) before writing or showing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkageQuality {
    /// The grouping column, e.g. `municipality`.
    pub dimension: String,
    /// What is counted, e.g. `trajectories` or `persons` (labels in
    /// `labels.toml` `[[linkage_unit]]`).
    pub unit: String,
    /// Category codes, e.g. `linked`, `not_in_register` (labels and colours
    /// in `labels.toml` `[[linkage_category]]`).
    pub categories: Vec<String>,
    /// Per group: its code (e.g. `GM0363`) and one count per category.
    pub rows: Vec<(String, Vec<u64>)>,
}

/// Everything the report needs besides the tables.
#[derive(Debug, Clone)]
pub struct ReportContext {
    /// Language of the CSV headers, definitions and report (default `nl`).
    pub lang: Lang,
    /// Report title.
    pub title: String,
    /// One or two sentences on the cohort ("Personen van wie de bijstand in
    /// 2022 eindigde, ..."). Must not contain unprotected counts.
    pub cohort_description: String,
    /// Definitions from the pipeline, in order.
    pub definitions: Vec<Definition>,
    /// Linkage-quality counts (protected here), if any.
    pub linkage_quality: Option<LinkageQuality>,
    /// Keys merged into `manifest.json` (software version, config hash,
    /// input fingerprints, key id, ...). Must be a JSON object (or null);
    /// the keys `rules`, `disclosure`, `report` and `linkage_quality` are
    /// reserved.
    pub manifest_extra: serde_json::Value,
    /// Labels (default: the embedded `config/` files; a pipeline passes
    /// [`Labels::from_config_dir`]).
    pub labels: Labels,
    /// Published effect tables (written to `tables/` beside the count
    /// tables, drawn in the report's effects section), if the pipeline
    /// estimated effects.
    pub effects: Option<effects::EffectTables>,
}

impl ReportContext {
    /// A Dutch context with the default labels and no extras.
    pub fn new(title: impl Into<String>) -> Self {
        ReportContext {
            lang: Lang::Nl,
            title: title.into(),
            cohort_description: String::new(),
            definitions: Vec::new(),
            linkage_quality: None,
            manifest_extra: serde_json::Value::Null,
            labels: Labels::default(),
            effects: None,
        }
    }
}

/// One file of the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageFile {
    /// Path relative to the package directory (`/` separated).
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PackageSummary {
    /// The package directory.
    pub dir: PathBuf,
    /// Tables (outcome tables, plus the linkage-quality table if any).
    pub tables: usize,
    /// Rows read back by the check.
    pub rows: usize,
    /// Suppressed cells audited by LP in the check.
    pub audited: usize,
    /// Additive relations verified by the check.
    pub relations: usize,
    /// Figures in the report (each one a published cell, or `.`).
    pub figures: usize,
    /// Stacked bars drawn.
    pub bars_drawn: usize,
    /// Stacked bars withheld because they contain a suppressed cell.
    pub bars_withheld: usize,
    /// Every file except `manifest.json`, with its checksum.
    pub files: Vec<PackageFile>,
}

/// Why no package was written (the directory has been removed).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The target directory exists and is not empty.
    #[error("{0}: package directory exists and is not empty")]
    Exists(PathBuf),
    /// File-system error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Writing or reading the package format failed.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// Protecting the linkage-quality counts failed.
    #[error(transparent)]
    Disclosure(#[from] DisclosureError),
    /// Writing `tables.xlsx` failed.
    #[error("{path}: cannot write the workbook")]
    Xlsx {
        /// The workbook.
        path: PathBuf,
        /// The workbook writer's error.
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
    /// A written `tables.xlsx` cannot be read back for the identifier scan.
    #[error("{path}: cannot read the workbook back")]
    XlsxRead {
        /// The workbook.
        path: PathBuf,
        /// The workbook reader's error.
        #[source]
        source: calamine::XlsxError,
    },
    /// Invalid labels, context or linkage-quality input.
    #[error("{0}")]
    Config(String),
    /// The instrument catalogue (`instruments.toml`) is invalid.
    #[error("instruments.toml: {0}")]
    Instruments(#[source] koppel_schema::instruments::CatalogueError),
    /// A protected table is not in the expected long form.
    #[error("table: {0}")]
    Table(String),
    /// The package could not be re-checked at all.
    #[error(transparent)]
    Check(#[from] koppel_check::CheckError),
    /// The fail-closed re-check or identifier scan found problems.
    #[error("package refused: {}", .0.join("; "))]
    Refused(Vec<String>),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the researcher package into `dir` (absent or empty) and re-checks
/// it; on any failure the directory is removed. See the crate docs for the
/// layout and the rules the report follows.
pub fn write_researcher_package(
    dir: &Path,
    protected: &Protected,
    rules: &Rules,
    ctx: &ReportContext,
) -> Result<PackageSummary, ReportError> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(io_err(dir))?;
        if entries.next().is_some() {
            return Err(ReportError::Exists(dir.to_path_buf()));
        }
    }
    match write_inner(dir, protected, rules, ctx) {
        Ok(s) => Ok(s),
        Err(e) => {
            tracing::error!(dir = %dir.display(), error = %e, "{}", failure_message(&e));
            let _ = std::fs::remove_dir_all(dir);
            Err(e)
        }
    }
}

/// What the log says when the package is not written: only a finding of the
/// checks is a refusal; a full disk or an unwritable directory is an I/O
/// failure the operator fixes differently.
fn failure_message(error: &ReportError) -> &'static str {
    match error {
        ReportError::Refused(_) => "researcher package refused by its checks; removing it",
        ReportError::Io { .. } | ReportError::Package(PackageError::Io { .. }) => {
            "researcher package could not be written (I/O error); removing what was written"
        }
        _ => "researcher package could not be written; removing what was written",
    }
}

/// Renders only the HTML report for already-protected tables (no files are
/// written, nothing is checked: for previews and tests; the package is what
/// is released).
pub fn render_report(
    protected: &Protected,
    rules: &Rules,
    ctx: &ReportContext,
) -> Result<String, ReportError> {
    let views = views(protected, "tables")?;
    let quality = match &ctx.linkage_quality {
        Some(lq) => {
            let q = quality::protect_quality(lq, rules)?;
            Some(quality_view(&q, lq)?)
        }
        None => None,
    };
    let defs = defs::build(&views, quality.as_ref(), rules, ctx);
    Ok(html::render(&views, quality.as_ref(), rules, ctx, &defs).html)
}

fn views(protected: &Protected, prefix: &str) -> Result<Vec<model::TableView>, ReportError> {
    let mut out: Vec<model::TableView> = Vec::new();
    for (name, df) in &protected.tables {
        if out.iter().any(|v| v.name == *name) {
            return Err(ReportError::Table(format!("table {name} appears twice")));
        }
        out.push(model::TableView::from_df(
            name,
            &format!("{prefix}/{name}"),
            df,
        )?);
    }
    Ok(out)
}

fn quality_view(q: &Protected, lq: &LinkageQuality) -> Result<model::TableView, ReportError> {
    let (name, df) = q
        .tables
        .first()
        .ok_or_else(|| ReportError::Table("no linkage-quality table".into()))?;
    let mut v = model::TableView::from_df(name, &format!("quality/tables/{name}"), df)?;
    v.kind = model::Kind::Flag;
    v.states = lq.categories.clone();
    Ok(v)
}

fn write_inner(
    dir: &Path,
    protected: &Protected,
    rules: &Rules,
    ctx: &ReportContext,
) -> Result<PackageSummary, ReportError> {
    if !(ctx.manifest_extra.is_object() || ctx.manifest_extra.is_null()) {
        return Err(ReportError::Config(
            "manifest_extra must be a JSON object".into(),
        ));
    }
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    write_package(dir, protected, rules)?;
    if let Some(e) = &ctx.effects {
        effects::write_effect_tables(dir, e)?;
    }
    let views = views(protected, "tables")?;
    for v in &views {
        csv_out::write(
            &dir.join(format!("{}.csv", v.path_id)),
            v,
            &ctx.labels,
            ctx.lang,
        )?;
    }
    let mut quality_summary = None;
    let quality = match &ctx.linkage_quality {
        Some(lq) => {
            let q = quality::protect_quality(lq, rules)?;
            let qdir = dir.join("quality");
            write_package(&qdir, &q, rules)?;
            let v = quality_view(&q, lq)?;
            csv_out::write(
                &dir.join(format!("{}.csv", v.path_id)),
                &v,
                &ctx.labels,
                ctx.lang,
            )?;
            quality_summary = Some(q.summary.clone());
            Some(v)
        }
        None => None,
    };
    let defs = defs::build(&views, quality.as_ref(), rules, ctx);
    xlsx::write(&dir.join("tables.xlsx"), &views, &defs, ctx)?;
    write_csv_readme(dir, &defs, ctx)?;
    let md = defs::markdown(&defs, &ctx.title);
    let path = dir.join("definitions.md");
    std::fs::write(&path, md).map_err(io_err(&path))?;
    let rendered = html::render(&views, quality.as_ref(), rules, ctx, &defs);
    let path = dir.join("report.html");
    std::fs::write(&path, &rendered.html).map_err(io_err(&path))?;

    // manifest.json: write_package's sections, plus ours and the caller's.
    let files = list_files(dir)?;
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
    let mut manifest: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ReportError::Table(format!("manifest.json: {e}")))?;
    let obj = manifest
        .as_object_mut()
        .ok_or_else(|| ReportError::Table("manifest.json is not an object".into()))?;
    if let Some(extra) = ctx.manifest_extra.as_object() {
        for (k, v) in extra {
            if ["rules", "disclosure", "report", "linkage_quality"].contains(&k.as_str()) {
                return Err(ReportError::Config(format!(
                    "manifest_extra key {k:?} is reserved"
                )));
            }
            obj.insert(k.clone(), v.clone());
        }
    }
    obj.insert(
        "report".into(),
        serde_json::json!({
            "lang": ctx.lang.code(),
            "title": ctx.title,
            "figures": rendered.figures,
            "bars_drawn": rendered.bars_drawn,
            "bars_withheld": rendered.bars_withheld,
            "files": files,
        }),
    );
    if let Some(s) = &quality_summary {
        obj.insert(
            "linkage_quality".into(),
            serde_json::json!({ "package": "quality", "summary": s }),
        );
    }
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| ReportError::Table(format!("manifest.json: {e}")))?;
    std::fs::write(&path, text + "\n").map_err(io_err(&path))?;

    // Fail closed: `koppel check` (the koppel-check crate) on what was
    // written, with the rules this package was made under, and the scan.
    let min_effect_n = ctx.effects.as_ref().map(|e| e.min_effect_n);
    let check = koppel_check::check_package_with(dir, rules, min_effect_n)?;
    let mut problems: Vec<String> = check.findings.iter().map(|f| f.to_string()).collect();
    let (tables, rows, audited, relations) =
        (check.tables, check.rows, check.audited, check.relations);
    problems.extend(scan::scan_package(dir)?);
    if !problems.is_empty() {
        return Err(ReportError::Refused(problems));
    }
    Ok(PackageSummary {
        dir: dir.to_path_buf(),
        tables,
        rows,
        audited,
        relations,
        figures: rendered.figures,
        bars_drawn: rendered.bars_drawn,
        bars_withheld: rendered.bars_withheld,
        files,
    })
}

/// `tables/README.txt` (`LEESMIJ.txt` in Dutch): what the CSVs are, the
/// title, cohort, rules and symbols (the CSVs themselves stay plain tables).
fn write_csv_readme(
    dir: &Path,
    sections: &[defs::Section],
    ctx: &ReportContext,
) -> Result<(), ReportError> {
    let (l, lang) = (&ctx.labels, ctx.lang);
    let mut text = format!("{}\n\n", ctx.title);
    if !ctx.cohort_description.is_empty() {
        text.push_str(&format!("{}\n\n", ctx.cohort_description));
    }
    text.push_str(&l.ui(lang, "csv_readme_intro"));
    text.push('\n');
    let wanted = [
        l.ui(lang, "rules_section"),
        l.ui(lang, "legend_defs"),
        l.ui(lang, "tables_list"),
    ];
    for s in sections.iter().filter(|s| wanted.contains(&s.title)) {
        text.push_str(&format!("\n{}\n", s.title));
        for p in &s.paragraphs {
            text.push_str(&format!("- {p}\n"));
        }
        for (term, t) in &s.items {
            text.push_str(&format!("- {term}: {t}\n"));
        }
    }
    let path = dir.join("tables").join(l.ui(lang, "csv_readme"));
    std::fs::write(&path, text).map_err(io_err(&path))
}

/// Calls `visit` with every file under `dir`, depth first.
pub(crate) fn walk_files(
    dir: &Path,
    mut visit: impl FnMut(PathBuf) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(io_err(&d))? {
            let p = e.map_err(io_err(&d))?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                visit(p)?;
            }
        }
    }
    Ok(())
}

/// Every file under `dir` except `manifest.json` at the top, sorted, with
/// size and SHA-256.
fn list_files(dir: &Path) -> Result<Vec<PackageFile>, ReportError> {
    let mut out = BTreeMap::new();
    walk_files(dir, |p| {
        let rel = p
            .strip_prefix(dir)
            .unwrap_or(&p)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().to_string())
            .collect::<Vec<_>>()
            .join("/");
        if rel == "manifest.json" {
            return Ok(());
        }
        let bytes = std::fs::read(&p).map_err(io_err(&p))?;
        out.insert(
            rel.clone(),
            PackageFile {
                path: rel,
                bytes: bytes.len() as u64,
                sha256: hex::encode(Sha256::digest(&bytes)),
            },
        );
        Ok(())
    })?;
    Ok(out.into_values().collect())
}

#[cfg(test)]
mod failure_tests {
    use super::*;

    #[test]
    fn a_full_disk_is_not_called_a_refusal() {
        let full = ReportError::Io {
            path: PathBuf::from("package/report.html"),
            source: std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device"),
        };
        assert!(!failure_message(&full).contains("refused"));
        assert!(failure_message(&full).contains("I/O"));
        let refused = ReportError::Refused(vec!["t: row 1: bad".into()]);
        assert!(failure_message(&refused).contains("refused"));
    }
}
