//! BSN (burgerservicenummer) normalisation and validation, per docs/pseudonymisation.md.
//!
//! A raw value is normalised by removing spaces, dots and dashes; it must then
//! be 8 or 9 ASCII digits (8 is left-padded with one zero, because spreadsheets
//! drop leading zeros), must not be all zeros, and must pass the eleven-test:
//! `9*d1 + 8*d2 + 7*d3 + 6*d4 + 5*d5 + 4*d6 + 3*d7 + 2*d8 - 1*d9 ≡ 0 (mod 11)`.
//!
//! Every failure has its own [`BsnProblem`], so that reject reports can tell a
//! municipality *why* a value was refused without ever echoing the value.

use std::fmt;

/// A normalised, valid BSN: exactly nine ASCII digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bsn([u8; 9]);

impl Bsn {
    /// The nine ASCII digits.
    pub fn as_bytes(&self) -> &[u8; 9] {
        &self.0
    }

    /// The nine digits as text. Only for code that writes to the ingest
    /// quarantine or to synthetic test data: never log this.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// `Debug` never shows the number, so a BSN cannot leak through `{:?}`.
impl fmt::Debug for Bsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bsn(<redacted>)")
    }
}

/// Why a value is not a valid BSN. Each reason has a stable machine code
/// ([`BsnProblem::code`]) and a plain-language description (`Display`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BsnProblem {
    /// The value is empty or only whitespace and separators.
    Missing,
    /// The value looks like a number mangled by a spreadsheet, e.g. `1.23457E+08`
    /// (scientific notation) or `123456782.0` (decimal suffix).
    SpreadsheetDamage,
    /// After removing spaces, dots and dashes, something other than a digit remains.
    NonDigit,
    /// After normalisation the value has a length other than 8 or 9 digits.
    WrongLength,
    /// The value is all zeros.
    AllZeros,
    /// The value fails the eleven-test (a typo or a made-up number).
    ElevenTest,
}

impl BsnProblem {
    /// Every reason, in a stable order (used for report tables).
    pub const ALL: [BsnProblem; 6] = [
        BsnProblem::Missing,
        BsnProblem::SpreadsheetDamage,
        BsnProblem::NonDigit,
        BsnProblem::WrongLength,
        BsnProblem::AllZeros,
        BsnProblem::ElevenTest,
    ];

    /// Stable machine-readable code, e.g. `bsn_eleven_test`.
    pub fn code(self) -> &'static str {
        match self {
            BsnProblem::Missing => "bsn_missing",
            BsnProblem::SpreadsheetDamage => "bsn_spreadsheet_damage",
            BsnProblem::NonDigit => "bsn_non_digit",
            BsnProblem::WrongLength => "bsn_wrong_length",
            BsnProblem::AllZeros => "bsn_all_zeros",
            BsnProblem::ElevenTest => "bsn_eleven_test",
        }
    }
}

impl fmt::Display for BsnProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BsnProblem::Missing => "BSN is empty",
            BsnProblem::SpreadsheetDamage => {
                "BSN was damaged by a spreadsheet (scientific notation or decimals); \
                 format the column as text and export again"
            }
            BsnProblem::NonDigit => {
                "BSN contains characters other than digits, spaces, dots or dashes"
            }
            BsnProblem::WrongLength => "BSN does not have 8 or 9 digits",
            BsnProblem::AllZeros => "BSN is all zeros",
            BsnProblem::ElevenTest => "BSN fails the eleven-test (check the digits for a typo)",
        })
    }
}

impl std::error::Error for BsnProblem {}

/// Normalise and validate a raw BSN value.
///
/// Leading and trailing whitespace, and spaces, dots and dashes anywhere, are
/// removed; an 8-digit result is left-padded with one zero.
pub fn normalise_bsn(raw: &str) -> Result<Bsn, BsnProblem> {
    let raw = raw.trim();
    // Fast path: the overwhelmingly common case of exactly nine digits.
    let bytes = raw.as_bytes();
    if bytes.len() == 9 && bytes.iter().all(u8::is_ascii_digit) {
        let mut digits = [0u8; 9];
        digits.copy_from_slice(bytes);
        return check(digits);
    }
    if raw.is_empty() {
        return Err(BsnProblem::Missing);
    }
    // A value that reads as a valid BSN is one, even if it also looks like a
    // spreadsheet decimal (`97861097.0`); otherwise name the damage.
    normalise_separated(raw).map_err(|problem| {
        if looks_spreadsheet_damaged(raw) {
            BsnProblem::SpreadsheetDamage
        } else {
            problem
        }
    })
}

fn normalise_separated(raw: &str) -> Result<Bsn, BsnProblem> {
    let mut digits = [0u8; 9];
    let mut len = 0usize;
    for c in raw.chars() {
        match c {
            ' ' | '.' | '-' | '\u{a0}' => continue,
            '0'..='9' => {
                if len < 9 {
                    digits[len] = c as u8;
                }
                len += 1;
            }
            _ => return Err(BsnProblem::NonDigit),
        }
    }
    match len {
        0 => Err(BsnProblem::Missing),
        9 => check(digits),
        8 => {
            digits.copy_within(0..8, 1);
            digits[0] = b'0';
            check(digits)
        }
        _ => Err(BsnProblem::WrongLength),
    }
}

/// True when `digits` (nine ASCII digits) passes the eleven-test.
pub fn passes_eleven_test(digits: &[u8; 9]) -> bool {
    let mut sum: i32 = 0;
    for (i, &d) in digits.iter().enumerate().take(8) {
        sum += (9 - i as i32) * i32::from(d - b'0');
    }
    sum -= i32::from(digits[8] - b'0');
    sum.rem_euclid(11) == 0
}

/// The check digit that completes eight leading digits (ASCII or numeric
/// 0..=9 values are both accepted) into a valid BSN, or `None` when no digit
/// works (the weighted sum is 10 modulo 11) or the result would be all zeros.
///
/// Used by the synthetic-data generator and by tests to make valid BSNs.
pub fn complete_with_check_digit(first_eight: [u8; 8]) -> Option<Bsn> {
    let mut digits = [0u8; 9];
    let mut sum: u32 = 0;
    for (i, &d) in first_eight.iter().enumerate() {
        let value = if d >= b'0' { d - b'0' } else { d };
        if value > 9 {
            return None;
        }
        digits[i] = b'0' + value;
        sum += (9 - i as u32) * u32::from(value);
    }
    let check = sum % 11;
    if check > 9 {
        return None;
    }
    digits[8] = b'0' + check as u8;
    check_inner(digits).ok()
}

/// A valid BSN derived deterministically from a number, for synthetic data.
///
/// Injective for `n < 81_000_000`: `n` picks a 7-digit stem (through a
/// bijective multiplicative scramble, so consecutive `n` do not look
/// sequential) and which of the at least nine valid 8th digits to use; the
/// check digit completes it. Above that bound values repeat.
pub fn synthetic_bsn(n: u64) -> Bsn {
    const STEMS_PER_LEAD: u64 = 1_000_000;
    const MULTIPLIER: u64 = 482_711; // coprime to 10: a bijection modulo 10^6
    let n = n % 81_000_000;
    let (stem_index, choice) = (n / 9, n % 9);
    let lead = 1 + stem_index / STEMS_PER_LEAD; // 1..=9
    let body = (stem_index % STEMS_PER_LEAD * MULTIPLIER + 123_457) % STEMS_PER_LEAD;
    let stem = format!("{lead}{body:06}");
    let mut first = [0u8; 8];
    first[..7].copy_from_slice(stem.as_bytes());
    // For a fixed stem, at most one 8th digit leaves no check digit, so the
    // `choice`-th working digit always exists.
    let mut working = 0;
    for d8 in 0..=9u8 {
        first[7] = b'0' + d8;
        if let Some(bsn) = complete_with_check_digit(first) {
            if working == choice {
                return bsn;
            }
            working += 1;
        }
    }
    unreachable!("at least nine of ten 8th digits complete a stem with a non-zero lead")
}

fn check(digits: [u8; 9]) -> Result<Bsn, BsnProblem> {
    check_inner(digits)
}

fn check_inner(digits: [u8; 9]) -> Result<Bsn, BsnProblem> {
    if digits.iter().all(|&d| d == b'0') {
        return Err(BsnProblem::AllZeros);
    }
    if !passes_eleven_test(&digits) {
        return Err(BsnProblem::ElevenTest);
    }
    Ok(Bsn(digits))
}

/// Spreadsheet damage: scientific notation (`1.23457E+08`, `1,23457E+08`,
/// `123456782E0`) or a decimal suffix of zeros (`123456782.0`, `12345678,00`).
fn looks_spreadsheet_damaged(raw: &str) -> bool {
    let b = raw.as_bytes();
    if let Some(e) = b.iter().position(|&c| c == b'e' || c == b'E') {
        let (mantissa, exponent) = (&b[..e], &b[e + 1..]);
        let exponent = exponent
            .strip_prefix(b"+")
            .or_else(|| exponent.strip_prefix(b"-"))
            .unwrap_or(exponent);
        let mantissa_ok = !mantissa.is_empty()
            && mantissa.iter().any(u8::is_ascii_digit)
            && mantissa
                .iter()
                .all(|&c| c.is_ascii_digit() || c == b'.' || c == b',')
            && mantissa.iter().filter(|&&c| c == b'.' || c == b',').count() <= 1;
        return mantissa_ok && !exponent.is_empty() && exponent.iter().all(u8::is_ascii_digit);
    }
    if let Some(sep) = b.iter().rposition(|&c| c == b'.' || c == b',') {
        let (int_part, frac) = (&b[..sep], &b[sep + 1..]);
        return (8..=9).contains(&int_part.len())
            && int_part.iter().all(u8::is_ascii_digit)
            && !frac.is_empty()
            && frac.iter().all(|&c| c == b'0');
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_known_valid_numbers_in_every_written_form() {
        for raw in [
            "111222333",
            "123456782",
            " 123456782 ",
            "1234.56.782",
            "123-456-782",
            "123 456 782",
        ] {
            assert!(normalise_bsn(raw).is_ok(), "{raw} should be valid");
        }
        assert_eq!(normalise_bsn("123.456.782").unwrap().as_str(), "123456782");
    }

    #[test]
    fn eight_digits_are_left_padded() {
        // 012345672: 0+8+14+18+20+20+18+14-2 = 110 = 10*11
        let bsn = normalise_bsn("12345672").unwrap();
        assert_eq!(bsn.as_str(), "012345672");
    }

    #[test]
    fn each_failure_has_its_own_reason() {
        assert_eq!(normalise_bsn(""), Err(BsnProblem::Missing));
        assert_eq!(normalise_bsn("  "), Err(BsnProblem::Missing));
        assert_eq!(normalise_bsn(" - . "), Err(BsnProblem::Missing));
        assert_eq!(
            normalise_bsn("1.23457E+08"),
            Err(BsnProblem::SpreadsheetDamage)
        );
        assert_eq!(
            normalise_bsn("1,23457E+08"),
            Err(BsnProblem::SpreadsheetDamage)
        );
        assert_eq!(
            normalise_bsn("1.23457e8"),
            Err(BsnProblem::SpreadsheetDamage)
        );
        assert_eq!(
            normalise_bsn("123456782.0"),
            Err(BsnProblem::SpreadsheetDamage)
        );
        assert_eq!(
            normalise_bsn("12345672,00"),
            Err(BsnProblem::SpreadsheetDamage)
        );
        // A valid BSN written with a dot before a final zero stays valid.
        assert!(normalise_bsn("97861097.0").is_ok());
        assert_eq!(normalise_bsn("12345678x"), Err(BsnProblem::NonDigit));
        assert_eq!(normalise_bsn("E"), Err(BsnProblem::NonDigit));
        assert_eq!(
            normalise_bsn("１２３４５６７８２"),
            Err(BsnProblem::NonDigit)
        );
        assert_eq!(normalise_bsn("1234567"), Err(BsnProblem::WrongLength));
        assert_eq!(normalise_bsn("1234567890"), Err(BsnProblem::WrongLength));
        assert_eq!(normalise_bsn("000000000"), Err(BsnProblem::AllZeros));
        assert_eq!(normalise_bsn("00000000"), Err(BsnProblem::AllZeros));
        assert_eq!(normalise_bsn("123456789"), Err(BsnProblem::ElevenTest));
    }

    #[test]
    fn reasons_have_distinct_codes_and_never_echo_a_value() {
        let codes: std::collections::BTreeSet<_> =
            BsnProblem::ALL.iter().map(|p| p.code()).collect();
        assert_eq!(codes.len(), BsnProblem::ALL.len());
        for p in BsnProblem::ALL {
            assert!(!p
                .to_string()
                .chars()
                .any(|c| c.is_ascii_digit() && c != '8' && c != '9'));
        }
    }

    #[test]
    fn debug_redacts() {
        let bsn = normalise_bsn("123456782").unwrap();
        assert!(!format!("{bsn:?}").contains("123456782"));
    }

    #[test]
    fn check_digit_completion() {
        assert_eq!(
            complete_with_check_digit(*b"12345678").unwrap().as_str(),
            "123456782"
        );
        assert_eq!(complete_with_check_digit(*b"00000000"), None);
    }

    #[test]
    fn synthetic_bsns_are_valid_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..200_000u64 {
            let bsn = synthetic_bsn(n);
            assert!(passes_eleven_test(bsn.as_bytes()));
            assert!(seen.insert(bsn), "duplicate synthetic BSN at n={n}");
        }
    }
}
