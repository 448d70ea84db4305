//! Benchmark of `validate_file` and `ingest_file` on a large upload (issue #5:
//! target ≥ 1 million rows/s on 2 cores). Writes the upload first if absent:
//! a Dutch Excel-style export (semicolons, Windows-1252, CRLF, DD-MM-YYYY,
//! Dutch instrument labels, real CBS codes, ~1% faulty rows).
//!
//! `cargo run --release -p koppel-ingest --example bench_ingest -- FILE ROWS`

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use koppel_ingest::{ingest_file, validate_file, InputKind, ValidateOptions};
use koppel_pseudonym::bsn::synthetic_bsn;
use koppel_pseudonym::{Key, Pseudonymiser};

const INSTRUMENTS: [&str; 6] = [
    "Loonkostensubsidie",
    "Jobcoaching",
    "Werkervaringsplek",
    "Sociale activering / participatieplaats",
    "Training/cursus",
    "Individuele trajectbegeleiding",
];
const MUNICIPALITIES: [&str; 8] = [
    "GM0363", "GM0599", "GM0518", "GM0344", "GM1859", "GM0153", "GM0014", "GM0772",
];
const PROVIDERS: [&str; 4] = [
    "Werkbedrijf Regio",
    "Stichting Caf\u{e9} Participatie",
    "\"Uitzendbureau Flex, Zuid\"",
    "Coachingspraktijk Zo\u{eb}",
];

fn write_upload(path: &Path, rows: u64) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    out.write_all(
        b"BSN;Gemeente;Trajectnummer;Instrument;Aanbieder;Startdatum;Einddatum;Reden be\xebindiging;Doelgroep\r\n",
    )?;
    for i in 0..rows {
        let mut bsn = synthetic_bsn(i).as_str().to_string();
        if i % 100 == 7 {
            bsn.replace_range(8..9, if bsn.ends_with('9') { "0" } else { "9" });
        }
        let month = i % 12 + 1;
        let line = format!(
            "{bsn};{};T{i:09};{};{};01-{month:02}-2021;{}-{month:02}-2022;completed;werk\r\n",
            MUNICIPALITIES[(i % 8) as usize],
            INSTRUMENTS[(i % 6) as usize],
            PROVIDERS[(i % 4) as usize],
            if i % 250 == 3 { 31 } else { 15 },
        );
        out.write_all(&latin1(&line))?;
    }
    out.flush()
}

/// Windows-1252 bytes of text in its Latin-1 range (enough for the texts above).
fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "target/bench/upload-nl-10m.csv".into());
    let rows: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let path = Path::new(&path);
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        eprintln!("writing {rows} rows to {}", path.display());
        write_upload(path, rows)?;
    }
    let bytes = std::fs::metadata(path)?.len();
    let options = ValidateOptions::default();
    println!(
        "input: {} ({:.0} MB), {} threads",
        path.display(),
        bytes as f64 / 1e6,
        rayon::current_num_threads()
    );
    let start = Instant::now();
    let report = validate_file(InputKind::Trajectories, path, &options)?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "validate: {} rows ({} rejected) in {secs:.2} s = {:.2} million rows/s",
        report.rows_read,
        report.rejected,
        report.rows_read as f64 / secs / 1e6
    );
    let key = Key::from_bytes([42u8; 32]);
    let pseudonymiser = Pseudonymiser::new(&key);
    let out = path.with_extension("ingested.parquet");
    let quarantine = path.with_extension("quarantine.csv");
    let start = Instant::now();
    let report = ingest_file(
        InputKind::Trajectories,
        path,
        &pseudonymiser,
        &out,
        &quarantine,
        &options,
    )?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "ingest (validate + pseudonymise + Parquet): {} rows ({} accepted) in {secs:.2} s = {:.2} million rows/s",
        report.rows_read,
        report.accepted,
        report.rows_read as f64 / secs / 1e6
    );
    Ok(())
}
