//! Wide, human-friendly CSV tables: one row per group (margins included)
//! and horizon, labels in the package language, counts then percentages,
//! `.` for anything suppressed or unavailable. Dutch: `;` separated with a
//! decimal comma (what Dutch Excel expects); English: `,` and a decimal
//! point. UTF-8 with a byte-order mark so Excel reads the labels correctly.

use std::path::Path;

use koppel_disclosure::table::TOTAL;

use crate::labels::{Labels, Lang};
use crate::model::{Kind, TableView, SUPPRESSED};
use crate::{io_err, ReportError};

fn num(lang: Lang, v: Option<f64>, decimals: usize) -> String {
    match v {
        None => SUPPRESSED.to_string(),
        Some(v) => {
            let s = format!("{v:.decimals$}");
            match lang {
                Lang::Nl => s.replace('.', ","),
                Lang::En => s,
            }
        }
    }
}

/// The header and rows of a table's wide form.
pub fn wide(t: &TableView, labels: &Labels, lang: Lang) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header: Vec<String> = t.dims.iter().map(|d| labels.dim(lang, d)).collect();
    let has_horizon = t.horizons.iter().any(Option::is_some);
    if has_horizon {
        header.push(labels.ui(lang, "horizon"));
    }
    let state_label = |s: &str| match t.kind {
        Kind::Flag if s == "yes" || s == "no" => labels.level(lang, "flag", s),
        Kind::Flag => labels.category(s, true).label_in(lang),
        _ => labels.state(lang, s),
    };
    match t.kind {
        Kind::Magnitude => header.push(labels.measure(lang, &t.measure)),
        _ => {
            for s in &t.states {
                header.push(state_label(s));
            }
            header.push(labels.ui(lang, "total"));
            for s in &t.states {
                header.push(format!("% {}", state_label(s)));
            }
        }
    }
    let mut rows = Vec::new();
    for g in t.groups(labels) {
        for h in &t.horizons {
            let mut row: Vec<String> = g
                .iter()
                .enumerate()
                .map(|(d, l)| labels.level(lang, &t.dims[d], l))
                .collect();
            if has_horizon {
                row.push(
                    h.as_deref()
                        .map(|h| labels.horizon(lang, h))
                        .unwrap_or_default(),
                );
            }
            match t.kind {
                Kind::Magnitude => {
                    row.push(num(
                        lang,
                        t.get(&g, h.as_deref(), None).and_then(|c| c.value),
                        0,
                    ));
                }
                _ => {
                    for s in &t.states {
                        row.push(num(
                            lang,
                            t.get(&g, h.as_deref(), Some(s)).and_then(|c| c.value),
                            0,
                        ));
                    }
                    row.push(num(
                        lang,
                        t.get(&g, h.as_deref(), Some(TOTAL)).and_then(|c| c.value),
                        0,
                    ));
                    for s in &t.states {
                        row.push(num(
                            lang,
                            t.get(&g, h.as_deref(), Some(s)).and_then(|c| c.percent),
                            1,
                        ));
                    }
                }
            }
            // A magnitude table lists only groups that have cells.
            if t.kind != Kind::Magnitude || t.get(&g, h.as_deref(), None).is_some() {
                rows.push(row);
            }
        }
    }
    (header, rows)
}

/// Writes `path` (the table's wide CSV).
pub fn write(path: &Path, t: &TableView, labels: &Labels, lang: Lang) -> Result<(), ReportError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    let (header, rows) = wide(t, labels, lang);
    let mut out: Vec<u8> = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .delimiter(match lang {
                Lang::Nl => b';',
                Lang::En => b',',
            })
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        let err = |e: csv::Error| ReportError::Table(format!("{}: {e}", path.display()));
        w.write_record(&header).map_err(err)?;
        for r in &rows {
            w.write_record(r).map_err(err)?;
        }
        w.flush().map_err(io_err(path))?;
    }
    std::fs::write(path, out).map_err(io_err(path))
}
