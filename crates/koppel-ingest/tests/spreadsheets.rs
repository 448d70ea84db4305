//! Workbooks as municipalities send them: .xlsx (written here with
//! rust_xlsxwriter) and .ods (zip + XML written here), with Dutch headers,
//! a title row above the header, real date cells, BSNs typed as numbers
//! (leading zero dropped), municipality names, Dutch end reasons and a
//! totals row; and a corpus of damaged workbooks (truncated, password
//! protected, empty, merged cells, the last row Excel allows) that must
//! never panic and always get a clear reason.

use std::io::Write;
use std::path::Path;

use koppel_ingest::{validate_file, IngestError, InputKind, ValidateOptions};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

mod support;
use support::{check_dutch_faults, dutch_bsn, ingest_trajectories, pseudonymiser, read_parquet};

/// A cell of a test sheet.
#[derive(Clone)]
enum C {
    S(&'static str),
    N(f64),
    D(u16, u8, u8),
    E,
}

/// A valid BSN whose first digit is 0, as a number (the zero dropped).
fn bsn_number(seed: u32) -> f64 {
    dutch_bsn(seed, true).parse().unwrap()
}

const HEADER: [&str; 8] = [
    "BSN",
    "Gemeente",
    "Trajectnummer",
    "Instrument",
    "Startdatum",
    "Einddatum",
    "Reden beëindiging",
    "Doelgroep",
];

/// Twenty trajectories in Dutch words, a title and a group row above the
/// header (rows 1-2, header on row 3), and a totals row at the bottom.
fn dutch_rows() -> Vec<Vec<C>> {
    let mut rows = vec![
        vec![C::S("Trajecten gemeente Berkelland, peildatum 31-12-2023")],
        vec![C::S("Cliënt"), C::E, C::S("Traject")],
        HEADER.iter().map(|h| C::S(h)).collect(),
    ];
    let reasons = ["Afgerond", "Loopt nog", "Verhuisd", "Niet afgerond"];
    let segments = ["Werk", "Perspectief", "Meedoen"];
    for i in 0..20u32 {
        let ongoing = i % 4 == 1;
        rows.push(vec![
            C::N(bsn_number(i)),
            C::S(if i % 3 == 0 { "Berkelland" } else { "GM1859" }),
            C::S(["T-1", "T-2", "T-3", "T-4", "T-5"][(i % 5) as usize]),
            C::S(if i % 2 == 0 {
                "Training/cursus"
            } else {
                "Jobcoaching"
            }),
            C::D(2022, 1 + (i % 12) as u8, 1 + i as u8),
            if ongoing {
                C::E
            } else {
                C::D(2023, 6, 1 + i as u8)
            },
            C::S(reasons[(i % 4) as usize]),
            C::S(segments[(i % 3) as usize]),
        ]);
    }
    rows.push(vec![C::S("Totaal"), C::E, C::E, C::S("20 trajecten")]);
    rows
}

fn write_xlsx(path: &Path, rows: &[Vec<C>], merge_title: bool) {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("Trajecten").unwrap();
    let date = Format::new().set_num_format("dd-mm-yyyy");
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell {
                C::S(s) => {
                    sheet.write_string(r, c, *s).unwrap();
                }
                C::N(x) => {
                    sheet.write_number(r, c, *x).unwrap();
                }
                C::D(y, m, d) => {
                    let value = ExcelDateTime::from_ymd(*y, *m, *d).unwrap();
                    sheet
                        .write_datetime_with_format(r, c, &value, &date)
                        .unwrap();
                }
                C::E => {}
            }
        }
    }
    if merge_title {
        sheet
            .merge_range(0, 0, 0, 7, "Trajecten gemeente Berkelland", &Format::new())
            .unwrap();
    }
    workbook.save(path).unwrap();
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An .ods file: the zip container and its XML, as LibreOffice writes them.
fn write_ods(path: &Path, rows: &[Vec<C>], password: bool) {
    let mut body = String::new();
    for row in rows {
        body.push_str("<table:table-row>");
        for cell in row {
            match cell {
                C::S(s) => body.push_str(&format!(
                    "<table:table-cell office:value-type=\"string\"><text:p>{}</text:p></table:table-cell>",
                    xml_escape(s)
                )),
                C::N(x) => body.push_str(&format!(
                    "<table:table-cell office:value-type=\"float\" office:value=\"{x}\"><text:p>{x}</text:p></table:table-cell>"
                )),
                C::D(y, m, d) => body.push_str(&format!(
                    "<table:table-cell office:value-type=\"date\" office:date-value=\"{y:04}-{m:02}-{d:02}\"><text:p>{d:02}-{m:02}-{y:04}</text:p></table:table-cell>"
                )),
                C::E => body.push_str("<table:table-cell/>"),
            }
        }
        body.push_str("</table:table-row>");
    }
    let content = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <office:document-content xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" \
         xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" \
         xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" office:version=\"1.2\">\
         <office:body><office:spreadsheet><table:table table:name=\"Blad1\">{body}</table:table>\
         </office:spreadsheet></office:body></office:document-content>"
    );
    let encryption = if password {
        "<manifest:encryption-data manifest:checksum-type=\"SHA1/1K\" manifest:checksum=\"AAAA\">\
         <manifest:algorithm manifest:algorithm-name=\"Blowfish CFB\" manifest:initialisation-vector=\"AAAA\"/>\
         </manifest:encryption-data>"
    } else {
        ""
    };
    let manifest = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\" manifest:version=\"1.2\">\
         <manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"application/vnd.oasis.opendocument.spreadsheet\"/>\
         <manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\">{encryption}</manifest:file-entry>\
         </manifest:manifest>"
    );
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    zip.start_file("META-INF/manifest.xml", deflated).unwrap();
    zip.write_all(manifest.as_bytes()).unwrap();
    zip.start_file("content.xml", deflated).unwrap();
    zip.write_all(content.as_bytes()).unwrap();
    zip.finish().unwrap();
}

fn options() -> ValidateOptions {
    ValidateOptions::default()
}

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn clean_dutch_workbook_checks(path: &Path, format: &str) {
    let report = validate_file(InputKind::Trajectories, path, &options()).unwrap();
    assert_eq!(report.format, format);
    assert!(report.is_clean(), "{:#?}", report.problems);
    assert_eq!(report.rows_read, 20);
    assert_eq!(report.accepted, 20);
    assert_eq!(
        report.header_row,
        Some(3),
        "title and group rows above the header"
    );
    assert_eq!(report.footer_rows, 1);
    assert_eq!(
        report.footer_row,
        Some(24),
        "the totals row is reported once"
    );
    assert_eq!(
        report.bsn_zeros_restored, 20,
        "every BSN had lost its leading zero"
    );
    let text = report.summary_text();
    assert!(text.contains("header on line 3"), "{text}");
    assert!(text.contains("footer_row skipped: line 24"), "{text}");
}

#[test]
fn a_dutch_xlsx_upload_validates_clean() {
    let dir = dir();
    let path = dir.path().join("berkelland.xlsx");
    write_xlsx(&path, &dutch_rows(), false);
    clean_dutch_workbook_checks(&path, "xlsx");
}

#[test]
fn a_dutch_ods_upload_validates_clean() {
    let dir = dir();
    let path = dir.path().join("berkelland.ods");
    write_ods(&path, &dutch_rows(), false);
    clean_dutch_workbook_checks(&path, "ods");
}

/// The Dutch rows with faults in rows 5 (sheet row numbers), 9 and 12.
fn faulty_rows() -> Vec<Vec<C>> {
    let mut rows = dutch_rows();
    rows[4][1] = C::S("Atlantis"); // row 5: no such municipality
    rows[4][6] = C::S("Gezellig"); // and no such end reason
    rows[8][6] = C::S("Misschien"); // row 9: no such end reason
    rows[11][0] = C::N(123_456_789.0); // row 12: fails the eleven-test
    rows
}

fn faulty_workbook_checks(path: &Path) {
    let report = validate_file(InputKind::Trajectories, path, &options()).unwrap();
    check_dutch_faults(&report);
    // Dutch reasons name the allowed values in Dutch.
    let reden = &report.problems[1].reason_nl;
    for label in [
        "Afgerond",
        "Niet afgerond",
        "Loopt nog",
        "Verhuisd",
        "Anders",
    ] {
        assert!(reden.contains(label), "{reden}");
    }
}

#[test]
fn faults_in_an_xlsx_upload_get_sheet_row_numbers_and_dutch_reasons() {
    let dir = dir();
    let path = dir.path().join("fouten.xlsx");
    write_xlsx(&path, &faulty_rows(), false);
    faulty_workbook_checks(&path);
}

#[test]
fn faults_in_an_ods_upload_get_sheet_row_numbers_and_dutch_reasons() {
    let dir = dir();
    let path = dir.path().join("fouten.ods");
    write_ods(&path, &faulty_rows(), false);
    faulty_workbook_checks(&path);
}

#[test]
fn one_rejected_row_is_singular() {
    let dir = dir();
    let path = dir.path().join("een.xlsx");
    let mut rows = dutch_rows();
    rows.insert(23, rows[3].clone());
    if let C::N(_) = rows[23][0] {
        rows[23][0] = C::N(bsn_number(99));
    }
    rows[23][4] = C::S("31-02-2023");
    write_xlsx(&path, &rows, false);
    let report = validate_file(InputKind::Trajectories, &path, &options()).unwrap();
    assert_eq!((report.rows_read, report.rejected), (21, 1));
    assert_eq!(report.problems[0].row, 24);
    assert!(report.to_html().contains("1 van de 21 regels is afgekeurd"));
}

#[test]
fn a_named_sheet_is_read_and_a_missing_one_is_named() {
    let dir = dir();
    let path = dir.path().join("berkelland.xlsx");
    write_xlsx(&path, &dutch_rows(), false);
    let mut options = options();
    options.sheet = Some("trajecten".to_string());
    let report = validate_file(InputKind::Trajectories, &path, &options).unwrap();
    assert_eq!(report.sheet.as_deref(), Some("Trajecten"));
    assert!(report.summary_text().contains("sheet 'Trajecten'"));
    options.sheet = Some("Blad2".to_string());
    let error = validate_file(InputKind::Trajectories, &path, &options).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("no sheet named 'Blad2'") && text.contains("Trajecten"),
        "{text}"
    );
}

fn read_error(path: &Path) -> String {
    let result =
        std::panic::catch_unwind(|| validate_file(InputKind::Trajectories, path, &options()));
    match result {
        Ok(Err(
            e @ (IngestError::Read(_)
            | IngestError::NoDataRows(_)
            | IngestError::MissingColumns { .. }),
        )) => {
            let text = e.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            text
        }
        Ok(other) => panic!("{}: expected a read error, got {other:?}", path.display()),
        Err(_) => panic!("{}: validation panicked", path.display()),
    }
}

/// An encrypted (password-protected) Office workbook as Excel saves it: an
/// OLE2 compound file holding an `EncryptedPackage` stream instead of a zip
/// archive. Only the container matters here, so the stream is empty.
fn encrypted_office_file() -> Vec<u8> {
    const END_OF_CHAIN: u32 = 0xFFFF_FFFE;
    const FREE: u32 = 0xFFFF_FFFF;
    let put16 = |b: &mut [u8], at: usize, v: u16| b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put32 = |b: &mut [u8], at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let mut header = vec![0u8; 512];
    header[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    put16(&mut header, 24, 0x3E); // minor version
    put16(&mut header, 26, 3); // major version: 512-byte sectors
    put16(&mut header, 28, 0xFFFE); // little endian
    put16(&mut header, 30, 9); // sector shift
    put16(&mut header, 32, 6); // mini sector shift
    put32(&mut header, 44, 1); // one FAT sector
    put32(&mut header, 48, 1); // directory in sector 1
    put32(&mut header, 56, 4096); // mini stream cutoff
    put32(&mut header, 60, END_OF_CHAIN); // no mini FAT
    put32(&mut header, 68, END_OF_CHAIN); // no DIFAT sectors
    put32(&mut header, 76, 0); // the FAT is sector 0
    for i in 1..109 {
        put32(&mut header, 76 + 4 * i, FREE);
    }
    let mut fat = vec![0xFFu8; 512];
    put32(&mut fat, 0, 0xFFFF_FFFD); // sector 0 holds the FAT
    put32(&mut fat, 4, END_OF_CHAIN); // sector 1: the directory
    let mut dir = vec![0u8; 512];
    let entry = |dir: &mut Vec<u8>, at: usize, name: &str, kind: u8, child: u32| {
        let utf16: Vec<u8> = name
            .encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect();
        dir[at..at + utf16.len()].copy_from_slice(&utf16);
        put16(dir, at + 64, utf16.len() as u16);
        dir[at + 66] = kind;
        dir[at + 67] = 1; // black
        put32(dir, at + 68, FREE); // left sibling
        put32(dir, at + 72, FREE); // right sibling
        put32(dir, at + 76, child);
        put32(dir, at + 116, END_OF_CHAIN); // start sector
    };
    entry(&mut dir, 0, "Root Entry", 5, 1);
    entry(&mut dir, 128, "EncryptedPackage", 2, FREE);
    [header, fat, dir].concat()
}

#[test]
fn damaged_workbooks_get_a_clear_reason_and_never_panic() {
    let dir = dir();
    let good = dir.path().join("good.xlsx");
    write_xlsx(&good, &dutch_rows(), false);
    let bytes = std::fs::read(&good).unwrap();

    // Truncated in transit, at several lengths.
    for cut in [
        0,
        10,
        100,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 10,
    ] {
        let truncated = dir.path().join(format!("truncated-{cut}.xlsx"));
        std::fs::write(&truncated, &bytes[..cut]).unwrap();
        let text = read_error(&truncated);
        assert!(
            text.contains("damaged or incomplete") || text.contains("empty or incomplete"),
            "{cut}: {text}"
        );
    }

    // Not a workbook at all, whatever its name says.
    let fake = dir.path().join("fake.xlsx");
    std::fs::write(&fake, b"BSN;Gemeente\n123;GM1859\n").unwrap();
    assert!(read_error(&fake).contains("not a spreadsheet workbook"));

    // Password-protected: an encrypted .xlsx and an encrypted .ods.
    let locked = dir.path().join("locked.xlsx");
    std::fs::write(&locked, encrypted_office_file()).unwrap();
    let text = read_error(&locked);
    assert!(text.contains("protected with a password"), "{text}");
    let locked = dir.path().join("locked.ods");
    write_ods(&locked, &dutch_rows(), true);
    let text = read_error(&locked);
    assert!(text.contains("protected with a password"), "{text}");

    // A workbook whose only sheet is empty.
    let empty = dir.path().join("empty.xlsx");
    let mut workbook = Workbook::new();
    workbook.add_worksheet();
    workbook.save(&empty).unwrap();
    let text = read_error(&empty);
    assert!(text.contains("is empty"), "{text}");

    // A header and nothing else.
    let header_only = dir.path().join("header.ods");
    write_ods(
        &header_only,
        &[HEADER.iter().map(|h| C::S(h)).collect()],
        false,
    );
    assert!(read_error(&header_only).contains("no data rows"));
}

#[test]
fn merged_cells_are_named_in_the_rows_they_empty() {
    let dir = dir();
    // A merged title across the header columns: the header below it is found.
    let merged = dir.path().join("merged.xlsx");
    write_xlsx(&merged, &dutch_rows(), true);
    let report = validate_file(InputKind::Trajectories, &merged, &options()).unwrap();
    assert_eq!((report.header_row, report.rejected), (Some(3), 0));

    // A municipality merged down rows 2-4: its value is in row 2 only; rows
    // 3 and 4 are rejected naming the merged block, row 5 is fine.
    let merged_data = dir.path().join("merged-data.xlsx");
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for r in 1..5u32 {
        sheet.write_number(r, 0, bsn_number(r)).unwrap();
        sheet.write_string(r, 2, "T").unwrap();
        sheet.write_string(r, 3, "Jobcoaching").unwrap();
        sheet.write_string(r, 4, "01-02-2023").unwrap();
    }
    sheet.write_string(4, 1, "GM1859").unwrap();
    sheet
        .merge_range(1, 1, 3, 1, "Berkelland", &Format::new())
        .unwrap();
    workbook.save(&merged_data).unwrap();
    let report = validate_file(InputKind::Trajectories, &merged_data, &options()).unwrap();
    assert_eq!((report.rows_read, report.rejected), (4, 2));
    let rows: Vec<(u64, &str)> = report
        .problems
        .iter()
        .map(|p| (p.row, p.reason_code.as_str()))
        .collect();
    assert_eq!(rows, vec![(3, "merged_cells"), (4, "merged_cells")]);
    assert!(
        report.problems[0].reason.contains("B2:B4"),
        "{:?}",
        report.problems[0]
    );
    assert!(report.problems[0]
        .reason_nl
        .contains("Samengevoegde cellen"));
}

#[test]
fn the_last_row_excel_allows_keeps_its_number() {
    // A sparse sheet: the header, one row, and a row on 1,048,576, the last
    // row of a sheet (the blank rows between cost nothing to read).
    let dir = dir();
    let path = dir.path().join("far.xlsx");
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for r in [1u32, 1_048_575] {
        sheet.write_number(r, 0, bsn_number(r % 100)).unwrap();
        sheet.write_string(r, 1, "GM1859").unwrap();
        sheet.write_string(r, 3, "Jobcoaching").unwrap();
        sheet.write_string(r, 4, "31-02-2023").unwrap();
    }
    workbook.save(&path).unwrap();
    let report = validate_file(InputKind::Trajectories, &path, &options()).unwrap();
    assert_eq!((report.rows_read, report.rejected), (2, 2));
    assert_eq!(report.blank_lines, 1_048_573);
    let rows: Vec<u64> = report.problems.iter().map(|p| p.row).collect();
    assert_eq!(rows, vec![2, 1_048_576]);
}

#[test]
fn a_workbook_is_pseudonymised_as_a_pipeline_input_and_no_bsn_leaves_quarantine() {
    let dir = dir();
    let path = dir.path().join("fouten.xlsx");
    write_xlsx(&path, &faulty_rows(), false);
    let out = dir.path().join("trajecten.parquet");
    let quarantine = dir.path().join("quarantine.csv");
    let report = ingest_trajectories(&path, &pseudonymiser(7), &out, &quarantine);
    assert_eq!((report.accepted, report.rejected), (17, 3));
    // Every BSN that lost its zero is restored, also in rows rejected for
    // another column (row 12's BSN fails the eleven-test).
    assert_eq!(report.bsn_zeros_restored, 19);
    let frame = read_parquet(&out);
    assert_eq!(frame.height(), 17);
    assert_eq!(
        frame.column("start_date").unwrap().dtype(),
        &polars::prelude::DataType::Date
    );
    // The quarantine holds the rejected rows, `;`-separated, by sheet row.
    let rejects = std::fs::read_to_string(&quarantine).unwrap();
    let rows: Vec<&str> = rejects
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(rows, vec!["5", "9", "12"]);
    // The report names no BSN: not as nine digits, nor as the eight a
    // number cell kept.
    let text = format!(
        "{}{}{}",
        report.summary_text(),
        report.to_csv(),
        report.to_html()
    );
    for i in 0..20u32 {
        let eight = format!("{}", bsn_number(i) as u64);
        assert!(!text.contains(&eight), "a BSN in the report");
    }
}
