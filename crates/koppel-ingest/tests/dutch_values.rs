//! Uploads as municipal clerks make them: Dutch headers and values
//! (municipality names, end reasons in Dutch), a title line above the header
//! and a totals line at the bottom; rejections say in Dutch what is allowed,
//! the per-reason summary hides no problem behind another, and one rejected
//! row is singular.

use std::path::Path;

use koppel_ingest::{validate_file, InputKind, ValidateOptions};

mod support;
use support::{check_dutch_faults, dutch_bsn};

/// Twenty trajectories in Dutch words; a title line and a group line above
/// the header (lines 1-2, header on line 3) and a totals line at the bottom
/// (line 24). `edit` may change a data line (by its line number).
fn upload(edit: impl Fn(u64, &mut Vec<String>)) -> String {
    let mut out = String::from(
        "Trajecten gemeente Berkelland, peildatum 31-12-2023;;;;;;;\n\
         Cliënt;;Traject;;;;;\n\
         BSN;Gemeente;Trajectnummer;Instrument;Startdatum;Einddatum;Reden beëindiging;Doelgroep\n",
    );
    let reasons = ["Afgerond", "Loopt nog", "Verhuisd", "Niet afgerond"];
    let segments = ["Werk", "Perspectief", "Meedoen"];
    for i in 0..20u32 {
        let mut fields = vec![
            dutch_bsn(i, false),
            (if i % 3 == 0 { "Berkelland" } else { "GM1859" }).to_string(),
            format!("T-{i}"),
            (if i % 2 == 0 {
                "Training/cursus"
            } else {
                "Jobcoaching"
            })
            .to_string(),
            format!("{:02}-{:02}-2022", 1 + i, 1 + i % 12),
            if i % 4 == 1 {
                String::new()
            } else {
                format!("{:02}-06-2023", 1 + i)
            },
            reasons[(i % 4) as usize].to_string(),
            segments[(i % 3) as usize].to_string(),
        ];
        edit(u64::from(i) + 4, &mut fields);
        out.push_str(&fields.join(";"));
        out.push('\n');
    }
    out.push_str("Totaal;;;20 trajecten;;;;\n");
    out
}

fn validate(dir: &Path, name: &str, text: &str) -> koppel_ingest::ValidationReport {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    validate_file(InputKind::Trajectories, &path, &ValidateOptions::default()).unwrap()
}

#[test]
fn a_dutch_upload_with_title_and_totals_lines_validates_clean() {
    let dir = tempfile::tempdir().unwrap();
    let report = validate(dir.path(), "berkelland.csv", &upload(|_, _| {}));
    assert!(report.is_clean(), "{:#?}", report.problems);
    assert_eq!((report.rows_read, report.accepted), (20, 20));
    assert_eq!(
        report.header_row,
        Some(3),
        "title and group lines above the header"
    );
    assert_eq!((report.footer_rows, report.footer_row), (1, Some(24)));
    let text = report.summary_text();
    assert!(text.contains("header on line 3"), "{text}");
    assert!(text.contains("footer_row skipped: line 24"), "{text}");
}

#[test]
fn dutch_rejections_list_the_allowed_values_and_no_problem_hides() {
    let dir = tempfile::tempdir().unwrap();
    let text = upload(|line, f| match line {
        5 => {
            f[1] = "Atlantis".into();
            f[6] = "Gezellig".into();
        }
        9 => f[6] = "Misschien".into(),
        12 => f[0] = "123456789".into(),
        _ => {}
    });
    let report = validate(dir.path(), "fouten.csv", &text);
    check_dutch_faults(&report);
    assert_eq!(report.rows_by_reason["bsn_eleven_test"], 1);
    let reden = &report.problems[1].reason_nl;
    assert!(
        reden.contains("Afgerond, Niet afgerond, Loopt nog, Verhuisd of Anders"),
        "{reden}"
    );
    let html = report.to_html();
    assert!(html.contains("Loopt nog, Verhuisd of Anders"), "{html}");
}

#[test]
fn one_rejected_row_is_singular() {
    let dir = tempfile::tempdir().unwrap();
    let text = upload(|line, f| {
        if line == 7 {
            f[4] = "31-02-2023".into();
        }
    });
    let report = validate(dir.path(), "een.csv", &text);
    assert_eq!((report.rows_read, report.rejected), (20, 1));
    assert_eq!(report.problems[0].row, 7);
    assert!(report.to_html().contains("1 van de 20 regels is afgekeurd"));
}
