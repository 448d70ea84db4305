//! Rejection reasons in Dutch for the municipal clerk, with the values a
//! column allows named in Dutch.

use crate::report::reason_title_nl;

/// What a column allows, in Dutch, for a reason text.
#[derive(Clone, Debug, Default)]
pub enum Allowed {
    /// Nothing to list.
    #[default]
    Nothing,
    /// One of these values (their Dutch names).
    OneOf(Vec<String>),
    /// A municipality: a CBS code or a name.
    Municipality,
    /// An instrument of the catalogue (its Dutch names).
    Instrument(Vec<String>),
}

/// The Dutch reason for a problem with code `code` in a column whose
/// allowed values are `allowed`: the short Dutch title, then what to write
/// instead.
pub fn dutch_reason(code: &str, allowed: &Allowed) -> String {
    let title = reason_title_nl(code);
    match (code, allowed) {
        ("invalid_value", Allowed::OneOf(values)) => {
            format!("{title}. Toegestaan: {}", list(values))
        }
        ("invalid_municipality_code" | "unknown_municipality", _) => format!(
            "{title}. Toegestaan: de CBS-gemeentecode (GM + 4 cijfers, bijvoorbeeld GM1859) \
             of de naam van de gemeente (bijvoorbeeld Berkelland); ook opgeheven gemeenten \
             worden herkend"
        ),
        ("unknown_instrument", Allowed::Instrument(values)) => {
            format!("{title}. Toegestaan: {}", list(values))
        }
        _ => title.to_string(),
    }
}

/// `a, b of c`.
fn list(values: &[String]) -> String {
    match values {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} of {last}", init.join(", ")),
    }
}

/// `1 regel` / `2 regels`.
pub fn regels(n: u64) -> String {
    if n == 1 {
        "1 regel".to_string()
    } else {
        format!("{n} regels")
    }
}

/// The Dutch verdict line: `1 van de 21 regels is afgekeurd.`
pub fn rejected_line_nl(rejected: u64, total: u64) -> String {
    if total == 1 {
        return "De enige regel is afgekeurd.".to_string();
    }
    let verb = if rejected == 1 { "is" } else { "zijn" };
    format!("{rejected} van de {total} regels {verb} afgekeurd.")
}

/// The English verdict line: `1 of 21 rows was rejected.`
pub fn rejected_line_en(rejected: u64, total: u64) -> String {
    if total == 1 {
        return "The only row was rejected.".to_string();
    }
    let verb = if rejected == 1 { "was" } else { "were" };
    format!("{rejected} of {total} rows {verb} rejected.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singular_and_plural_agree() {
        assert_eq!(rejected_line_nl(1, 21), "1 van de 21 regels is afgekeurd.");
        assert_eq!(
            rejected_line_nl(3, 21),
            "3 van de 21 regels zijn afgekeurd."
        );
        assert_eq!(rejected_line_nl(1, 1), "De enige regel is afgekeurd.");
        assert_eq!(rejected_line_en(1, 21), "1 of 21 rows was rejected.");
        assert_eq!(rejected_line_en(2, 21), "2 of 21 rows were rejected.");
        assert_eq!(regels(1), "1 regel");
        assert_eq!(regels(0), "0 regels");
    }

    #[test]
    fn allowed_values_are_listed_in_dutch() {
        let allowed = Allowed::OneOf(vec![
            "Afgerond".into(),
            "Loopt nog".into(),
            "Verhuisd".into(),
        ]);
        assert_eq!(
            dutch_reason("invalid_value", &allowed),
            "Waarde niet toegestaan. Toegestaan: Afgerond, Loopt nog of Verhuisd"
        );
        assert!(dutch_reason("unknown_municipality", &Allowed::Municipality)
            .contains("naam van de gemeente"));
    }
}
