//! Proleptic-Gregorian calendar arithmetic on day numbers, the one copy
//! every crate uses.
//!
//! A date is an `i32` count of days since 1970-01-01 ([`Day`]), which is
//! exactly the physical representation of a polars `Date`, so columns can
//! be compared and shifted without conversion. The conversions are Howard
//! Hinnant's `days_from_civil` / `civil_from_days` algorithms, computed in
//! `i64` so that no `i32` day number overflows.
//!
//! Why not `chrono` or `jiff`: koppel needs a dozen lines of arithmetic on
//! the polars day number (month ends, calendar months between two days,
//! strict `YYYY-MM-DD`); a date library would add a dependency to this leaf
//! crate and a conversion at every call.
//!
//! A month outside 1–12 has no days ([`days_in_month`] returns 0), so no
//! day of it is a valid date.

use std::fmt::Write as _;

/// Days since 1970-01-01.
pub type Day = i32;

/// Whether `year` is a leap year.
pub fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1–12) of `year`; 0 for a month outside 1–12.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// The day number of `year-month-day` if that date exists.
pub fn date(year: i32, month: u32, day: u32) -> Option<Day> {
    (day >= 1 && day <= days_in_month(year, month)).then(|| days_from_civil(year, month, day))
}

/// The day number of a civil date, not checked: `month` must be 1–12 and
/// `day` 1–31 (use [`date`] for a checked conversion).
pub fn days_from_civil(year: i32, month: u32, day: u32) -> Day {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = i64::from(year) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as Day
}

/// The civil date `(year, month, day)` of a day number.
pub fn civil_from_days(day: Day) -> (i32, u32, u32) {
    let z = i64::from(day) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((y + i64::from(m <= 2)) as i32, m, d)
}

/// `day` plus `months` calendar months (negative: back), the day of the
/// month clamped to the month end: 31 January + 1 month = 28 (29)
/// February.
pub fn add_months(day: Day, months: i32) -> Day {
    let (y, m, d) = civil_from_days(day);
    let total = y * 12 + (m as i32 - 1) + months;
    let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    days_from_civil(ny, nm, d.min(days_in_month(ny, nm)))
}

/// Completed calendar months from `from` to `to`: the whole months
/// between their months, minus one when the day of the month of `from`
/// (clamped to the length of `to`'s month) has not yet been reached in
/// `to`'s month. This is the largest `k` with `add_months(from, k) <= to`;
/// negative when `to` is before `from`.
pub fn completed_months(from: Day, to: Day) -> i32 {
    let (fy, fm, fd) = civil_from_days(from);
    let (ty, tm, td) = civil_from_days(to);
    let whole = (ty * 12 + tm as i32) - (fy * 12 + fm as i32);
    whole - i32::from(fd.min(days_in_month(ty, tm)) > td)
}

/// The first day of the calendar month of `day`.
pub fn month_start(day: Day) -> Day {
    let (y, m, _) = civil_from_days(day);
    days_from_civil(y, m, 1)
}

/// Parse `YYYY-MM-DD` strictly: four-digit year, two-digit month and day,
/// a date that exists. `None` otherwise.
pub fn parse_iso(text: &str) -> Option<Day> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |s: &[u8]| -> Option<u32> {
        s.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    date(y as i32, m, d)
}

/// `YYYY-MM-DD`.
pub fn format_iso(day: Day) -> String {
    let (y, m, d) = civil_from_days(day);
    let mut s = String::with_capacity(10);
    let _ = write!(s, "{y:04}-{m:02}-{d:02}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_values() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        for z in (-800_000..800_000).step_by(7) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
            assert_eq!(date(y, m, d), Some(z));
        }
        // The extremes of the polars day number do not overflow.
        for z in [i32::MIN, i32::MAX] {
            let (y, m, d) = civil_from_days(z);
            assert!(
                (1..=12).contains(&m) && (1..=31).contains(&d),
                "{y}-{m}-{d}"
            );
        }
    }

    #[test]
    fn leap_years_and_month_ends() {
        assert!(is_leap(2024) && is_leap(2000) && is_leap(1600));
        assert!(!is_leap(2023) && !is_leap(1900) && !is_leap(2100));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2023, 2), 28);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        let lengths: Vec<u32> = (1..=12).map(|m| days_in_month(2023, m)).collect();
        assert_eq!(lengths, [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]);
        assert_eq!(date(2023, 4, 30), Some(days_from_civil(2023, 4, 30)));
        assert_eq!(date(2023, 4, 31), None);
        assert_eq!(date(2023, 2, 29), None);
        assert!(date(2024, 2, 29).is_some());
        assert_eq!(date(2023, 1, 0), None);
    }

    #[test]
    fn a_bad_month_has_no_days() {
        for m in [0, 13, 14, 99, u32::MAX] {
            assert_eq!(days_in_month(2024, m), 0);
            assert_eq!(date(2024, m, 1), None);
        }
        assert_eq!(parse_iso("2024-13-01"), None);
        assert_eq!(parse_iso("2024-00-10"), None);
    }

    #[test]
    fn months_clamp_to_the_month_end() {
        let ymd = |d| civil_from_days(d);
        let jan31 = days_from_civil(2019, 1, 31);
        assert_eq!(ymd(add_months(jan31, 1)), (2019, 2, 28));
        assert_eq!(
            ymd(add_months(days_from_civil(2020, 1, 31), 1)),
            (2020, 2, 29)
        );
        assert_eq!(
            ymd(add_months(days_from_civil(2020, 2, 29), 12)),
            (2021, 2, 28)
        );
        assert_eq!(
            ymd(add_months(days_from_civil(2020, 8, 31), -6)),
            (2020, 2, 29)
        );
        assert_eq!(
            ymd(add_months(days_from_civil(2022, 11, 30), 2)),
            (2023, 1, 30)
        );
        assert_eq!(
            ymd(month_start(days_from_civil(2022, 11, 30))),
            (2022, 11, 1)
        );
    }

    #[test]
    fn completed_months_is_the_inverse_of_add_months() {
        let from = days_from_civil(2020, 1, 31);
        assert_eq!(completed_months(from, days_from_civil(2020, 2, 28)), 0);
        assert_eq!(completed_months(from, days_from_civil(2020, 2, 29)), 1);
        assert_eq!(completed_months(from, days_from_civil(2021, 1, 30)), 11);
        assert_eq!(completed_months(from, days_from_civil(2021, 1, 31)), 12);
        assert_eq!(completed_months(from, from - 1), -1);
        for start in (days_from_civil(2019, 1, 1)..days_from_civil(2021, 1, 1)).step_by(3) {
            for k in [0, 1, 5, 12, 18] {
                let end = add_months(start, k);
                assert_eq!(completed_months(start, end), k);
                assert_eq!(completed_months(start, end - 1), k - 1);
            }
        }
    }

    #[test]
    fn iso_text_is_strict() {
        assert_eq!(parse_iso("2019-02-29"), None);
        assert_eq!(parse_iso("2019-2-28"), None);
        assert_eq!(parse_iso("+019-02-28"), None);
        assert_eq!(parse_iso("2019-02-28 "), None);
        assert_eq!(parse_iso("2019/02/28"), None);
        let d = parse_iso("2024-02-29").unwrap();
        assert_eq!(format_iso(d), "2024-02-29");
        assert_eq!(format_iso(days_from_civil(812, 3, 4)), "0812-03-04");
    }
}
