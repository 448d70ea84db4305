//! The page: head, table of contents, and the sections in order
//! (summary, how to read, situations, jobs, flows, flags, trajectories,
//! wages, linkage, definitions, files).

use std::cell::Cell as Counter;

use koppel_disclosure::rules::Rules;
use koppel_schema::analysis::{TRAJECTORY_LAST, TRAJECTORY_MIX};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::{Col, Rendered, R};
use crate::defs::{self, Section};
use crate::model::{Kind, TableView};
use crate::ReportContext;

/// The report's style sheet (screen and A4 print).
const CSS: &str = include_str!("report.css");

/// Below this share of published cells a table gets the "mostly
/// suppressed" line.
const LOSS_LINE_BELOW: f64 = 0.5;

/// The tables of a report by the section they appear in.
struct Parts<'v> {
    states: Vec<&'v TableView>,
    flags: Vec<&'v TableView>,
    other_counts: Vec<&'v TableView>,
    jobs: Vec<&'v TableView>,
    flows: Vec<&'v TableView>,
    mags: Vec<&'v TableView>,
}

impl<'v> Parts<'v> {
    fn of(views: &'v [TableView]) -> Parts<'v> {
        let kind = |k: Kind| views.iter().filter(move |v| v.kind == k);
        let yes = |v: &&TableView| v.states.iter().any(|s| s == "yes");
        Parts {
            states: kind(Kind::States).collect(),
            flags: kind(Kind::Flag).filter(yes).collect(),
            other_counts: kind(Kind::Flag).filter(|v| !yes(v)).collect(),
            jobs: kind(Kind::Job).collect(),
            flows: kind(Kind::Flow).collect(),
            mags: kind(Kind::Magnitude).collect(),
        }
    }
}

/// Renders the report.
pub fn render(
    views: &[TableView],
    quality: Option<&TableView>,
    rules: &Rules,
    ctx: &ReportContext,
    definitions: &[Section],
) -> Rendered {
    let r = R {
        ctx,
        l: &ctx.labels,
        lang: ctx.lang,
        figures: Counter::new(0),
        drawn: Counter::new(0),
        withheld: Counter::new(0),
        charts: Counter::new(0),
    };
    let parts = Parts::of(views);
    let trajectory_parts: Vec<Markup> = [TRAJECTORY_LAST, TRAJECTORY_MIX]
        .iter()
        .filter_map(|d| r.trajectory_section(d, views))
        .collect();
    let effects = ctx
        .effects
        .as_ref()
        .map(|e| crate::effects::section_or_note(e, &ctx.labels, ctx.lang));
    let mut toc = r.toc(&parts, !trajectory_parts.is_empty());
    if effects.is_some() {
        let at = toc
            .iter()
            .position(|(id, _)| *id == "linkage")
            .unwrap_or(toc.len());
        toc.insert(
            at,
            ("effects", crate::effects::title(&ctx.labels, ctx.lang)),
        );
    }
    let markup = html! {
        (DOCTYPE)
        html lang=(r.ui("lang")) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content="koppel";
                title { (ctx.title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header.top { div.wrap {
                    h1 { (ctx.title) }
                    @if !ctx.cohort_description.is_empty() { p { (ctx.cohort_description) } }
                } }
                nav.toc { div.wrap { ol {
                    @for (id, name) in &toc { li { a href=(format!("#{id}")) { (name) } } }
                } } }
                main.wrap {
                    (r.summary(&parts))
                    (r.how_to_read(rules))
                    (r.table_sections(&parts, &trajectory_parts))
                    @if let Some(e) = &effects { (e) }
                    (r.linkage(quality))
                    section #definitions {
                        h2 { (r.ui("definitions_section")) }
                        (r.definitions(definitions))
                    }
                    (r.files(quality.is_some()))
                }
                footer { div.wrap { (r.ui("generated_by")) } }
            }
        }
    };
    // Counters are complete only after the macro ran.
    let html = markup.into_string();
    Rendered {
        html,
        figures: r.figures.get(),
        bars_drawn: r.drawn.get(),
        bars_withheld: r.withheld.get(),
    }
}

impl R<'_> {
    fn toc(&self, p: &Parts, trajectories: bool) -> Vec<(&'static str, String)> {
        let mut toc = vec![
            ("summary", self.ui("summary")),
            ("read", self.ui("how_to_read")),
        ];
        let sections = [
            (
                !p.states.is_empty() || !p.other_counts.is_empty(),
                "states",
                "states_section",
            ),
            (!p.jobs.is_empty(), "jobs", "jobs_section"),
            (!p.flows.is_empty(), "flows", "flow_section"),
            (!p.flags.is_empty(), "flags", "flags_section"),
            (trajectories, "trajectories", "trajectory_section"),
            (!p.mags.is_empty(), "wages", "wage_section"),
            (true, "linkage", "linkage_section"),
            (true, "definitions", "definitions_section"),
            (true, "files", "package_section"),
        ];
        for (show, id, key) in sections {
            if show {
                toc.push((id, self.ui(key)));
            }
        }
        toc
    }

    /// Cohort size, share in work, flag shares, and the whole cohort's bars.
    fn summary(&self, p: &Parts) -> Markup {
        // The cohort: the published grand total of the first count table.
        let cohort_table = p
            .states
            .first()
            .or(p.flags.first())
            .or(p.other_counts.first())
            .copied();
        let work_h = p.states.first().and_then(|t| {
            t.horizons
                .iter()
                .find(|h| h.as_deref() == Some("12m"))
                .or(t.horizons.last())
                .cloned()
        });
        html! {
            section #summary {
                h2 { (self.ui("summary")) }
                div.cards {
                    @if let Some(t) = cohort_table {
                        div.card {
                            div.big { (self.fig(t, t.group_total(&t.grand()), Col::Value)) }
                            div.what { (self.ui("cohort_size")) }
                        }
                        @if let (Some(h), Some(st)) = (&work_h, p.states.first()) {
                            div.card {
                                div.big { (self.fig(st, st.get(&st.grand(), h.as_deref(), Some("werk")), Col::Percent)) }
                                div.what { (self.l.state(self.lang, "werk")) " " (h.as_deref().map(|h| self.l.horizon(self.lang, h)).unwrap_or_default()) }
                            }
                        }
                    }
                    @for t in &p.flags {
                        div.card {
                            div.big { (self.fig(t, t.get(&t.grand(), t.horizons.first().and_then(|h| h.as_deref()), Some("yes")), Col::Percent)) }
                            div.what { (self.l.measure(self.lang, &t.measure)) }
                        }
                    }
                }
                @if let Some(t) = p.states.first() {
                    h3 { (self.ui("whole_cohort")) }
                    p.intro { (self.ui("whole_cohort_intro")) }
                    (self.swatches(&self.categories(t, false)))
                    (self.stacked(t, &[t.grand()], &self.categories(t, false)))
                }
            }
        }
    }

    fn how_to_read(&self, rules: &Rules) -> Markup {
        let legend = defs::legend_text(rules, self.ctx);
        html! {
            section #read {
                h2 { (self.ui("how_to_read")) }
                h3 { (self.ui("legend_colours")) }
                dl.defs {
                    @for c in self.l.states() {
                        dt { span.sw style=(format!("background:{}", c.color)) {} " " (c.label_in(self.lang)) }
                        dd { (c.description.get(self.lang)) }
                    }
                }
                h3 { (self.ui("legend_defs")) }
                dl.defs.symbols {
                    @for (term, text) in &legend { dt { (term) } dd { (text) } }
                    dt { span.sw.hatched {} }
                    dd { (self.ui("legend_withheld")) }
                }
            }
        }
    }

    /// A table's heading, and the line for a mostly suppressed table.
    fn table_head(&self, t: &TableView) -> Markup {
        let counted: Vec<_> = t.cells.iter().filter(|c| c.state.is_some()).collect();
        let published = counted.iter().filter(|c| c.value.is_some()).count();
        let share = published as f64 / counted.len().max(1) as f64;
        html! {
            h3 id=(format!("t-{}", t.name)) { (defs::table_title(t, self.ctx)) }
            @if t.kind != Kind::Magnitude && !counted.is_empty() && share < LOSS_LINE_BELOW {
                p.loss { span.loss-share { (self.fill("mostly_suppressed", &[
                    ("cells", crate::model::fmt_pct(self.lang, (1000.0 * share).round() / 10.0)),
                ])) } }
            }
        }
    }

    fn table_sections(&self, p: &Parts, trajectory_parts: &[Markup]) -> Markup {
        html! {
            @if !p.states.is_empty() || !p.other_counts.is_empty() {
                section #states {
                    h2 { (self.ui("states_section")) }
                    @for t in p.states.iter().chain(&p.other_counts) {
                        (self.table_head(t))
                        (self.count_section(t, false))
                    }
                }
            }
            @if !p.jobs.is_empty() {
                section #jobs {
                    h2 { (self.ui("jobs_section")) }
                    @for t in &p.jobs {
                        (self.table_head(t))
                        (self.job_section(t))
                    }
                }
            }
            @if !p.flows.is_empty() {
                section #flows {
                    h2 { (self.ui("flow_section")) }
                    @for t in &p.flows {
                        (self.table_head(t))
                        (self.flow_section(t))
                    }
                }
            }
            @if !p.flags.is_empty() {
                section #flags {
                    h2 { (self.ui("flags_section")) }
                    @for t in &p.flags {
                        (self.table_head(t))
                        @let d = self.l.measure_description(self.lang, &t.measure);
                        @if !d.is_empty() { p.intro { (d) } }
                        (self.count_section(t, false))
                    }
                }
            }
            @if !trajectory_parts.is_empty() {
                section #trajectories {
                    h2 { (self.ui("trajectory_section")) }
                    @for part in trajectory_parts { (part) }
                }
            }
            @if !p.mags.is_empty() {
                section #wages {
                    h2 { (self.ui("wage_section")) }
                    @for t in &p.mags {
                        (self.table_head(t))
                        (self.magnitude_section(t))
                    }
                }
            }
        }
    }

    fn linkage(&self, quality: Option<&TableView>) -> Markup {
        html! {
            section #linkage {
                h2 { (self.ui("linkage_section")) }
                @if let Some(q) = quality {
                    p.intro { (self.ui("linkage_intro")) " (" (self.l.linkage_unit(self.lang, &q.measure)) ")" }
                    (self.count_section(q, true))
                    h3 { (self.ui("linkage_categories")) }
                    dl.defs {
                        @for c in self.l.linkage_categories() {
                            dt { span.sw style=(format!("background:{}", c.color)) {} " " (c.label_in(self.lang)) }
                            dd { (c.description.get(self.lang)) }
                        }
                    }
                } @else {
                    p.note { (self.ui("linkage_none")) }
                }
            }
        }
    }

    fn files(&self, quality: bool) -> Markup {
        html! {
            section #files {
                h2 { (self.ui("package_section")) }
                p { (self.ui("files_intro")) }
                ul.files {
                    li { code { "report.html" } " — " (self.ui("file_report")) }
                    li { code { "tables/*.csv" } " — " (self.ui("file_csv")) }
                    li { code { "tables.xlsx" } " — " (self.ui("file_xlsx")) }
                    li { code { "tables/*.parquet" } " — " (self.ui("file_parquet")) }
                    @if quality { li { code { "quality/" } " — " (self.ui("file_quality")) } }
                    li { code { "definitions.md" } " — " (self.ui("file_definitions")) }
                    li { code { "manifest.json" } " — " (self.ui("file_manifest")) }
                }
            }
        }
    }
}
