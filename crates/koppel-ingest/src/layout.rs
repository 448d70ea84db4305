//! The layout of a sheet as clerks make them: a title or group row above the
//! real header, and a totals row below the data.

use std::collections::HashSet;
use std::sync::Arc;

use koppel_io::HeaderChooser;

use crate::config::IngestConfig;
use crate::schema::{header_key, InputKind};

/// A chooser that takes as header the first of the candidate rows naming
/// the most columns of `kind` (by name or alias); the first row when none
/// names any (the missing-column error then tells what was expected).
pub fn header_chooser(kind: InputKind, config: &IngestConfig) -> HeaderChooser {
    let keys: HashSet<String> = kind
        .columns()
        .iter()
        .flat_map(|spec| config.columns.names(kind, spec.name))
        .map(|name| header_key(&name))
        .collect();
    Arc::new(move |rows: &[Vec<String>]| {
        let scores: Vec<usize> = rows
            .iter()
            .map(|cells| {
                let mut seen = HashSet::new();
                cells
                    .iter()
                    .map(|c| header_key(c))
                    .filter(|k| keys.contains(k) && seen.insert(k.clone()))
                    .count()
            })
            .collect();
        let best = scores.iter().copied().max().unwrap_or(0);
        if best == 0 {
            0
        } else {
            scores.iter().position(|&s| s == best).unwrap_or(0)
        }
    })
}

/// Words that open the label of a totals row (`Totaal`, `Totaal aantal`,
/// `Eindtotaal`, `Total`, `Som`, `Aantal trajecten`, …).
const TOTAL_WORDS: &[&str] = &[
    "totaal",
    "totalen",
    "eindtotaal",
    "subtotaal",
    "total",
    "totals",
    "grandtotal",
    "som",
    "aantal",
    "count",
];

/// True when a cell reads as the label of a totals row.
pub fn is_total_label(text: &str) -> bool {
    // Every totals word has letters; most cells asked about (the BSN cell
    // of every row) have none, so answer those without allocating.
    if !text.chars().any(char::is_alphabetic) {
        return false;
    }
    let first = text
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| !w.is_empty())
        .unwrap_or("");
    let word = first.to_lowercase();
    TOTAL_WORDS.contains(&word.as_str()) || header_key(text).starts_with("grandtotal")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_string()).collect()
    }

    #[test]
    fn the_header_is_the_row_naming_most_columns() {
        let config = IngestConfig::builtin().unwrap();
        let choose = header_chooser(InputKind::Trajectories, &config);
        let title = row(&["Trajecten gemeente Berkelland 2023", "", ""]);
        let group = row(&["Cliënt", "", "Traject", "", ""]);
        let header = row(&["BSN", "Gemeente", "Instrument", "Startdatum"]);
        let data = row(&["123456782", "Berkelland", "Training", "2023-01-01"]);
        assert_eq!(choose(&[header.clone(), data.clone()]), 0);
        assert_eq!(
            choose(&[title.clone(), group, header.clone(), data.clone()]),
            2
        );
        assert_eq!(choose(&[title, data]), 0);
    }

    #[test]
    fn totals_labels_are_recognised() {
        for label in [
            "Totaal",
            "TOTAAL:",
            "Totaal aantal",
            "Eindtotaal",
            "Total",
            "Grand total",
            "Aantal trajecten: 20",
        ] {
            assert!(is_total_label(label), "{label}");
        }
        for label in [
            "Training",
            "Totaalpakket re-integratie begeleiding",
            "123456782",
            "",
        ] {
            assert!(!is_total_label(label), "{label}");
        }
    }
}
