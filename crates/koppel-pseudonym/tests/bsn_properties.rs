//! Property tests of the eleven-test and normalisation (issue #2 acceptance).

use koppel_pseudonym::bsn::{complete_with_check_digit, normalise_bsn, BsnProblem};
use proptest::prelude::*;

/// Valid BSNs: any eight leading digits completed by their check digit, when one exists.
fn valid_bsn() -> impl Strategy<Value = String> {
    proptest::array::uniform8(0u8..=9).prop_filter_map("no check digit exists", |first| {
        complete_with_check_digit(first).map(|b| b.as_str().to_string())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_generated_valid_bsn_is_accepted(bsn in valid_bsn()) {
        let normalised = normalise_bsn(&bsn).unwrap();
        prop_assert_eq!(normalised.as_str(), bsn.as_str());
    }

    #[test]
    fn every_single_digit_substitution_is_rejected(bsn in valid_bsn()) {
        let digits: Vec<u8> = bsn.bytes().collect();
        for position in 0..9 {
            for replacement in b'0'..=b'9' {
                if replacement == digits[position] {
                    continue;
                }
                let mut changed = digits.clone();
                changed[position] = replacement;
                let changed = String::from_utf8(changed).unwrap();
                prop_assert_eq!(
                    normalise_bsn(&changed).map(|b| b.as_str().to_string()),
                    Err(BsnProblem::ElevenTest),
                    "substitution at {} accepted", position
                );
            }
        }
    }

    #[test]
    fn eight_digit_forms_normalise_to_the_padded_bsn(bsn in valid_bsn().prop_filter("leading zero", |b| b.starts_with('0'))) {
        let short = &bsn[1..];
        let normalised = normalise_bsn(short).unwrap();
        prop_assert_eq!(normalised.as_str(), bsn.as_str());
    }

    #[test]
    fn separators_do_not_change_the_result(bsn in valid_bsn(), cuts in proptest::collection::vec((1usize..9, prop_oneof![Just(' '), Just('.'), Just('-')]), 0..4)) {
        let mut written = bsn.clone();
        let mut cuts = cuts;
        cuts.sort_by_key(|cut| std::cmp::Reverse(cut.0));
        for (at, sep) in cuts {
            written.insert(at, sep);
        }
        let normalised = normalise_bsn(&written).unwrap();
        prop_assert_eq!(normalised.as_str(), bsn.as_str());
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,40}") {
        let _ = normalise_bsn(&text);
    }
}
