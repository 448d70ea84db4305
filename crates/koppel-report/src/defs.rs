//! The definitions of a package, built once and rendered twice: as
//! `definitions.md` and as the report's definitions section.

use koppel_disclosure::rules::{RoundingMethod, Rules};
use koppel_disclosure::table::{FLOW_SEP, TOTAL};

use crate::labels::Lang;
use crate::model::{horizon_months, Kind, TableView};
use crate::ReportContext;

/// A titled block of paragraphs and term/explanation items.
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// Heading.
    pub title: String,
    /// Paragraphs.
    pub paragraphs: Vec<String>,
    /// (term, explanation) items.
    pub items: Vec<(String, String)>,
}

fn fill(template: &str, pairs: &[(&str, String)]) -> String {
    let mut s = template.to_string();
    for (k, v) in pairs {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

fn num(lang: Lang, v: f64) -> String {
    let s = if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    };
    match lang {
        Lang::Nl => s.replace('.', ","),
        Lang::En => s,
    }
}

/// The title of a table in the report and the definitions.
pub fn table_title(t: &TableView, ctx: &ReportContext) -> String {
    let (l, lang) = (&ctx.labels, ctx.lang);
    let key = if t.kind == Kind::States {
        "states_by"
    } else {
        "flag_by"
    };
    let mut title = if t.dims.is_empty() {
        l.measure(lang, &t.measure)
    } else {
        fill(
            &l.ui(lang, key),
            &[
                ("measure", l.measure(lang, &t.measure)),
                ("dims", t.dims_label(l, lang)),
            ],
        )
    };
    // A job or wage table of one horizon names it.
    if matches!(t.kind, Kind::Job | Kind::Magnitude) && t.horizons.len() == 1 {
        if let Some(h) = t.horizons[0].as_deref() {
            title = format!("{title}, {}", l.horizon(lang, h));
        }
    }
    title
}

/// The disclosure rules in words (shared by the definitions and the
/// report's legend).
pub fn rules_text(rules: &Rules, ctx: &ReportContext) -> Vec<String> {
    let (l, lang) = (&ctx.labels, ctx.lang);
    let mut out = vec![fill(
        &l.ui(lang, "rule_min_count"),
        &[("min", rules.min_count.to_string())],
    )];
    out.push(l.ui(
        lang,
        if rules.zeros_are_disclosive {
            "rule_zeros_secret"
        } else {
            "rule_zeros"
        },
    ));
    out.push(fill(
        &l.ui(lang, "rule_magnitude"),
        &[
            ("n", rules.min_contributors.to_string()),
            ("dn", rules.dominance_n.to_string()),
            ("k", num(lang, rules.dominance_k)),
            ("p", num(lang, rules.p_percent)),
        ],
    ));
    match rules.rounding {
        RoundingMethod::None => out.push(l.ui(lang, "legend_not_rounded")),
        RoundingMethod::Nearest => out.push(fill(
            &l.ui(lang, "rule_rounding_nearest"),
            &[("base", rules.rounding_base.to_string())],
        )),
        RoundingMethod::Random => out.push(fill(
            &l.ui(lang, "rule_rounding_random"),
            &[("base", rules.rounding_base.to_string())],
        )),
    }
    if let Some(reason) = &rules.override_reason {
        if !rules.loosened.is_empty() {
            out.push(fill(
                &l.ui(lang, "rule_override"),
                &[(
                    "reason",
                    format!("{reason} ({})", rules.loosened.join("; ")),
                )],
            ));
        }
    }
    out
}

/// The legend lines for `.`, rounding and percentages.
pub fn legend_text(rules: &Rules, ctx: &ReportContext) -> Vec<(String, String)> {
    let (l, lang) = (&ctx.labels, ctx.lang);
    let mut out = vec![(".".to_string(), l.ui(lang, "legend_suppressed"))];
    let rounding = match rules.rounding {
        RoundingMethod::None => l.ui(lang, "legend_not_rounded"),
        _ => fill(
            &l.ui(lang, "legend_rounded"),
            &[("base", rules.rounding_base.to_string())],
        ),
    };
    out.push((l.ui(lang, "rounding_term"), rounding));
    out.push((l.ui(lang, "percent_term"), l.ui(lang, "legend_percent")));
    out
}

/// Builds the definition sections.
pub fn build(
    views: &[TableView],
    quality: Option<&TableView>,
    rules: &Rules,
    ctx: &ReportContext,
) -> Vec<Section> {
    let (l, lang) = (&ctx.labels, ctx.lang);
    let mut out = Vec::new();
    let mut cohort = Section {
        title: l.ui(lang, "cohort_section"),
        ..Default::default()
    };
    if !ctx.cohort_description.is_empty() {
        cohort.paragraphs.push(ctx.cohort_description.clone());
    }
    cohort.items = ctx
        .definitions
        .iter()
        .map(|d| (d.term.clone(), d.text.clone()))
        .collect();
    if !cohort.paragraphs.is_empty() || !cohort.items.is_empty() {
        out.push(cohort);
    }
    if views.iter().any(|v| v.kind == Kind::States) {
        out.push(Section {
            title: l.ui(lang, "states_defs"),
            items: l
                .states()
                .iter()
                .map(|c| (c.label_in(lang), c.description.get(lang).to_string()))
                .collect(),
            ..Default::default()
        });
    }
    let mut months: Vec<u32> = views
        .iter()
        .flat_map(|v| v.horizons.iter().flatten())
        .flat_map(|h| h.split(FLOW_SEP).map(horizon_months))
        .collect();
    months.sort_unstable();
    months.dedup();
    if !months.is_empty() {
        let names: Vec<String> = months.iter().map(u32::to_string).collect();
        let list = match names.len() {
            1 => names[0].clone(),
            n => format!(
                "{} {} {}",
                names[..n - 1].join(", "),
                l.ui(lang, "and"),
                names[n - 1]
            ),
        };
        out.push(Section {
            title: l.ui(lang, "horizons_defs"),
            paragraphs: vec![fill(&l.ui(lang, "horizons_text"), &[("list", list)])],
            ..Default::default()
        });
    }
    let mut measures: Vec<String> = Vec::new();
    for v in views {
        if !measures.contains(&v.measure) {
            measures.push(v.measure.clone());
        }
    }
    out.push(Section {
        title: l.ui(lang, "measures_defs"),
        items: measures
            .iter()
            .map(|m| (l.measure(lang, m), l.measure_description(lang, m)))
            .collect(),
        ..Default::default()
    });
    // Breakdowns: each dimension with the levels that occur.
    let mut dims: Vec<(String, Vec<String>)> = Vec::new();
    for v in views.iter().chain(quality) {
        for (d, dim) in v.dims.iter().enumerate() {
            let pos = match dims.iter().position(|(x, _)| x == dim) {
                Some(p) => p,
                None => {
                    dims.push((dim.clone(), Vec::new()));
                    dims.len() - 1
                }
            };
            for g in v.groups(l) {
                let lv = &g[d];
                if lv != TOTAL && !dims[pos].1.contains(lv) {
                    dims[pos].1.push(lv.clone());
                }
            }
        }
    }
    out.push(Section {
        title: l.ui(lang, "dimensions_defs"),
        items: dims
            .iter()
            .map(|(d, levels)| {
                let mut levels = levels.clone();
                levels.sort_by_key(|x| l.level_rank(d, x));
                let names: Vec<String> = levels.iter().map(|x| l.level(lang, d, x)).collect();
                (l.dim(lang, d), names.join("; "))
            })
            .collect(),
        ..Default::default()
    });
    out.push(Section {
        title: l.ui(lang, "rules_section"),
        paragraphs: rules_text(rules, ctx),
        ..Default::default()
    });
    out.push(Section {
        title: l.ui(lang, "legend_defs"),
        items: legend_text(rules, ctx),
        ..Default::default()
    });
    let mut tables: Vec<(String, String)> = views
        .iter()
        .map(|v| (format!("{}.csv / .parquet", v.path_id), table_title(v, ctx)))
        .collect();
    if let Some(q) = quality {
        tables.push((
            format!("{}.csv / .parquet", q.path_id),
            l.ui(lang, "linkage_section"),
        ));
    }
    out.push(Section {
        title: l.ui(lang, "tables_list"),
        items: tables,
        ..Default::default()
    });
    out
}

fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(
            ch,
            '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' | '|'
        ) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// `definitions.md`.
pub fn markdown(sections: &[Section], title: &str) -> String {
    let mut s = format!("# {}\n", md_escape(title));
    for sec in sections {
        s.push_str(&format!("\n## {}\n\n", md_escape(&sec.title)));
        for p in &sec.paragraphs {
            s.push_str(&md_escape(p));
            s.push_str("\n\n");
        }
        for (term, text) in &sec.items {
            s.push_str(&format!("- **{}**: {}\n", md_escape(term), md_escape(text)));
        }
        if !sec.items.is_empty() {
            s.push('\n');
        }
    }
    while s.ends_with("\n\n") {
        s.pop();
    }
    s
}
