//! Linkage quality counted during the register passes.
//!
//! The counts of [`crate::LinkageRow`] need, per upload person, whether the
//! persons register has a record and whether an assistance spell lies
//! around one of their trajectories (per municipality). [`Uploads`] numbers
//! the upload persons densely (a hash map from pseudonym to number behind a
//! bitmap, `reduce::PersonIndex`, hashed like the person sets) and keeps
//! each trajectory's window, grouped by person. The register passes then
//! record, for the rows of upload persons only, what the counts need
//! ([`UploadFacts`]: a flag per person found in the persons register, the
//! assistance spells as three numbers each) while they select the cohort
//! candidates' rows, so neither the upload persons' register rows are kept
//! nor is any register read a second time. Before, the passes kept every
//! register row of the 1.1 million upload persons (strings included) for a
//! count afterwards; that join of the five million trajectory rows with the
//! spells by pseudonym strings once took a third of the link stage's time
//! at national scale. [`crate::linkage_quality_plan`] is the same
//! definition as a polars plan; the tests check that both agree.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

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

/// `day` plus a fixed number of calendar months (`calendar::add_months`)
/// for the days of one column, from a table over the column's range of
/// days when that range is not too wide: five million trajectory dates span
/// a few thousand distinct days.
struct MonthShift {
    months: i32,
    first: i32,
    table: Vec<i32>,
}

impl MonthShift {
    /// Longest range of days tabulated (about 270 years).
    const MAX_DAYS: i64 = 100_000;

    fn new(days: &Int32Chunked, months: i32) -> MonthShift {
        let (Some(first), Some(last)) = (days.min(), days.max()) else {
            return MonthShift {
                months,
                first: 0,
                table: Vec::new(),
            };
        };
        let table = if i64::from(last) - i64::from(first) < Self::MAX_DAYS {
            (first..=last)
                .map(|d| calendar::add_months(d, months))
                .collect()
        } else {
            Vec::new()
        };
        MonthShift {
            months,
            first,
            table,
        }
    }

    fn of(&self, day: i32) -> i32 {
        usize::try_from(i64::from(day) - i64::from(self.first))
            .ok()
            .and_then(|i| self.table.get(i).copied())
            .unwrap_or_else(|| calendar::add_months(day, self.months))
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

/// The upload persons, numbered densely in order of first sight, with
/// their trajectory windows (from `lookback_months` before a trajectory's
/// start to `lookback_months` after its end, open without an end) grouped
/// by person. Rows without a pseudonym, a start or with an end before the
/// start are ignored.
pub struct Uploads {
    persons: PersonIndex,
    municipalities: Vec<String>,
    /// (person, municipality, window from, window until) per person.
    windows: ByPerson<(u32, u32, i32, i32)>,
}

impl Uploads {
    /// Numbers the persons of the uploads and their windows.
    pub fn new(trajectories: &DataFrame, config: &LinkConfig) -> Result<Uploads, LinkError> {
        let months = config.lookback_months as i32;
        let t_person = text(trajectories, PSEUDONYM)?;
        let t_municipality = text(trajectories, "municipality")?;
        let (t_start, t_end) = (
            days(trajectories, "start_date")?,
            days(trajectories, "end_date")?,
        );
        let mut persons = PersonIndex::default();
        let mut municipality_ids: PlHashMap<&str, u32> = PlHashMap::new();
        let mut municipalities: Vec<String> = Vec::new();
        // (person, municipality, window from, window until)
        let mut windows: Vec<(u32, u32, i32, i32)> = Vec::with_capacity(trajectories.height());
        let mut last: Option<(&str, u32)> = None;
        let mut last_municipality: Option<(&str, u32)> = None;
        let back = MonthShift::new(&t_start, -months);
        let ahead = MonthShift::new(&t_end, months);
        for (((p, m), s), e) in t_person
            .iter()
            .zip(t_municipality.iter())
            .zip(t_start.iter())
            .zip(t_end.iter())
        {
            let (Some(p), Some((start, end))) = (p, valid_spell(s, e)) else {
                continue;
            };
            // An upload lists a person's trajectories together as a rule:
            // the previous row's number is reused without hashing.
            let person = match last {
                Some((q, i)) if q == p => i,
                _ => persons.number(p),
            };
            last = Some((p, person));
            // Uploads come one municipality after another.
            let m = m.unwrap_or(UNKNOWN);
            let municipality = match last_municipality {
                Some((q, i)) if q == m => i,
                _ => *municipality_ids.entry(m).or_insert_with(|| {
                    municipalities.push(m.to_string());
                    municipalities.len() as u32 - 1
                }),
            };
            last_municipality = Some((m, municipality));
            let from = back.of(start);
            let until = end.map_or(OPEN, |e| ahead.of(e));
            windows.push((person, municipality, from, until));
        }
        persons.add_filter();
        Ok(Uploads {
            windows: ByPerson::new(windows, persons.len(), |w| w.0),
            persons,
            municipalities,
        })
    }

    /// Number of distinct upload persons.
    pub fn len(&self) -> usize {
        self.persons.len()
    }

    /// Whether the uploads name no person.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records the upload persons found in a batch of persons-register
    /// pseudonyms.
    pub fn observe_persons(&self, pseudonyms: &StringChunked, facts: &UploadFacts) {
        self.persons.for_each_numbered(pseudonyms.iter(), |_, i| {
            facts.found[i as usize].store(true, Ordering::Relaxed);
        });
    }

    /// Records the assistance spells of upload persons in a batch of
    /// benefits rows (`invalid`: the rows the stage ignores).
    pub fn observe_benefits(
        &self,
        assistance_types: &[String],
        rows: BenefitRows<'_>,
        facts: &UploadFacts,
    ) {
        let is_assistance = |t: &str| assistance_types.iter().any(|a| a == t);
        let mut spells = Vec::new();
        let (types, start, end, invalid) = (rows.types, rows.start, rows.end, rows.invalid);
        self.persons
            .for_each_numbered(rows.pseudonyms.iter(), |row, i| {
                let (Some(t), Some(s), Some(false)) =
                    (types.get(row), start.get(row), invalid.get(row))
                else {
                    return;
                };
                if is_assistance(t) {
                    spells.push((i, s, end.get(row).unwrap_or(OPEN)));
                }
            });
        if !spells.is_empty() {
            facts
                .spells
                .lock()
                .expect("no panic while holding the lock")
                .extend(spells);
        }
    }

    /// Linkage quality per upload municipality (sorted by code) and over
    /// all uploads (`total`, distinct persons), from what the register
    /// passes recorded.
    pub fn count(&self, facts: &UploadFacts) -> (Vec<LinkageRow>, LinkageRow) {
        let n = self.len();
        let found: Vec<bool> = facts
            .found
            .iter()
            .map(|f| f.load(Ordering::Relaxed))
            .collect();
        let spells = std::mem::take(
            &mut *facts
                .spells
                .lock()
                .expect("no panic while holding the lock"),
        );
        let spells = ByPerson::new(spells, n, |s| s.0);
        let around = |person: u32, from: i32, until: i32| {
            spells
                .of(person)
                .any(|&(_, start, end)| start <= until && end >= from)
        };
        // Distinct (municipality, person) pairs, assisted when any of their
        // trajectories has a spell around it. A person's windows are few and
        // mostly of one municipality.
        let mut assisted_any = vec![false; n];
        let mut counts = vec![(0u64, 0u64, 0u64); self.municipalities.len()];
        let mut pairs: Vec<(u32, bool)> = Vec::new();
        for p in 0..n as u32 {
            pairs.clear();
            for &(_, m, from, until) in self.windows.of(p) {
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
        let by_code: std::collections::BTreeMap<&str, (u64, u64, u64)> = self
            .municipalities
            .iter()
            .map(String::as_str)
            .zip(counts)
            .collect();
        let rows = by_code.into_iter().map(|(m, c)| row(m, c)).collect();
        let total = (
            n as u64,
            found.iter().filter(|&&f| f).count() as u64,
            assisted_any.iter().filter(|&&a| a).count() as u64,
        );
        (rows, row("total", total))
    }
}

/// One batch of benefits rows as [`Uploads::observe_benefits`] reads it.
pub struct BenefitRows<'a> {
    /// `pseudonym`.
    pub pseudonyms: &'a StringChunked,
    /// `benefit_type`.
    pub types: &'a StringChunked,
    /// `start_date` as day numbers.
    pub start: &'a Int32Chunked,
    /// `end_date` as day numbers (null: ongoing).
    pub end: &'a Int32Chunked,
    /// The rows the stage ignores.
    pub invalid: &'a BooleanChunked,
}

/// What the register passes record about the upload persons: found in the
/// persons register, and their assistance spells (person, start, end).
/// Written from polars' threads; [`Uploads::count`] takes the spells.
pub struct UploadFacts {
    found: Vec<AtomicBool>,
    spells: Mutex<Vec<(u32, i32, i32)>>,
}

impl UploadFacts {
    /// Nothing recorded yet, for the persons of `uploads`.
    pub fn new(uploads: &Uploads) -> UploadFacts {
        UploadFacts {
            found: (0..uploads.len()).map(|_| AtomicBool::new(false)).collect(),
            spells: Mutex::new(Vec::new()),
        }
    }
}

/// Linkage quality per upload municipality (sorted by code) and over all
/// uploads (`total`, distinct persons), from the uploads and the persons
/// and benefits rows of (at least) the upload persons, in memory. The
/// definitions are those of [`crate::linkage_quality_plan`]: rows without a
/// pseudonym, a start or with an end before the start are ignored; a
/// trajectory's window runs from `lookback_months` before its start to
/// `lookback_months` after its end (open when it has no end). The link
/// stage counts the same during its register passes ([`Uploads`]).
pub fn linkage_quality(
    persons: &DataFrame,
    benefits: &DataFrame,
    trajectories: &DataFrame,
    config: &LinkConfig,
) -> Result<(Vec<LinkageRow>, LinkageRow), LinkError> {
    let uploads = Uploads::new(trajectories, config)?;
    let facts = UploadFacts::new(&uploads);
    uploads.observe_persons(&text(persons, PSEUDONYM)?, &facts);
    let invalid = benefits
        .clone()
        .lazy()
        .select([crate::plan::invalid_rows("benefits")])
        .collect()
        .map_err(perr)?;
    let invalid = invalid[0].bool().map_err(perr)?.rechunk().into_owned();
    uploads.observe_benefits(
        &config.assistance_types,
        BenefitRows {
            pseudonyms: &text(benefits, PSEUDONYM)?,
            types: &text(benefits, "benefit_type")?,
            start: &days(benefits, "start_date")?,
            end: &days(benefits, "end_date")?,
            invalid: &invalid,
        },
        &facts,
    );
    Ok(uploads.count(&facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table gives `calendar::add_months` for every day of the column,
    /// month ends and leap days included; days outside it, and columns
    /// whose range is too wide for a table, are computed directly.
    #[test]
    fn month_shift_agrees_with_add_months() {
        let narrow: Vec<i32> = (calendar::days_from_civil(2019, 12, 1)
            ..=calendar::days_from_civil(2024, 3, 31))
            .collect();
        let wide = Int32Chunked::from_slice("d".into(), &[-40_000, 0, 70_000]);
        for months in [-24, -1, 0, 1, 24] {
            let shift = MonthShift::new(&Int32Chunked::from_slice("d".into(), &narrow), months);
            assert_eq!(shift.table.len(), narrow.len());
            for &d in narrow
                .iter()
                .chain(&[narrow[0] - 1, narrow[narrow.len() - 1] + 1])
            {
                assert_eq!(shift.of(d), calendar::add_months(d, months), "{d} {months}");
            }
            let shift = MonthShift::new(&wide, months);
            assert!(shift.table.is_empty());
            assert_eq!(shift.of(70_000), calendar::add_months(70_000, months));
        }
        let empty = MonthShift::new(&Int32Chunked::from_slice("d".into(), &[]), 3);
        assert_eq!(empty.of(19_000), calendar::add_months(19_000, 3));
    }
}
