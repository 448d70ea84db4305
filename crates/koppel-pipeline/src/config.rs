//! The pipeline file (`pipelines/*.toml`): parsing with unknown keys refused,
//! relative paths resolved against the pipeline file, and the checks that run
//! before any work (inputs exist, key file is private, key ids agree, rules
//! and tables are valid).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use koppel_disclosure::rules::Rules;
use koppel_disclosure::table::{Measure, TableSpec, JOB_FIELDS};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::PipelineError;

pub use koppel_schema::analysis::{DIMENSIONS as KNOWN_DIMENSIONS, NUMERIC_OUTCOMES};
use koppel_schema::kind;
pub use koppel_schema::INPUT_KINDS;

/// A pipeline file as written (paths still relative).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineFileText {
    name: String,
    #[serde(default)]
    description: String,
    key_file: Option<Spanned<String>>,
    output: Option<Spanned<String>>,
    config_dir: Option<Spanned<String>>,
    inputs: InputsText,
    cohort: toml::Table,
    #[serde(default)]
    link: toml::Table,
    #[serde(default)]
    effect: Option<toml::Table>,
    #[serde(default)]
    disclosure: toml::Table,
    #[serde(default)]
    tables: Vec<Spanned<TableSpec>>,
    #[serde(default)]
    report: ReportSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputsText {
    #[serde(default)]
    persons: Vec<Spanned<String>>,
    #[serde(default)]
    benefits: Vec<Spanned<String>>,
    #[serde(default)]
    employment: Vec<Spanned<String>>,
    #[serde(default)]
    trajectories: Vec<Spanned<String>>,
    pseudonymised: Option<PseudonymisedText>,
}

// The four kinds are listed again rather than shared through
// `#[serde(flatten)]`, which rules out `deny_unknown_fields` and loses
// toml's spans; `Ctx::inputs` reads both in `INPUT_KINDS` order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PseudonymisedText {
    key_id: Spanned<String>,
    #[serde(default)]
    persons: Vec<Spanned<String>>,
    #[serde(default)]
    benefits: Vec<Spanned<String>>,
    #[serde(default)]
    employment: Vec<Spanned<String>>,
    #[serde(default)]
    trajectories: Vec<Spanned<String>>,
}

/// Settings of the researcher report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSettings {
    /// `nl` (default) or `en`.
    #[serde(default)]
    pub lang: Option<String>,
    /// Report title (default: the pipeline's description or name).
    #[serde(default)]
    pub title: Option<String>,
}

/// A resolved pipeline: absolute paths, expanded globs, parsed sections.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The pipeline file.
    pub path: PathBuf,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The key file (needed when any input holds BSNs).
    pub key_file: Option<PathBuf>,
    /// The run directory (`output`, or `--run-dir`).
    pub output: Option<PathBuf>,
    /// The configuration directory (`config/`).
    pub config_dir: PathBuf,
    /// Files holding BSNs, per kind, in a stable order.
    pub raw_inputs: BTreeMap<String, Vec<PathBuf>>,
    /// Already-pseudonymised files, per kind, with the key id they claim.
    pub pseudonymised_inputs: BTreeMap<String, Vec<PathBuf>>,
    /// The key id the pre-pseudonymised files were made with.
    pub pseudonymised_key_id: Option<String>,
    /// The `[cohort]` section merged with `[link]` (handed to koppel-link).
    pub link_section: toml::Table,
    /// The `[effect]` section (handed to koppel-effect), if any.
    pub effect_section: Option<toml::Table>,
    /// The resolved disclosure rules (defaults tightened or loosened).
    pub rules: Rules,
    /// The tables to publish.
    pub tables: Vec<TableSpec>,
    /// Report settings.
    pub report: ReportSettings,
    /// The pipeline file's text (its SHA-256 is written into the manifests).
    pub text: String,
    /// The directories input globs search (the part before the first
    /// wildcard): no run directory may lie inside one.
    pub glob_dirs: Vec<PathBuf>,
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
    base: PathBuf,
    glob_dirs: std::cell::RefCell<Vec<PathBuf>>,
}

/// The directory a glob searches: its components before the first one with
/// a wildcard (`None` for a plain path).
fn glob_dir(pattern: &Path) -> Option<PathBuf> {
    let mut dir = PathBuf::new();
    for component in pattern.components() {
        if component
            .as_os_str()
            .to_string_lossy()
            .contains(['*', '?', '['])
        {
            return Some(dir);
        }
        dir.push(component);
    }
    None
}

impl Ctx<'_> {
    fn error(&self, span: std::ops::Range<usize>, message: String, hint: &str) -> PipelineError {
        PipelineError::Config {
            file: self.path.to_path_buf(),
            line: line_of(self.text, span.start),
            message,
            hint: hint.to_string(),
        }
    }

    fn resolve(&self, p: &str) -> PathBuf {
        let expanded = expand_vars(p);
        let path = Path::new(&expanded);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    /// Expands one input entry (a path or a glob) to existing files, sorted.
    /// A directory or a dangling symbolic link among the matches is refused
    /// (an upload that silently vanishes is worse than a stopped run).
    fn expand(&self, entry: &Spanned<String>, kind: &str) -> Result<Vec<PathBuf>, PipelineError> {
        let pattern = self.resolve(entry.get_ref());
        let text = pattern.to_string_lossy().to_string();
        let is_glob = entry.get_ref().contains(['*', '?', '[']);
        let refuse = |message: String, hint: &str| self.error(entry.span(), message, hint);
        let mut matches = Vec::new();
        if is_glob {
            let paths = glob::glob(&text).map_err(|e| {
                refuse(
                    format!(
                        "input pattern {:?} of kind {kind} is not a valid glob: {e}",
                        entry.get_ref()
                    ),
                    "use * and ? wildcards, e.g. \"uploads/*.csv\"",
                )
            })?;
            for path in paths {
                let path = path.map_err(|e| {
                    refuse(
                        format!("input pattern {:?} of kind {kind}: {e}", entry.get_ref()),
                        "make the directory readable by the user running koppel",
                    )
                })?;
                matches.push(path);
            }
        } else if pattern.symlink_metadata().is_ok() {
            matches.push(pattern.clone());
        }
        for path in &matches {
            if path.is_dir() {
                return Err(refuse(
                    format!(
                        "input {:?} of kind {kind} matches the directory {}",
                        entry.get_ref(),
                        path.display()
                    ),
                    "an input is a file: narrow the pattern (e.g. \"uploads/*.csv\") or move the directory away",
                ));
            }
            if !path.is_file() {
                return Err(refuse(
                    format!(
                        "input {:?} of kind {kind} matches {}, which is not a readable file \
                         (a dangling symbolic link?)",
                        entry.get_ref(),
                        path.display()
                    ),
                    "restore the file the link points to, or remove the link",
                ));
            }
        }
        if matches.is_empty() {
            return Err(refuse(
                format!(
                    "input {:?} of kind {kind} matches no file (looked for {})",
                    entry.get_ref(),
                    pattern.display()
                ),
                "paths are relative to the pipeline file; check the path or run `koppel synth` first",
            ));
        }
        matches.sort();
        Ok(matches)
    }

    /// Expands every entry of every kind of one input group, refusing a
    /// file that more than one entry names (`seen`: across groups too).
    fn expand_group(
        &self,
        lists: [(&str, &Vec<Spanned<String>>); 4],
        seen: &mut BTreeMap<PathBuf, String>,
    ) -> Result<BTreeMap<String, Vec<PathBuf>>, PipelineError> {
        let mut out = BTreeMap::new();
        for (kind, entries) in lists {
            let mut files = Vec::new();
            for entry in entries {
                if let Some(dir) = glob_dir(&self.resolve(entry.get_ref())) {
                    self.glob_dirs.borrow_mut().push(dir);
                }
                for file in self.expand(entry, kind)? {
                    let identity = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
                    let here = format!("{:?} ({kind})", entry.get_ref());
                    if let Some(first) = seen.insert(identity, here.clone()) {
                        return Err(self.error(
                            entry.span(),
                            format!(
                                "{} is listed twice: by {first} and by {here}",
                                file.display()
                            ),
                            "name each input file once (check globs that overlap a path)",
                        ));
                    }
                    files.push(file);
                }
            }
            if !files.is_empty() {
                out.insert(kind.to_string(), files);
            }
        }
        Ok(out)
    }
}

/// `path` made absolute with every existing leading part resolved
/// (symbolic links, `..`), so that two spellings of one place compare equal
/// even when its last parts do not exist yet.
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            return rest.iter().rev().fold(real, |acc, part| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

impl Pipeline {
    /// Every input file, raw and pre-pseudonymised.
    pub fn input_files(&self) -> impl Iterator<Item = &PathBuf> {
        self.raw_inputs
            .values()
            .chain(self.pseudonymised_inputs.values())
            .flatten()
    }

    /// Refuses a run directory that holds an input file or lies inside a
    /// directory an input glob searches: the next run would read the run's
    /// own files (or a stage would replace an input).
    pub fn check_run_dir(&self, run_dir: &Path) -> Result<(), PipelineError> {
        let run = resolved(run_dir);
        let refuse = |what: String| PipelineError::Config {
            file: self.path.clone(),
            line: 0,
            message: format!("the run directory {} {what}", run_dir.display()),
            hint: "keep the run directory (`output` or --run-dir) apart from the input \
                   directories, e.g. output = \"../runs/NAME\""
                .into(),
        };
        for input in self.input_files() {
            if resolved(input).starts_with(&run) {
                return Err(refuse(format!("holds the input {}", input.display())));
            }
        }
        for dir in &self.glob_dirs {
            if run.starts_with(resolved(dir)) {
                return Err(refuse(format!(
                    "lies in {}, which an input pattern searches: a later run would read the \
                     run's own files as input",
                    dir.display()
                )));
            }
        }
        Ok(())
    }
}

/// Expands `${VAR}` and `${VAR:-default}` from the environment (an unset
/// variable without a default expands to nothing, which then fails the
/// existence check with the pattern named).
pub fn expand_vars(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &rest[start + 2..start + end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        match std::env::var(name) {
            Ok(v) if !v.is_empty() => out.push_str(&v),
            _ => out.push_str(default.unwrap_or("")),
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

/// A pipeline file's text and its parsed form.
fn read_pipeline_file(path: &Path) -> Result<(String, PipelineFileText), PipelineError> {
    let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let parsed: PipelineFileText = toml::from_str(&text).map_err(|e| PipelineError::Config {
        file: path.to_path_buf(),
        line: e.span().map(|s| line_of(&text, s.start)).unwrap_or(0),
        message: e.message().to_string(),
        hint: "see pipelines/demo.toml for every key a pipeline file may hold".into(),
    })?;
    Ok((text, parsed))
}

/// The publication rules a pipeline file sets for its researcher package.
#[derive(Debug, Clone)]
pub struct PackageRules {
    /// The disclosure rules (`config_dir/disclosure.toml` with the file's
    /// `[disclosure]` section).
    pub rules: Rules,
    /// The least treated n of a published effect estimate (`[effect]`
    /// `min_effect_n`; none without an `[effect]` section).
    pub min_effect_n: Option<u64>,
}

/// Only the publication rules of a pipeline file, checked as
/// [`load_pipeline`] checks them; its inputs and key need not exist (for
/// `koppel check` on a machine that holds the package but not the data).
pub fn load_pipeline_rules(path: &Path) -> Result<PackageRules, PipelineError> {
    let (text, parsed) = read_pipeline_file(path)?;
    let ctx = Ctx::new(path, &text);
    let config_dir = ctx.config_dir(&parsed)?;
    let rules = ctx.disclosure_rules(&config_dir, &parsed.disclosure)?;
    let min_effect_n = match &parsed.effect {
        Some(section) => {
            let config: koppel_effect::EffectConfig = toml::Value::Table(section.clone())
                .try_into()
                .map_err(|e: toml::de::Error| {
                    ctx.file_error(
                        ctx.line_starting("[effect]"),
                        format!("[effect]: {}", e.message()),
                        "see pipelines/demo.toml for the [effect] keys".into(),
                    )
                })?;
            Some(config.min_effect_n)
        }
        None => None,
    };
    Ok(PackageRules {
        rules,
        min_effect_n,
    })
}

/// Loads and checks a pipeline file. Nothing is read besides the pipeline
/// file itself, `config_dir/disclosure.toml` and the file system's view of
/// its inputs (existence).
pub fn load_pipeline(path: &Path) -> Result<Pipeline, PipelineError> {
    let (text, parsed) = read_pipeline_file(path)?;
    let ctx = Ctx::new(path, &text);

    let inputs = ctx.inputs(&parsed.inputs)?;
    let key_file = ctx.key_file(&parsed, !inputs.raw.is_empty())?;
    let output = parsed.output.as_ref().map(|o| ctx.resolve(o.get_ref()));
    let config_dir = ctx.config_dir(&parsed)?;

    // The cohort and link sections are handed to koppel-link as one table;
    // it refuses unknown keys itself (checked in `preflight`).
    let mut link_section = parsed.link.clone();
    link_section.insert("cohort".into(), toml::Value::Table(parsed.cohort.clone()));
    let rules = ctx.disclosure_rules(&config_dir, &parsed.disclosure)?;
    let tables = ctx.tables(&parsed.tables)?;
    ctx.check_report(&parsed.report)?;

    Ok(Pipeline {
        path: path.to_path_buf(),
        name: parsed.name,
        description: parsed.description,
        key_file,
        output,
        config_dir,
        raw_inputs: inputs.raw,
        pseudonymised_inputs: inputs.pseudonymised,
        pseudonymised_key_id: inputs.key_id,
        link_section,
        effect_section: parsed.effect.clone(),
        rules,
        tables,
        report: parsed.report,
        glob_dirs: ctx.glob_dirs.take(),
        text,
    })
}

/// The `[inputs]` of a pipeline file, expanded.
struct Inputs {
    raw: BTreeMap<String, Vec<PathBuf>>,
    pseudonymised: BTreeMap<String, Vec<PathBuf>>,
    key_id: Option<String>,
}

impl<'a> Ctx<'a> {
    /// The context of the pipeline file at `path` with `text`: relative
    /// paths start from its directory.
    fn new(path: &'a Path, text: &'a str) -> Ctx<'a> {
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        Ctx {
            path,
            text,
            base,
            glob_dirs: Default::default(),
        }
    }

    /// `config_dir`, resolved and checked (default: `../config` beside the
    /// pipeline file).
    fn config_dir(&self, parsed: &PipelineFileText) -> Result<PathBuf, PipelineError> {
        match &parsed.config_dir {
            Some(dir) => {
                let resolved = self.resolve(dir.get_ref());
                if !resolved.is_dir() {
                    return Err(self.error(
                        dir.span(),
                        format!("config_dir {} is not a directory", resolved.display()),
                        "point config_dir at the repository's config/ directory",
                    ));
                }
                Ok(resolved)
            }
            None => Ok(self.base.join("../config")),
        }
    }

    /// A configuration error of the pipeline file, not tied to a line.
    fn file_error(&self, line: usize, message: String, hint: String) -> PipelineError {
        PipelineError::Config {
            file: self.path.to_path_buf(),
            line,
            message,
            hint,
        }
    }

    /// The line of the first line starting with `prefix` (0 if none).
    fn line_starting(&self, prefix: &str) -> usize {
        self.text
            .lines()
            .position(|l| l.trim_start().starts_with(prefix))
            .map_or(0, |i| i + 1)
    }

    /// `[inputs]` and `[inputs.pseudonymised]` expanded; every kind must
    /// have files in one of them.
    fn inputs(&self, text: &InputsText) -> Result<Inputs, PipelineError> {
        let mut seen = BTreeMap::new();
        let raw = self.expand_group(
            [
                (kind::PERSONS, &text.persons),
                (kind::BENEFITS, &text.benefits),
                (kind::EMPLOYMENT, &text.employment),
                (kind::TRAJECTORIES, &text.trajectories),
            ],
            &mut seen,
        )?;
        let mut pseudonymised = BTreeMap::new();
        let mut key_id = None;
        if let Some(p) = &text.pseudonymised {
            let id = p.key_id.get_ref();
            if id.len() != 16
                || !id
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            {
                return Err(self.error(
                    p.key_id.span(),
                    format!("key_id {id:?} is not a key id"),
                    "a key id is 16 lowercase hex characters, as printed by `koppel key id KEYFILE`",
                ));
            }
            key_id = Some(id.clone());
            pseudonymised = self.expand_group(
                [
                    (kind::PERSONS, &p.persons),
                    (kind::BENEFITS, &p.benefits),
                    (kind::EMPLOYMENT, &p.employment),
                    (kind::TRAJECTORIES, &p.trajectories),
                ],
                &mut seen,
            )?;
        }
        for kind in INPUT_KINDS {
            if !raw.contains_key(kind) && !pseudonymised.contains_key(kind) {
                return Err(self.file_error(
                    0,
                    format!("no input files of kind {kind}"),
                    format!("add `{kind} = [\"path/or/*.glob\"]` under [inputs] (or [inputs.pseudonymised])"),
                ));
            }
        }
        Ok(Inputs {
            raw,
            pseudonymised,
            key_id,
        })
    }

    /// The key file, which must exist when any input holds BSNs.
    fn key_file(
        &self,
        parsed: &PipelineFileText,
        needed: bool,
    ) -> Result<Option<PathBuf>, PipelineError> {
        let key_file = parsed.key_file.as_ref().map(|k| self.resolve(k.get_ref()));
        if !needed {
            return Ok(key_file);
        }
        match (&key_file, &parsed.key_file) {
            (Some(file), Some(spanned)) if !file.is_file() => {
                let problem = if file.is_dir() {
                    "is a directory, not a key file"
                } else if file.exists() {
                    "is not a regular file"
                } else {
                    "does not exist"
                };
                Err(self.error(
                    spanned.span(),
                    format!("key file {} {problem}", file.display()),
                    "point key_file at the key file itself; make one with `koppel key new --out FILE` (mode 0600)",
                ))
            }
            (Some(_), _) => Ok(key_file),
            (None, _) => Err(self.file_error(
                0,
                "inputs hold BSNs but the pipeline names no key_file".into(),
                "add `key_file = \"path/to/koppel.key\"` (make one with `koppel key new --out FILE`)".into(),
            )),
        }
    }

    /// Disclosure rules: defaults from `config_dir/disclosure.toml` (when
    /// present), with the pipeline's `[disclosure]` keys on top; loosening
    /// needs `override_reason`, measured against the operator's file, not
    /// only against the compiled defaults.
    fn disclosure_rules(
        &self,
        config_dir: &Path,
        section: &toml::Table,
    ) -> Result<Rules, PipelineError> {
        let defaults_path = config_dir.join("disclosure.toml");
        let defaults: Option<toml::Table> = if defaults_path.is_file() {
            let t =
                std::fs::read_to_string(&defaults_path).map_err(|source| PipelineError::Io {
                    path: defaults_path.clone(),
                    source,
                })?;
            Some(toml::from_str(&t).map_err(|e| PipelineError::Config {
                file: defaults_path.clone(),
                line: e.span().map(|s| line_of(&t, s.start)).unwrap_or(0),
                message: e.message().to_string(),
                hint: "restore config/disclosure.toml from the repository".into(),
            })?)
        } else {
            None
        };
        let baseline = match &defaults {
            Some(table) => Rules::parse(&toml::to_string(table).unwrap_or_default()).map_err(|e| {
                PipelineError::Config {
                    file: defaults_path.clone(),
                    line: 0,
                    message: e.to_string(),
                    hint: "loosening the compiled defaults in config/disclosure.toml needs `override_reason = \"...\"` there".into(),
                }
            })?,
            None => Rules::default(),
        };
        let mut merged = defaults.unwrap_or_default();
        for (k, v) in section {
            merged.insert(k.clone(), v.clone());
        }
        Rules::parse_against(&toml::to_string(&merged).unwrap_or_default(), &baseline).map_err(|e| {
            self.file_error(
                self.line_starting("[disclosure]"),
                e.to_string(),
                "a pipeline may tighten the rules; loosening needs `override_reason = \"...\"` under [disclosure]".into(),
            )
        })
    }

    /// The `[[tables]]`: at least one, unique safe names, known dimensions,
    /// outcomes, flags and job fields, increasing flow horizons.
    fn tables(&self, specs: &[Spanned<TableSpec>]) -> Result<Vec<TableSpec>, PipelineError> {
        if specs.is_empty() {
            return Err(self.file_error(
                0,
                "the pipeline publishes no tables".into(),
                "add at least one [[tables]] section with name, dims and measure".into(),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        let mut tables = Vec::new();
        for spanned in specs {
            let table = spanned.get_ref();
            if !names.insert(table.name.clone()) {
                return Err(self.error(
                    spanned.span(),
                    format!("two tables are named {:?}", table.name),
                    "table names become file names: make them unique",
                ));
            }
            self.check_table(spanned)?;
            tables.push(table.clone());
        }
        Ok(tables)
    }

    /// One `[[tables]]` entry on its own.
    fn check_table(&self, spanned: &Spanned<TableSpec>) -> Result<(), PipelineError> {
        let table = spanned.get_ref();
        let fail = |message: String, hint: &str| Err(self.error(spanned.span(), message, hint));
        if table.name.is_empty()
            || !table
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return fail(
                format!("table name {:?} is not a safe file name", table.name),
                "use letters, digits, '_' and '-'",
            );
        }
        for (i, dim) in table.dims.iter().enumerate() {
            if table.dims[..i].contains(dim) {
                return fail(
                    format!("table {:?}: dimension {dim:?} is listed twice", table.name),
                    "list each dimension once",
                );
            }
            if !KNOWN_DIMENSIONS.contains(&dim.as_str()) {
                return fail(
                    format!("table {:?}: unknown dimension {dim:?}", table.name),
                    &format!("known dimensions: {}", KNOWN_DIMENSIONS.join(", ")),
                );
            }
        }
        match &table.measure {
            Measure::Mean(variable) | Measure::Median(variable)
                if !NUMERIC_OUTCOMES.contains(&variable.as_str()) =>
            {
                fail(
                    format!("table {:?}: no numeric outcome {variable:?}", table.name),
                    &format!(
                        "means and medians exist of: {}",
                        NUMERIC_OUTCOMES.join(", ")
                    ),
                )
            }
            Measure::Flag(flag)
                if !(flag.starts_with("reentry_")
                    || koppel_schema::analysis::FLAGS.contains(&flag.as_str())) =>
            {
                fail(
                    format!("table {:?}: unknown flag {flag:?}", table.name),
                    "flags: reentry_6m (or reentry_{w}m), durable_outflow, durable_outflow_work",
                )
            }
            Measure::Job(f) | Measure::JobMean(f) | Measure::JobMedian(f)
                if !JOB_FIELDS.contains(&f.as_str()) =>
            {
                fail(
                    format!("table {:?}: unknown job field {f:?}", table.name),
                    &format!("job fields: {}", JOB_FIELDS.join(", ")),
                )
            }
            Measure::Flow(hs) if hs.len() < 2 || hs.windows(2).any(|w| w[0] >= w[1]) => fail(
                format!("table {:?}: flow horizons {hs:?}", table.name),
                "a flow needs two or more increasing horizons, e.g. { flow = [6, 12, 18] }",
            ),
            _ => Ok(()),
        }
    }

    /// `[report]`: a supported language.
    fn check_report(&self, report: &ReportSettings) -> Result<(), PipelineError> {
        match &report.lang {
            Some(lang) if lang != "nl" && lang != "en" => Err(self.file_error(
                self.line_starting("lang"),
                format!("report language {lang:?} is not supported"),
                "use \"nl\" or \"en\"".into(),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A directory holding the inputs and key file `GOOD` names.
    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in ["p.parquet", "b.parquet", "e.parquet", "t1.csv", "t2.csv"] {
            write(dir.path(), f, "x");
        }
        write(dir.path(), "k.key", "00");
        dir
    }

    /// Why the pipeline `text`, written as `p.toml` in `dir`, is refused.
    fn load_error(dir: &Path, text: &str) -> String {
        load_pipeline(&write(dir, "p.toml", text))
            .unwrap_err()
            .to_string()
    }

    const GOOD: &str = r#"
name = "t"
key_file = "k.key"
[inputs]
persons = ["p.parquet"]
benefits = ["b.parquet"]
employment = ["e.parquet"]
trajectories = ["t*.csv"]
[cohort]
kind = "outflow"
year = 2022
[disclosure]
min_count = 15
[[tables]]
name = "states_by_sex"
dims = ["sex"]
measure = "states"
"#;

    #[test]
    fn a_good_file_resolves_paths_and_globs() {
        let dir = fixture();
        let p = load_pipeline(&write(dir.path(), "p.toml", GOOD)).unwrap();
        assert_eq!(p.raw_inputs["trajectories"].len(), 2);
        assert!(p.raw_inputs["persons"][0].starts_with(dir.path()));
        assert_eq!(p.rules.min_count, 15);
        assert_eq!(p.link_section["cohort"]["year"].as_integer(), Some(2022));
    }

    #[test]
    fn unknown_keys_are_refused_with_line_and_expected_keys() {
        let dir = fixture();
        let text = GOOD.replace("name = \"t\"", "name = \"t\"\ncolour = \"red\"");
        let err = load_error(dir.path(), &text);
        assert!(err.contains("p.toml:3:"), "{err}");
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn missing_inputs_name_the_pattern_and_line() {
        let dir = fixture();
        let text = GOOD.replace("t*.csv", "uploads/*.csv");
        let err = load_error(dir.path(), &text);
        assert!(
            err.contains("uploads/*.csv") && err.contains("p.toml:8:"),
            "{err}"
        );
    }

    #[test]
    fn the_rules_alone_load_without_inputs_or_key() {
        let dir = tempfile::tempdir().unwrap();
        // No inputs, no key: the pipeline cannot run, its rules still load.
        let path = write(dir.path(), "p.toml", GOOD);
        assert!(load_pipeline(&path).is_err());
        let loaded = load_pipeline_rules(&path).unwrap();
        assert_eq!(loaded.rules.min_count, 15);
        assert_eq!(loaded.min_effect_n, None);
        let with_effect = format!("{GOOD}\n[effect]\nperiod_from = 2020-01-01\nperiod_to = 2021-12-31\nmin_effect_n = 80\n");
        let loaded = load_pipeline_rules(&write(dir.path(), "e.toml", &with_effect)).unwrap();
        assert_eq!(loaded.min_effect_n, Some(80));
        // Loosening without a reason is refused here too.
        let text = GOOD.replace("min_count = 15", "min_count = 5");
        let err = load_pipeline_rules(&write(dir.path(), "p.toml", &text))
            .unwrap_err()
            .to_string();
        assert!(err.contains("override_reason"), "{err}");
    }

    #[test]
    fn loosening_needs_a_reason() {
        let dir = fixture();
        let text = GOOD.replace("min_count = 15", "min_count = 5");
        let err = load_error(dir.path(), &text);
        assert!(err.contains("override_reason"), "{err}");
        let text = GOOD.replace(
            "min_count = 15",
            "min_count = 5\noverride_reason = \"agreed with the office\"",
        );
        let p = load_pipeline(&write(dir.path(), "p.toml", &text)).unwrap();
        assert_eq!(p.rules.min_count, 5);
        assert!(!p.rules.loosened.is_empty());
    }

    #[test]
    fn loosening_is_measured_against_the_operators_disclosure_toml() {
        let dir = fixture();
        std::fs::create_dir(dir.path().join("conf")).unwrap();
        write(dir.path(), "conf/disclosure.toml", "min_count = 15\n");
        let text = GOOD
            .replace("name = \"t\"", "name = \"t\"\nconfig_dir = \"conf\"")
            .replace("min_count = 15", "min_count = 12");
        let err = load_error(dir.path(), &text);
        assert!(err.contains("min_count 12 < 15"), "{err}");
        let text = text.replace(
            "min_count = 12",
            "min_count = 12\noverride_reason = \"agreed with the office\"",
        );
        let p = load_pipeline(&write(dir.path(), "p.toml", &text)).unwrap();
        assert_eq!(
            p.rules.loosened,
            vec!["min_count 12 < 15 (config/disclosure.toml)".to_string()]
        );
    }

    #[test]
    fn a_key_path_that_is_a_directory_is_named_as_one() {
        let dir = fixture();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        let text = GOOD.replace("key_file = \"k.key\"", "key_file = \"keys\"");
        let err = load_error(dir.path(), &text);
        assert!(err.contains("is a directory"), "{err}");
        assert!(!err.contains("does not exist"), "{err}");
    }

    #[test]
    fn unknown_dimensions_and_duplicate_tables_are_refused() {
        let dir = fixture();
        let text = GOOD.replace("dims = [\"sex\"]", "dims = [\"shoe_size\"]");
        let err = load_error(dir.path(), &text);
        assert!(
            err.contains("shoe_size") && err.contains("known dimensions"),
            "{err}"
        );
        let text = format!(
            "{GOOD}\n[[tables]]\nname = \"states_by_sex\"\ndims = []\nmeasure = \"states\"\n"
        );
        let err = load_error(dir.path(), &text);
        assert!(err.contains("two tables"), "{err}");
    }

    #[test]
    fn environment_variables_expand_with_defaults() {
        assert_eq!(
            expand_vars("${KOPPEL_SURELY_UNSET_VAR:-../data}/x.csv"),
            "../data/x.csv"
        );
        assert_eq!(expand_vars("plain/path"), "plain/path");
        std::env::set_var("KOPPEL_TEST_EXPAND", "/srv/in");
        assert_eq!(expand_vars("${KOPPEL_TEST_EXPAND:-../data}/x"), "/srv/in/x");
    }

    #[test]
    fn a_missing_key_file_is_named() {
        let dir = fixture();
        let text = GOOD.replace("k.key", "secrets/none.key");
        let err = load_error(dir.path(), &text);
        assert!(
            err.contains("none.key") && err.contains("koppel key new"),
            "{err}"
        );
    }
}
