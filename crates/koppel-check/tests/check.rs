//! The package check on small hand-made packages: a clean one passes, and
//! each rule catches its own tampering, naming the file and the rule.

use std::path::Path;

use koppel_check::{check_package, Rule, Rules};
use polars::prelude::*;
use sha2::{Digest, Sha256};

/// One table: sex (M, V, Total) x state (werk, bijstand, Total) at 3 months.
/// `cells` are (sex, state, value, status).
fn write_package(dir: &Path, cells: &[(&str, &str, Option<f64>, &str)], csv: &str, rules: &Rules) {
    std::fs::create_dir_all(dir.join("tables")).unwrap();
    let n = cells.len();
    let totals: std::collections::HashMap<&str, Option<f64>> = cells
        .iter()
        .filter(|c| c.1 == "Total")
        .map(|c| (c.0, c.2))
        .collect();
    let percent: Vec<Option<f64>> = cells
        .iter()
        .map(|c| match (c.1, c.2, totals[c.0]) {
            ("Total", _, _) => None,
            (_, Some(v), Some(t)) if t > 0.0 => Some((1000.0 * v / t).round() / 10.0),
            _ => None,
        })
        .collect();
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("sex".into(), cells.iter().map(|c| c.0).collect::<Vec<_>>()),
            Column::new("horizon".into(), vec!["3m"; n]),
            Column::new("measure".into(), vec!["persons"; n]),
            Column::new(
                "state".into(),
                cells.iter().map(|c| c.1).collect::<Vec<_>>(),
            ),
            Column::new(
                "value".into(),
                cells.iter().map(|c| c.2).collect::<Vec<_>>(),
            ),
            Column::new(
                "status".into(),
                cells.iter().map(|c| c.3).collect::<Vec<_>>(),
            ),
            Column::new("percent".into(), percent),
        ],
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(dir.join("tables/t.parquet")).unwrap())
        .finish(&mut df)
        .unwrap();
    std::fs::write(dir.join("tables/t.csv"), csv).unwrap();
    manifest(dir, rules);
}

/// `manifest.json` with the rules and every file's SHA-256.
fn manifest(dir: &Path, rules: &Rules) {
    let mut files = Vec::new();
    for name in ["tables/t.parquet", "tables/t.csv"] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        files.push(serde_json::json!({
            "path": name,
            "bytes": bytes.len(),
            "sha256": hex::encode(Sha256::digest(&bytes)),
        }));
    }
    let m = serde_json::json!({"rules": rules, "report": {"files": files}});
    std::fs::write(dir.join("manifest.json"), m.to_string()).unwrap();
}

const CLEAN: &[(&str, &str, Option<f64>, &str)] = &[
    ("M", "werk", Some(20.0), "published"),
    ("M", "bijstand", Some(30.0), "published"),
    ("M", "Total", Some(50.0), "published"),
    ("V", "werk", Some(15.0), "published"),
    ("V", "bijstand", Some(25.0), "published"),
    ("V", "Total", Some(40.0), "published"),
    ("Total", "werk", Some(35.0), "published"),
    ("Total", "bijstand", Some(55.0), "published"),
    ("Total", "Total", Some(90.0), "published"),
];

/// The wide CSV of `CLEAN` (Dutch: `;` and decimal commas).
const CLEAN_CSV: &str = "\u{feff}Geslacht;Periode;Werk;Bijstand;Totaal;% Werk;% Bijstand\r\n\
    Man;3 maanden;20;30;50;40,0;60,0\r\n\
    Vrouw;3 maanden;15;25;40;37,5;62,5\r\n\
    Totaal;3 maanden;35;55;90;38,9;61,1\r\n";

fn findings(dir: &Path, rules: &Rules) -> Vec<(String, Rule)> {
    check_package(dir, rules)
        .unwrap()
        .findings
        .into_iter()
        .map(|f| (f.file, f.rule))
        .collect()
}

#[test]
fn a_clean_package_passes() {
    let dir = tempfile::tempdir().unwrap();
    let rules = Rules::default();
    write_package(dir.path(), CLEAN, CLEAN_CSV, &rules);
    let report = check_package(dir.path(), &rules).unwrap();
    assert!(report.passed(), "{:?}", report.findings);
    assert_eq!((report.files, report.tables, report.rows), (2, 1, 9));
    assert_eq!(report.relations, 6);
    assert_eq!(report.figures, 3);
}

#[test]
fn a_count_raised_where_everything_is_published_breaks_a_margin() {
    let dir = tempfile::tempdir().unwrap();
    let rules = Rules::default();
    let mut cells = CLEAN.to_vec();
    cells[0].2 = Some(70.0);
    let csv = CLEAN_CSV.replace(
        "Man;3 maanden;20;30;50;40,0;60,0",
        "Man;3 maanden;70;30;50;140,0;60,0",
    );
    write_package(dir.path(), &cells, &csv, &rules);
    let found = findings(dir.path(), &rules);
    assert!(
        found.contains(&("tables/t.parquet".to_string(), Rule::Margins)),
        "{found:?}"
    );
}

#[test]
fn a_suppressed_value_shown_in_the_csv_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rules = Rules::default();
    let mut cells = CLEAN.to_vec();
    // V's werk and bijstand suppressed, and M's to protect them (old
    // statuses: still read).
    cells[0] = ("M", "werk", None, "secondary");
    cells[1] = ("M", "bijstand", None, "secondary");
    cells[3] = ("V", "werk", None, "primary");
    cells[4] = ("V", "bijstand", None, "secondary");
    let csv = CLEAN_CSV
        .replace(
            "Man;3 maanden;20;30;50;40,0;60,0",
            "Man;3 maanden;.;.;50;.;.",
        )
        .replace(
            "Vrouw;3 maanden;15;25;40;37,5;62,5",
            "Vrouw;3 maanden;.;.;40;.;.",
        );
    write_package(dir.path(), &cells, &csv, &rules);
    assert_eq!(findings(dir.path(), &rules), vec![]);
    let shown = csv.replace("Vrouw;3 maanden;.;.;40;.;.", "Vrouw;3 maanden;15;.;40;.;.");
    std::fs::write(dir.path().join("tables/t.csv"), shown).unwrap();
    manifest(dir.path(), &rules);
    let found = findings(dir.path(), &rules);
    assert!(!found.is_empty());
    assert!(
        found
            .iter()
            .all(|f| *f == ("tables/t.csv".to_string(), Rule::Figures)),
        "{found:?}"
    );
}

#[test]
fn rules_come_from_the_operator_not_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let loose = Rules {
        min_count: 3,
        override_reason: Some("small town".into()),
        ..Rules::default()
    };
    let mut cells = CLEAN.to_vec();
    cells[3].2 = Some(5.0);
    cells[5].2 = Some(30.0);
    cells[6].2 = Some(25.0);
    cells[8].2 = Some(80.0);
    let csv = "\u{feff}Geslacht;Periode;Werk;Bijstand;Totaal;% Werk;% Bijstand\r\n\
        Man;3 maanden;20;30;50;40,0;60,0\r\n\
        Vrouw;3 maanden;5;25;30;16,7;83,3\r\n\
        Totaal;3 maanden;25;55;80;31,3;68,8\r\n";
    write_package(dir.path(), &cells, csv, &loose);
    // Under the manifest's own rules this would pass; the operator's apply.
    assert_eq!(findings(dir.path(), &loose), vec![]);
    let found = findings(dir.path(), &Rules::default());
    assert!(
        found.contains(&("manifest.json".to_string(), Rule::Rules)),
        "{found:?}"
    );
    assert!(
        found.contains(&("tables/t.parquet".to_string(), Rule::Threshold)),
        "{found:?}"
    );
}

#[test]
fn missing_extra_and_changed_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rules = Rules::default();
    write_package(dir.path(), CLEAN, CLEAN_CSV, &rules);
    std::fs::write(
        dir.path().join("tables/t.csv"),
        CLEAN_CSV.replace("Man", "Men"),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let found = findings(dir.path(), &rules);
    assert!(
        found.contains(&("tables/t.csv".to_string(), Rule::Files)),
        "{found:?}"
    );
    assert!(
        found.contains(&("notes.txt".to_string(), Rule::Files)),
        "{found:?}"
    );
    std::fs::remove_file(dir.path().join("tables/t.parquet")).unwrap();
    let found = findings(dir.path(), &rules);
    assert!(
        found.contains(&("tables/t.parquet".to_string(), Rule::Files)),
        "{found:?}"
    );
}

#[test]
fn a_relation_with_one_suppressed_cell_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rules = Rules::default();
    let mut cells = CLEAN.to_vec();
    // V's werk alone withheld: it is V's total minus V's bijstand.
    cells[3] = ("V", "werk", None, "suppressed");
    let csv = CLEAN_CSV.replace(
        "Vrouw;3 maanden;15;25;40;37,5;62,5",
        "Vrouw;3 maanden;.;25;40;.;62,5",
    );
    write_package(dir.path(), &cells, &csv, &rules);
    let found = findings(dir.path(), &rules);
    assert!(
        found.contains(&("tables/t.parquet".to_string(), Rule::Audit)),
        "{found:?}"
    );
}
