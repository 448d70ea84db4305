//! Wide, human-friendly CSV tables: one row per group (margins included)
//! and horizon, labels in the package language, counts then percentages,
//! `.` for anything suppressed or unavailable. Dutch: `;` separated with a
//! decimal comma (what Dutch Excel expects); English: `,` and a decimal
//! point. UTF-8 with a byte-order mark so Excel reads the labels correctly.

use std::path::Path;

use koppel_disclosure::table::{FLOW_SEP, STATES, TOTAL, WORK_STATES};

use crate::labels::{Labels, Lang};
use crate::model::{flow_horizons, job_field, Kind, TableView, SUPPRESSED};
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

/// The columns of a count table's wide form: the split levels (states,
/// flag answers, job field levels), then for job tables the two work
/// states its total is made of.
fn split_columns(t: &TableView, labels: &Labels) -> (Vec<String>, Vec<String>) {
    let mut levels = t.states.clone();
    if t.kind == Kind::Job {
        if let Some(f) = job_field(&t.measure) {
            levels.sort_by_key(|l| labels.level_rank(f, l));
        }
    }
    let extra = if t.kind == Kind::Job {
        WORK_STATES.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    };
    (levels, extra)
}

/// The label of a split level in a table's wide form.
pub fn split_label(t: &TableView, labels: &Labels, lang: Lang, s: &str) -> String {
    match t.kind {
        Kind::Flag if s == "yes" || s == "no" => labels.level(lang, "flag", s),
        Kind::Flag => labels.category(s, true).label_in(lang),
        Kind::Job if s == TOTAL => labels.ui(lang, "in_work_total"),
        Kind::Job if !WORK_STATES.contains(&s) => {
            labels.level(lang, job_field(&t.measure).unwrap_or_default(), s)
        }
        _ if s == TOTAL => labels.ui(lang, "total"),
        _ => labels.state(lang, s),
    }
}

/// One wide row: `(group levels, horizon, state of a magnitude or the
/// from-state of a flow)`.
pub type WideKey = (Vec<String>, Option<String>, Option<String>);

/// The rows of a table's wide form, in order.
pub fn wide_keys(t: &TableView, labels: &Labels) -> Vec<WideKey> {
    let mut out = Vec::new();
    let by_state: Vec<Option<String>> = match t.kind {
        Kind::Flow => STATES
            .iter()
            .chain([&TOTAL])
            .map(|s| Some(s.to_string()))
            .collect(),
        Kind::Magnitude if !t.states.is_empty() => {
            let f = job_field(&t.measure).unwrap_or_default();
            let mut v: Vec<String> = std::iter::once(TOTAL.to_string())
                .chain(t.states.iter().cloned())
                .collect();
            v.sort_by_key(|s| labels.level_rank(f, s));
            v.into_iter().map(Some).collect()
        }
        _ => vec![None],
    };
    for g in t.groups(labels) {
        for h in &t.horizons {
            for s in &by_state {
                // A magnitude table lists only rows that have cells.
                if t.kind == Kind::Magnitude && t.get(&g, h.as_deref(), s.as_deref()).is_none() {
                    continue;
                }
                out.push((g.clone(), h.clone(), s.clone()));
            }
        }
    }
    out
}

/// A wide cell: which long-form cell (state) and column (value/percent).
#[derive(Debug, Clone, PartialEq)]
pub enum WideCell {
    /// A label column (dimension level, horizon, from-state).
    Label(String),
    /// A figure: the long-form state (`None` for magnitudes), and whether
    /// it is the percentage.
    Figure(Option<String>, bool),
}

/// The header and, per row key, the cells of a table's wide form.
pub fn wide_layout(
    t: &TableView,
    labels: &Labels,
    lang: Lang,
) -> (Vec<String>, Vec<Vec<WideCell>>) {
    let mut header: Vec<String> = t.dims.iter().map(|d| labels.dim(lang, d)).collect();
    let has_horizon = t.horizons.iter().any(Option::is_some);
    if has_horizon {
        header.push(labels.ui(lang, "horizon"));
    }
    let (levels, extra) = split_columns(t, labels);
    let mut figures: Vec<(Option<String>, bool)> = Vec::new();
    match t.kind {
        Kind::Magnitude => {
            if let Some(f) = job_field(&t.measure).filter(|_| !t.states.is_empty()) {
                header.push(labels.dim(lang, f));
            }
            header.push(labels.measure(lang, &t.measure));
            figures.push((None, false));
        }
        Kind::Flow => {
            header.push(labels.ui(lang, "flow_from").replace(" {h}", ""));
            for s in STATES.iter().chain([&TOTAL]) {
                header.push(if *s == TOTAL {
                    labels.ui(lang, "total")
                } else {
                    labels.state(lang, s)
                });
                figures.push((Some(s.to_string()), false));
            }
        }
        _ => {
            for s in levels.iter().chain([&TOTAL.to_string()]).chain(&extra) {
                header.push(split_label(t, labels, lang, s));
                figures.push((Some(s.clone()), false));
            }
            for s in &levels {
                header.push(format!("% {}", split_label(t, labels, lang, s)));
                figures.push((Some(s.clone()), true));
            }
        }
    }
    let rows = wide_keys(t, labels)
        .into_iter()
        .map(|(g, h, s)| {
            let mut row: Vec<WideCell> = g
                .iter()
                .enumerate()
                .map(|(d, l)| WideCell::Label(labels.level(lang, &t.dims[d], l)))
                .collect();
            if has_horizon {
                row.push(WideCell::Label(
                    h.as_deref()
                        .map(|h| horizon_label(labels, lang, h))
                        .unwrap_or_default(),
                ));
            }
            match t.kind {
                Kind::Flow => {
                    let from = s.clone().unwrap_or_default();
                    row.push(WideCell::Label(if from == TOTAL {
                        labels.ui(lang, "total")
                    } else {
                        labels.state(lang, &from)
                    }));
                    for (to, _) in &figures {
                        row.push(WideCell::Figure(
                            Some(format!(
                                "{from}{FLOW_SEP}{}",
                                to.as_deref().unwrap_or_default()
                            )),
                            false,
                        ));
                    }
                }
                Kind::Magnitude => {
                    if let Some(st) = &s {
                        let f = job_field(&t.measure).unwrap_or_default();
                        row.push(WideCell::Label(labels.level(lang, f, st)));
                    }
                    row.push(WideCell::Figure(s.clone(), false));
                }
                _ => row.extend(figures.iter().map(|(s, p)| WideCell::Figure(s.clone(), *p))),
            }
            row
        })
        .collect();
    (header, rows)
}

/// A horizon in a wide table (`na 6 maanden`; a flow's pair as
/// `na 6 maanden → na 12 maanden`).
pub fn horizon_label(labels: &Labels, lang: Lang, h: &str) -> String {
    match flow_horizons(h) {
        Some((a, b)) => format!("{} → {}", labels.horizon(lang, a), labels.horizon(lang, b)),
        None => labels.horizon(lang, h),
    }
}

/// The published value of a wide figure cell (`None`: suppressed or absent).
pub fn figure(t: &TableView, key: &WideKey, state: &Option<String>, percent: bool) -> Option<f64> {
    let cell = t.get(&key.0, key.1.as_deref(), state.as_deref())?;
    if percent {
        cell.percent
    } else {
        cell.value
    }
}

/// The header and rows of a table's wide form.
pub fn wide(t: &TableView, labels: &Labels, lang: Lang) -> (Vec<String>, Vec<Vec<String>>) {
    let (header, layout) = wide_layout(t, labels, lang);
    let keys = wide_keys(t, labels);
    let rows = keys
        .iter()
        .zip(layout)
        .map(|(k, row)| {
            row.into_iter()
                .map(|c| match c {
                    WideCell::Label(s) => s,
                    WideCell::Figure(s, p) => num(lang, figure(t, k, &s, p), usize::from(p)),
                })
                .collect()
        })
        .collect();
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
