//! Minimal proleptic-Gregorian calendar arithmetic on day numbers.
//!
//! A date is an `i32` count of days since 1970-01-01, which is exactly the
//! physical representation of a polars `Date`. The conversions are Howard
//! Hinnant's `days_from_civil` / `civil_from_days` algorithms.

use std::fmt::Write as _;

/// Days since 1970-01-01.
pub type Day = i32;

/// Day number of a civil date (`month` 1–12, `day` 1–31; not validated).
pub fn from_ymd(year: i32, month: u32, day: u32) -> Day {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = month as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date `(year, month, day)` of a day number.
pub fn to_ymd(z: Day) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// True for leap years.
pub fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Number of days in a month.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// `day` plus `months` calendar months, the day clamped to the month end
/// (docs/definitions.md horizons).
pub fn add_months(day: Day, months: i32) -> Day {
    let (y, m, d) = to_ymd(day);
    let total = y * 12 + (m as i32 - 1) + months;
    let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    from_ymd(ny, nm, d.min(days_in_month(ny, nm)))
}

/// `day` plus whole years (29 February clamps to 28 February).
pub fn add_years(day: Day, years: i32) -> Day {
    add_months(day, years * 12)
}

/// Completed calendar months from `from` to `to` (the age or duration
/// measure of the analysis stages): whole months, minus one when the day of
/// the month of `from` (clamped to the length of `to`'s month) has not yet
/// been reached in `to`'s month.
pub fn completed_months(from: Day, to: Day) -> i32 {
    let (fy, fm, fd) = to_ymd(from);
    let (ty, tm, td) = to_ymd(to);
    let whole = (ty * 12 + tm as i32) - (fy * 12 + fm as i32);
    let day = fd.min(days_in_month(ty, tm));
    whole - i32::from(day > td)
}

/// First day of the calendar month of `day`.
pub fn month_start(day: Day) -> Day {
    let (y, m, _) = to_ymd(day);
    from_ymd(y, m, 1)
}

/// Year of a day number.
pub fn year_of(day: Day) -> i32 {
    to_ymd(day).0
}

/// Parse `YYYY-MM-DD` (strictly: four-digit year, two-digit month and day,
/// a real calendar date). Returns `None` otherwise.
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
    let y = y as i32;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(from_ymd(y, m, d))
}

/// `YYYY-MM-DD`.
pub fn format_iso(day: Day) -> String {
    let (y, m, d) = to_ymd(day);
    let mut s = String::with_capacity(10);
    let _ = write!(s, "{y:04}-{m:02}-{d:02}");
    s
}

/// `DD-MM-YYYY`, as Dutch spreadsheets write dates.
pub fn format_dutch(day: Day) -> String {
    let (y, m, d) = to_ymd(day);
    let mut s = String::with_capacity(10);
    let _ = write!(s, "{d:02}-{m:02}-{y:04}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_values() {
        assert_eq!(from_ymd(1970, 1, 1), 0);
        assert_eq!(from_ymd(2000, 3, 1), 11_017);
        for z in -800_000..800_000 {
            let (y, m, d) = to_ymd(z);
            assert_eq!(from_ymd(y, m, d), z);
        }
    }

    #[test]
    fn months_clamp_to_month_end() {
        let jan31 = from_ymd(2019, 1, 31);
        assert_eq!(to_ymd(add_months(jan31, 1)), (2019, 2, 28));
        assert_eq!(to_ymd(add_months(from_ymd(2020, 2, 29), 12)), (2021, 2, 28));
        assert_eq!(to_ymd(add_months(from_ymd(2020, 8, 31), -6)), (2020, 2, 29));
    }

    #[test]
    fn iso_parse_and_format() {
        assert_eq!(parse_iso("2019-02-29"), None);
        assert_eq!(parse_iso("2019-2-28"), None);
        let d = parse_iso("2024-02-29").unwrap();
        assert_eq!(format_iso(d), "2024-02-29");
        assert_eq!(format_dutch(d), "29-02-2024");
    }
}
