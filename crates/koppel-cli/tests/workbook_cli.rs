//! `koppel validate` and `koppel pseudonymise` on workbooks: exit codes 0
//! (clean), 1 (rows rejected) and 2 (unreadable, printed once with the path
//! and a plain reason), sheet row numbers, and no BSN on screen.

use std::path::Path;

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

mod support;
use support::{koppel, new_key, text};

/// The BSNs of the workbook: 012345672 (typed as a number, so it reads
/// 12345672) and 111222333, both passing the eleven-test.
const BSNS: [(f64, &str, &str); 2] = [
    (12_345_672.0, "012345672", "12345672"),
    (111_222_333.0, "111222333", "111222333"),
];

/// A trajectory workbook in Dutch with a title row (header on row 2) in a
/// sheet named `Trajecten` after an empty first sheet; `end_reason` of the
/// second data row (sheet row 4) is `reason`.
fn workbook(path: &Path, reason: &str) {
    let mut workbook = Workbook::new();
    workbook.add_worksheet().set_name("Leeg").unwrap();
    let sheet = workbook.add_worksheet();
    sheet.set_name("Trajecten").unwrap();
    let date = Format::new().set_num_format("dd-mm-yyyy");
    sheet.write_string(0, 0, "Trajecten 2023").unwrap();
    let header = [
        "BSN",
        "Gemeente",
        "Instrument",
        "Startdatum",
        "Reden beëindiging",
    ];
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(1, c as u16, *h).unwrap();
    }
    for (r, ((bsn, _, _), why)) in BSNS.iter().zip(["Afgerond", reason]).enumerate() {
        let r = r as u32 + 2;
        sheet.write_number(r, 0, *bsn).unwrap();
        sheet.write_string(r, 1, "Berkelland").unwrap();
        sheet.write_string(r, 2, "Jobcoaching").unwrap();
        let start = ExcelDateTime::from_ymd(2023, 3, 1).unwrap();
        sheet
            .write_datetime_with_format(r, 3, &start, &date)
            .unwrap();
        sheet.write_string(r, 4, why).unwrap();
    }
    workbook.save(path).unwrap();
}

fn assert_no_bsn(what: &str, haystack: &str) {
    for (_, nine, shown) in BSNS {
        assert!(
            !haystack.contains(nine) && !haystack.contains(shown),
            "{what} shows a BSN"
        );
    }
}

#[test]
fn workbooks_validate_with_the_expected_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("schoon.xlsx");
    workbook(&clean, "Loopt nog");
    let validate = |file: &Path, extra: &[&str]| {
        let mut args = vec!["validate", "--kind", "trajectories", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        koppel(&args)
    };

    // The first sheet is empty: it is said so, and which sheet to name.
    let out = validate(&clean, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("sheet 'Leeg' is empty") && stderr.contains("--sheet"));

    let out = validate(&clean, &["--sheet", "Trajecten"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("xlsx, sheet 'Trajecten'"), "{stdout}");
    assert!(stdout.contains("header on line 2"), "{stdout}");
    assert!(
        stdout.contains("rows read: 2 / accepted: 2 / rejected: 0"),
        "{stdout}"
    );
    assert!(stdout.contains("1 BSN (row 3)"), "{stdout}");
    assert_no_bsn("validate", &stdout);

    let faulty = dir.path().join("fout.xlsx");
    workbook(&faulty, "Misschien");
    let html = dir.path().join("controle.html");
    let out = validate(
        &faulty,
        &["--sheet", "trajecten", "--report", html.to_str().unwrap()],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("row 4") && stdout.contains("invalid_value"),
        "{stdout}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("1 van de 2 regels is afgekeurd"), "{page}");
    assert!(
        page.contains("Afgerond, Niet afgerond, Loopt nog, Verhuisd of Anders"),
        "{page}"
    );
    assert_no_bsn("the report", &page);

    let damaged = dir.path().join("kapot.xlsx");
    let bytes = std::fs::read(&clean).unwrap();
    std::fs::write(&damaged, &bytes[..bytes.len() / 3]).unwrap();
    let out = validate(&damaged, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "printed once: {stderr}");
    assert!(
        stderr.contains("kapot.xlsx") && stderr.contains("damaged or incomplete"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn workbooks_are_pseudonymised_with_and_without_kind() {
    let dir = tempfile::tempdir().unwrap();
    let key = new_key(dir.path());
    let input = dir.path().join("trajecten.xlsx");
    workbook(&input, "Loopt nog");
    let key = key.to_str().unwrap();
    let input = input.to_str().unwrap();
    let pseudonymise = |extra: &[&str], out: &Path| {
        let mut args = vec![
            "pseudonymise",
            "--key",
            key,
            "--in",
            input,
            "--sheet",
            "Trajecten",
        ];
        args.extend_from_slice(extra);
        args.extend(["--out", out.to_str().unwrap()]);
        koppel(&args)
    };

    // Without --kind: the header found below the title row, the BSN column
    // replaced, the lost leading zero restored.
    let plain = dir.path().join("plain.parquet");
    let out = pseudonymise(&[], &plain);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("pseudonymised: 2 / rejected: 0"),
        "{stdout}"
    );
    assert!(stdout.contains("1 BSN typed as a number"), "{stdout}");
    assert_no_bsn("pseudonymise", &format!("{stdout}{}", text(&out.stderr)));
    let bytes = std::fs::read(&plain).unwrap();
    assert_no_bsn("the Parquet output", &String::from_utf8_lossy(&bytes));

    // With --kind: validated and typed as ingest does; a pipeline input.
    let typed = dir.path().join("typed.parquet");
    let out = pseudonymise(&["--kind", "trajectories"], &typed);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("accepted: 2"), "{stdout}");
    assert!(stdout.contains("1 BSN (row 3)"), "{stdout}");
    assert_no_bsn(
        "pseudonymise --kind",
        &format!("{stdout}{}", text(&out.stderr)),
    );
    let bytes = std::fs::read(&typed).unwrap();
    assert_no_bsn("the Parquet output", &String::from_utf8_lossy(&bytes));
}
