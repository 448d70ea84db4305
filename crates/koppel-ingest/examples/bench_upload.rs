//! Writes a deterministic upload-shaped CSV for the pseudonymise benchmark:
//! 8 columns, ~1% invalid BSNs. Not synthetic-population data (see `koppel
//! synth` for that): only a realistic row shape at any size.
//!
//! `cargo run --release -p koppel-ingest --example bench_upload -- OUT.csv ROWS`

use std::io::{BufWriter, Write};

use koppel_pseudonym::bsn::synthetic_bsn;

const INSTRUMENTS: [&str; 6] = [
    "loonkostensubsidie",
    "jobcoaching",
    "werkervaringsplek",
    "participatieplaats",
    "training",
    "work_first",
];

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "bench-upload.csv".into());
    let rows: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    writeln!(
        out,
        "bsn,municipality,trajectory_id,instrument,provider,start_date,end_date,end_reason"
    )?;
    for i in 0..rows {
        let bsn = synthetic_bsn(i);
        let mut bsn = bsn.as_str().to_string();
        if i % 100 == 7 {
            bsn.replace_range(8..9, if bsn.ends_with('9') { "0" } else { "9" });
        }
        let month = i % 12 + 1;
        writeln!(
            out,
            "{bsn},GM{:04},T{i:09},{},Aanbieder {},2021-{month:02}-01,2022-{month:02}-15,completed",
            i % 342 + 14,
            INSTRUMENTS[(i % 6) as usize],
            i % 40
        )?;
    }
    out.flush()?;
    eprintln!("wrote {rows} rows to {path}");
    Ok(())
}
