//! The polars lazy plans: input normalisation, assistance episodes, the four
//! cohorts, outcome states per horizon, flags, trajectory exposure, and the
//! linkage quality counts. No row-by-row loops: joins on the pseudonym,
//! interval conditions as filters on small per-person join results, window
//! functions over sorted spells, and group-bys.

use koppel_schema::analysis::{at_horizon, state, HORIZON_COLUMNS};
use koppel_schema::calendar;
use polars::prelude::*;

use crate::config::{Band, Bands, Cohort, LinkConfig};
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
        exprs.push(col(name).cast(target));
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

/// Completed calendar months from day `from` to day `to` (both day
/// numbers): the largest m with `add_months(from, m) <= to`.
fn completed_months(from: Expr, to: Expr) -> Expr {
    let f = date(from);
    let t = date(to);
    let i = |e: Expr| e.cast(DataType::Int32);
    let m0 = (i(t.clone().dt().year()) * lit(12) + i(t.clone().dt().month()))
        - (i(f.clone().dt().year()) * lit(12) + i(f.clone().dt().month()));
    let last = i(t.clone().dt().month_end().dt().day());
    let fd = i(f.dt().day());
    let clamped = when(fd.clone().gt(last.clone())).then(last).otherwise(fd);
    m0 - when(clamped.gt(i(t.dt().day())))
        .then(lit(1))
        .otherwise(lit(0))
}

/// The band label of numeric `value` (null → `unknown`).
fn band(value: Expr, bands: &[Band]) -> Expr {
    let last = bands.last().map_or(UNKNOWN, |b| b.label.as_str());
    let mut chain = when(value.clone().is_null())
        .then(lit(UNKNOWN))
        .when(lit(false))
        .then(lit(UNKNOWN));
    for b in &bands[..bands.len().saturating_sub(1)] {
        let to = b.to.unwrap_or(f64::INFINITY);
        chain = chain
            .when(value.clone().cast(DataType::Float64).lt(lit(to)))
            .then(lit(b.label.clone()));
    }
    chain.otherwise(lit(last.to_string()))
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

/// Spells with day-number dates and the ongoing end replaced by [`OPEN`].
struct Prepared {
    persons: LazyFrame,
    assist: LazyFrame,
    ww: LazyFrame,
    jobs: LazyFrame,
    traj: LazyFrame,
}

fn prepare(frames: &LinkFrames, config: &LinkConfig) -> Prepared {
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

/// The person-level analysis file as one lazy plan (see the README section
/// "Person-level analysis file" for the columns).
pub fn analysis_plan(
    frames: &LinkFrames,
    config: &LinkConfig,
    bands: &Bands,
) -> Result<LazyFrame, LinkError> {
    config.validate().map_err(LinkError::Config)?;
    let p = prepare(frames, config);
    let cohort = cohort_from(&p, config).cache();
    Ok(outcomes_from(&p, cohort, config, bands))
}

/// The analysis file for a given cohort frame (as from [`cohort_plan`],
/// possibly collected first).
pub fn outcomes_plan(
    frames: &LinkFrames,
    cohort: LazyFrame,
    config: &LinkConfig,
    bands: &Bands,
) -> Result<LazyFrame, LinkError> {
    config.validate().map_err(LinkError::Config)?;
    let p = prepare(frames, config);
    Ok(outcomes_from(&p, cohort, config, bands))
}

/// The persons-register record used per pseudonym when the register holds
/// several: the first by birth date, then every other column, ascending.
pub(crate) fn dedup_persons(persons: LazyFrame) -> LazyFrame {
    first_by(
        persons,
        &[PSEUDONYM],
        &[
            ("birth", false),
            ("sex", false),
            ("household_type", false),
            ("origin", false),
            ("education_level", false),
            ("person_municipality", false),
            ("death", false),
            ("emigration", false),
        ],
    )
}

/// The analysis file of `cohort`, joined on the pseudonym from its parts:
/// the person frame with the dimensions, the states per horizon, the
/// episode flags and the trajectory exposure.
fn outcomes_from(p: &Prepared, cohort: LazyFrame, config: &LinkConfig, bands: &Bands) -> LazyFrame {
    let ids = cohort.clone().select([col(PSEUDONYM)]).cache();
    // Everything below works on the cohort's own records only.
    let assist = p
        .assist
        .clone()
        .semi_join(ids.clone(), col(PSEUDONYM), col(PSEUDONYM));
    let base = base_frame(p, cohort, &ids, &assist, bands);
    // Used once per horizon below: computed once.
    let states = horizon_states(p, &base, &ids, &assist, config, bands).cache();
    let (reentry, assisted) = episode_flags(&base, &assist, config);
    let (last, mix) = exposure(p, &base, ids, config);
    let mut out = base;
    for &k in &config.horizons {
        let wide = states.clone().filter(col("k").eq(lit(k))).select([
            col(PSEUDONYM),
            col("state").alias(format!("state_{k}m")),
            col("sector").alias(format!("sector_{k}m")),
            col("contract").alias(format!("contract_{k}m")),
            col("hours_band").alias(format!("hours_band_{k}m")),
            col("wage").alias(format!("wage_{k}m")),
            col("wage_band").alias(format!("wage_band_{k}m")),
        ]);
        out = left(out, wide, &[PSEUDONYM]);
    }
    let work12 = states
        .filter(col("k").eq(lit(12u32)))
        .select([col(PSEUDONYM), col("working").alias("work_12")]);
    out = left(out, work12, &[PSEUDONYM]);
    for flags in [reentry, assisted, last, mix] {
        out = left(out, flags, &[PSEUDONYM]);
    }
    out.select(output_columns(config))
        .sort([PSEUDONYM], SortMultipleOptions::default())
}

/// One row per cohort person with a persons-register record: the cohort's
/// and the register's columns, `municipality`, `age_band`, `duration_band`.
fn base_frame(
    p: &Prepared,
    cohort: LazyFrame,
    ids: &LazyFrame,
    assist: &LazyFrame,
    bands: &Bands,
) -> LazyFrame {
    let persons = dedup_persons(p.persons.clone().semi_join(
        ids.clone(),
        col(PSEUDONYM),
        col(PSEUDONYM),
    ));

    // Municipality of register cohorts: the paying municipality of the
    // latest-starting assistance spell of the episode starting on or before
    // the anchor day.
    let spell_muni = first_by(
        inner(
            assist.clone(),
            cohort.clone().filter(col("anchor").is_not_null()).select([
                col(PSEUDONYM),
                col("ep_start"),
                col("anchor"),
            ]),
            &[PSEUDONYM],
        )
        .filter(
            col("start")
                .gt_eq(col("ep_start"))
                .and(col("start").lt_eq(col("anchor"))),
        ),
        &[PSEUDONYM],
        &[("start", true), ("end", true), ("municipality", false)],
    )
    .select([
        col(PSEUDONYM),
        col("municipality").alias("spell_municipality"),
    ]);

    left(
        inner(cohort, persons, &[PSEUDONYM]),
        spell_muni,
        &[PSEUDONYM],
    )
    .with_columns([
        coalesce(&[
            col("cohort_municipality"),
            col("spell_municipality"),
            col("person_municipality"),
            lit(UNKNOWN),
        ])
        .alias("municipality"),
        band(
            when(col("birth").is_null().or(col("birth").gt(col("R"))))
                .then(lit(NULL).cast(DataType::Int32))
                .otherwise(completed_months(col("birth"), col("R")))
                .cast(DataType::Float64)
                / lit(12.0),
            &bands.age,
        )
        .alias("age_band"),
        when(col("ep_start").is_null())
            .then(lit(NONE))
            .otherwise(band(
                completed_months(col("ep_start"), col("R")),
                &bands.duration,
            ))
            .alias("duration_band"),
    ])
    .cache()
    // Age in completed years: floor of months / 12 (the bands are integers,
    // so comparing months / 12 with them is the same as comparing the floor).
}

/// Per cohort person and horizon `k` (plus 12 months, for durable outflow
/// to work): `state`, `working` and the job columns at H = R + k months.
fn horizon_states(
    p: &Prepared,
    base: &LazyFrame,
    ids: &LazyFrame,
    assist: &LazyFrame,
    config: &LinkConfig,
    bands: &Bands,
) -> LazyFrame {
    // Horizon points: one row per person and horizon (plus 12 months for
    // durable outflow to work).
    let mut ks: Vec<u32> = config.horizons.clone();
    if !ks.contains(&12) {
        ks.push(12);
    }
    let points: Vec<LazyFrame> = ks
        .iter()
        .map(|&k| {
            base.clone().select([
                col(PSEUDONYM),
                lit(k).alias("k"),
                add_months(col("R"), k as i64).alias("H"),
                col("death"),
                col("emigration"),
            ])
        })
        .collect();
    let points = concat(points, UnionArgs::default()).expect("horizon frames share a schema");
    let covering = |spells: LazyFrame, flag: &str| {
        inner(
            spells,
            points.clone().select([col(PSEUDONYM), col("k"), col("H")]),
            &[PSEUDONYM],
        )
        .filter(col("start").lt_eq(col("H")).and(col("end").gt_eq(col("H"))))
        .select([col(PSEUDONYM), col("k")])
        .unique(None, UniqueKeepStrategy::Any)
        .with_column(lit(true).alias(flag))
    };
    let jobs = p
        .jobs
        .clone()
        .semi_join(ids.clone(), col(PSEUDONYM), col(PSEUDONYM));
    let job_at = first_by(
        inner(
            jobs,
            points.clone().select([col(PSEUDONYM), col("k"), col("H")]),
            &[PSEUDONYM],
        )
        .filter(col("start").lt_eq(col("H")).and(col("end").gt_eq(col("H")))),
        &[PSEUDONYM, "k"],
        &[
            ("hours_per_week", true),
            ("monthly_wage", true),
            ("job_id", false),
            ("start", false),
            ("end", false),
            ("sector", false),
            ("contract", false),
        ],
    )
    .select([
        col(PSEUDONYM),
        col("k"),
        col("sector"),
        col("contract"),
        col("hours_per_week"),
        col("monthly_wage"),
        lit(true).alias("w"),
    ]);
    let ww =
        p.ww.clone()
            .semi_join(ids.clone(), col(PSEUDONYM), col(PSEUDONYM));
    let keys = [PSEUDONYM, "k"];
    // Gone: died or emigrated before H. On the day itself the person is
    // still in the population (the registers show spells covering it).
    let gone = col("death")
        .lt(col("H"))
        .fill_null(false)
        .or(col("emigration").lt(col("H")).fill_null(false));
    let assist_at = covering(assist.clone(), "a");
    let ww_at = covering(ww, "u");
    left(
        left(left(points, assist_at, &keys), ww_at, &keys),
        job_at,
        &keys,
    )
    .with_columns([
        gone.alias("gone"),
        col("a").fill_null(false),
        col("u").fill_null(false),
        col("w").fill_null(false),
    ])
    .with_columns([
        when(col("gone"))
            .then(lit(state::OVERIG))
            .when(col("a").and(col("w")))
            .then(lit(state::BIJSTAND_MET_WERK))
            .when(col("a"))
            .then(lit(state::BIJSTAND))
            .when(col("w"))
            .then(lit(state::WERK))
            .when(col("u"))
            .then(lit(state::WW))
            .otherwise(lit(state::OVERIG))
            .alias("state"),
        col("w").and(col("gone").not()).alias("working"),
    ])
    .with_columns([
        when(col("working"))
            .then(col("sector").fill_null(lit(UNKNOWN)))
            .otherwise(lit(NONE))
            .alias("sector"),
        when(col("working"))
            .then(col("contract").fill_null(lit(UNKNOWN)))
            .otherwise(lit(NONE))
            .alias("contract"),
        when(col("working"))
            .then(band(col("hours_per_week"), &bands.hours))
            .otherwise(lit(NONE))
            .alias("hours_band"),
        when(col("working"))
            .then(col("monthly_wage"))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("wage"),
        when(col("working"))
            .then(band(col("monthly_wage"), &bands.wage))
            .otherwise(lit(NONE))
            .alias("wage_band"),
    ])
}

/// The persons with `reentry` (a new assistance episode starts in (R, R +
/// w months]) and those with `assisted_12` (assistance on some day of [R,
/// R + 12 months]).
fn episode_flags(
    base: &LazyFrame,
    assist: &LazyFrame,
    config: &LinkConfig,
) -> (LazyFrame, LazyFrame) {
    // Re-entry: a new episode starting in (R, R + w months].
    let w = config.reentry_months;
    let reentry = inner(
        episodes(assist.clone(), config.gap_days),
        base.clone().select([
            col(PSEUDONYM),
            col("R"),
            add_months(col("R"), w as i64).alias("Rw"),
        ]),
        &[PSEUDONYM],
    )
    .filter(
        col("ep_start")
            .gt(col("R"))
            .and(col("ep_start").lt_eq(col("Rw"))),
    )
    .select([col(PSEUDONYM)])
    .unique(None, UniqueKeepStrategy::Any)
    .with_column(lit(true).alias("reentry"));
    // Durable outflow: no assistance on any day of [R, R + 12 months].
    let assisted = inner(
        assist.clone(),
        base.clone().select([
            col(PSEUDONYM),
            col("R"),
            add_months(col("R"), 12).alias("R12"),
        ]),
        &[PSEUDONYM],
    )
    .filter(
        col("start")
            .lt_eq(col("R12"))
            .and(col("end").gt_eq(col("R"))),
    )
    .select([col(PSEUDONYM)])
    .unique(None, UniqueKeepStrategy::Any)
    .with_column(lit(true).alias("assisted_12"));
    (reentry, assisted)
}

/// Of the exposed cohort persons: `trajectory_last` with its `segment`,
/// and `trajectory_mix`.
fn exposure(
    p: &Prepared,
    base: &LazyFrame,
    ids: LazyFrame,
    config: &LinkConfig,
) -> (LazyFrame, LazyFrame) {
    // Trajectory exposure: trajectories overlapping [R − lookback, R).
    let traj = p
        .traj
        .clone()
        .semi_join(ids, col(PSEUDONYM), col(PSEUDONYM));
    let exposed = inner(
        traj,
        base.clone().select([
            col(PSEUDONYM),
            col("R"),
            add_months(col("R"), -(config.lookback_months as i64)).alias("L"),
        ]),
        &[PSEUDONYM],
    )
    .filter(col("start").lt(col("R")).and(col("end").gt_eq(col("L"))))
    .with_column(col("instrument").fill_null(lit(UNKNOWN)));
    let last = first_by(
        exposed.clone(),
        &[PSEUDONYM],
        &[
            ("start", true),
            ("end", true),
            ("instrument", false),
            ("segment", false),
        ],
    )
    .select([
        col(PSEUDONYM),
        col("instrument").alias("trajectory_last"),
        col("segment"),
    ]);
    let mix = exposed
        .group_by([col(PSEUDONYM)])
        .agg([
            col("instrument").n_unique().alias("n_instruments"),
            col("instrument").min().alias("one_instrument"),
        ])
        .select([
            col(PSEUDONYM),
            when(col("n_instruments").gt(lit(1)))
                .then(lit("multiple"))
                .otherwise(col("one_instrument"))
                .alias("trajectory_mix"),
        ]);
    (last, mix)
}

/// The analysis file's columns, in order, from the joined parts.
fn output_columns(config: &LinkConfig) -> Vec<Expr> {
    let mut select = vec![
        col(PSEUDONYM),
        date(col("R")).alias("reference_date"),
        col("municipality"),
        col("sex").fill_null(lit(UNKNOWN)),
        col("age_band"),
        col("household_type").fill_null(lit(UNKNOWN)),
        col("origin").fill_null(lit(UNKNOWN)),
        col("education_level").fill_null(lit(UNKNOWN)),
        col("duration_band"),
        col("segment").fill_null(lit(UNKNOWN)),
        col("trajectory_last").fill_null(lit(NONE)),
        col("trajectory_mix").fill_null(lit(NONE)),
    ];
    for &k in &config.horizons {
        select.extend(HORIZON_COLUMNS.map(|name| col(at_horizon(name, k))));
    }
    let w = config.reentry_months;
    let durable = col("assisted_12").fill_null(false).not();
    select.extend([
        col("reentry")
            .fill_null(false)
            .alias(format!("reentry_{w}m")),
        durable.clone().alias("durable_outflow"),
        durable
            .and(col("work_12").fill_null(false))
            .alias("durable_outflow_work"),
    ]);
    select
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
