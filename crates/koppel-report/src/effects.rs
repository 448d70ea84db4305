//! The effects part of the researcher package: `tables/effects`,
//! `tables/balance` and `tables/effect_support` (Parquet and CSV) and the
//! report section "Effecten van trajecten" / "Effects of trajectories".
//!
//! The effect tables have their own shapes (one row per estimate, per
//! balance variable, per instrument) rather than the long form of the count
//! tables beside them in `tables/`:
//!
//! | file | columns |
//! |---|---|
//! | `tables/effects` | instrument, dimension, level, horizon_months, outcome, treated_n, control_n, treated_share, control_share, effect_pp, ci_low_pp, ci_high_pp, naive_pp, status |
//! | `tables/balance` | instrument, variable, smd_before, smd_after |
//! | `tables/effect_support` | instrument, treated, matched, unmatched, status |
//!
//! Shares are whole percentages, differences percentage points with one
//! decimal; `status` is `published` or `suppressed` (then every figure of
//! the row is empty). CSV files are comma-separated UTF-8 with a header and
//! `.` for an empty figure, numbers with a decimal point, in both languages,
//! so they read back exactly.
//!
//! In the report every figure is the published value of one cell, wrapped
//! in an element with `data-t` (`tables/effects`), `data-r` (row in the
//! Parquet file) and `data-c` (the column name), so it can be traced.

use std::fmt::Write as _;
use std::path::Path;

use maud::{html, Markup, PreEscaped};
use polars::prelude::*;

use crate::labels::{Labels, Lang};
use crate::model::fmt_int;
use crate::ReportError;

/// The published effect tables handed to the package writer.
#[derive(Debug, Clone)]
pub struct EffectTables {
    /// `effects` (see the module docs for the columns).
    pub effects: DataFrame,
    /// `balance`.
    pub balance: DataFrame,
    /// `effect_support`.
    pub support: DataFrame,
    /// Smallest treated n of a published estimate (for the reading guide).
    pub min_effect_n: u64,
}

/// One effect row as read from the frame.
#[derive(Debug, Clone)]
struct Est {
    row: usize,
    instrument: String,
    dimension: String,
    level: String,
    horizon: i64,
    outcome: String,
    treated_n: Option<f64>,
    effect: Option<f64>,
    lo: Option<f64>,
    hi: Option<f64>,
    naive: Option<f64>,
    treated_share: Option<f64>,
    control_share: Option<f64>,
}

fn strs(df: &DataFrame, name: &str) -> Result<Vec<String>, ReportError> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::String))
        .map_err(|e| ReportError::Table(format!("effects: {name}: {e}")))?;
    Ok(c.str()
        .map_err(|e| ReportError::Table(format!("effects: {name}: {e}")))?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

fn nums(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, ReportError> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::Float64))
        .map_err(|e| ReportError::Table(format!("effects: {name}: {e}")))?;
    Ok(c.f64()
        .map_err(|e| ReportError::Table(format!("effects: {name}: {e}")))?
        .iter()
        .collect())
}

fn read(df: &DataFrame) -> Result<Vec<Est>, ReportError> {
    let (ins, dim, lev, out, st) = (
        strs(df, "instrument")?,
        strs(df, "dimension")?,
        strs(df, "level")?,
        strs(df, "outcome")?,
        strs(df, "status")?,
    );
    let h = nums(df, "horizon_months")?;
    let (n, e, lo, hi, nv, ts, cs) = (
        nums(df, "treated_n")?,
        nums(df, "effect_pp")?,
        nums(df, "ci_low_pp")?,
        nums(df, "ci_high_pp")?,
        nums(df, "naive_pp")?,
        nums(df, "treated_share")?,
        nums(df, "control_share")?,
    );
    Ok((0..df.height())
        .filter(|&i| st[i] == "published")
        .map(|i| Est {
            row: i,
            instrument: ins[i].clone(),
            dimension: dim[i].clone(),
            level: lev[i].clone(),
            horizon: h[i].unwrap_or(0.0) as i64,
            outcome: out[i].clone(),
            treated_n: n[i],
            effect: e[i],
            lo: lo[i],
            hi: hi[i],
            naive: nv[i],
            treated_share: ts[i],
            control_share: cs[i],
        })
        .collect())
}

fn csv_value(c: &Column, i: usize) -> String {
    match c.get(i) {
        Ok(AnyValue::Null) | Err(_) => ".".into(),
        Ok(AnyValue::String(s)) => quote(s),
        Ok(AnyValue::StringOwned(s)) => quote(s.as_str()),
        Ok(v) => v.to_string(),
    }
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Write `tables/NAME.parquet` and `.csv` for each table; returns the
/// relative paths written.
pub fn write_effect_tables(dir: &Path, t: &EffectTables) -> Result<Vec<String>, ReportError> {
    let sub = dir.join("tables");
    std::fs::create_dir_all(&sub)
        .map_err(|e| ReportError::Table(format!("{}: {e}", sub.display())))?;
    let mut written = Vec::new();
    for (name, df) in [
        ("effects", &t.effects),
        ("balance", &t.balance),
        ("effect_support", &t.support),
    ] {
        let path = sub.join(format!("{name}.parquet"));
        if path.exists() {
            return Err(ReportError::Table(format!(
                "{}: a count table has the name of an effect table ({name})",
                path.display()
            )));
        }
        let mut df = df.clone();
        let file = std::fs::File::create(&path)
            .map_err(|e| ReportError::Table(format!("{}: {e}", path.display())))?;
        ParquetWriter::new(file)
            .finish(&mut df)
            .map_err(|e| ReportError::Table(format!("{}: {e}", path.display())))?;
        let mut text = String::new();
        let cols = df.columns();
        let header: Vec<String> = cols.iter().map(|c| c.name().to_string()).collect();
        text.push_str(&header.join(","));
        text.push('\n');
        for i in 0..df.height() {
            let row: Vec<String> = cols.iter().map(|c| csv_value(c, i)).collect();
            let _ = writeln!(text, "{}", row.join(","));
        }
        let csv = sub.join(format!("{name}.csv"));
        std::fs::write(&csv, text)
            .map_err(|e| ReportError::Table(format!("{}: {e}", csv.display())))?;
        written.push(format!("tables/{name}.parquet"));
        written.push(format!("tables/{name}.csv"));
    }
    Ok(written)
}

fn outcome_label(labels: &Labels, lang: Lang, o: &str) -> String {
    match o {
        "werk" => labels.ui(lang, "effects_outcome_werk"),
        "off_assistance" => labels.ui(lang, "effects_outcome_off_assistance"),
        "durable_outflow" => labels.ui(lang, "effects_outcome_durable_outflow"),
        "werk_placebo" => labels.ui(lang, "effects_outcome_werk_placebo"),
        _ => labels.ui(lang, "effects_outcome_other"),
    }
}

/// A difference in percentage points with its sign; a value that rounds to
/// zero is shown as `+0.0`, never `-0.0`.
fn pp(lang: Lang, v: f64) -> String {
    let v = if (v * 10.0).round() == 0.0 { 0.0 } else { v };
    let s = format!("{v:+.1}");
    match lang {
        Lang::En => s,
        _ => s.replace('.', ","),
    }
}

struct Plot<'a> {
    rows: Vec<(String, &'a Est)>,
    /// Width of the label column in SVG units (see [`label_column_width`]).
    label_w: f64,
}

/// The label column a forest plot needs for its longest label at 12 px
/// (about 6.6 px per character), at least 150: long English labels such as
/// "Social activation / participation placement · Under 27" are never cut
/// at the left edge. The SVG scales to the page width.
fn label_column_width(labels: impl Iterator<Item = String>) -> f64 {
    let longest = labels.map(|l| l.chars().count()).max().unwrap_or(0);
    (longest as f64 * 6.6 + 16.0).max(150.0)
}

/// A forest plot: one line per row, the interval as a bar, the estimate as
/// a dot, the naive difference as an open diamond; zero marked.
fn forest(lang: Lang, plot: &Plot<'_>) -> Markup {
    let (label_w, plot_w, row_h) = (plot.label_w, 360.0, 22.0);
    let mut lo = 0.0f64;
    let mut hi = 0.0f64;
    for (_, e) in &plot.rows {
        for v in [e.lo, e.hi, e.naive].into_iter().flatten() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    let pad = ((hi - lo) * 0.05).max(1.0);
    let (lo, hi) = (lo - pad, hi + pad);
    let x = |v: f64| label_w + (v - lo) / (hi - lo) * plot_w;
    let height = row_h * (plot.rows.len() as f64 + 1.5);
    let zero = x(0.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart forest\" role=\"img\" viewBox=\"0 0 {w} {height}\" width=\"{w}\" height=\"{height}\">",
        w = label_w + plot_w + 70.0
    );
    let _ = write!(
        svg,
        "<line x1=\"{zero:.1}\" x2=\"{zero:.1}\" y1=\"0\" y2=\"{:.1}\" stroke=\"#888\" stroke-dasharray=\"3 3\"/>",
        height - row_h * 0.5
    );
    for (i, (label, e)) in plot.rows.iter().enumerate() {
        let y = row_h * (i as f64 + 1.0);
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"12\">{}</text>",
            label_w - 8.0,
            y + 4.0,
            maud::html! { (label) }.into_string()
        );
        if let (Some(l), Some(h)) = (e.lo, e.hi) {
            let _ = write!(
                svg,
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#1f5f8b\" stroke-width=\"3\"/>",
                x(l),
                x(h)
            );
        }
        if let Some(v) = e.effect {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"4.5\" fill=\"#1f5f8b\"><title>{}</title></circle>",
                x(v),
                pp(lang, v)
            );
            let _ = write!(
                svg,
                "<text class=\"efig\" data-t=\"tables/effects\" data-r=\"{}\" data-c=\"effect_pp\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{}</text>",
                e.row,
                label_w + plot_w + 8.0,
                y + 4.0,
                pp(lang, v)
            );
        }
        if let Some(n) = e.naive {
            let (cx, s) = (x(n), 5.0);
            let _ = write!(
                svg,
                "<path d=\"M{cx:.1} {:.1} L{:.1} {y:.1} L{cx:.1} {:.1} L{:.1} {y:.1} Z\" fill=\"none\" stroke=\"#c0392b\" stroke-width=\"1.5\"><title>{}</title></path>",
                y - s,
                cx + s,
                y + s,
                cx - s,
                pp(lang, n)
            );
        }
    }
    let yb = height - 4.0;
    for v in [lo + pad, 0.0, hi - pad] {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{yb:.1}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#555\">{}</text>",
            x(v),
            pp(lang, v)
        );
    }
    svg.push_str("</svg>");
    PreEscaped(svg)
}

fn legend(labels: &Labels, lang: Lang) -> Markup {
    html! {
        p.legend {
            span style="color:#1f5f8b" { "●━" } " "
            (labels.ui(lang, "effects_legend_estimate"))
            " · " span style="color:#c0392b" { "◇" } " "
            (labels.ui(lang, "effects_legend_naive"))
        }
    }
}

fn est_table(lang: Lang, labels: &Labels, rows: &[(String, &Est)]) -> Markup {
    let f = |v: Option<f64>| v.map_or(".".to_string(), |v| pp(lang, v));
    let pct = |v: Option<f64>| v.map_or(".".to_string(), |v| format!("{v:.0}%"));
    html! {
        table.data {
            thead { tr {
                th { "" }
                th { (labels.ui(lang, "effects_participants")) }
                th { (labels.ui(lang, "effects_share_participants")) }
                th { (labels.ui(lang, "effects_share_comparison")) }
                th { (labels.ui(lang, "effects_effect_pp")) }
                th { (labels.ui(lang, "effects_interval")) }
                th { (labels.ui(lang, "effects_naive")) }
            } }
            tbody {
                @for (label, e) in rows {
                    tr {
                        td { (label) }
                        td.num { span.efig data-t="tables/effects" data-r=(e.row) data-c="treated_n" { (e.treated_n.map_or(".".into(), |v| fmt_int(lang, v))) } }
                        td.num { span.efig data-t="tables/effects" data-r=(e.row) data-c="treated_share" { (pct(e.treated_share)) } }
                        td.num { span.efig data-t="tables/effects" data-r=(e.row) data-c="control_share" { (pct(e.control_share)) } }
                        td.num { span.efig data-t="tables/effects" data-r=(e.row) data-c="effect_pp" { (f(e.effect)) } }
                        td.num { (f(e.lo)) " … " (f(e.hi)) }
                        td.num { span.efig data-t="tables/effects" data-r=(e.row) data-c="naive_pp" { (f(e.naive)) } }
                    }
                }
            }
        }
    }
}

/// The section title.
pub fn title(labels: &Labels, lang: Lang) -> String {
    labels.ui(lang, "effects_section")
}

/// The report section, or a note when the tables cannot be read.
pub fn section_or_note(t: &EffectTables, labels: &Labels, lang: Lang) -> Markup {
    section(t, labels, lang).unwrap_or_else(|e| {
        html! { section #effects { h2 { (title(labels, lang)) } p.note { (e.to_string()) } } }
    })
}

/// The report section.
pub fn section(t: &EffectTables, labels: &Labels, lang: Lang) -> Result<Markup, ReportError> {
    let ests = read(&t.effects)?;
    let inst = |code: &str| labels.level(lang, "trajectory_last", code);
    let mut horizons: Vec<i64> = ests
        .iter()
        .filter(|e| e.outcome == "werk" && e.horizon > 0)
        .map(|e| e.horizon)
        .collect();
    horizons.sort_unstable();
    horizons.dedup();
    let main_h = if horizons.contains(&12) {
        12
    } else {
        horizons.first().copied().unwrap_or(12)
    };
    let label_of = |e: &Est| -> String {
        if e.dimension == "Total" {
            inst(&e.instrument)
        } else {
            format!(
                "{} · {}",
                inst(&e.instrument),
                labels.level(lang, &e.dimension, &e.level)
            )
        }
    };
    // One label column width for every forest plot of the section, so the
    // plots share a scale and line up on the page.
    let label_w = label_column_width(ests.iter().map(label_of));
    let pick = |dim: &str, h: i64, o: &str| -> Vec<(String, &Est)> {
        ests.iter()
            .filter(|e| e.dimension == dim && e.horizon == h && e.outcome == o)
            .map(|e| (label_of(e), e))
            .collect()
    };
    let mut dims: Vec<String> = ests
        .iter()
        .filter(|e| e.dimension != "Total")
        .map(|e| e.dimension.clone())
        .collect();
    dims.sort();
    dims.dedup();
    let support = support_rows(&t.support, lang)?;
    let balance = balance_summary(&t.balance)?;
    Ok(html! {
        section #effects {
            h2 { (title(labels, lang)) }
            (guide(labels, lang, t.min_effect_n))
            @for h in &horizons {
                @for o in ["werk", "off_assistance"] {
                    @let rows = pick("Total", *h, o);
                    @if !rows.is_empty() {
                        h3 { (format!("{} — {} {}", outcome_label(labels, lang, o),
                            h, labels.ui(lang, "effects_months_after"))) }
                        (legend(labels, lang))
                        (forest(lang, &Plot { rows: rows.clone(), label_w }))
                        (est_table(lang, labels, &rows))
                    }
                }
            }
            @let placebo = pick("Total", -12, "werk_placebo");
            @if !placebo.is_empty() {
                h3 { (outcome_label(labels, lang, "werk_placebo")) }
                p { (labels.ui(lang, "effects_placebo_text")) }
                (forest(lang, &Plot { rows: placebo.clone(), label_w }))
                (est_table(lang, labels, &placebo))
            }
            @if !dims.is_empty() {
                h3 { (labels.ui(lang, "effects_for_whom")) }
                p { (format!("{} {} {}.", labels.ui(lang, "effects_for_whom_intro"), main_h,
                    labels.ui(lang, "effects_for_whom_months"))) }
                @for d in &dims {
                    @let rows = pick(d, main_h, "werk");
                    @if !rows.is_empty() {
                        h4 { (labels.dim(lang, d)) }
                        (forest(lang, &Plot { rows: rows.clone(), label_w }))
                    }
                }
            }
            h3 { (labels.ui(lang, "effects_balance_section")) }
            p { (labels.ui(lang, "effects_balance_text")) }
            table.data {
                thead { tr {
                    th { (labels.ui(lang, "effects_instrument")) }
                    th { (labels.ui(lang, "effects_participants")) }
                    th { (labels.ui(lang, "effects_matched")) }
                    th { (labels.ui(lang, "effects_unmatched")) }
                    th { (labels.ui(lang, "effects_smd_before")) }
                    th { (labels.ui(lang, "effects_smd_after")) }
                } }
                tbody {
                    @for (row, name, treated, matched, unmatched) in &support {
                        @let b = balance.iter().find(|b| &b.0 == name);
                        tr {
                            td { (inst(name)) }
                            td.num { span.efig data-t="tables/effect_support" data-r=(row) data-c="treated" { (treated) } }
                            td.num { span.efig data-t="tables/effect_support" data-r=(row) data-c="matched" { (matched) } }
                            td.num { span.efig data-t="tables/effect_support" data-r=(row) data-c="unmatched" { (unmatched) } }
                            td.num { (b.map_or(".".into(), |b| format!("{:.2}", b.1))) }
                            td.num { (b.map_or(".".into(), |b| format!("{:.2}", b.2))) }
                        }
                    }
                }
            }
        }
    })
}

fn guide(labels: &Labels, lang: Lang, min_n: u64) -> Markup {
    let items = [
        "effects_guide_estimate",
        "effects_guide_comparable",
        "effects_guide_interval",
        "effects_guide_naive",
        "effects_guide_limits",
    ];
    html! {
        div.guide {
            h3 { (labels.ui(lang, "effects_guide")) }
            ul { @for i in items { li { (labels.ui(lang, i)) } } }
            p { (labels.ui(lang, "effects_guide_publication").replace("{n}", &min_n.to_string())) }
        }
    }
}

type SupportRow = (usize, String, String, String, String);

fn support_rows(df: &DataFrame, lang: Lang) -> Result<Vec<SupportRow>, ReportError> {
    let names = strs(df, "instrument")?;
    let f = |name: &str| -> Result<Vec<String>, ReportError> {
        Ok(nums(df, name)?
            .into_iter()
            .map(|v| v.map_or(".".into(), |v| fmt_int(lang, v)))
            .collect())
    };
    let (t, m, u) = (f("treated")?, f("matched")?, f("unmatched")?);
    Ok((0..df.height())
        .map(|i| {
            (
                i,
                names[i].clone(),
                t[i].clone(),
                m[i].clone(),
                u[i].clone(),
            )
        })
        .collect())
}

fn balance_summary(df: &DataFrame) -> Result<Vec<(String, f64, f64)>, ReportError> {
    let names = strs(df, "instrument")?;
    let (b, a) = (nums(df, "smd_before")?, nums(df, "smd_after")?);
    let mut out: Vec<(String, f64, f64)> = Vec::new();
    for i in 0..df.height() {
        let (bi, ai) = (b[i].unwrap_or(0.0).abs(), a[i].unwrap_or(0.0).abs());
        match out.iter_mut().find(|o| o.0 == names[i]) {
            Some(o) => {
                o.1 = o.1.max(bi);
                o.2 = o.2.max(ai);
            }
            None => out.push((names[i].clone(), bi, ai)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> EffectTables {
        let effects = df! {
            "instrument" => ["loonkostensubsidie", "loonkostensubsidie", "training", "loonkostensubsidie"],
            "dimension" => ["Total", "sex", "Total", "Total"],
            "level" => ["Total", "V", "Total", "Total"],
            "horizon_months" => [12i32, 12, 12, -12],
            "outcome" => ["werk", "werk", "werk", "werk_placebo"],
            "treated_n" => [Some(120.0), None, Some(300.0), Some(120.0)],
            "control_n" => [Some(400.0), None, Some(900.0), Some(400.0)],
            "treated_share" => [Some(31.0), None, Some(12.0), Some(20.0)],
            "control_share" => [Some(14.0), None, Some(10.0), Some(21.0)],
            "effect_pp" => [Some(17.2), None, Some(2.1), Some(-0.6)],
            "ci_low_pp" => [Some(9.8), None, Some(-1.5), Some(-4.0)],
            "ci_high_pp" => [Some(24.6), None, Some(5.7), Some(2.8)],
            "naive_pp" => [Some(28.4), None, Some(6.3), Some(12.0)],
            "status" => ["published", "suppressed", "published", "published"],
        }
        .unwrap();
        let balance = df! {
            "instrument" => ["loonkostensubsidie", "loonkostensubsidie"],
            "variable" => ["sex=V", "work_days"],
            "smd_before" => [Some(0.21), Some(0.45)],
            "smd_after" => [Some(0.0), Some(0.03)],
        }
        .unwrap();
        let support = df! {
            "instrument" => ["loonkostensubsidie", "training"],
            "treated" => [Some(150.0), Some(320.0)],
            "matched" => [Some(120.0), Some(300.0)],
            "unmatched" => [Some(30.0), Some(20.0)],
            "status" => ["published", "published"],
        }
        .unwrap();
        EffectTables {
            effects,
            balance,
            support,
            min_effect_n: 50,
        }
    }

    #[test]
    fn the_section_shows_published_estimates_only_in_both_languages() {
        let t = tables();
        let labels = Labels::default();
        let nl = section(&t, &labels, Lang::Nl).unwrap().into_string();
        assert!(nl.contains("Effecten van trajecten"));
        assert!(nl.contains("+17,2"), "Dutch decimal comma");
        assert!(nl.contains("+28,4"), "naive difference");
        assert!(nl.contains("Leeswijzer"));
        assert!(nl.contains("placebo"));
        assert!(nl.contains("<svg class=\"chart forest\""));
        // The suppressed subgroup row is nowhere.
        assert!(!nl.contains("data-t=\"tables/effects\" data-r=\"1\""));
        let en = section(&t, &labels, Lang::En).unwrap().into_string();
        assert!(en.contains("Effects of trajectories"));
        assert!(en.contains("+17.2"));
        assert!(en.contains("What matching cannot rule out"));
        // Every traced figure names a published row.
        for part in en.split("data-t=\"tables/effects\" data-r=\"").skip(1) {
            let row: usize = part[..part.find('"').unwrap()].parse().unwrap();
            assert!([0, 2, 3].contains(&row));
        }
    }

    /// Every forest plot of the section gives its labels the room they
    /// need: the label column (the x of the right-aligned label text) is at
    /// least ~6.6 px per character of the longest label, and every plot of
    /// the section uses the same column, so the English "Social activation /
    /// participation placement · Female" is not cut at the left edge.
    #[test]
    fn forest_labels_fit_and_every_plot_shares_one_label_column() {
        let mut t = tables();
        let instrument = Series::new(
            "instrument".into(),
            [
                "sociale_activering",
                "sociale_activering",
                "training",
                "sociale_activering",
            ],
        );
        t.effects.replace("instrument", instrument.into()).unwrap();
        t.effects
            .replace(
                "status",
                Series::new("status".into(), ["published"; 4]).into(),
            )
            .unwrap();
        let labels = Labels::default();
        let en = section(&t, &labels, Lang::En).unwrap().into_string();
        let longest = "Social activation / participation placement · Female";
        assert!(
            en.contains(longest),
            "the subgroup plot names the long label"
        );
        let mut label_xs = Vec::new();
        for svg in en.split("<svg class=\"chart forest\"").skip(1) {
            let svg = &svg[..svg.find("</svg>").unwrap()];
            for text in svg.split("<text x=\"").skip(1) {
                if text.contains("text-anchor=\"end\"") {
                    let x: f64 = text[..text.find('"').unwrap()].parse().unwrap();
                    label_xs.push(x);
                }
            }
        }
        assert!(
            label_xs.len() >= 4,
            "labels of the total, placebo and subgroup plots"
        );
        let x = label_xs[0];
        assert!(
            label_xs.iter().all(|&v| v == x),
            "one label column: {label_xs:?}"
        );
        assert!(
            x >= longest.chars().count() as f64 * 6.5,
            "label column {x} too narrow for {longest:?}"
        );
    }

    #[test]
    fn differences_keep_their_sign_except_a_rounded_zero() {
        assert_eq!(pp(Lang::Nl, -0.04), "+0,0");
        assert_eq!(pp(Lang::En, -0.0), "+0.0");
        assert_eq!(pp(Lang::En, -0.06), "-0.1");
        assert_eq!(pp(Lang::Nl, 17.25), "+17,2");
    }

    #[test]
    fn tables_are_written_as_parquet_and_csv() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_effect_tables(dir.path(), &tables()).unwrap();
        assert_eq!(written.len(), 6);
        let csv = std::fs::read_to_string(dir.path().join("tables/effects.csv")).unwrap();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next().unwrap(),
            "instrument,dimension,level,horizon_months,outcome,treated_n,control_n,treated_share,control_share,effect_pp,ci_low_pp,ci_high_pp,naive_pp,status"
        );
        assert_eq!(
            lines.nth(1).unwrap(),
            "loonkostensubsidie,sex,V,12,werk,.,.,.,.,.,.,.,.,suppressed"
        );
    }
}
