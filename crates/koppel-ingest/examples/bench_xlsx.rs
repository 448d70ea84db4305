//! Benchmark of `validate_file` on a 1,000,000-row .xlsx workbook, as a
//! municipality exports it from Excel: Dutch headers, a title row above the
//! header, BSNs typed as numbers (leading zero dropped), date cells, Dutch
//! end reasons and municipality names, ~1% faulty rows. Writes the workbook
//! first if absent (rust_xlsxwriter in constant-memory mode), then times
//! `validate_file` on it in this process; `make bench-ingest` then measures
//! `koppel validate` on the same file (wall time, rows/s, peak memory).
//!
//! `cargo run --release -p koppel-ingest --example bench_xlsx -- FILE ROWS`

use std::path::Path;
use std::time::Instant;

use koppel_ingest::{validate_file, InputKind, ValidateOptions};
use koppel_pseudonym::bsn::synthetic_bsn;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, XlsxError};

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
const MUNICIPALITIES: [&str; 4] = ["Berkelland", "GM0363", "Utrecht", "GM0599"];
const INSTRUMENTS: [&str; 3] = ["Loonkostensubsidie", "Jobcoaching", "Training/cursus"];
const REASONS: [&str; 4] = ["Afgerond", "Loopt nog", "Verhuisd", "Niet afgerond"];

fn write_workbook(path: &Path, rows: u32) -> Result<(), XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet_with_constant_memory()?;
    let date = Format::new().set_num_format("dd-mm-yyyy");
    sheet.write_string(0, 0, "Trajecten, export uit het cliëntvolgsysteem")?;
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string(1, c as u16, *h)?;
    }
    for i in 0..rows {
        let r = i + 2;
        let mut bsn = synthetic_bsn(u64::from(i)).as_str().to_string();
        if i % 100 == 7 {
            bsn.replace_range(8..9, if bsn.ends_with('9') { "0" } else { "9" });
        }
        sheet.write_number(r, 0, bsn.parse::<f64>().unwrap_or(0.0))?;
        sheet.write_string(r, 1, MUNICIPALITIES[(i % 4) as usize])?;
        sheet.write_number(r, 2, f64::from(i))?;
        sheet.write_string(r, 3, INSTRUMENTS[(i % 3) as usize])?;
        let month = (i % 12 + 1) as u8;
        sheet.write_datetime_with_format(r, 4, &ExcelDateTime::from_ymd(2021, month, 1)?, &date)?;
        if i % 4 != 1 {
            sheet.write_datetime_with_format(
                r,
                5,
                &ExcelDateTime::from_ymd(2022, month, 15)?,
                &date,
            )?;
        }
        sheet.write_string(r, 6, REASONS[(i % 4) as usize])?;
        sheet.write_string(r, 7, "Werk")?;
    }
    workbook.save(path)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "target/bench/upload-nl-1m.xlsx".to_string());
    let rows: u32 = args
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let path = Path::new(&path);
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create the output directory");
        }
        let start = Instant::now();
        write_workbook(path, rows).expect("write the workbook");
        println!(
            "wrote {} ({rows} rows) in {:.1} s",
            path.display(),
            start.elapsed().as_secs_f64()
        );
    }
    let options = ValidateOptions::default();
    let start = Instant::now();
    let report = validate_file(InputKind::Trajectories, path, &options).expect("validate");
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "validate_file xlsx: {} rows in {seconds:.2} s = {:.0} rows/s (accepted {}, rejected {}, header on row {:?})",
        report.rows_read,
        report.rows_read as f64 / seconds,
        report.accepted,
        report.rejected,
        report.header_row
    );
}
