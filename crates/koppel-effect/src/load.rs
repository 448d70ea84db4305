//! Reading the pseudonymised inputs into compact per-person histories.
//!
//! Only persons with an assistance spell overlapping the evaluation period
//! can be treated or in a comparison pool, so every input is first streamed
//! once and reduced to those persons' rows (koppel-link's
//! `read_for_persons`: memory holds the kept rows, never a whole register);
//! polars then numbers the persons in pseudonym order and sorts their
//! spells; the result is held as columns
//! grouped by person (offsets into flat vectors), which the selection and
//! outcome passes read without further allocation.

use std::collections::HashMap;

use std::sync::Arc;

use koppel_link::{read_for_persons, Keep, LinkFrames, PersonSet, PSEUDONYM};
use polars::prelude::*;

use crate::config::EffectConfig;
use crate::EffectError;

/// Day number standing in for the end of an ongoing spell (9999-12-31).
pub const OPEN: i32 = 2_932_896;

/// A string dictionary: value ↔ small code.
#[derive(Clone, Debug, Default)]
pub struct Dict {
    /// The values; a code is an index.
    pub values: Vec<String>,
    index: HashMap<String, u16>,
}

impl Dict {
    /// The code of `value`, added if new.
    pub fn code(&mut self, value: &str) -> u16 {
        if let Some(c) = self.index.get(value) {
            return *c;
        }
        let c = u16::try_from(self.values.len()).unwrap_or(u16::MAX);
        self.values.push(value.to_string());
        self.index.insert(value.to_string(), c);
        c
    }

    /// The code of `value` if known.
    pub fn get(&self, value: &str) -> Option<u16> {
        self.index.get(value).copied()
    }

    /// The value of a code.
    pub fn value(&self, code: u16) -> &str {
        &self.values[code as usize]
    }
}

/// Items grouped by person: person `p` owns `items[offsets[p]..offsets[p + 1]]`.
#[derive(Clone, Debug)]
pub struct Grouped<T> {
    offsets: Vec<u32>,
    items: Vec<T>,
}

impl<T> Default for Grouped<T> {
    fn default() -> Self {
        Grouped {
            offsets: vec![0],
            items: Vec::new(),
        }
    }
}

impl<T> Grouped<T> {
    fn from_sorted(persons: usize, ids: &[u32], items: Vec<T>) -> Grouped<T> {
        let mut offsets = vec![0u32; persons + 1];
        for &id in ids {
            offsets[id as usize + 1] += 1;
        }
        for i in 0..persons {
            offsets[i + 1] += offsets[i];
        }
        Grouped { offsets, items }
    }

    /// The items of person `p`.
    pub fn of(&self, p: u32) -> &[T] {
        let p = p as usize;
        &self.items[self.offsets[p] as usize..self.offsets[p + 1] as usize]
    }
}

/// An assistance spell.
#[derive(Clone, Copy, Debug)]
pub struct Spell {
    /// First day.
    pub start: i32,
    /// Last day ([`OPEN`] if ongoing).
    pub end: i32,
    /// Paying municipality (code in [`Histories::municipalities`]).
    pub municipality: u16,
}

/// A trajectory.
#[derive(Clone, Copy, Debug)]
pub struct Trajectory {
    /// Start date.
    pub start: i32,
    /// End date ([`OPEN`] if ongoing).
    pub end: i32,
    /// Instrument code (in [`Histories::instruments`]).
    pub instrument: u16,
    /// Segment code (in [`Histories::segments`]).
    pub segment: u16,
}

/// Persons-register attributes (codes in the dictionaries).
#[derive(Clone, Copy, Debug, Default)]
pub struct Attributes {
    /// Whether the person has a persons-register record.
    pub known: bool,
    /// Birth date.
    pub birth: Option<i32>,
    /// Death or emigration, whichever is first.
    pub gone: Option<i32>,
    /// Sex code.
    pub sex: u16,
    /// Household type code.
    pub household: u16,
    /// Origin code.
    pub origin: u16,
    /// Education code.
    pub education: u16,
}

/// The histories of every person with assistance in the evaluation period.
#[derive(Clone, Debug, Default)]
pub struct Histories {
    /// Pseudonyms; a person id is an index (ascending pseudonym order).
    pub pseudonyms: Vec<String>,
    /// Register attributes per person.
    pub persons: Vec<Attributes>,
    /// Assistance spells per person, by start.
    pub assistance: Grouped<Spell>,
    /// WW spells per person (start, end), by start.
    pub ww: Grouped<(i32, i32)>,
    /// Jobs per person (start, end), by start.
    pub jobs: Grouped<(i32, i32)>,
    /// Trajectories per person, by start.
    pub trajectories: Grouped<Trajectory>,
    /// Municipality codes.
    pub municipalities: Dict,
    /// Instrument codes.
    pub instruments: Dict,
    /// Segment values.
    pub segments: Dict,
    /// Sex values.
    pub sexes: Dict,
    /// Household types.
    pub households: Dict,
    /// Origins.
    pub origins: Dict,
    /// Education levels.
    pub educations: Dict,
    /// Last observed day of the benefit and employment registers.
    pub observed_until: Option<i32>,
}

fn perr(step: &'static str) -> impl Fn(PolarsError) -> EffectError {
    move |source| EffectError::Polars { step, source }
}

fn valid(frame: &LazyFrame, dated: bool) -> LazyFrame {
    let mut ok = col(PSEUDONYM).is_not_null();
    if dated {
        ok = ok.and(col("start_date").is_not_null()).and(
            col("end_date")
                .is_null()
                .or(col("end_date").gt_eq(col("start_date"))),
        );
    }
    frame.clone().filter(ok)
}

fn day(name: &str) -> Expr {
    col(name).cast(DataType::Int32)
}

fn collect(lf: LazyFrame, step: &'static str) -> Result<DataFrame, EffectError> {
    lf.collect_with_engine(Engine::Streaming)
        .map(|r| r.unwrap_single())
        .map_err(perr(step))
}

fn u32s(df: &DataFrame, name: &str, step: &'static str) -> Result<Vec<u32>, EffectError> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::UInt32))
        .map_err(perr(step))?;
    Ok(c.u32()
        .map_err(perr(step))?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

fn i32s(df: &DataFrame, name: &str, step: &'static str) -> Result<Vec<Option<i32>>, EffectError> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::Int32))
        .map_err(perr(step))?;
    Ok(c.i32().map_err(perr(step))?.iter().collect())
}

fn codes(
    df: &DataFrame,
    name: &str,
    dict: &mut Dict,
    step: &'static str,
) -> Result<Vec<u16>, EffectError> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::String))
        .map_err(perr(step))?;
    let ca = c.str().map_err(perr(step))?;
    Ok(ca
        .iter()
        .map(|v| dict.code(v.unwrap_or(koppel_link::UNKNOWN)))
        .collect())
}

/// Read the histories of every person with an assistance spell overlapping
/// the evaluation period from normalised input frames (see
/// [`koppel_link::scan_inputs`]).
pub fn load(frames: &LinkFrames, config: &EffectConfig) -> Result<Histories, EffectError> {
    let is_assist = config.assistance_types.iter().fold(lit(false), |acc, t| {
        acc.or(col("benefit_type").eq(lit(t.clone())))
    });
    let population = population(frames, config, is_assist.clone())?;
    let n = population.height();
    let mut h = Histories {
        pseudonyms: population
            .column(PSEUDONYM)
            .and_then(|c| c.str().cloned())
            .map_err(perr("population"))?
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect(),
        ..Histories::default()
    };
    // Every input is streamed once and reduced to the population's rows
    // (bounded memory: the registers are never held whole); the joins and
    // sorts below then run on those rows in memory.
    let set = Arc::new(PersonSet::from_column(
        population.column(PSEUDONYM).map_err(perr("population"))?,
    )?);
    let reduced = read_for_persons(frames, |_| Keep::Persons(set.clone()))?;
    let pop = population.lazy();
    fill_spells(&mut h, &reduced.frames, &pop, is_assist, n)?;
    fill_trajectories(&mut h, &reduced.frames, &pop, n)?;
    let df = collect(person_records(&reduced.frames, &pop), "persons")?;
    fill_persons(&mut h, &df, n)?;
    // Last day in the benefit and employment registers (start or end), over
    // all their rows (the reducing passes saw every row).
    h.observed_until = ["benefits", "employment"]
        .iter()
        .filter_map(|k| reduced.counts.get(k))
        .flat_map(|c| [c.max_start, c.max_end])
        .max()
        .flatten();
    Ok(h)
}

/// The population: every pseudonym with an assistance spell overlapping
/// the evaluation period, sorted, with its dense `id` (row index).
fn population(
    frames: &LinkFrames,
    config: &EffectConfig,
    is_assist: Expr,
) -> Result<DataFrame, EffectError> {
    let population = valid(&frames.benefits, true)
        .filter(
            is_assist.and(
                day("start_date").lt_eq(lit(config.period_to.0)).and(
                    day("end_date")
                        .is_null()
                        .or(day("end_date").gt_eq(lit(config.period_from.0))),
                ),
            ),
        )
        .select([col(PSEUDONYM)])
        .unique(None, UniqueKeepStrategy::Any)
        .sort([PSEUDONYM], SortMultipleOptions::default())
        .with_row_index("id", None);
    collect(population, "population")
}

/// `frame` restricted to the population, with each person's `id`.
fn with_id(frame: LazyFrame, pop: &LazyFrame) -> LazyFrame {
    frame.join(
        pop.clone(),
        [col(PSEUDONYM)],
        [col(PSEUDONYM)],
        JoinArgs::new(JoinType::Inner),
    )
}

/// The population's spells of `frame` as days (`start`, `end`, open ends
/// as [`OPEN`]) with `extra` columns, by `id` and start.
fn spells(frame: LazyFrame, pop: &LazyFrame, extra: Vec<Expr>) -> LazyFrame {
    let mut cols = vec![
        col("id"),
        day("start_date").alias("start"),
        day("end_date").fill_null(lit(OPEN)).alias("end"),
    ];
    cols.extend(extra);
    with_id(frame, pop).select(cols).sort(
        ["id", "start", "end"],
        SortMultipleOptions::default().with_maintain_order(true),
    )
}

/// Spells without attributes, grouped by person.
fn pairs(df: &DataFrame, n: usize, step: &'static str) -> Result<Grouped<(i32, i32)>, EffectError> {
    let ids = u32s(df, "id", step)?;
    let (s, e) = (i32s(df, "start", step)?, i32s(df, "end", step)?);
    let items = s
        .iter()
        .zip(&e)
        .map(|(s, e)| (s.unwrap_or(0), e.unwrap_or(OPEN)))
        .collect();
    Ok(Grouped::from_sorted(n, &ids, items))
}

/// Assistance spells (with their municipality), WW spells and jobs.
fn fill_spells(
    h: &mut Histories,
    frames: &LinkFrames,
    pop: &LazyFrame,
    is_assist: Expr,
    n: usize,
) -> Result<(), EffectError> {
    let benefits = valid(&frames.benefits, true);
    let df = collect(
        spells(
            benefits.clone().filter(is_assist),
            pop,
            vec![col("municipality")],
        ),
        "assistance spells",
    )?;
    let ids = u32s(&df, "id", "assistance spells")?;
    let (s, e) = (i32s(&df, "start", "a")?, i32s(&df, "end", "a")?);
    let m = codes(&df, "municipality", &mut h.municipalities, "a")?;
    let items = (0..ids.len())
        .map(|i| Spell {
            start: s[i].unwrap_or(0),
            end: e[i].unwrap_or(OPEN),
            municipality: m[i],
        })
        .collect();
    h.assistance = Grouped::from_sorted(n, &ids, items);
    let ww = benefits.filter(col("benefit_type").eq(lit("ww")));
    let df = collect(spells(ww, pop, Vec::new()), "ww spells")?;
    h.ww = pairs(&df, n, "ww spells")?;
    let df = collect(
        spells(valid(&frames.employment, true), pop, Vec::new()),
        "jobs",
    )?;
    h.jobs = pairs(&df, n, "jobs")?;
    Ok(())
}

/// Trajectories with their instrument and segment.
fn fill_trajectories(
    h: &mut Histories,
    frames: &LinkFrames,
    pop: &LazyFrame,
    n: usize,
) -> Result<(), EffectError> {
    let df = collect(
        spells(
            valid(&frames.trajectories, true),
            pop,
            vec![col("instrument"), col("segment")],
        ),
        "trajectories",
    )?;
    let ids = u32s(&df, "id", "trajectories")?;
    let (s, e) = (i32s(&df, "start", "t")?, i32s(&df, "end", "t")?);
    let ins = codes(&df, "instrument", &mut h.instruments, "trajectories")?;
    let seg = codes(&df, "segment", &mut h.segments, "trajectories")?;
    let items = (0..ids.len())
        .map(|i| Trajectory {
            start: s[i].unwrap_or(0),
            end: e[i].unwrap_or(OPEN),
            instrument: ins[i],
            segment: seg[i],
        })
        .collect();
    h.trajectories = Grouped::from_sorted(n, &ids, items);
    Ok(())
}

/// One person record per person: the first by birth date, then the other
/// columns, as the link stage does.
fn person_records(frames: &LinkFrames, pop: &LazyFrame) -> LazyFrame {
    with_id(valid(&frames.persons, false), pop)
        .sort(
            [
                "id",
                "birth_date",
                "sex",
                "household_type",
                "origin",
                "education_level",
            ],
            SortMultipleOptions::default()
                .with_nulls_last(true)
                .with_maintain_order(true),
        )
        .unique_stable(
            Some(by_name(["id"], true, false)),
            UniqueKeepStrategy::First,
        )
}

/// Register attributes of every person with a record.
fn fill_persons(h: &mut Histories, df: &DataFrame, n: usize) -> Result<(), EffectError> {
    let df = df.clone();
    let ids = u32s(&df, "id", "persons")?;
    let birth = i32s(&df, "birth_date", "persons")?;
    let death = i32s(&df, "death_date", "persons")?;
    let emig = i32s(&df, "emigration_date", "persons")?;
    let sex = codes(&df, "sex", &mut h.sexes, "persons")?;
    let hh = codes(&df, "household_type", &mut h.households, "persons")?;
    let or = codes(&df, "origin", &mut h.origins, "persons")?;
    let ed = codes(&df, "education_level", &mut h.educations, "persons")?;
    h.persons = vec![Attributes::default(); n];
    for i in 0..ids.len() {
        let gone = match (death[i], emig[i]) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        h.persons[ids[i] as usize] = Attributes {
            known: true,
            birth: birth[i],
            gone,
            sex: sex[i],
            household: hh[i],
            origin: or[i],
            education: ed[i],
        };
    }

    Ok(())
}
