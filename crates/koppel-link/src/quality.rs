//! Linkage quality counted over the rows already read.
//!
//! The counts of [`crate::LinkageRow`] need, per upload person, whether the
//! persons register has a record and whether an assistance spell lies
//! around one of their trajectories (per municipality). The read pass has
//! already kept the upload persons' register rows, so this module counts
//! in one pass over each of those frames with the persons numbered densely
//! (a hash map from pseudonym to number, built from the uploads:
//! `reduce::PersonIndex`, hashed like the person sets), instead
//! of joining five million trajectory rows with the assistance spells by
//! pseudonym strings (that join took about a third of the link stage's
//! time at national scale). [`crate::linkage_quality_plan`] is the same
//! definition as a polars plan; the tests check that both agree.

use koppel_schema::calendar;
use polars::prelude::*;

use crate::config::LinkConfig;
use crate::plan::{OPEN, PSEUDONYM, UNKNOWN};
use crate::reduce::PersonIndex;
use crate::{LinkError, LinkageRow};

fn perr(source: PolarsError) -> LinkError {
    LinkError::Polars {
        step: "linkage quality",
        source,
    }
}

/// A Date (or day-number) column as day numbers.
fn days(df: &DataFrame, name: &str) -> Result<Int32Chunked, LinkError> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::Int32))
        .map_err(perr)?;
    Ok(c.i32().map_err(perr)?.rechunk().into_owned())
}

fn text(df: &DataFrame, name: &str) -> Result<StringChunked, LinkError> {
    let c = df.column(name).map_err(perr)?;
    Ok(c.str().map_err(perr)?.rechunk().into_owned())
}

/// A valid spell or trajectory row: a start, and no end before it.
fn valid_spell(start: Option<i32>, end: Option<i32>) -> Option<(i32, Option<i32>)> {
    let start = start?;
    match end {
        Some(e) if e < start => None,
        _ => Some((start, end)),
    }
}

/// Items grouped by a dense person number with a counting sort (an order
/// of 4-byte indices, not a sorted copy of the items): person `p`'s items
/// are `items[order[first[p]..first[p + 1]]]`, in input order.
struct ByPerson<T> {
    items: Vec<T>,
    order: Vec<u32>,
    first: Vec<usize>,
}

impl<T> ByPerson<T> {
    fn new(items: Vec<T>, persons: usize, person: impl Fn(&T) -> u32) -> ByPerson<T> {
        let mut first = vec![0usize; persons + 1];
        for item in &items {
            first[person(item) as usize + 1] += 1;
        }
        for i in 0..persons {
            first[i + 1] += first[i];
        }
        let mut next = first.clone();
        let mut order = vec![0u32; items.len()];
        for (k, item) in items.iter().enumerate() {
            let p = person(item) as usize;
            order[next[p]] = k as u32;
            next[p] += 1;
        }
        ByPerson {
            items,
            order,
            first,
        }
    }

    fn of(&self, person: u32) -> impl Iterator<Item = &T> {
        let p = person as usize;
        self.order[self.first[p]..self.first[p + 1]]
            .iter()
            .map(|&k| &self.items[k as usize])
    }
}

/// Linkage quality per upload municipality (sorted by code) and over all
/// uploads (`total`, distinct persons), from the uploads and the persons
/// and benefits rows of (at least) the upload persons. The definitions are
/// those of [`crate::linkage_quality_plan`]: rows without a pseudonym, a
/// start or with an end before the start are ignored; a trajectory's
/// window runs from `lookback_months` before its start to
/// `lookback_months` after its end (open when it has no end).
pub fn linkage_quality(
    persons: &DataFrame,
    benefits: &DataFrame,
    trajectories: &DataFrame,
    config: &LinkConfig,
) -> Result<(Vec<LinkageRow>, LinkageRow), LinkError> {
    let months = config.lookback_months as i32;
    // Upload persons and municipalities, numbered in order of appearance.
    let t_person = text(trajectories, PSEUDONYM)?;
    let t_municipality = text(trajectories, "municipality")?;
    let (t_start, t_end) = (
        days(trajectories, "start_date")?,
        days(trajectories, "end_date")?,
    );
    let mut person_ids = PersonIndex::default();
    let mut municipality_ids: PlHashMap<&str, u32> = PlHashMap::new();
    let mut municipalities: Vec<&str> = Vec::new();
    // (municipality, person, window from, window until)
    let mut windows: Vec<(u32, u32, i32, i32)> = Vec::with_capacity(trajectories.height());
    let mut last: Option<(&str, u32)> = None;
    for (((p, m), s), e) in t_person
        .iter()
        .zip(t_municipality.iter())
        .zip(t_start.iter())
        .zip(t_end.iter())
    {
        let (Some(p), Some((start, end))) = (p, valid_spell(s, e)) else {
            continue;
        };
        // An upload lists a person's trajectories together as a rule: the
        // previous row's number is reused without hashing.
        let person = match last {
            Some((q, i)) if q == p => i,
            _ => person_ids.number(p),
        };
        last = Some((p, person));
        let m = m.unwrap_or(UNKNOWN);
        let municipality = *municipality_ids.entry(m).or_insert_with(|| {
            municipalities.push(m);
            municipalities.len() as u32 - 1
        });
        let from = calendar::add_months(start, -months);
        let until = end.map_or(OPEN, |e| calendar::add_months(e, months));
        windows.push((municipality, person, from, until));
    }
    let n = person_ids.len();

    let mut found = vec![false; n];
    for p in text(persons, PSEUDONYM)?.iter().flatten() {
        if let Some(i) = person_ids.get(p) {
            found[i as usize] = true;
        }
    }

    // The upload persons' assistance spells, grouped by person.
    let is_assistance = |t: &str| config.assistance_types.iter().any(|a| a == t);
    let b_type = text(benefits, "benefit_type")?;
    let (b_start, b_end) = (days(benefits, "start_date")?, days(benefits, "end_date")?);
    let mut spells: Vec<(u32, i32, i32)> = Vec::new();
    for (((p, t), s), e) in text(benefits, PSEUDONYM)?
        .iter()
        .zip(b_type.iter())
        .zip(b_start.iter())
        .zip(b_end.iter())
    {
        let (Some(p), Some(t), Some((start, end))) = (p, t, valid_spell(s, e)) else {
            continue;
        };
        if let (Some(i), true) = (person_ids.get(p), is_assistance(t)) {
            spells.push((i, start, end.unwrap_or(OPEN)));
        }
    }
    let spells = ByPerson::new(spells, n, |s| s.0);
    let around = |person: u32, from: i32, until: i32| {
        spells
            .of(person)
            .any(|&(_, start, end)| start <= until && end >= from)
    };

    // Distinct (municipality, person) pairs, assisted when any of their
    // trajectories has a spell around it. A person's windows are few and
    // mostly of one municipality.
    let windows = ByPerson::new(windows, n, |w| w.1);
    let mut assisted_any = vec![false; n];
    let mut counts = vec![(0u64, 0u64, 0u64); municipalities.len()];
    let mut pairs: Vec<(u32, bool)> = Vec::new();
    for p in 0..n as u32 {
        pairs.clear();
        for &(m, _, from, until) in windows.of(p) {
            match pairs.iter_mut().find(|(q, _)| *q == m) {
                Some((_, assisted)) => {
                    if !*assisted {
                        *assisted = around(p, from, until);
                    }
                }
                None => pairs.push((m, around(p, from, until))),
            }
        }
        for &(m, assisted) in &pairs {
            let c = &mut counts[m as usize];
            c.0 += 1;
            c.1 += u64::from(found[p as usize]);
            c.2 += u64::from(assisted);
            assisted_any[p as usize] |= assisted;
        }
    }
    let row = |municipality: &str, (a, b, c): (u64, u64, u64)| LinkageRow {
        municipality: municipality.to_string(),
        persons_in_uploads: a,
        found_in_persons_register: b,
        with_assistance_around_trajectories: c,
        not_found: a - b,
    };
    let by_code: std::collections::BTreeMap<&str, (u64, u64, u64)> =
        municipalities.iter().copied().zip(counts).collect();
    let rows = by_code.into_iter().map(|(m, c)| row(m, c)).collect();
    let total = (
        n as u64,
        found.iter().filter(|&&f| f).count() as u64,
        assisted_any.iter().filter(|&&a| a).count() as u64,
    );
    Ok((rows, row("total", total)))
}
