//! The effects part of the researcher package: `effects/*.parquet|csv`
//! and the report section "Effecten van trajecten" / "Effects of
//! trajectories".
//!
//! The effect tables have their own shapes (one row per estimate, per
//! balance variable, per instrument), so they live in `effects/` beside the
//! long-form count tables of `tables/`:
//!
//! | file | columns |
//! |---|---|
//! | `effects/effects` | instrument, dimension, level, horizon_months, outcome, treated_n, control_n, treated_share, control_share, effect_pp, ci_low_pp, ci_high_pp, naive_pp, status |
//! | `effects/balance` | instrument, variable, smd_before, smd_after |
//! | `effects/effect_support` | instrument, treated, matched, unmatched, status |
//!
//! Shares are whole percentages, differences percentage points with one
//! decimal; `status` is `published` or `suppressed` (then every figure of
//! the row is empty). CSV files are comma-separated UTF-8 with a header and
//! `.` for an empty figure, numbers with a decimal point, in both languages,
//! so they read back exactly.
//!
//! In the report every figure is the published value of one cell, wrapped
//! in an element with `data-t` (`effects/effects`), `data-r` (row in the
//! Parquet file) and `data-c` (the column name), so it can be traced.

use std::fmt::Write as _;
use std::path::Path;

use maud::{html, Markup, PreEscaped};
use polars::prelude::*;

use crate::labels::{Labels, Lang};
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

/// Write `effects/NAME.parquet` and `.csv` for each table; returns the
/// relative paths written.
pub fn write_effect_tables(dir: &Path, t: &EffectTables) -> Result<Vec<String>, ReportError> {
    let sub = dir.join("effects");
    std::fs::create_dir_all(&sub)
        .map_err(|e| ReportError::Table(format!("{}: {e}", sub.display())))?;
    let mut written = Vec::new();
    for (name, df) in [
        ("effects", &t.effects),
        ("balance", &t.balance),
        ("effect_support", &t.support),
    ] {
        let path = sub.join(format!("{name}.parquet"));
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
        written.push(format!("effects/{name}.parquet"));
        written.push(format!("effects/{name}.csv"));
    }
    Ok(written)
}

fn tr(lang: Lang, nl: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        _ => nl,
    }
}

fn outcome_label(lang: Lang, o: &str) -> &'static str {
    match o {
        "werk" => tr(
            lang,
            "aan het werk zonder bijstand",
            "in work without assistance",
        ),
        "off_assistance" => tr(lang, "uit de bijstand", "off assistance"),
        "durable_outflow" => tr(lang, "duurzaam uit de bijstand", "durably off assistance"),
        "werk_placebo" => tr(
            lang,
            "aan het werk 12 maanden vóór de start (placebo)",
            "in work 12 months before the start (placebo)",
        ),
        _ => tr(lang, "toestand", "state"),
    }
}

fn pp(lang: Lang, v: f64) -> String {
    let s = format!("{v:+.1}");
    match lang {
        Lang::En => s,
        _ => s.replace('.', ","),
    }
}

struct Plot<'a> {
    rows: Vec<(String, &'a Est)>,
}

/// A forest plot: one line per row, the interval as a bar, the estimate as
/// a dot, the naive difference as an open diamond; zero marked.
fn forest(lang: Lang, plot: &Plot<'_>) -> Markup {
    let (label_w, plot_w, row_h) = (230.0, 360.0, 22.0);
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
                "<text class=\"efig\" data-t=\"effects/effects\" data-r=\"{}\" data-c=\"effect_pp\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{}</text>",
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

fn legend(lang: Lang) -> Markup {
    html! {
        p.legend {
            span style="color:#1f5f8b" { "●━" } " "
            (tr(lang, "geschat effect met 95%-betrouwbaarheidsinterval", "estimated effect with 95% confidence interval"))
            " · " span style="color:#c0392b" { "◇" } " "
            (tr(lang, "naïef verschil (deelnemers tegenover iedereen in de bijstand)", "naive difference (participants versus everyone on assistance)"))
        }
    }
}

fn est_table(lang: Lang, labels: &Labels, rows: &[(String, &Est)]) -> Markup {
    let f = |v: Option<f64>| v.map_or(".".to_string(), |v| pp(lang, v));
    let pct = |v: Option<f64>| v.map_or(".".to_string(), |v| format!("{v:.0}%"));
    let _ = labels;
    html! {
        table.data {
            thead { tr {
                th { "" }
                th { (tr(lang, "deelnemers", "participants")) }
                th { (tr(lang, "aandeel deelnemers", "share participants")) }
                th { (tr(lang, "aandeel vergelijking", "share comparison")) }
                th { (tr(lang, "effect (%-punt)", "effect (pp)")) }
                th { (tr(lang, "95%-interval", "95% interval")) }
                th { (tr(lang, "naïef verschil", "naive difference")) }
            } }
            tbody {
                @for (label, e) in rows {
                    tr {
                        td { (label) }
                        td.num { span.efig data-t="effects/effects" data-r=(e.row) data-c="treated_n" { (e.treated_n.map_or(".".into(), |v| format!("{v:.0}"))) } }
                        td.num { span.efig data-t="effects/effects" data-r=(e.row) data-c="treated_share" { (pct(e.treated_share)) } }
                        td.num { span.efig data-t="effects/effects" data-r=(e.row) data-c="control_share" { (pct(e.control_share)) } }
                        td.num { span.efig data-t="effects/effects" data-r=(e.row) data-c="effect_pp" { (f(e.effect)) } }
                        td.num { (f(e.lo)) " … " (f(e.hi)) }
                        td.num { span.efig data-t="effects/effects" data-r=(e.row) data-c="naive_pp" { (f(e.naive)) } }
                    }
                }
            }
        }
    }
}

/// The section title.
pub fn title(lang: Lang) -> &'static str {
    tr(lang, "Effecten van trajecten", "Effects of trajectories")
}

/// The report section, or a note when the tables cannot be read.
pub fn section_or_note(t: &EffectTables, labels: &Labels, lang: Lang) -> Markup {
    section(t, labels, lang).unwrap_or_else(|e| {
        html! { section #effects { h2 { (title(lang)) } p.note { (e.to_string()) } } }
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
    let pick = |dim: &str, h: i64, o: &str| -> Vec<(String, &Est)> {
        ests.iter()
            .filter(|e| e.dimension == dim && e.horizon == h && e.outcome == o)
            .map(|e| {
                let label = if dim == "Total" {
                    inst(&e.instrument)
                } else {
                    format!(
                        "{} · {}",
                        inst(&e.instrument),
                        labels.level(lang, dim, &e.level)
                    )
                };
                (label, e)
            })
            .collect()
    };
    let mut dims: Vec<String> = ests
        .iter()
        .filter(|e| e.dimension != "Total")
        .map(|e| e.dimension.clone())
        .collect();
    dims.sort();
    dims.dedup();
    let support = support_rows(&t.support)?;
    let balance = balance_summary(&t.balance)?;
    Ok(html! {
        section #effects {
            h2 { (title(lang)) }
            (guide(lang, t.min_effect_n))
            @for h in &horizons {
                @for o in ["werk", "off_assistance"] {
                    @let rows = pick("Total", *h, o);
                    @if !rows.is_empty() {
                        h3 { (format!("{} — {} {}", outcome_label(lang, o),
                            h, tr(lang, "maanden na de start", "months after the start"))) }
                        (legend(lang))
                        (forest(lang, &Plot { rows: rows.clone() }))
                        (est_table(lang, labels, &rows))
                    }
                }
            }
            @let placebo = pick("Total", -12, "werk_placebo");
            @if !placebo.is_empty() {
                h3 { (outcome_label(lang, "werk_placebo")) }
                p { (tr(lang,
                    "Een start kan niet veroorzaken dat iemand een jaar eerder werkte: hier hoort een effect rond nul. Een duidelijk afwijkend effect wijst op verschillen die de matching niet wegneemt.",
                    "A start cannot cause someone to have worked a year earlier: the effect here should be about zero. A clearly different value points to differences that matching does not remove.")) }
                (forest(lang, &Plot { rows: placebo.clone() }))
                (est_table(lang, labels, &placebo))
            }
            @if !dims.is_empty() {
                h3 { (tr(lang, "Voor wie werkt het?", "For whom does it work?")) }
                p { (format!("{} {} {}.", tr(lang,
                    "Effect op werk zonder bijstand",
                    "Effect on work without assistance"), main_h,
                    tr(lang, "maanden na de start, per groep; alleen groepen met genoeg deelnemers", "months after the start, per group; only groups with enough participants"))) }
                @for d in &dims {
                    @let rows = pick(d, main_h, "werk");
                    @if !rows.is_empty() {
                        h4 { (labels.dim(lang, d)) }
                        (forest(lang, &Plot { rows: rows.clone() }))
                    }
                }
            }
            h3 { (tr(lang, "Vergelijkbaarheid en bereik", "Comparability and coverage")) }
            p { (tr(lang,
                "Gestandaardiseerd verschil (SMD) van de kenmerken tussen deelnemers en vergelijkingsgroep, vóór en na weging. Onder 0,1 geldt als goed vergelijkbaar; kenmerken waarop exact is gematcht hebben na weging 0.",
                "Standardised mean difference (SMD) of the characteristics between participants and comparison group, before and after weighting. Below 0.1 counts as well balanced; characteristics matched exactly are 0 after weighting.")) }
            table.data {
                thead { tr {
                    th { (tr(lang, "instrument", "instrument")) }
                    th { (tr(lang, "deelnemers", "participants")) }
                    th { (tr(lang, "gematcht", "matched")) }
                    th { (tr(lang, "zonder vergelijking", "without comparison")) }
                    th { (tr(lang, "grootste |SMD| vóór", "largest |SMD| before")) }
                    th { (tr(lang, "grootste |SMD| na", "largest |SMD| after")) }
                } }
                tbody {
                    @for (row, name, treated, matched, unmatched) in &support {
                        @let b = balance.iter().find(|b| &b.0 == name);
                        tr {
                            td { (inst(name)) }
                            td.num { span.efig data-t="effects/effect_support" data-r=(row) data-c="treated" { (treated) } }
                            td.num { span.efig data-t="effects/effect_support" data-r=(row) data-c="matched" { (matched) } }
                            td.num { span.efig data-t="effects/effect_support" data-r=(row) data-c="unmatched" { (unmatched) } }
                            td.num { (b.map_or(".".into(), |b| format!("{:.2}", b.1))) }
                            td.num { (b.map_or(".".into(), |b| format!("{:.2}", b.2))) }
                        }
                    }
                }
            }
        }
    })
}

fn guide(lang: Lang, min_n: u64) -> Markup {
    let items: [&str; 5] = match lang {
        Lang::En => [
            "What is estimated: for people who started an instrument while on assistance, the difference between their outcome and the outcome of comparable people on assistance on the same day who did not start it that month (they may start it later). A difference of +5 percentage points means: 5 more in every 100 participants are in that situation than would have been without starting now.",
            "Comparable means: the same month, municipality, sex, age band, household type, origin, education level, assistance duration band, segment, earlier trajectories and work history in the two years before. Each participant counts once; the comparison persons of a group share that group's weight.",
            "The interval shows the uncertainty from chance: with 95% confidence the effect lies within it. An interval that includes zero means no effect can be shown.",
            "The naive difference compares participants with everyone on assistance. The gap between the naive difference and the estimate shows how much of the raw difference comes from who gets the instrument.",
            "What matching cannot rule out: differences that the registers do not show, such as motivation, health or a consultant's judgement. If those play a role, the estimate is biased. The placebo outcome gives a check.",
        ],
        _ => [
            "Wat geschat wordt: voor mensen die in de bijstand met een instrument begonnen, het verschil tussen hun uitkomst en die van vergelijkbare mensen in de bijstand op dezelfde dag die die maand niet begonnen (mogelijk wel later). Een verschil van +5 procentpunt betekent: van elke 100 deelnemers zijn er 5 meer in die situatie dan zonder nu te beginnen.",
            "Vergelijkbaar betekent: dezelfde maand, gemeente, geslacht, leeftijdsgroep, huishoudtype, herkomst, opleidingsniveau, duur in de bijstand, doelgroep (segment), eerdere trajecten en werkverleden in de twee jaar ervoor. Elke deelnemer telt één keer; de vergelijkingspersonen van een groep delen het gewicht van die groep.",
            "Het interval toont de onzekerheid door toeval: met 95% betrouwbaarheid ligt het effect erbinnen. Een interval dat nul bevat betekent dat geen effect is aan te tonen.",
            "Het naïeve verschil vergelijkt deelnemers met iedereen in de bijstand. Het verschil tussen het naïeve verschil en de schatting laat zien hoeveel van het ruwe verschil komt door wie het instrument krijgt.",
            "Wat matching niet uitsluit: verschillen die de registers niet tonen, zoals motivatie, gezondheid of het oordeel van een consulent. Spelen die mee, dan is de schatting vertekend. De placebo-uitkomst geeft een controle.",
        ],
    };
    html! {
        div.guide {
            h3 { (tr(lang, "Leeswijzer", "Reading guide")) }
            ul { @for i in items { li { (i) } } }
            p { (match lang {
                Lang::En => format!("Estimates are shown only with at least {min_n} matched participants and publishable counts; shares are rounded to whole percentages, differences to one decimal."),
                _ => format!("Schattingen staan er alleen bij minstens {min_n} gematchte deelnemers en publiceerbare aantallen; aandelen zijn afgerond op hele procenten, verschillen op één decimaal."),
            }) }
        }
    }
}

type SupportRow = (usize, String, String, String, String);

fn support_rows(df: &DataFrame) -> Result<Vec<SupportRow>, ReportError> {
    let names = strs(df, "instrument")?;
    let f = |name: &str| -> Result<Vec<String>, ReportError> {
        Ok(nums(df, name)?
            .into_iter()
            .map(|v| v.map_or(".".into(), |v| format!("{v:.0}")))
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
        assert!(!nl.contains("data-t=\"effects/effects\" data-r=\"1\""));
        let en = section(&t, &labels, Lang::En).unwrap().into_string();
        assert!(en.contains("Effects of trajectories"));
        assert!(en.contains("+17.2"));
        assert!(en.contains("What matching cannot rule out"));
        // Every traced figure names a published row.
        for part in en.split("data-t=\"effects/effects\" data-r=\"").skip(1) {
            let row: usize = part[..part.find('"').unwrap()].parse().unwrap();
            assert!([0, 2, 3].contains(&row));
        }
    }

    #[test]
    fn tables_are_written_as_parquet_and_csv() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_effect_tables(dir.path(), &tables()).unwrap();
        assert_eq!(written.len(), 6);
        let csv = std::fs::read_to_string(dir.path().join("effects/effects.csv")).unwrap();
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
