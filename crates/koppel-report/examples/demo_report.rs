//! Writes a demo researcher package (synthetic cohort of 2,400 leavers in
//! four municipalities, the outflow pipeline's tables, linkage quality).
//!
//! ```text
//! cargo run -p koppel-report --example demo_report -- OUT_DIR [nl|en]
//! ```
//! `OUT_DIR` must be absent or empty. Used by `scripts/screenshot-report.sh`.

#[path = "../tests/common/mod.rs"]
mod common;

use koppel_disclosure::rules::Rules;
use koppel_report::{write_researcher_package, Lang};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: demo_report OUT_DIR [nl|en]")?;
    let lang: Lang = args.next().as_deref().unwrap_or("nl").parse()?;
    let rules = Rules::default();
    let protected = common::protected(2400, &rules);
    let mut ctx = common::context();
    ctx.lang = lang;
    if lang == Lang::En {
        ctx.title =
            "Leaving social assistance in 2022: situation 3, 6, 12 and 18 months later".into();
        ctx.cohort_description = "Persons whose social assistance (bijstand, IOAW or IOAZ) ended in 2022, \
            in four municipalities. The first ended assistance episode in 2022 counts, once per person."
            .into();
    }
    let summary = write_researcher_package(std::path::Path::new(&out), &protected, &rules, &ctx)?;
    println!(
        "{}: {} tables, {} figures, {} bars drawn, {} withheld",
        summary.dir.display(),
        summary.tables,
        summary.figures,
        summary.bars_drawn,
        summary.bars_withheld
    );
    Ok(())
}
