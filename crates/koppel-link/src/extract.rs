//! Register extracts: the rows of the persons a link job can ever need,
//! written once by ingest and read by every link job instead of the
//! national registers.
//!
//! Every cohort the link stage defines is a set of persons with an
//! assistance spell (outflow, inflow and stock cohorts: see
//! [`crate::reduce::cohort_candidates`]) or with a trajectory record (the
//! trajectory cohort), and linkage quality looks at the upload persons'
//! rows only. All rows of those persons (the *extract population*: persons
//! with a spell of an [`EXTRACT_BENEFIT_TYPES`] type in the benefits
//! register or a row in an upload) are therefore all any link job reads. At
//! national scale that is 1.4 M of 18 M persons: 8 % of the persons
//! register, 25 % of the benefit spells, 11 % of the employment spells.
//!
//! The ingest stage of `koppel run` writes, after the uploads and the
//! benefits register, every persons and employment row of the population a
//! second time into an extract file while it writes the register itself
//! (the rows are in memory then, so the extract costs a membership test and
//! the encoding of a tenth of the rows), filters its benefits output the
//! same way, and records everything in an [`ExtractIndex`]
//! (`extracts.json`): which files the population was taken from, each
//! register file with its extract, and what a full pass over the register
//! file would have counted ([`PassCounts`]: rows, ignored rows, latest
//! dates), which the link stage's summary reports for the whole register.
//!
//! The link stage ([`crate::link_with_extracts`]) and the effect stage
//! (whose population, persons with an assistance spell in the evaluation
//! period, is within the extract population) use the extracts only when
//! the index describes exactly their inputs ([`usable`]): every persons,
//! benefits and employment file has an extract whose size and row count
//! match, the population was taken from exactly their benefits and
//! trajectory files, and the configured assistance types are among
//! [`EXTRACT_BENEFIT_TYPES`]; the link stage also checks that its cohort
//! kind lies within the population ([`covers`]). Otherwise, or without an
//! index, they read the registers whole; the analysis file, linkage
//! quality and the effect stage's results are byte-identical either way
//! (the link and pipeline tests compare both).
//!
//! Nothing here is trusted for safety: the extracts are pseudonymised
//! register rows like the registers themselves, and an index that does not
//! match only costs speed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::Cohort;
use crate::plan::{invalid_rows, PSEUDONYM};
use crate::reduce::{
    batch_counts, positioned_read_path, reduce_frame, Keep, PassCounts, PersonSet,
};
use crate::{LinkError, LinkInputs};

/// Version of [`ExtractIndex`]'s format; an index of another version is
/// not used.
pub const INDEX_VERSION: u32 = 1;

/// File name of the index in the ingest output directory.
pub const INDEX_FILE: &str = "extracts.json";

/// Benefit types whose spells put a person in the extract population: the
/// link stage's default assistance types (social assistance and the IOAW
/// and IOAZ schemes).
pub const EXTRACT_BENEFIT_TYPES: [&str; 3] = ["bijstand", "ioaw", "ioaz"];

/// A file as the index knows it: its path relative to the index's
/// directory, size and row count (a file rewritten since differs in at
/// least one of them in practice; the pipeline also checks content hashes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    /// Path relative to the directory of the index, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Rows (from the Parquet footer).
    pub rows: u64,
}

impl FileId {
    /// The identity of `file`, named relative to `base`.
    pub fn of(file: &Path, base: &Path) -> Result<FileId, LinkError> {
        let input = |reason: String| LinkError::Input {
            file: file.display().to_string(),
            reason,
        };
        let relative = file
            .strip_prefix(base)
            .map_err(|_| input(format!("not inside {}", base.display())))?;
        let path = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().to_string())
            .collect::<Vec<_>>()
            .join("/");
        let bytes = std::fs::metadata(file)
            .map_err(|e| input(e.to_string()))?
            .len();
        let rows = koppel_io::parquet_rows(file).map_err(|e| input(e.to_string()))?;
        Ok(FileId { path, bytes, rows })
    }
}

/// One register file and its extract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractEntry {
    /// `persons`, `benefits` or `employment`.
    pub kind: String,
    /// The register file as ingest wrote it.
    pub source: FileId,
    /// Its extract: every row of the population, in the source's order.
    pub extract: FileId,
    /// What a link pass over the whole source counts.
    pub counts: PassCounts,
}

/// What ingest's extracts are and where they came from (`extracts.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractIndex {
    /// [`INDEX_VERSION`].
    pub version: u32,
    /// The benefit types that define the population ([`EXTRACT_BENEFIT_TYPES`]).
    pub benefit_types: Vec<String>,
    /// The benefits and trajectory files the population was taken from.
    pub population_from: Vec<FileId>,
    /// Persons in the population.
    pub persons: u64,
    /// Every register file with its extract.
    pub files: Vec<ExtractEntry>,
}

/// Builds the index of the extracts as they are written, then writes it
/// ([`INDEX_FILE`] in the directory the paths are relative to).
pub struct IndexBuilder {
    base: PathBuf,
    files: Vec<ExtractEntry>,
}

impl IndexBuilder {
    /// An index of files under `base` (ingest's output directory).
    pub fn new(base: &Path) -> IndexBuilder {
        IndexBuilder {
            base: base.to_path_buf(),
            files: Vec::new(),
        }
    }

    /// Record the register file `source` of `kind`, its extract and what
    /// was counted over the whole source.
    pub fn record(
        &mut self,
        kind: &str,
        source: &Path,
        extract: &Path,
        counts: PassCounts,
    ) -> Result<(), LinkError> {
        self.files.push(ExtractEntry {
            kind: kind.to_string(),
            source: FileId::of(source, &self.base)?,
            extract: FileId::of(extract, &self.base)?,
            counts,
        });
        Ok(())
    }

    /// Write the index: the population of `persons` persons was taken from
    /// the benefits and trajectory files `population_from`.
    pub fn finish(
        self,
        population_from: &[PathBuf],
        persons: u64,
    ) -> Result<ExtractIndex, LinkError> {
        let index = ExtractIndex {
            version: INDEX_VERSION,
            benefit_types: EXTRACT_BENEFIT_TYPES
                .iter()
                .map(|t| t.to_string())
                .collect(),
            population_from: population_from
                .iter()
                .map(|f| FileId::of(f, &self.base))
                .collect::<Result<_, _>>()?,
            persons,
            files: self.files,
        };
        let path = self.base.join(INDEX_FILE);
        let failed = |reason: String| LinkError::Input {
            file: path.display().to_string(),
            reason,
        };
        let text = serde_json::to_string_pretty(&index).map_err(|e| failed(e.to_string()))?;
        std::fs::write(&path, text + "\n").map_err(|e| failed(e.to_string()))?;
        Ok(index)
    }
}

/// Counts the rows of a register file as a link pass would and selects the
/// rows of the population, batch by batch, as ingest writes them.
pub struct ExtractSelector {
    kind: &'static str,
    population: Arc<PersonSet>,
    counts: Mutex<PassCounts>,
}

impl ExtractSelector {
    /// A selector for a file of `kind` (`persons`, `benefits`,
    /// `employment`).
    pub fn new(kind: &'static str, population: Arc<PersonSet>) -> ExtractSelector {
        ExtractSelector {
            kind,
            population,
            counts: Mutex::default(),
        }
    }

    /// Count `frame` (a batch with ingest's output columns) and return
    /// which of its rows belong to the population.
    pub fn select(&self, frame: &DataFrame) -> PolarsResult<BooleanChunked> {
        let dated = self.kind != "persons";
        let mut exprs = vec![invalid_rows(self.kind).alias("invalid")];
        if dated {
            exprs.push(col("start_date").cast(DataType::Int32));
            exprs.push(col("end_date").cast(DataType::Int32));
        }
        let fields = frame.clone().lazy().select(exprs).collect()?;
        let series = |i: usize| fields.columns()[i].as_materialized_series();
        let mut c = batch_counts(
            series(0),
            dated.then(|| series(1)),
            dated.then(|| series(2)),
        )?;
        let mask = self.population.mask(frame.column(PSEUDONYM)?.str()?);
        c.kept = mask.sum().unwrap_or(0) as u64;
        self.counts
            .lock()
            .expect("no panic while holding the lock")
            .add(&c);
        Ok(mask)
    }

    /// What [`ExtractSelector::select`] counted so far (`kept`: rows
    /// selected).
    pub fn counts(&self) -> PassCounts {
        self.counts
            .lock()
            .expect("no panic while holding the lock")
            .clone()
    }
}

/// The extract population of pseudonymised `benefits` and `trajectories`
/// files: every pseudonym of a benefits row of an [`EXTRACT_BENEFIT_TYPES`]
/// type and of a trajectory row (rows the link stage would ignore
/// included: a superset is always safe).
pub fn population(benefits: &[PathBuf], trajectories: &[PathBuf]) -> Result<PersonSet, LinkError> {
    let mut out = PersonSet::default();
    let is_extract_type = EXTRACT_BENEFIT_TYPES
        .iter()
        .fold(lit(false), |acc, t| acc.or(col("benefit_type").eq(lit(*t))));
    for (files, predicate) in [(benefits, is_extract_type), (trajectories, lit(true))] {
        for file in files {
            let path = positioned_read_path(file);
            let frame = LazyFrame::scan_parquet(PlRefPath::new(path.as_str()), Default::default())
                .map_err(|e| LinkError::Input {
                    file: file.display().to_string(),
                    reason: e.to_string(),
                })?;
            out.extend(&crate::reduce::persons_matching(frame, predicate.clone())?);
        }
    }
    Ok(out)
}

/// Collects the extract population from the uploads and the benefits
/// register as ingest writes them (the same persons as [`population`]
/// finds in the written files, without reading them again).
#[derive(Default)]
pub struct PopulationCollector {
    set: Mutex<PersonSet>,
}

impl PopulationCollector {
    /// Add the persons of a batch of a written file of `kind`: every
    /// pseudonym of `trajectories`, those of rows of an
    /// [`EXTRACT_BENEFIT_TYPES`] type of `benefits`, none otherwise.
    pub fn observe(&self, kind: &str, frame: &DataFrame) -> PolarsResult<()> {
        let pseudonyms = frame.column(PSEUDONYM)?.str()?;
        let mut set = self.set.lock().expect("no panic while holding the lock");
        match kind {
            "trajectories" => pseudonyms.iter().flatten().for_each(|p| set.insert(p)),
            "benefits" => {
                let types = frame.column("benefit_type")?.str()?;
                for (p, t) in pseudonyms.iter().zip(types.iter()) {
                    if let (Some(p), Some(t)) = (p, t) {
                        if EXTRACT_BENEFIT_TYPES.contains(&t) {
                            set.insert(p);
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The population collected.
    pub fn finish(self) -> PersonSet {
        self.set
            .into_inner()
            .expect("no panic while holding the lock")
    }
}

/// Write the extract of the register file `source` (of `kind`, as ingest
/// wrote it) to `target`: every row of `population`, in the source's
/// order, with the source's key-value metadata. One streaming pass with
/// the person filter inside the Parquet reader (as the link stage's
/// passes); memory holds the extract's rows. Returns what the pass counted
/// over the whole source.
pub fn write_extract(
    kind: &'static str,
    source: &Path,
    population: Arc<PersonSet>,
    target: &Path,
) -> Result<PassCounts, LinkError> {
    let input = |reason: String| LinkError::Input {
        file: source.display().to_string(),
        reason,
    };
    let metadata = koppel_io::read_parquet_metadata(source).map_err(|e| input(e.to_string()))?;
    let path = positioned_read_path(source);
    // No row group is skipped on its statistics (the filter counts rows).
    let args = ScanArgsParquet {
        use_statistics: false,
        ..ScanArgsParquet::default()
    };
    let frame = LazyFrame::scan_parquet(PlRefPath::new(path.as_str()), args)
        .map_err(|e| input(e.to_string()))?;
    let (rows, counts) = reduce_frame(kind, frame, &Keep::Persons(population))?;
    let mut writer = koppel_io::TableWriter::create(target, rows.schema(), &metadata)?;
    writer.write(&rows)?;
    writer.finish()?;
    Ok(counts)
}

/// The extracts of a job's inputs, when the index at `index` describes
/// exactly those inputs and the job's `assistance_types` are among
/// [`EXTRACT_BENEFIT_TYPES`] (see the module docs); `None` (with the
/// reason logged) otherwise. Which persons the job reads must be within
/// the population: the link stage checks its cohort with [`covers`].
pub fn usable(
    index: &Path,
    inputs: &LinkInputs,
    assistance_types: &[String],
) -> Option<UsableExtracts> {
    match check(index, inputs, assistance_types) {
        Ok(found) => Some(found),
        Err(reason) => {
            tracing::info!(index = %index.display(), %reason, "reading the registers whole");
            None
        }
    }
}

/// The inputs to read instead of the registers, and what passes over the
/// whole registers would have counted.
#[derive(Clone, Debug)]
pub struct UsableExtracts {
    /// The link inputs with every register file replaced by its extract.
    pub inputs: LinkInputs,
    /// Per register kind, the counts of the whole files (`kept` 0).
    pub counts: BTreeMap<&'static str, PassCounts>,
}

impl UsableExtracts {
    /// The latest start or end date (day number) in the whole benefits and
    /// employment registers.
    pub fn registers_until(&self) -> Option<i32> {
        ["benefits", "employment"]
            .iter()
            .filter_map(|k| self.counts.get(k))
            .flat_map(|c| [c.max_start, c.max_end])
            .max()
            .flatten()
    }
}

/// Whether every candidate of `cohort` (see
/// [`crate::reduce::cohort_candidates`]) is in the extract population: an
/// assistance spell (of the configured types, which [`usable`] checks) or
/// a trajectory record. A new cohort kind must be added here deliberately.
pub fn covers(cohort: &Cohort) -> bool {
    match cohort {
        Cohort::Outflow { .. } | Cohort::Inflow { .. } | Cohort::Stock { .. } => true,
        Cohort::Trajectory { .. } => true,
    }
}

fn check(
    index: &Path,
    inputs: &LinkInputs,
    assistance_types: &[String],
) -> Result<UsableExtracts, String> {
    let text = std::fs::read_to_string(index).map_err(|e| format!("cannot read the index: {e}"))?;
    let parsed: ExtractIndex =
        serde_json::from_str(&text).map_err(|e| format!("cannot parse the index: {e}"))?;
    if parsed.version != INDEX_VERSION {
        return Err(format!(
            "index version {} (expected {INDEX_VERSION})",
            parsed.version
        ));
    }
    let base = index.parent().unwrap_or(Path::new("."));
    if let Some(t) = assistance_types
        .iter()
        .find(|t| !parsed.benefit_types.contains(t))
    {
        return Err(format!(
            "assistance type {t} is not in the extract population"
        ));
    }
    let ids = |files: &[PathBuf]| -> Result<Vec<FileId>, String> {
        files
            .iter()
            .map(|f| FileId::of(f, base).map_err(|e| e.to_string()))
            .collect()
    };
    let mut population = ids(&inputs.benefits)?;
    population.extend(ids(&inputs.trajectories)?);
    population.sort_by(|a, b| a.path.cmp(&b.path));
    let mut recorded = parsed.population_from.clone();
    recorded.sort_by(|a, b| a.path.cmp(&b.path));
    if population != recorded {
        return Err("the population was taken from other benefits or trajectory files".into());
    }
    let mut out = inputs.clone();
    let mut counts = BTreeMap::new();
    for (kind, files) in [
        ("persons", &mut out.persons),
        ("benefits", &mut out.benefits),
        ("employment", &mut out.employment),
    ] {
        let mut total = PassCounts::default();
        for file in files.iter_mut() {
            let id = FileId::of(file, base).map_err(|e| e.to_string())?;
            let entry = parsed
                .files
                .iter()
                .find(|e| e.kind == kind && e.source == id)
                .ok_or_else(|| format!("no extract of {}", id.path))?;
            let extract = base.join(&entry.extract.path);
            let found = FileId::of(&extract, base).map_err(|e| e.to_string())?;
            if found != entry.extract {
                return Err(format!("extract {} changed", entry.extract.path));
            }
            total.add(&PassCounts {
                kept: 0,
                ..entry.counts.clone()
            });
            *file = extract;
        }
        counts.insert(kind, total);
    }
    Ok(UsableExtracts {
        inputs: out,
        counts,
    })
}
