//! The polars lazy plans: input normalisation, assistance episodes, the four
//! cohorts and the linkage quality counts (joins on the pseudonym, running
//! maxima over sorted spells, group-bys), plus the entry points that derive
//! the cohort persons' outcomes (module `outcomes`, a pass over each
//! person's rows).

use koppel_schema::calendar;
use polars::prelude::*;

use crate::config::{Bands, Cohort, LinkConfig};
use crate::LinkError;

/// The pseudonym column of every input and of the output.
pub use koppel_schema::analysis::PSEUDONYM;

/// Day number standing in for the end of an ongoing spell (9999-12-31).
pub(crate) const OPEN: i32 = 2_932_896;

/// The outcome states, first match wins (docs/definitions.md).
pub use koppel_schema::analysis::STATES;
/// Dimension value for a missing value.
pub const UNKNOWN: &str = "unknown";
/// Dimension value for "not applicable" (no trajectory, not in work, no episode).
pub const NONE: &str = "none";

/// The four inputs as lazy frames in the ingest output format (docs/input-contracts.md
/// canonical columns after `pseudonym`). Extra columns are ignored.
#[derive(Clone)]
pub struct LinkFrames {
    /// `persons` register.
    pub persons: LazyFrame,
    /// `benefits` register.
    pub benefits: LazyFrame,
    /// `employment` register.
    pub employment: LazyFrame,
    /// Pseudonymised trajectory uploads.
    pub trajectories: LazyFrame,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ty {
    Str,
    Date,
    Num,
}

/// The columns the link stage reads, per input kind.
fn required(kind: &str) -> &'static [(&'static str, Ty)] {
    use Ty::*;
    match kind {
        "persons" => &[
            (PSEUDONYM, Str),
            ("birth_date", Date),
            ("sex", Str),
            ("household_type", Str),
            ("origin", Str),
            ("education_level", Str),
            ("municipality", Str),
            ("death_date", Date),
            ("emigration_date", Date),
        ],
        "benefits" => &[
            (PSEUDONYM, Str),
            ("benefit_type", Str),
            ("start_date", Date),
            ("end_date", Date),
            ("municipality", Str),
        ],
        "employment" => &[
            (PSEUDONYM, Str),
            ("job_id", Str),
            ("start_date", Date),
            ("end_date", Date),
            ("contract", Str),
            ("hours_per_week", Num),
            ("monthly_wage", Num),
            ("sector", Str),
        ],
        _ => &[
            (PSEUDONYM, Str),
            ("municipality", Str),
            ("instrument", Str),
            ("start_date", Date),
            ("end_date", Date),
            ("segment", Str),
        ],
    }
}

/// The input kinds, in docs/input-contracts.md order.
pub use koppel_schema::INPUT_KINDS as KINDS;

/// Check that `frame` has the columns `kind` needs with usable types, and
/// select them with canonical types (String, Date, Float64). `source` names
/// the file (or frame) in errors.
pub fn normalise(kind: &str, mut frame: LazyFrame, source: &str) -> Result<LazyFrame, LinkError> {
    let schema = frame.collect_schema().map_err(|e| LinkError::Input {
        file: source.to_string(),
        reason: e.to_string(),
    })?;
    let mut exprs = Vec::new();
    for &(name, ty) in required(kind) {
        let dtype = schema.get(name).ok_or_else(|| LinkError::Input {
            file: source.to_string(),
            reason: format!("the {kind} input has no column {name:?}"),
        })?;
        let ok = match ty {
            Ty::Str => matches!(
                dtype,
                DataType::String | DataType::Categorical(..) | DataType::Enum(..) | DataType::Null
            ),
            Ty::Date => matches!(
                dtype,
                DataType::Date | DataType::Datetime(..) | DataType::Null
            ),
            Ty::Num => dtype.is_primitive_numeric() || matches!(dtype, DataType::Null),
        };
        if !ok {
            return Err(LinkError::Input {
                file: source.to_string(),
                reason: format!(
                    "column {name:?} of the {kind} input has type {dtype}, expected {}",
                    match ty {
                        Ty::Str => "String",
                        Ty::Date => "Date",
                        Ty::Num => "a number (Float64)",
                    }
                ),
            });
        }
        let target = match ty {
            Ty::Str => DataType::String,
            Ty::Date => DataType::Date,
            Ty::Num => DataType::Float64,
        };
        // Only an actual conversion is cast: a projection of casts keeps
        // polars from pushing the passes' row filters into the Parquet
        // reader, which then decodes every column of every row instead of
        // the other columns of the kept rows only.
        exprs.push(if dtype == &target {
            col(name)
        } else {
            col(name).cast(target)
        });
    }
    Ok(frame.select(exprs))
}

/// Rows a stage ignores because they cannot be placed in time: no
/// pseudonym, no start date (for spells and trajectories) or an end before
/// the start. Ingest refuses such rows, so on ingest output this is zero.
pub(crate) fn invalid_rows(kind: &str) -> Expr {
    let p = col(PSEUDONYM).is_null();
    match kind {
        "persons" => p,
        _ => p.or(col("start_date").is_null()).or(col("end_date")
            .is_not_null()
            .and(col("end_date").lt(col("start_date")))),
    }
}

fn day(name: &str) -> Expr {
    col(name).cast(DataType::Int32)
}

fn date(e: Expr) -> Expr {
    e.cast(DataType::Date)
}

/// `e` (a day number) plus `months` calendar months, the day clamped to the
/// month end (Jan 31 + 1 month = Feb 28/29), as a day number.
pub(crate) fn add_months(e: Expr, months: i64) -> Expr {
    date(e)
        .dt()
        .offset_by(lit(format!("{months}mo")))
        .cast(DataType::Int32)
}

fn sort_opts(descending: &[bool]) -> SortMultipleOptions {
    SortMultipleOptions::default()
        .with_order_descending_multi(descending.to_vec())
        .with_nulls_last(true)
        .with_maintain_order(true)
}

/// One row per `group` key: the first after sorting by `order` (column,
/// descending), nulls last.
fn first_by(frame: LazyFrame, group: &[&str], order: &[(&str, bool)]) -> LazyFrame {
    let mut by: Vec<Expr> = group.iter().map(|g| col(*g)).collect();
    let mut desc = vec![false; group.len()];
    for (c, d) in order {
        by.push(col(*c));
        desc.push(*d);
    }
    frame.sort_by_exprs(by, sort_opts(&desc)).unique_stable(
        Some(by_name(group.iter().copied(), true, false)),
        UniqueKeepStrategy::First,
    )
}

fn on(names: &[&str]) -> Vec<Expr> {
    names.iter().map(|n| col(*n)).collect()
}

fn inner(left: LazyFrame, right: LazyFrame, keys: &[&str]) -> LazyFrame {
    left.join(right, on(keys), on(keys), JoinArgs::new(JoinType::Inner))
}

fn left(left: LazyFrame, right: LazyFrame, keys: &[&str]) -> LazyFrame {
    left.join(right, on(keys), on(keys), JoinArgs::new(JoinType::Left))
}

fn year_bounds(year: i32) -> (i32, i32) {
    (
        calendar::days_from_civil(year, 1, 1),
        calendar::days_from_civil(year, 12, 31),
    )
}

/// The inputs' valid rows with the columns the stage uses: spells with
/// day-number dates (`start`, `end`) and the ongoing end replaced by
/// [`OPEN`].
pub(crate) struct Prepared {
    /// Persons register: `birth`, the dimensions, `person_municipality`,
    /// `death`, `emigration`.
    pub(crate) persons: LazyFrame,
    /// Assistance spells (the configured benefit types) with `municipality`.
    pub(crate) assist: LazyFrame,
    /// WW spells.
    pub(crate) ww: LazyFrame,
    /// Employment spells with the job columns.
    pub(crate) jobs: LazyFrame,
    /// Trajectories with `end_raw` (the end as given, null when ongoing).
    pub(crate) traj: LazyFrame,
}

pub(crate) fn prepare(frames: &LinkFrames, config: &LinkConfig) -> Prepared {
    let valid = |kind: &str, f: &LazyFrame| f.clone().filter(invalid_rows(kind).not());
    let spell = |f: LazyFrame| {
        f.with_columns([
            day("start_date").alias("start"),
            day("end_date").fill_null(lit(OPEN)).alias("end"),
        ])
    };
    let benefits = spell(valid("benefits", &frames.benefits));
    let is_assist = config.assistance_types.iter().fold(lit(false), |acc, t| {
        acc.or(col("benefit_type").eq(lit(t.clone())))
    });
    let assist = benefits.clone().filter(is_assist).select([
        col(PSEUDONYM),
        col("start"),
        col("end"),
        col("municipality"),
    ]);
    let ww = benefits.filter(col("benefit_type").eq(lit("ww"))).select([
        col(PSEUDONYM),
        col("start"),
        col("end"),
    ]);
    let jobs = spell(valid("employment", &frames.employment)).select([
        col(PSEUDONYM),
        col("job_id"),
        col("start"),
        col("end"),
        col("contract"),
        col("hours_per_week"),
        col("monthly_wage"),
        col("sector"),
    ]);
    let traj = spell(valid("trajectories", &frames.trajectories)).select([
        col(PSEUDONYM),
        col("municipality"),
        col("instrument"),
        col("start"),
        col("end"),
        day("end_date").alias("end_raw"),
        col("segment"),
    ]);
    let persons = valid("persons", &frames.persons).select([
        col(PSEUDONYM),
        day("birth_date").alias("birth"),
        col("sex"),
        col("household_type"),
        col("origin"),
        col("education_level"),
        col("municipality").alias("person_municipality"),
        day("death_date").alias("death"),
        day("emigration_date").alias("emigration"),
    ]);
    Prepared {
        persons,
        assist,
        ww,
        jobs,
        traj,
    }
}

/// Merge assistance spells (`pseudonym`, `start`, `end`) into episodes
/// (`pseudonym`, `ep_start`, `ep_end`), bridging gaps of at most `gap_days`
/// days not covered by any spell. Overlapping and nested spells merge.
///
/// The latest end among a person's earlier spells (`prev_end`) is a running
/// maximum per person. Rather than a window per person, it is one running
/// maximum down the sorted frame of `group · 2³² + end` (a person's group
/// number only grows down the frame, and `end + 2³¹` fits in 32 bits), from
/// which the group's part is taken off again: the same values, without
/// polars grouping 140,000 persons (a quarter of a second at national
/// scale).
pub(crate) fn episodes(assist: LazyFrame, gap_days: u32) -> LazyFrame {
    const SHIFT: i64 = 1 << 32;
    const OFFSET: i64 = 1 << 31;
    let new_person = col(PSEUDONYM).neq_missing(col(PSEUDONYM).shift(lit(1)));
    let group = col("new_person").cast(DataType::Int64).cum_sum(false) * lit(SHIFT);
    assist
        .select([col(PSEUDONYM), col("start"), col("end")])
        .sort_by_exprs(on(&[PSEUDONYM, "start", "end"]), sort_opts(&[false]))
        .with_column(new_person.alias("new_person"))
        .with_column(group.alias("group"))
        .with_column(
            when(col("new_person"))
                .then(lit(NULL).cast(DataType::Int32))
                .otherwise(
                    ((col("group") + col("end").cast(DataType::Int64) + lit(OFFSET))
                        .cum_max(false)
                        .shift(lit(1))
                        - col("group")
                        - lit(OFFSET))
                    .cast(DataType::Int32),
                )
                .alias("prev_end"),
        )
        .with_column(
            col("prev_end")
                .is_null()
                .or((col("start").cast(DataType::Int64)
                    - col("prev_end").cast(DataType::Int64)
                    - lit(1i64))
                .gt(lit(gap_days as i64)))
                .cast(DataType::UInt32)
                .cum_sum(false)
                .alias("episode"),
        )
        .group_by([col(PSEUDONYM), col("episode")])
        .agg([
            col("start").min().alias("ep_start"),
            col("end").max().alias("ep_end"),
        ])
        .select([col(PSEUDONYM), col("ep_start"), col("ep_end")])
}

/// The cohort: one row per person with `pseudonym`, `R` (reference date,
/// day number), `ep_start` (start of the assistance episode used for the
/// duration, null if none), `anchor` (day whose paying municipality is the
/// person's municipality; null for trajectory cohorts) and
/// `cohort_municipality` (trajectory cohorts: the trajectory's municipality).
pub fn cohort_plan(frames: &LinkFrames, config: &LinkConfig) -> LazyFrame {
    let p = prepare(frames, config);
    cohort_from(&p, config)
}

fn cohort_from(p: &Prepared, config: &LinkConfig) -> LazyFrame {
    let eps = || episodes(p.assist.clone(), config.gap_days);
    let null_str = || {
        lit(NULL)
            .cast(DataType::String)
            .alias("cohort_municipality")
    };
    match &config.cohort {
        Cohort::Outflow { year } => {
            let (a, b) = year_bounds(*year);
            let first = first_by(
                eps().filter(col("ep_end").gt_eq(lit(a)).and(col("ep_end").lt_eq(lit(b)))),
                &[PSEUDONYM],
                &[("ep_end", false)],
            );
            first.select([
                col(PSEUDONYM),
                (col("ep_end") + lit(1)).alias("R"),
                col("ep_start"),
                col("ep_end").alias("anchor"),
                null_str(),
            ])
        }
        Cohort::Stock { date: d } => eps()
            .filter(
                col("ep_start")
                    .lt_eq(lit(d.0))
                    .and(col("ep_end").gt_eq(lit(d.0))),
            )
            .select([
                col(PSEUDONYM),
                lit(d.0).alias("R"),
                col("ep_start"),
                lit(d.0).alias("anchor"),
                null_str(),
            ]),
        Cohort::Inflow { year } => {
            let (a, b) = year_bounds(*year);
            first_by(
                eps().filter(
                    col("ep_start")
                        .gt_eq(lit(a))
                        .and(col("ep_start").lt_eq(lit(b))),
                ),
                &[PSEUDONYM],
                &[("ep_start", false)],
            )
            .select([
                col(PSEUDONYM),
                col("ep_start").alias("R"),
                col("ep_start"),
                col("ep_start").alias("anchor"),
                null_str(),
            ])
        }
        Cohort::Trajectory { year } => {
            let (a, b) = year_bounds(*year);
            let first = first_by(
                p.traj.clone().filter(
                    col("end_raw")
                        .gt_eq(lit(a))
                        .and(col("end_raw").lt_eq(lit(b))),
                ),
                &[PSEUDONYM],
                &[
                    ("end_raw", false),
                    ("start", true),
                    ("municipality", false),
                    ("instrument", false),
                ],
            )
            .select([
                col(PSEUDONYM),
                (col("end_raw") + lit(1)).alias("R"),
                col("municipality").alias("cohort_municipality"),
            ]);
            // The assistance episode covering the last trajectory day, if any.
            let covering = inner(
                eps(),
                first.clone().select([col(PSEUDONYM), col("R")]),
                &[PSEUDONYM],
            )
            .filter(
                col("ep_start")
                    .lt_eq(col("R") - lit(1))
                    .and(col("ep_end").gt_eq(col("R") - lit(1))),
            )
            .select([col(PSEUDONYM), col("ep_start")]);
            left(first, covering, &[PSEUDONYM]).select([
                col(PSEUDONYM),
                col("R"),
                col("ep_start"),
                lit(NULL).cast(DataType::Int32).alias("anchor"),
                col("cohort_municipality"),
            ])
        }
    }
}

/// The person-level analysis file (see the README section "Person-level
/// analysis file" for the columns): the cohort plan, collected, and the
/// outcomes of its persons ([`outcomes_frame`]).
pub fn analysis_frame(
    frames: &LinkFrames,
    config: &LinkConfig,
    bands: &Bands,
) -> Result<DataFrame, LinkError> {
    config.validate().map_err(LinkError::Config)?;
    let p = prepare(frames, config);
    let cohort = cohort_from(&p, config)
        .collect()
        .map_err(|source| LinkError::Polars {
            step: "cohort",
            source,
        })?;
    crate::outcomes::derive(&p, cohort, config, bands)
}

/// The analysis file for a given cohort frame (as from [`cohort_plan`],
/// collected): one row per cohort person with a persons-register record,
/// sorted by pseudonym, derived by a pass over each person's rows (module
/// `outcomes`).
pub fn outcomes_frame(
    frames: &LinkFrames,
    cohort: DataFrame,
    config: &LinkConfig,
    bands: &Bands,
) -> Result<DataFrame, LinkError> {
    config.validate().map_err(LinkError::Config)?;
    let p = prepare(frames, config);
    crate::outcomes::derive(&p, cohort, config, bands)
}

/// Linkage quality per upload municipality: `municipality`,
/// `persons_in_uploads` (distinct pseudonyms), `found_in_persons_register`,
/// `with_assistance_around_trajectories` (an assistance spell from
/// `lookback_months` before a trajectory's start to `lookback_months` after
/// its end), `not_found`. Sorted by municipality, then one row with
/// municipality `total` (distinct persons over all uploads). Counts only.
pub fn linkage_quality_plan(frames: &LinkFrames, config: &LinkConfig) -> LazyFrame {
    let p = prepare(frames, config);
    let m = config.lookback_months as i64;
    let traj = p.traj.clone().select([
        col(PSEUDONYM),
        col("municipality").fill_null(lit(UNKNOWN)),
        add_months(col("start"), -m).alias("from"),
        when(col("end_raw").is_null())
            .then(lit(OPEN))
            .otherwise(add_months(col("end_raw"), m))
            .alias("until"),
    ]);
    let pairs = traj
        .clone()
        .select([col("municipality"), col(PSEUDONYM)])
        .unique(None, UniqueKeepStrategy::Any);
    let found = p
        .persons
        .clone()
        .select([col(PSEUDONYM)])
        .semi_join(
            pairs.clone().select([col(PSEUDONYM)]),
            col(PSEUDONYM),
            col(PSEUDONYM),
        )
        .unique(None, UniqueKeepStrategy::Any)
        .with_column(lit(true).alias("found"));
    let assisted = inner(
        traj,
        p.assist
            .clone()
            .select([col(PSEUDONYM), col("start"), col("end")]),
        &[PSEUDONYM],
    )
    .filter(
        col("start")
            .lt_eq(col("until"))
            .and(col("end").gt_eq(col("from"))),
    )
    .select([col("municipality"), col(PSEUDONYM)])
    .unique(None, UniqueKeepStrategy::Any)
    .with_column(lit(true).alias("assisted"));
    let flags = left(
        left(pairs, found, &[PSEUDONYM]),
        assisted,
        &["municipality", PSEUDONYM],
    )
    .with_columns([
        col("found").fill_null(false),
        col("assisted").fill_null(false),
    ]);
    let count = || {
        [
            len().cast(DataType::UInt64).alias("persons_in_uploads"),
            col("found")
                .sum()
                .cast(DataType::UInt64)
                .alias("found_in_persons_register"),
            col("assisted")
                .sum()
                .cast(DataType::UInt64)
                .alias("with_assistance_around_trajectories"),
        ]
    };
    let per_municipality = flags
        .clone()
        .group_by([col("municipality")])
        .agg(count())
        .sort(["municipality"], SortMultipleOptions::default());
    let total = flags
        .group_by([col(PSEUDONYM)])
        .agg([col("found").any(false), col("assisted").any(false)])
        .select(count())
        .select([
            lit("total").alias("municipality"),
            col("persons_in_uploads"),
            col("found_in_persons_register"),
            col("with_assistance_around_trajectories"),
        ]);
    concat([per_municipality, total], UnionArgs::default())
        .expect("same schema")
        .with_column(
            (col("persons_in_uploads") - col("found_in_persons_register")).alias("not_found"),
        )
}
