//! The outcomes of the cohort persons, derived in one pass over each
//! person's own rows.
//!
//! Everything the analysis file says about a cohort person depends on that
//! person's rows alone: the persons-register record, the assistance, WW and
//! employment spells and the trajectories. The rows of every input are
//! therefore joined once to the cohort's person numbers and grouped by
//! person with a counting sort (no comparison sort); then one loop over the
//! persons derives the municipality, the bands, the state and job at every
//! horizon, the re-entry and durable-outflow flags and the trajectory
//! exposure from short lists of rows. The same definitions as polars plans
//! took about twenty joins and sorts of per-person intermediate frames
//! (horizon points × spells, episodes, first rows by an order) and 1.5 s at
//! national scale; this pass reads each row a handful of times.
//!
//! Where a definition picks one row among several ("the job with the most
//! hours", "the latest trajectory"), the order is total over every column
//! the result shows, so the result never depends on the order of the rows
//! in a file. Missing values sort after every value, as in the cohort plans.

use std::cmp::Ordering;

use koppel_schema::analysis::{at_horizon, reentry_flag, state, FLAGS};
use koppel_schema::calendar;
use polars::prelude::*;

use crate::config::{Band, Bands, LinkConfig};
use crate::plan::{Prepared, NONE, PSEUDONYM, UNKNOWN};
use crate::LinkError;

/// The cohort person number column added by [`Grouped::new`].
const PERSON: &str = "__koppel_person";

fn perr(source: PolarsError) -> LinkError {
    LinkError::Polars {
        step: "outcomes",
        source,
    }
}

/// The rows of one input that belong to cohort persons, grouped by person:
/// the rows of person `i` are `order[starts[i]..starts[i + 1]]`.
struct Grouped {
    df: DataFrame,
    starts: Vec<usize>,
    order: Vec<u32>,
}

impl Grouped {
    /// Joins `frame` to the cohort's person numbers (`ids`: pseudonym and
    /// [`PERSON`]) and groups its rows by person.
    fn new(frame: LazyFrame, ids: &DataFrame, persons: usize) -> Result<Grouped, LinkError> {
        let df = frame
            .join(
                ids.clone().lazy(),
                [col(PSEUDONYM)],
                [col(PSEUDONYM)],
                JoinArgs::new(JoinType::Inner),
            )
            .collect()
            .map_err(perr)?;
        let person = df.column(PERSON).and_then(|c| c.u32()).map_err(perr)?;
        let mut starts = vec![0usize; persons + 1];
        for p in person.into_no_null_iter() {
            starts[p as usize + 1] += 1;
        }
        for i in 0..persons {
            starts[i + 1] += starts[i];
        }
        let mut next = starts.clone();
        let mut order = vec![0u32; df.height()];
        for (row, p) in person.into_no_null_iter().enumerate() {
            order[next[p as usize]] = row as u32;
            next[p as usize] += 1;
        }
        Ok(Grouped { df, starts, order })
    }

    /// The row numbers of person `i`.
    fn rows(&self, i: usize) -> impl Iterator<Item = usize> + Clone + '_ {
        self.order[self.starts[i]..self.starts[i + 1]]
            .iter()
            .map(|&r| r as usize)
    }

    fn days(&self, name: &str) -> Result<Vec<i32>, LinkError> {
        days(&self.df, name).map(|v| v.into_iter().map(|d| d.unwrap_or(i32::MIN)).collect())
    }

    fn texts(&self, name: &str) -> Result<Vec<Option<&str>>, LinkError> {
        texts(&self.df, name)
    }
}

fn days(df: &DataFrame, name: &str) -> Result<Vec<Option<i32>>, LinkError> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::Int32))
        .map_err(perr)?;
    Ok(c.i32().map_err(perr)?.iter().collect())
}

fn texts<'a>(df: &'a DataFrame, name: &str) -> Result<Vec<Option<&'a str>>, LinkError> {
    Ok(df
        .column(name)
        .and_then(|c| c.str())
        .map_err(perr)?
        .iter()
        .collect())
}

fn numbers(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, LinkError> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::Float64))
        .map_err(perr)?;
    Ok(c.f64().map_err(perr)?.iter().collect())
}

/// Missing values after every value (ascending).
fn cmp_opt<T: Ord>(a: &Option<T>, b: &Option<T>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Larger numbers first, missing values last (`NaN` counts as the largest
/// number, as in polars' sort).
fn cmp_desc(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The band label of `value`: the first band whose upper bound lies above
/// it, else the last band; `unknown` without a value or without bands.
fn band(value: Option<f64>, bands: &[Band]) -> &str {
    let Some(v) = value else {
        return UNKNOWN;
    };
    let last = bands.last().map_or(UNKNOWN, |b| b.label.as_str());
    bands[..bands.len().saturating_sub(1)]
        .iter()
        .find(|b| v < b.to.unwrap_or(f64::INFINITY))
        .map_or(last, |b| b.label.as_str())
}

/// The cohort: one row per person, sorted by pseudonym.
struct CohortRows<'a> {
    r: Vec<i32>,
    ep_start: Vec<Option<i32>>,
    anchor: Vec<Option<i32>>,
    municipality: Vec<Option<&'a str>>,
}

/// The persons register, with the record used per person (the first by
/// birth date, then every other column).
struct PersonRows<'a> {
    rows: &'a Grouped,
    birth: Vec<Option<i32>>,
    texts: [Vec<Option<&'a str>>; 5],
    death: Vec<Option<i32>>,
    emigration: Vec<Option<i32>>,
}

/// The persons register's text columns, in their order of precedence.
const PERSON_TEXTS: [&str; 5] = [
    "sex",
    "household_type",
    "origin",
    "education_level",
    "person_municipality",
];

impl PersonRows<'_> {
    fn record(&self, i: usize) -> Option<usize> {
        self.rows.rows(i).min_by(|&a, &b| {
            cmp_opt(&self.birth[a], &self.birth[b])
                .then_with(|| {
                    self.texts
                        .iter()
                        .map(|t| cmp_opt(&t[a], &t[b]))
                        .find(|o| o.is_ne())
                        .unwrap_or(Ordering::Equal)
                })
                .then_with(|| cmp_opt(&self.death[a], &self.death[b]))
                .then_with(|| cmp_opt(&self.emigration[a], &self.emigration[b]))
        })
    }
}

/// Spells with a start and an (ongoing: far future) end.
struct Spells<'a> {
    rows: &'a Grouped,
    start: Vec<i32>,
    end: Vec<i32>,
    municipality: Vec<Option<&'a str>>,
}

impl Spells<'_> {
    fn covers(&self, i: usize, day: i32) -> bool {
        self.rows
            .rows(i)
            .any(|s| self.start[s] <= day && self.end[s] >= day)
    }
}

struct Jobs<'a> {
    rows: &'a Grouped,
    start: Vec<i32>,
    end: Vec<i32>,
    job_id: Vec<Option<&'a str>>,
    contract: Vec<Option<&'a str>>,
    sector: Vec<Option<&'a str>>,
    hours: Vec<Option<f64>>,
    wage: Vec<Option<f64>>,
}

impl Jobs<'_> {
    /// The job of person `i` on `day`: most hours, then highest wage, then
    /// job id, start, end, sector and contract.
    fn at(&self, i: usize, day: i32) -> Option<usize> {
        self.rows
            .rows(i)
            .filter(|&j| self.start[j] <= day && self.end[j] >= day)
            .min_by(|&a, &b| {
                cmp_desc(self.hours[a], self.hours[b])
                    .then_with(|| cmp_desc(self.wage[a], self.wage[b]))
                    .then_with(|| cmp_opt(&self.job_id[a], &self.job_id[b]))
                    .then_with(|| self.start[a].cmp(&self.start[b]))
                    .then_with(|| self.end[a].cmp(&self.end[b]))
                    .then_with(|| cmp_opt(&self.sector[a], &self.sector[b]))
                    .then_with(|| cmp_opt(&self.contract[a], &self.contract[b]))
            })
    }
}

struct Trajectories<'a> {
    rows: &'a Grouped,
    start: Vec<i32>,
    end: Vec<i32>,
    instrument: Vec<&'a str>,
    segment: Vec<Option<&'a str>>,
}

/// The analysis file's columns, filled person by person.
#[derive(Default)]
struct Output<'a> {
    kept: Vec<IdxSize>,
    reference: Vec<i32>,
    /// Dimension columns, by name, in the file's order.
    dims: Vec<(&'static str, Vec<&'a str>)>,
    /// Per horizon: state, sector, contract, hours band, wage, wage band.
    horizons: Vec<Horizon<'a>>,
    reentry: Vec<bool>,
    durable: Vec<bool>,
    durable_work: Vec<bool>,
}

#[derive(Default)]
struct Horizon<'a> {
    state: Vec<&'a str>,
    sector: Vec<&'a str>,
    contract: Vec<&'a str>,
    hours_band: Vec<&'a str>,
    wage: Vec<Option<f64>>,
    wage_band: Vec<&'a str>,
}

/// The analysis file's dimension columns, in its order.
const DIMS: [&str; 10] = [
    "municipality",
    "sex",
    "age_band",
    "household_type",
    "origin",
    "education_level",
    "duration_band",
    "segment",
    "trajectory_last",
    "trajectory_mix",
];

/// The analysis file (one row per cohort person with a persons-register
/// record, sorted by pseudonym) of `cohort` (as from
/// [`crate::cohort_plan`]): `p` holds the prepared inputs.
pub(crate) fn derive(
    p: &Prepared,
    cohort: DataFrame,
    config: &LinkConfig,
    bands: &Bands,
) -> Result<DataFrame, LinkError> {
    let cohort = cohort
        .sort([PSEUDONYM], SortMultipleOptions::default())
        .map_err(perr)?
        .with_row_index(PERSON.into(), None)
        .map_err(perr)?;
    let cohort = cohort
        .lazy()
        .with_column(col(PERSON).cast(DataType::UInt32))
        .collect()
        .map_err(perr)?;
    let n = cohort.height();
    let ids = cohort.select([PSEUDONYM, PERSON]).map_err(perr)?;
    let rows = CohortRows {
        r: days(&cohort, "R")?
            .into_iter()
            .map(|d| d.unwrap_or(i32::MIN))
            .collect(),
        ep_start: days(&cohort, "ep_start")?,
        anchor: days(&cohort, "anchor")?,
        municipality: texts(&cohort, "cohort_municipality")?,
    };

    let persons = &Grouped::new(p.persons.clone(), &ids, n)?;
    let assist = &Grouped::new(p.assist.clone(), &ids, n)?;
    let ww = &Grouped::new(p.ww.clone(), &ids, n)?;
    let jobs = &Grouped::new(p.jobs.clone(), &ids, n)?;
    let traj = &Grouped::new(
        p.traj
            .clone()
            .with_column(col("instrument").fill_null(lit(UNKNOWN))),
        &ids,
        n,
    )?;
    let persons = PersonRows {
        birth: days(&persons.df, "birth")?,
        texts: [
            persons.texts(PERSON_TEXTS[0])?,
            persons.texts(PERSON_TEXTS[1])?,
            persons.texts(PERSON_TEXTS[2])?,
            persons.texts(PERSON_TEXTS[3])?,
            persons.texts(PERSON_TEXTS[4])?,
        ],
        death: days(&persons.df, "death")?,
        emigration: days(&persons.df, "emigration")?,
        rows: persons,
    };
    let assist = Spells {
        start: assist.days("start")?,
        end: assist.days("end")?,
        municipality: assist.texts("municipality")?,
        rows: assist,
    };
    let ww = Spells {
        start: ww.days("start")?,
        end: ww.days("end")?,
        municipality: Vec::new(),
        rows: ww,
    };
    let jobs = Jobs {
        start: jobs.days("start")?,
        end: jobs.days("end")?,
        job_id: jobs.texts("job_id")?,
        contract: jobs.texts("contract")?,
        sector: jobs.texts("sector")?,
        hours: numbers(&jobs.df, "hours_per_week")?,
        wage: numbers(&jobs.df, "monthly_wage")?,
        rows: jobs,
    };
    let traj = Trajectories {
        start: traj.days("start")?,
        end: traj.days("end")?,
        instrument: traj
            .texts("instrument")?
            .into_iter()
            .map(|t| t.unwrap_or(UNKNOWN))
            .collect(),
        segment: traj.texts("segment")?,
        rows: traj,
    };
    let inputs = Inputs {
        cohort: &rows,
        persons: &persons,
        assist: &assist,
        ww: &ww,
        jobs: &jobs,
        traj: &traj,
        config,
        bands,
    };
    let mut out = Output {
        dims: DIMS.iter().map(|d| (*d, Vec::new())).collect(),
        horizons: config.horizons.iter().map(|_| Horizon::default()).collect(),
        ..Output::default()
    };
    for i in 0..n {
        inputs.person(i, &mut out);
    }
    out.into_frame(&cohort, config)
}

/// Everything [`Inputs::person`] reads.
struct Inputs<'a> {
    cohort: &'a CohortRows<'a>,
    persons: &'a PersonRows<'a>,
    assist: &'a Spells<'a>,
    ww: &'a Spells<'a>,
    jobs: &'a Jobs<'a>,
    traj: &'a Trajectories<'a>,
    config: &'a LinkConfig,
    bands: &'a Bands,
}

/// A person's state and job at one horizon.
struct AtHorizon {
    state: &'static str,
    /// The job, if the person works (not when gone).
    job: Option<usize>,
}

impl<'a> Inputs<'a> {
    /// Appends cohort person `i`'s row to `out` (nothing without a
    /// persons-register record).
    fn person(&self, i: usize, out: &mut Output<'a>) {
        let Some(record) = self.persons.record(i) else {
            return;
        };
        let (c, pr) = (self.cohort, self.persons);
        let r = c.r[i];
        let text = |k: usize| pr.texts[k][record].unwrap_or(UNKNOWN);
        let municipality = c.municipality[i]
            .or_else(|| self.spell_municipality(i))
            .or(pr.texts[4][record])
            .unwrap_or(UNKNOWN);
        let age = pr.birth[record]
            .filter(|&b| b <= r)
            .map(|b| f64::from(calendar::completed_months(b, r)) / 12.0);
        let duration = match c.ep_start[i] {
            None => NONE,
            Some(e) => band(
                Some(f64::from(calendar::completed_months(e, r))),
                &self.bands.duration,
            ),
        };
        let (last, segment, mix) = self.exposure(i, r);
        let dims = [
            municipality,
            text(0),
            band(age, &self.bands.age),
            text(1),
            text(2),
            text(3),
            duration,
            segment,
            last,
            mix,
        ];
        for ((_, column), value) in out.dims.iter_mut().zip(dims) {
            column.push(value);
        }
        out.kept.push(i as IdxSize);
        out.reference.push(r);
        let gone_by = |h: i32| {
            pr.death[record].is_some_and(|d| d < h) || pr.emigration[record].is_some_and(|d| d < h)
        };
        let at = |k: u32| {
            let h = calendar::add_months(r, k as i32);
            let job = self.jobs.at(i, h);
            let state = if gone_by(h) {
                state::OVERIG
            } else {
                match (self.assist.covers(i, h), job.is_some()) {
                    (true, true) => state::BIJSTAND_MET_WERK,
                    (true, false) => state::BIJSTAND,
                    (false, true) => state::WERK,
                    (false, false) if self.ww.covers(i, h) => state::WW,
                    (false, false) => state::OVERIG,
                }
            };
            AtHorizon {
                state,
                job: job.filter(|_| !gone_by(h)),
            }
        };
        let j = self.jobs;
        let mut work_12 = None;
        for (&k, column) in self.config.horizons.iter().zip(&mut out.horizons) {
            let AtHorizon { state, job } = at(k);
            if k == 12 {
                work_12 = Some(job.is_some());
            }
            column.state.push(state);
            match job {
                None => {
                    column.sector.push(NONE);
                    column.contract.push(NONE);
                    column.hours_band.push(NONE);
                    column.wage.push(None);
                    column.wage_band.push(NONE);
                }
                Some(x) => {
                    column.sector.push(j.sector[x].unwrap_or(UNKNOWN));
                    column.contract.push(j.contract[x].unwrap_or(UNKNOWN));
                    column.hours_band.push(band(j.hours[x], &self.bands.hours));
                    column.wage.push(j.wage[x]);
                    column.wage_band.push(band(j.wage[x], &self.bands.wage));
                }
            }
        }
        let r12 = calendar::add_months(r, 12);
        let a = self.assist;
        let durable = !a.rows.rows(i).any(|s| a.start[s] <= r12 && a.end[s] >= r);
        out.reentry.push(self.reentry(i, r));
        out.durable.push(durable);
        // Durable outflow to work needs work at 12 months, a horizon or not.
        let work_12 = work_12.unwrap_or_else(|| at(12).job.is_some());
        out.durable_work.push(durable && work_12);
    }

    /// The paying municipality of the latest-starting assistance spell of
    /// the cohort episode that starts on or before the anchor day (register
    /// cohorts).
    fn spell_municipality(&self, i: usize) -> Option<&'a str> {
        let (from, anchor) = (self.cohort.ep_start[i]?, self.cohort.anchor[i]?);
        let a = self.assist;
        a.rows
            .rows(i)
            .filter(|&s| a.start[s] >= from && a.start[s] <= anchor)
            .min_by(|&x, &y| {
                a.start[y]
                    .cmp(&a.start[x])
                    .then_with(|| a.end[y].cmp(&a.end[x]))
                    .then_with(|| cmp_opt(&a.municipality[x], &a.municipality[y]))
            })
            .and_then(|s| a.municipality[s])
    }

    /// Whether a new assistance episode (spells merged across gaps of at
    /// most `gap_days` days) starts in (R, R + reentry months].
    fn reentry(&self, i: usize, r: i32) -> bool {
        let a = self.assist;
        let mut spells: Vec<(i32, i32)> = a.rows.rows(i).map(|s| (a.start[s], a.end[s])).collect();
        spells.sort_unstable();
        let until = calendar::add_months(r, self.config.reentry_months as i32);
        let gap = i64::from(self.config.gap_days);
        let mut latest_end: Option<i32> = None;
        for (start, end) in spells {
            let new_episode = latest_end.is_none_or(|e| i64::from(start) - i64::from(e) - 1 > gap);
            if new_episode && start > r && start <= until {
                return true;
            }
            latest_end = Some(latest_end.map_or(end, |e| e.max(end)));
        }
        false
    }

    /// Trajectories overlapping [R − lookback, R): the last one's
    /// instrument and segment, and the mix of instruments.
    fn exposure(&self, i: usize, r: i32) -> (&'a str, &'a str, &'a str) {
        let t = self.traj;
        let from = calendar::add_months(r, -(self.config.lookback_months as i32));
        let exposed = t
            .rows
            .rows(i)
            .filter(|&x| t.start[x] < r && t.end[x] >= from);
        let last = exposed.clone().min_by(|&x, &y| {
            t.start[y]
                .cmp(&t.start[x])
                .then_with(|| t.end[y].cmp(&t.end[x]))
                .then_with(|| t.instrument[x].cmp(t.instrument[y]))
                .then_with(|| cmp_opt(&t.segment[x], &t.segment[y]))
        });
        let Some(last) = last else {
            return (NONE, UNKNOWN, NONE);
        };
        let first = t.instrument[last];
        let mix = if exposed.clone().all(|x| t.instrument[x] == first) {
            first
        } else {
            "multiple"
        };
        (first, t.segment[last].unwrap_or(UNKNOWN), mix)
    }
}

impl Output<'_> {
    /// The frame in the analysis file's column order.
    fn into_frame(self, cohort: &DataFrame, config: &LinkConfig) -> Result<DataFrame, LinkError> {
        let kept = IdxCa::from_vec("".into(), self.kept);
        let pseudonym = cohort
            .column(PSEUDONYM)
            .map_err(perr)?
            .take(&kept)
            .map_err(perr)?;
        let height = pseudonym.len();
        let reference = Int32Chunked::from_vec("reference_date".into(), self.reference)
            .into_column()
            .cast(&DataType::Date)
            .map_err(perr)?;
        let mut columns = vec![pseudonym, reference];
        for (name, values) in self.dims {
            columns.push(Column::new(name.into(), values));
        }
        for (&k, h) in config.horizons.iter().zip(self.horizons) {
            columns.push(Column::new(at_horizon("state", k).into(), h.state));
            columns.push(Column::new(at_horizon("sector", k).into(), h.sector));
            columns.push(Column::new(at_horizon("contract", k).into(), h.contract));
            columns.push(Column::new(
                at_horizon("hours_band", k).into(),
                h.hours_band,
            ));
            columns.push(Column::new(at_horizon("wage", k).into(), h.wage));
            columns.push(Column::new(at_horizon("wage_band", k).into(), h.wage_band));
        }
        columns.push(Column::new(
            reentry_flag(config.reentry_months).into(),
            self.reentry,
        ));
        let [durable, durable_work] = FLAGS;
        columns.push(Column::new(durable.into(), self.durable));
        columns.push(Column::new(durable_work.into(), self.durable_work));
        DataFrame::new(height, columns).map_err(perr)
    }
}
