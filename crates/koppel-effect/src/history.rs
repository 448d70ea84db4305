//! Calendar arithmetic and what a person's history says at a date: on
//! assistance, in work, the outcome state, episodes, work days.

use koppel_schema::calendar::{civil_from_days, days_from_civil};

use crate::load::{Histories, Spell, OPEN};

pub use koppel_schema::calendar::add_months;

/// Completed calendar months from `from` to `to`: the largest `k` with
/// `add_months(from, k) <= to` (0 if `to < from`).
pub fn completed_months(from: i32, to: i32) -> i32 {
    koppel_schema::calendar::completed_months(from, to).max(0)
}

/// Month number (`year * 12 + month - 1`) of a day.
pub fn month_of(day: i32) -> i32 {
    let (y, m, _) = civil_from_days(day);
    y * 12 + m as i32 - 1
}

/// First day of a month number.
pub fn first_day(month: i32) -> i32 {
    days_from_civil(month.div_euclid(12), (month.rem_euclid(12) + 1) as u32, 1)
}

/// Last day of a month number.
pub fn last_day(month: i32) -> i32 {
    first_day(month + 1) - 1
}

/// `YYYY-MM` of a month number.
pub fn month_label(month: i32) -> String {
    format!(
        "{:04}-{:02}",
        month.div_euclid(12),
        month.rem_euclid(12) + 1
    )
}

/// Whether any (start, end) interval covers `day`.
pub fn covers(intervals: impl IntoIterator<Item = (i32, i32)>, day: i32) -> bool {
    intervals.into_iter().any(|(s, e)| s <= day && day <= e)
}

/// Assistance episodes (start, end) of spells sorted by start: spells
/// merge when the days covered by no spell between them are at most
/// `gap_days`.
pub fn episodes(spells: &[Spell], gap_days: u32) -> Vec<(i32, i32)> {
    let mut out: Vec<(i32, i32)> = Vec::new();
    for s in spells {
        match out.last_mut() {
            Some(last) if i64::from(s.start) - i64::from(last.1) - 1 <= i64::from(gap_days) => {
                last.1 = last.1.max(s.end);
            }
            _ => out.push((s.start, s.end)),
        }
    }
    out
}

/// Days in `[from, to]` covered by at least one job (jobs sorted by start).
pub fn work_days(jobs: &[(i32, i32)], from: i32, to: i32) -> u32 {
    let mut total = 0i64;
    let mut reach = from - 1; // last day already counted
    for &(s, e) in jobs {
        if s > to {
            break;
        }
        let lo = s.max(reach + 1).max(from);
        let hi = e.min(to);
        if hi >= lo {
            total += i64::from(hi - lo) + 1;
            reach = hi;
        }
    }
    total as u32
}

/// The outcome states, first match wins (as the link stage): assistance
/// and work, assistance, work, WW, other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// On assistance and in work.
    BijstandMetWerk,
    /// On assistance.
    Bijstand,
    /// In work without assistance.
    Werk,
    /// On WW.
    Ww,
    /// Anything else (also after the day of death or emigration).
    Overig,
}

/// The state of person `p` on `day`.
pub fn state_at(h: &Histories, p: u32, day: i32) -> State {
    if h.persons[p as usize].gone.is_some_and(|g| g < day) {
        return State::Overig;
    }
    let assist = covers(h.assistance.of(p).iter().map(|s| (s.start, s.end)), day);
    let work = covers(h.jobs.of(p).iter().copied(), day);
    match (assist, work) {
        (true, true) => State::BijstandMetWerk,
        (true, false) => State::Bijstand,
        (false, true) => State::Werk,
        _ if covers(h.ww.of(p).iter().copied(), day) => State::Ww,
        _ => State::Overig,
    }
}

/// Durable outflow after time zero `t0`: the episode covering `t0` ends
/// within 12 months (exit day R = end + 1 ≤ t0 + 12 months) and no new
/// episode starts before R + 12 months, so the person is off assistance
/// for a full year within the 24 months after time zero.
pub fn durable_outflow(eps: &[(i32, i32)], t0: i32) -> bool {
    let Some(i) = eps.iter().position(|&(s, e)| s <= t0 && t0 <= e) else {
        return true;
    };
    let end = eps[i].1;
    if end >= OPEN {
        return false;
    }
    let exit = end + 1;
    if exit > add_months(t0, 12) {
        return false;
    }
    eps.get(i + 1)
        .is_none_or(|&(next, _)| next > add_months(exit, 12))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> i32 {
        koppel_link::CivilDate::parse(s).unwrap().0
    }

    #[test]
    fn calendar() {
        assert_eq!(add_months(d("2020-01-31"), 1), d("2020-02-29"));
        assert_eq!(add_months(d("2020-03-15"), -12), d("2019-03-15"));
        assert_eq!(completed_months(d("2020-01-31"), d("2020-02-29")), 1);
        assert_eq!(completed_months(d("2020-01-15"), d("2020-02-14")), 0);
        assert_eq!(month_label(month_of(d("2021-12-31"))), "2021-12");
        assert_eq!(first_day(month_of(d("2021-12-31"))), d("2021-12-01"));
        assert_eq!(last_day(month_of(d("2024-02-03"))), d("2024-02-29"));
    }

    #[test]
    fn work_days_count_overlaps_once() {
        let jobs = [(10, 19), (15, 24), (40, 49)];
        assert_eq!(work_days(&jobs, 0, 100), 25);
        assert_eq!(work_days(&jobs, 20, 45), 5 + 6);
        assert_eq!(work_days(&[], 0, 100), 0);
    }

    #[test]
    fn episodes_bridge_short_gaps() {
        let sp = |start, end| Spell {
            start,
            end,
            municipality: 0,
        };
        let e = episodes(&[sp(0, 10), sp(42, 50), sp(100, 120)], 31);
        assert_eq!(e, vec![(0, 50), (100, 120)]);
        // Durable: exit within 12 months and no return within a year.
        let t0 = d("2020-01-15");
        let eps = [(d("2019-01-01"), d("2020-06-30")), (d("2021-08-01"), OPEN)];
        assert!(durable_outflow(&eps, t0));
        let back = [(d("2019-01-01"), d("2020-06-30")), (d("2021-06-01"), OPEN)];
        assert!(!durable_outflow(&back, t0));
        let late = [(d("2019-01-01"), d("2021-02-28"))];
        assert!(!durable_outflow(&late, t0));
    }
}
