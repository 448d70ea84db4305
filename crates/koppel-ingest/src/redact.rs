//! Keeping identifiers out of everything ingest writes outside the
//! quarantine: reports, logs and the pseudonymised tables.
//!
//! Two questions are answered here, and only here:
//! - [`contains_bsn`]: does a value hold something that *is* a valid BSN
//!   (nine digits, or eight with the leading zero dropped, passing the
//!   eleven-test), on its own or inside a longer text such as
//!   `T123456782-01`? Used to count and warn about free-text columns that
//!   carry BSNs.
//! - [`looks_like_identifier`]: could a value be (or hide) an identifier?
//!   Deliberately broader (any run of eight or more digits), for deciding
//!   whether a value may be quoted in a report at all ([`quote`]).

use koppel_pseudonym::bsn::passes_eleven_test;
use koppel_pseudonym::normalise_bsn;

/// What a report shows instead of a value that could be an identifier.
pub const WITHHELD: &str = "the value (not shown: it could be a BSN)";

/// Quote a value for a reason text, unless it could be an identifier: a
/// value that reads as a valid BSN, or holds a run of 8 or more digits, is
/// withheld, so a BSN in the wrong column never reaches a report.
pub fn quote(value: &str) -> String {
    if looks_like_identifier(value) {
        return WITHHELD.to_string();
    }
    let shown: String = value.chars().take(40).collect();
    let more = if value.chars().count() > 40 {
        "…"
    } else {
        ""
    };
    format!("'{shown}{more}'")
}

/// True when `value` might be or contain a BSN: it normalises to a valid BSN,
/// or it holds a run of eight or more digits (spaces and dots inside the run
/// do not break it).
pub fn looks_like_identifier(value: &str) -> bool {
    if normalise_bsn(value).is_ok() {
        return true;
    }
    let mut run = 0;
    for b in value.bytes() {
        if b.is_ascii_digit() {
            run += 1;
            if run >= 8 {
                return true;
            }
        } else if !matches!(b, b' ' | b'.') {
            run = 0;
        }
    }
    false
}

/// True when `value` holds a valid BSN: any nine consecutive digits of a
/// digit run that pass the eleven-test, or a run of exactly eight digits
/// that passes it with the leading zero restored. Spaces and dots between
/// digits are skipped (`123.456.782`, `1234 56 782`); any other character
/// ends a run, so `T123456782-01` holds the BSN `123456782`.
pub fn contains_bsn(value: &str) -> bool {
    // The last nine digits of the current run (a rolling window of bytes in
    // the low 72 bits of an integer, the newest last) and its length.
    const NINE_BYTES: u128 = (1 << 72) - 1;
    let digits = |window: u128| -> [u8; 9] {
        let mut d = [0u8; 9];
        d.copy_from_slice(&window.to_be_bytes()[7..]);
        d
    };
    let mut window: u128 = 0;
    let mut run = 0usize;
    let bytes = value.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b.is_ascii_digit() {
            window = ((window << 8) | u128::from(b)) & NINE_BYTES;
            run += 1;
            if run >= 9 && valid_bsn(&digits(window)) {
                return true;
            }
        } else if matches!(b, b' ' | b'.')
            && run > 0
            && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
        {
            continue;
        } else {
            if run == 8 && eight_digit_bsn(&digits(window)) {
                return true;
            }
            run = 0;
        }
    }
    run == 8 && eight_digit_bsn(&digits(window))
}

/// The run's eight digits (the last eight of `window`) with the dropped
/// leading zero restored.
fn eight_digit_bsn(window: &[u8; 9]) -> bool {
    let mut d = *window;
    d[0] = b'0';
    valid_bsn(&d)
}

fn valid_bsn(d: &[u8; 9]) -> bool {
    passes_eleven_test(d) && d.iter().any(|&b| b != b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_never_quoted() {
        assert!(quote("123456782").contains("not shown"));
        assert!(quote("T123456782X").contains("not shown"));
        assert!(quote("1234.5678").contains("not shown"));
        assert!(quote("12345672").contains("not shown"));
        assert_eq!(quote("Budgetcoaching"), "'Budgetcoaching'");
        assert_eq!(quote("30-02-2019"), "'30-02-2019'");
        let long = "x".repeat(50);
        assert_eq!(quote(&long), format!("'{}…'", "x".repeat(40)));
    }

    #[test]
    fn bsns_are_found_alone_and_inside_text() {
        for holds in [
            "123456782",
            "T123456782-01",
            "T12345678201",
            "traject 123.456.782 werk",
            "1234 56 782",
            "12345672", // 012345672 with the zero dropped
            "x12345672y",
            "99123456782", // a window of a longer run
        ] {
            assert!(contains_bsn(holds), "{holds}");
        }
        for clean in [
            "",
            "T00001234-01",
            "123456789", // fails the eleven-test
            "T-2021-0001",
            "Budgetcoaching",
            "1234567",
            "000000000",
            "2021-01-15",
            "123456789 0",
        ] {
            assert!(!contains_bsn(clean), "{clean}");
        }
    }

    #[test]
    fn whatever_holds_a_bsn_is_never_quoted() {
        for v in ["T123456782-01", "12345672", "traject 123.456.782"] {
            assert!(contains_bsn(v) && looks_like_identifier(v), "{v}");
            assert_eq!(quote(v), WITHHELD);
        }
    }
}
