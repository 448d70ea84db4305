//! Calendar arithmetic of the generator: the shared calendar of
//! `koppel_schema::calendar` (day numbers since 1970-01-01, the physical
//! representation of a polars `Date`) under the generator's names, and the
//! few helpers only the generator needs.

use std::fmt::Write as _;

/// Civil date `(year, month, day)` of a day number.
pub use koppel_schema::calendar::civil_from_days as to_ymd;
/// Day number of a civil date (`month` 1–12, `day` 1–31; not validated).
pub use koppel_schema::calendar::days_from_civil as from_ymd;
pub use koppel_schema::calendar::{
    add_months, completed_months, days_in_month, format_iso, is_leap, month_start, parse_iso, Day,
};

/// `day` plus whole years (29 February clamps to 28 February).
pub fn add_years(day: Day, years: i32) -> Day {
    add_months(day, years * 12)
}

/// Year of a day number.
pub fn year_of(day: Day) -> i32 {
    to_ymd(day).0
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
    fn years_and_dutch_text() {
        let d = parse_iso("2024-02-29").unwrap();
        assert_eq!(format_dutch(d), "29-02-2024");
        assert_eq!(format_iso(add_years(d, 1)), "2025-02-28");
        assert_eq!(year_of(d), 2024);
    }
}
