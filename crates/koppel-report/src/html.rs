//! `report.html`: one self-contained page (inline CSS and SVG, no script, no
//! external resource). See the crate docs for the figure markup and the
//! rule for bars with suppressed cells.

use std::cell::Cell as Counter;

use koppel_disclosure::rules::Rules;
use koppel_disclosure::table::TOTAL;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::defs::{self, Section};
use crate::labels::{Category, Labels, Lang};
use crate::model::{fmt_eur, fmt_int, fmt_pct, Cell, Kind, TableView, SUPPRESSED};
use crate::ReportContext;

/// The rendered report and what it contains.
pub struct Rendered {
    /// The HTML.
    pub html: String,
    /// Figure elements (published values, percentages, or `.`).
    pub figures: usize,
    /// Stacked bars drawn.
    pub bars_drawn: usize,
    /// Stacked bars withheld (placeholder).
    pub bars_withheld: usize,
}

/// Largest number of groups drawn in one chart (bigger tables: figures only).
const MAX_CHART_GROUPS: usize = 60;

// Chart geometry (SVG user units; the SVG scales to the page width).
const W: f64 = 880.0;
const LABEL_W: f64 = 262.0;
const HZ_W: f64 = 58.0;
const BAR_X: f64 = LABEL_W + HZ_W;
const BAR_W: f64 = W - BAR_X - 8.0;
const BAR_H: f64 = 20.0;
const BAR_GAP: f64 = 4.0;
const GROUP_GAP: f64 = 14.0;
const LINE_H: f64 = 14.0;
/// Narrowest segment that gets its percentage written on it.
const MIN_LABEL_W: f64 = 44.0;
/// Colour of a flag's "yes" bar.
const FLAG_COLOR: &str = "#0072B2";

#[derive(Clone, Copy, PartialEq)]
enum Col {
    Value,
    Percent,
}

struct R<'a> {
    ctx: &'a ReportContext,
    l: &'a Labels,
    lang: Lang,
    figures: Counter<usize>,
    drawn: Counter<usize>,
    withheld: Counter<usize>,
    charts: Counter<usize>,
}

fn f1(x: f64) -> String {
    format!("{x:.1}")
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

impl<'a> R<'a> {
    /// Counts one withheld bar; renders nothing.
    fn count_withheld(&self) -> &'static str {
        self.withheld.set(self.withheld.get() + 1);
        ""
    }

    fn ui(&self, key: &str) -> String {
        self.l.ui(self.lang, key)
    }

    fn fill(&self, key: &str, pairs: &[(&str, String)]) -> String {
        let mut s = self.ui(key);
        for (k, v) in pairs {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    }

    /// The text of a figure: a published value or percentage, else `.`.
    fn fig_text(&self, t: &TableView, c: &Cell, col: Col) -> String {
        match col {
            Col::Value => match c.value {
                None => SUPPRESSED.into(),
                Some(v) if t.kind == Kind::Magnitude && t.measure.ends_with("wage") => {
                    fmt_eur(self.lang, v)
                }
                Some(v) => fmt_int(self.lang, v),
            },
            Col::Percent => match c.percent {
                None => SUPPRESSED.into(),
                Some(p) => fmt_pct(self.lang, p),
            },
        }
    }

    fn col_code(col: Col) -> &'static str {
        match col {
            Col::Value => "v",
            Col::Percent => "p",
        }
    }

    /// An HTML figure: `<span class="fig" data-t data-r data-c>`.
    fn fig(&self, t: &TableView, c: Option<&Cell>, col: Col) -> Markup {
        let Some(c) = c else {
            return html! {};
        };
        self.figures.set(self.figures.get() + 1);
        let text = self.fig_text(t, c, col);
        let sup = text == SUPPRESSED;
        html! {
            span.fig.sup[sup] data-t=(t.path_id) data-r=(c.row) data-c=(Self::col_code(col))
                title=[sup.then(|| self.ui("legend_suppressed"))] { (text) }
        }
    }

    /// An SVG figure: `<text class="fig" ...>` or `<tspan>`.
    #[allow(clippy::too_many_arguments)]
    fn svg_fig(
        &self,
        t: &TableView,
        c: &Cell,
        col: Col,
        x: f64,
        y: f64,
        anchor: &str,
        fill: &str,
        class: &str,
    ) -> Markup {
        self.figures.set(self.figures.get() + 1);
        html! {
            text class=(format!("fig {class}")) data-t=(t.path_id) data-r=(c.row) data-c=(Self::col_code(col))
                x=(f1(x)) y=(f1(y)) text-anchor=(anchor) fill=(fill) { (self.fig_text(t, c, col)) }
        }
    }

    fn tspan_fig(&self, t: &TableView, c: &Cell, col: Col) -> Markup {
        self.figures.set(self.figures.get() + 1);
        html! {
            tspan.fig data-t=(t.path_id) data-r=(c.row) data-c=(Self::col_code(col)) { (self.fig_text(t, c, col)) }
        }
    }

    fn next_chart(&self) -> usize {
        let n = self.charts.get() + 1;
        self.charts.set(n);
        n
    }

    fn hatch(&self, id: &str) -> Markup {
        html! {
            defs {
                pattern id=(id) patternUnits="userSpaceOnUse" width="8" height="8" patternTransform="rotate(45)" {
                    rect width="8" height="8" fill="#f4f4f4" {}
                    line x1="0" y1="0" x2="0" y2="8" stroke="#c4c4c4" stroke-width="3" {}
                }
            }
        }
    }

    fn swatches(&self, cats: &[Category]) -> Markup {
        html! {
            ul.legend {
                @for c in cats {
                    li { span.sw style=(format!("background:{}", c.color)) {} (c.label_in(self.lang)) }
                }
                li { span.sw.hatched {} (self.ui("withheld")) }
            }
        }
    }

    fn categories(&self, t: &TableView, linkage: bool) -> Vec<Category> {
        t.states
            .iter()
            .map(|s| {
                let mut c = self.l.category(s, linkage);
                if !linkage {
                    c.label.nl = self.l.state(Lang::Nl, s);
                    c.label.en = self.l.state(Lang::En, s);
                }
                c
            })
            .collect()
    }

    /// Label lines of a group (one per non-`Total` level).
    fn group_lines(&self, t: &TableView, g: &[String]) -> Vec<String> {
        if g.iter().all(|l| l == TOTAL) {
            return vec![self.l.level(self.lang, "", TOTAL)];
        }
        g.iter()
            .enumerate()
            .filter(|(_, l)| *l != TOTAL)
            .map(|(d, l)| truncate(&self.l.level(self.lang, &t.dims[d], l), 40))
            .collect()
    }

    /// Stacked 100% bars: one per group and horizon (see the crate docs for
    /// when a bar is withheld).
    fn stacked(&self, t: &TableView, groups: &[Vec<String>], cats: &[Category]) -> Markup {
        let id = format!("hatch-{}", self.next_chart());
        let show_h = t.horizons.iter().any(Option::is_some);
        let mut y = 2.0;
        let mut blocks = Vec::new();
        for g in groups {
            let lines = self.group_lines(t, g);
            let bars_h = t.horizons.len() as f64 * (BAR_H + BAR_GAP) - BAR_GAP;
            let label_h = (lines.len() + 1) as f64 * LINE_H;
            let block_h = bars_h.max(label_h);
            blocks.push((g, lines, y));
            y += block_h + GROUP_GAP;
        }
        let height = (y - GROUP_GAP + 4.0).max(10.0);
        html! {
            svg.chart viewBox=(format!("0 0 {W} {}", f1(height))) role="img"
                aria-label=(defs::table_title(t, self.ctx)) {
                (self.hatch(&id))
                @for (g, lines, y0) in &blocks {
                    g.group data-g=(g.join("|")) {
                        @for (i, line) in lines.iter().enumerate() {
                            text.gl x="0" y=(f1(y0 + 11.0 + i as f64 * LINE_H)) { (line) }
                        }
                        @if let Some(total) = t.group_total(g) {
                            text.gn x="0" y=(f1(y0 + 11.0 + lines.len() as f64 * LINE_H)) {
                                "n = " (self.tspan_fig(t, total, Col::Value))
                            }
                        }
                        @for (k, h) in t.horizons.iter().enumerate() {
                            @let by = y0 + k as f64 * (BAR_H + BAR_GAP);
                            @if show_h {
                                text.hz x=(f1(BAR_X - 8.0)) y=(f1(by + 14.0)) text-anchor="end" {
                                    (h.as_deref().map(|h| self.l.horizon_short(self.lang, h)).unwrap_or_default())
                                }
                            }
                            (self.bar(t, g, h.as_deref(), cats, by, &id))
                        }
                    }
                }
            }
        }
    }

    fn bar(
        &self,
        t: &TableView,
        g: &[String],
        h: Option<&str>,
        cats: &[Category],
        y: f64,
        hatch: &str,
    ) -> Markup {
        let total = t.get(g, h, Some(TOTAL));
        let cells: Vec<Option<&Cell>> = cats.iter().map(|c| t.get(g, h, Some(&c.code))).collect();
        let complete = total.is_some_and(|c| c.value.is_some())
            && cells.iter().all(|c| c.is_some_and(|c| c.value.is_some()));
        let sum: f64 = cells.iter().flatten().filter_map(|c| c.value).sum();
        let h_attr = h.unwrap_or("");
        if complete && sum > 0.0 {
            self.drawn.set(self.drawn.get() + 1);
            let mut x = BAR_X;
            let mut segs = Vec::new();
            for (cat, cell) in cats.iter().zip(&cells) {
                let cell = cell.expect("complete bar");
                let v = cell.value.unwrap_or(0.0);
                let w = v / sum * BAR_W;
                if w > 0.0 {
                    segs.push((cat, cell, x, w));
                }
                x += w;
            }
            html! {
                g.bar.complete data-h=(h_attr) {
                    @for (cat, cell, x, w) in &segs {
                        rect.seg data-t=(t.path_id) data-r=(cell.row) x=(f1(*x)) y=(f1(y))
                            width=(format!("{w:.3}")) height=(BAR_H) fill=(cat.color) {
                            title { (cat.label_in(self.lang)) ": " (self.fig_text(t, cell, Col::Value))
                                " (" (self.fig_text(t, cell, Col::Percent)) ")" }
                        }
                        @if *w >= MIN_LABEL_W && cell.percent.is_some() {
                            (self.svg_fig(t, cell, Col::Percent, x + w / 2.0, y + 14.0, "middle", &cat.ink, "seg-label"))
                        }
                    }
                }
            }
        } else if total.and_then(|c| c.value) == Some(0.0) || (complete && sum == 0.0) {
            html! {
                g.bar.empty data-h=(h_attr) {
                    text.note x=(f1(BAR_X + 4.0)) y=(f1(y + 14.0)) { (self.ui("no_persons")) }
                }
            }
        } else {
            self.withheld.set(self.withheld.get() + 1);
            html! {
                g.bar.withheld data-h=(h_attr) {
                    rect.placeholder x=(f1(BAR_X)) y=(f1(y)) width=(f1(BAR_W)) height=(BAR_H)
                        fill=(format!("url(#{hatch})")) stroke="#c4c4c4" {}
                    text.note x=(f1(BAR_X + BAR_W / 2.0)) y=(f1(y + 14.0)) text-anchor="middle" {
                        (self.ui("withheld"))
                    }
                }
            }
        }
    }

    /// Share "yes" per group on a 0–100% track.
    fn flag_chart(&self, t: &TableView, groups: &[Vec<String>]) -> Markup {
        let id = format!("hatch-{}", self.next_chart());
        let show_h = t.horizons.iter().any(Option::is_some);
        let mut y = 2.0;
        let mut blocks = Vec::new();
        for g in groups {
            let lines = self.group_lines(t, g);
            let bars_h = t.horizons.len() as f64 * (BAR_H + BAR_GAP) - BAR_GAP;
            let label_h = (lines.len() + 1) as f64 * LINE_H;
            blocks.push((g, lines, y));
            y += bars_h.max(label_h) + GROUP_GAP;
        }
        let height = (y - GROUP_GAP + 4.0).max(10.0);
        html! {
            svg.chart viewBox=(format!("0 0 {W} {}", f1(height))) role="img"
                aria-label=(defs::table_title(t, self.ctx)) {
                (self.hatch(&id))
                @for (g, lines, y0) in &blocks {
                    g.group data-g=(g.join("|")) {
                        @for (i, line) in lines.iter().enumerate() {
                            text.gl x="0" y=(f1(y0 + 11.0 + i as f64 * LINE_H)) { (line) }
                        }
                        @if let Some(total) = t.group_total(g) {
                            text.gn x="0" y=(f1(y0 + 11.0 + lines.len() as f64 * LINE_H)) {
                                "n = " (self.tspan_fig(t, total, Col::Value))
                            }
                        }
                        @for (k, h) in t.horizons.iter().enumerate() {
                            @let by = y0 + k as f64 * (BAR_H + BAR_GAP);
                            @if show_h {
                                text.hz x=(f1(BAR_X - 8.0)) y=(f1(by + 14.0)) text-anchor="end" {
                                    (h.as_deref().map(|h| self.l.horizon_short(self.lang, h)).unwrap_or_default())
                                }
                            }
                            @let yes = t.get(g, h.as_deref(), Some("yes"));
                            @match yes.and_then(|c| c.percent.map(|p| (c, p))) {
                                Some((cell, p)) => {
                                    @let w = p / 100.0 * BAR_W;
                                    g.bar.flag data-h=(h.as_deref().unwrap_or("")) {
                                        rect.track x=(f1(BAR_X)) y=(f1(by)) width=(f1(BAR_W)) height=(BAR_H) fill="#ececec" {}
                                        rect.seg data-t=(t.path_id) data-r=(cell.row) x=(f1(BAR_X)) y=(f1(by))
                                            width=(format!("{w:.3}")) height=(BAR_H) fill=(FLAG_COLOR) {
                                            title { (self.fig_text(t, cell, Col::Value)) " (" (self.fig_text(t, cell, Col::Percent)) ")" }
                                        }
                                        @if w > BAR_W - 70.0 {
                                            (self.svg_fig(t, cell, Col::Percent, BAR_X + w - 4.0, by + 14.0, "end", "#FFFFFF", "seg-label"))
                                        } @else {
                                            (self.svg_fig(t, cell, Col::Percent, BAR_X + w + 5.0, by + 14.0, "start", "#222222", "seg-label"))
                                        }
                                    }
                                }
                                None => {
                                    (self.count_withheld())
                                    g.bar.withheld data-h=(h.as_deref().unwrap_or("")) {
                                        rect.placeholder x=(f1(BAR_X)) y=(f1(by)) width=(f1(BAR_W)) height=(BAR_H)
                                            fill=(format!("url(#{id})")) stroke="#c4c4c4" {}
                                        text.note x=(f1(BAR_X + BAR_W / 2.0)) y=(f1(by + 14.0)) text-anchor="middle" {
                                            (self.ui("withheld"))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The figures of a count table (every group, margins included).
    fn counts_table(&self, t: &TableView, cats: &[Category]) -> Markup {
        let show_h = t.horizons.iter().any(Option::is_some);
        html! {
            details.figures {
                summary { (self.ui("figures")) }
                div.scroll {
                    table.data {
                        thead { tr {
                            th { (self.ui("group")) }
                            @if show_h { th { (self.ui("horizon")) } }
                            @for c in cats { th.num { (c.label_in(self.lang)) } }
                            th.num { (self.ui("total")) }
                        } }
                        tbody {
                            @for g in t.groups(self.l) {
                                @for h in &t.horizons {
                                    tr.total[g.iter().all(|l| l == TOTAL)] {
                                        td { (t.group_label(self.l, self.lang, &g)) }
                                        @if show_h {
                                            td { (h.as_deref().map(|h| self.l.horizon_short(self.lang, h)).unwrap_or_default()) }
                                        }
                                        @for c in cats {
                                            @let cell = t.get(&g, h.as_deref(), Some(&c.code));
                                            td.num {
                                                (self.fig(t, cell, Col::Value))
                                                @if cell.is_some() { br; span.pct { (self.fig(t, cell, Col::Percent)) } }
                                            }
                                        }
                                        td.num { (self.fig(t, t.get(&g, h.as_deref(), Some(TOTAL)), Col::Value)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn count_section(&self, t: &TableView, linkage: bool) -> Markup {
        let cats = self.categories(t, linkage);
        let groups = t.chart_groups(self.l);
        let is_flag = t.kind == Kind::Flag && t.states.iter().any(|s| s == "yes") && !linkage;
        let legend_cats: Vec<Category> = if is_flag {
            vec![Category {
                color: FLAG_COLOR.into(),
                ..self.l.category("yes", false)
            }]
        } else {
            cats.clone()
        };
        let mut legend_cats = legend_cats;
        if is_flag {
            legend_cats[0].label.nl = self.l.level(Lang::Nl, "flag", "yes");
            legend_cats[0].label.en = self.l.level(Lang::En, "flag", "yes");
        }
        html! {
            @if groups.len() > MAX_CHART_GROUPS {
                p.note { (self.ui("too_many_groups")) }
            } @else {
                p.intro { (self.ui(if is_flag { "flag_chart_intro" } else { "state_chart_intro" })) }
                @if t.dims.len() > 1 { p.note { (self.ui("chart_groups_note")) } }
                (self.swatches(&legend_cats))
                @if is_flag { (self.flag_chart(t, &groups)) } @else { (self.stacked(t, &groups, &cats)) }
            }
            (self.counts_table(t, &cats))
        }
    }

    fn magnitude_section(&self, t: &TableView) -> Markup {
        let show_h = t.horizons.iter().any(Option::is_some);
        let groups: Vec<Vec<String>> = t
            .groups(self.l)
            .into_iter()
            .filter(|g| {
                t.horizons
                    .iter()
                    .any(|h| t.get(g, h.as_deref(), None).is_some())
            })
            .collect();
        let max = t
            .cells
            .iter()
            .filter_map(|c| c.value)
            .fold(0.0f64, f64::max);
        html! {
            p.intro { (self.ui("wage_intro")) " " (self.ui("legend_mean")) }
            div.scroll {
                table.data {
                    thead { tr {
                        th { (self.ui("group")) }
                        @for h in &t.horizons {
                            th.num { @if show_h { (h.as_deref().map(|h| self.l.horizon(self.lang, h)).unwrap_or_default()) } @else { (self.l.measure(self.lang, &t.measure)) } }
                        }
                    } }
                    tbody {
                        @for g in &groups {
                            tr.total[g.iter().all(|l| l == TOTAL)] {
                                td { (t.group_label(self.l, self.lang, g)) }
                                @for h in &t.horizons {
                                    @let cell = t.get(g, h.as_deref(), None);
                                    td.num {
                                        (self.fig(t, cell, Col::Value))
                                        @if let (Some(v), true) = (cell.and_then(|c| c.value), max > 0.0) {
                                            (mini_bar(v / max, FLAG_COLOR))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Trajectory comparison for one trajectory dimension.
    fn trajectory_section(&self, dim: &str, views: &[TableView]) -> Option<Markup> {
        let tables: Vec<&TableView> = views
            .iter()
            .filter(|v| v.dims.len() == 1 && v.dims[0] == dim && v.kind != Kind::Magnitude)
            .collect();
        if tables.is_empty() {
            return None;
        }
        // Columns: work share per horizon (states tables), share yes (flags).
        let mut cols: Vec<(String, &TableView, Option<String>, &str)> = Vec::new();
        for t in &tables {
            match t.kind {
                Kind::States => {
                    for h in &t.horizons {
                        let hl = h
                            .as_deref()
                            .map(|h| self.l.horizon_short(self.lang, h))
                            .unwrap_or_default();
                        cols.push((self.fill("in_work", &[("h", hl)]), t, h.clone(), "werk"));
                    }
                }
                Kind::Flag if t.states.iter().any(|s| s == "yes") => {
                    cols.push((self.l.measure(self.lang, &t.measure), t, None, "yes"));
                }
                _ => {}
            }
        }
        let base = tables[0];
        let groups = base.groups(self.l);
        Some(html! {
            h3 id=(format!("cmp-{dim}")) { (self.l.dim(self.lang, dim)) }
            p.intro { (self.ui("trajectory_intro")) }
            div.scroll {
                table.data.compare {
                    thead { tr {
                        th { (self.l.dim(self.lang, dim)) }
                        th.num { (self.ui("n_persons")) }
                        @for (head, _, _, _) in &cols { th.num { (head) } }
                    } }
                    tbody {
                        @for g in &groups {
                            tr.total[g.iter().all(|l| l == TOTAL)] {
                                td { (base.group_label(self.l, self.lang, g)) }
                                td.num { (self.fig(base, base.group_total(g), Col::Value)) }
                                @for (_, t, h, state) in &cols {
                                    @let cell = t.get(g, h.as_deref(), Some(state));
                                    td.num {
                                        (self.fig(t, cell, Col::Percent))
                                        @if let Some(p) = cell.and_then(|c| c.percent) {
                                            (mini_bar(p / 100.0, if *state == "werk" { "#009E73" } else { FLAG_COLOR }))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.caveat { (self.ui("legend_causal")) }
        })
    }

    fn definitions(&self, sections: &[Section]) -> Markup {
        html! {
            @for s in sections {
                h3 { (s.title) }
                @for p in &s.paragraphs { p { (p) } }
                @if !s.items.is_empty() {
                    dl.defs {
                        @for (term, text) in &s.items { dt { (term) } dd { (text) } }
                    }
                }
            }
        }
    }
}

/// A small horizontal bar (share in 0..=1) next to a figure in a table.
fn mini_bar(share: f64, color: &str) -> Markup {
    let w = (share.clamp(0.0, 1.0) * 60.0).max(0.5);
    html! {
        svg.mini width="60" height="8" viewBox="0 0 60 8" aria-hidden="true" {
            rect width="60" height="8" fill="#ececec" {}
            rect width=(format!("{w:.2}")) height="8" fill=(color) {}
        }
    }
}

const CSS: &str = r#"
:root{--ink:#1d1d1b;--muted:#5f5f5f;--line:#dcdcdc;--accent:#154273;--bg:#ffffff;--soft:#f5f7fa}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header.top{background:var(--accent);color:#fff;padding:28px 0 22px}
header.top .wrap{padding-top:0}
header.top h1{margin:0 0 6px;font-size:26px;line-height:1.25}
header.top p{margin:0;color:#dfe7f1;max-width:60em}
.wrap{max-width:980px;margin:0 auto;padding:0 24px}
nav.toc{background:var(--soft);border-bottom:1px solid var(--line)}
nav.toc ol{margin:0;padding:10px 0;list-style:none;display:flex;flex-wrap:wrap;gap:4px 18px;font-size:14px}
nav.toc a{color:var(--accent);text-decoration:none}
nav.toc a:hover{text-decoration:underline}
main section{padding:8px 0 20px;border-bottom:1px solid var(--line)}
h2{font-size:21px;margin:26px 0 10px;color:var(--accent)}
h3{font-size:17px;margin:24px 0 6px}
p.intro{margin:4px 0 8px;color:var(--muted)}
p.note{margin:4px 0 8px;color:var(--muted);font-style:italic;font-size:14px}
p.caveat{border-left:4px solid #E69F00;background:#fff8e6;padding:8px 12px;margin:10px 0;font-size:14px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:12px;margin:14px 0}
.card{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:12px 14px}
.card .big{font-size:28px;font-weight:650;color:var(--accent);line-height:1.2}
.card .what{font-size:13px;color:var(--muted)}
ul.legend{list-style:none;margin:6px 0 8px;padding:0;display:flex;flex-wrap:wrap;gap:4px 16px;font-size:13px}
ul.legend li{display:flex;align-items:center;gap:6px}
.sw{display:inline-block;width:14px;height:14px;border-radius:2px;border:1px solid rgba(0,0,0,.15)}
.sw.hatched{background:repeating-linear-gradient(45deg,#f4f4f4 0 3px,#c4c4c4 3px 5px)}
svg.chart{width:100%;height:auto;display:block;margin:4px 0 6px;font-family:inherit}
svg.chart .gl{font-size:12.5px;fill:#1d1d1b}
svg.chart .gn{font-size:11px;fill:#6b6b6b}
svg.chart .hz{font-size:11.5px;fill:#5f5f5f}
svg.chart .seg-label{font-size:11.5px;font-weight:600}
svg.chart .note{font-size:11.5px;fill:#6b6b6b;font-style:italic}
svg.mini{vertical-align:middle;margin-left:6px}
details.figures{margin:6px 0 10px}
details.figures summary{cursor:pointer;color:var(--accent);font-size:14px}
.scroll{overflow-x:auto}
table.data{border-collapse:collapse;font-size:13px;margin:8px 0;min-width:50%}
table.data th,table.data td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
table.data th{background:var(--soft);font-weight:600}
table.data .num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
table.data tr.total td{font-weight:600}
table.compare{font-size:12.5px}
table.compare td.num{min-width:92px}
table.compare th.num{white-space:normal;max-width:7em}
span.pct{color:var(--muted);font-size:12px}
.fig.sup{color:#8a8a8a}
dl.defs{display:grid;grid-template-columns:minmax(140px,max-content) 1fr;gap:4px 16px;margin:6px 0}
dl.defs dt{font-weight:600}
dl.defs dd{margin:0}
dl.symbols dt{font-size:18px;line-height:1.2}
ul.files{padding-left:18px}
ul.files code{background:var(--soft);padding:1px 4px;border-radius:3px}
footer{color:var(--muted);font-size:13px;padding:18px 0 40px}
@media print{
 header.top{background:none;color:var(--ink);padding:0}
 header.top p{color:var(--muted)}
 nav.toc{display:none}
 details.figures>*{display:block}
 section,svg.chart,table.data{break-inside:avoid}
 body{font-size:11pt}
}
"#;

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
    let states: Vec<&TableView> = views.iter().filter(|v| v.kind == Kind::States).collect();
    let flags: Vec<&TableView> = views
        .iter()
        .filter(|v| v.kind == Kind::Flag && v.states.iter().any(|s| s == "yes"))
        .collect();
    let other_counts: Vec<&TableView> = views
        .iter()
        .filter(|v| v.kind == Kind::Flag && !v.states.iter().any(|s| s == "yes"))
        .collect();
    let mags: Vec<&TableView> = views.iter().filter(|v| v.kind == Kind::Magnitude).collect();
    // The cohort: the published grand total of the first count table.
    let cohort_table = states
        .first()
        .copied()
        .or(flags.first().copied())
        .or(other_counts.first().copied());
    let trajectory_parts: Vec<Markup> = ["trajectory_last", "trajectory_mix"]
        .iter()
        .filter_map(|d| r.trajectory_section(d, views))
        .collect();
    let mut toc: Vec<(&str, String)> =
        vec![("summary", r.ui("summary")), ("read", r.ui("how_to_read"))];
    if !states.is_empty() || !other_counts.is_empty() {
        toc.push(("states", r.ui("states_section")));
    }
    if !flags.is_empty() {
        toc.push(("flags", r.ui("flags_section")));
    }
    if !trajectory_parts.is_empty() {
        toc.push(("trajectories", r.ui("trajectory_section")));
    }
    if !mags.is_empty() {
        toc.push(("wages", r.ui("wage_section")));
    }
    let effects = ctx
        .effects
        .as_ref()
        .map(|e| crate::effects::section_or_note(e, &ctx.labels, ctx.lang));
    if effects.is_some() {
        toc.push(("effects", crate::effects::title(ctx.lang).into()));
    }
    toc.push(("linkage", r.ui("linkage_section")));
    toc.push(("definitions", r.ui("definitions_section")));
    toc.push(("files", r.ui("package_section")));
    let work_h = states.first().and_then(|t| {
        t.horizons
            .iter()
            .find(|h| h.as_deref() == Some("12m"))
            .or(t.horizons.last())
            .cloned()
    });
    let legend = defs::legend_text(rules, ctx);
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
                    section #summary {
                        h2 { (r.ui("summary")) }
                        div.cards {
                            @if let Some(t) = cohort_table {
                                div.card {
                                    div.big { (r.fig(t, t.group_total(&t.grand()), Col::Value)) }
                                    div.what { (r.ui("cohort_size")) }
                                }
                                @if let (Some(h), Some(st)) = (&work_h, states.first()) {
                                    div.card {
                                        div.big { (r.fig(st, st.get(&st.grand(), h.as_deref(), Some("werk")), Col::Percent)) }
                                        div.what { (r.l.state(r.lang, "werk")) " " (h.as_deref().map(|h| r.l.horizon(r.lang, h)).unwrap_or_default()) }
                                    }
                                }
                            }
                            @for t in &flags {
                                div.card {
                                    div.big { (r.fig(t, t.get(&t.grand(), t.horizons.first().and_then(|h| h.as_deref()), Some("yes")), Col::Percent)) }
                                    div.what { (r.l.measure(r.lang, &t.measure)) }
                                }
                            }
                        }
                        @if let Some(t) = states.first() {
                            h3 { (r.ui("whole_cohort")) }
                            p.intro { (r.ui("whole_cohort_intro")) }
                            (r.swatches(&r.categories(t, false)))
                            (r.stacked(t, &[t.grand()], &r.categories(t, false)))
                        }
                    }
                    section #read {
                        h2 { (r.ui("how_to_read")) }
                        h3 { (r.ui("legend_colours")) }
                        dl.defs {
                            @for c in r.l.states() {
                                dt { span.sw style=(format!("background:{}", c.color)) {} " " (c.label_in(r.lang)) }
                                dd { (c.description.get(r.lang)) }
                            }
                        }
                        h3 { (r.ui("legend_defs")) }
                        dl.defs.symbols {
                            @for (term, text) in &legend { dt { (term) } dd { (text) } }
                            dt { span.sw.hatched {} }
                            dd { (r.ui("legend_withheld")) }
                        }
                    }
                    @if !states.is_empty() || !other_counts.is_empty() {
                        section #states {
                            h2 { (r.ui("states_section")) }
                            @for t in states.iter().chain(&other_counts) {
                                h3 id=(format!("t-{}", t.name)) { (defs::table_title(t, ctx)) }
                                (r.count_section(t, false))
                            }
                        }
                    }
                    @if !flags.is_empty() {
                        section #flags {
                            h2 { (r.ui("flags_section")) }
                            @for t in &flags {
                                h3 id=(format!("t-{}", t.name)) { (defs::table_title(t, ctx)) }
                                @let d = r.l.measure_description(r.lang, &t.measure);
                                @if !d.is_empty() { p.intro { (d) } }
                                (r.count_section(t, false))
                            }
                        }
                    }
                    @if !trajectory_parts.is_empty() {
                        section #trajectories {
                            h2 { (r.ui("trajectory_section")) }
                            @for part in &trajectory_parts { (part) }
                        }
                    }
                    @if !mags.is_empty() {
                        section #wages {
                            h2 { (r.ui("wage_section")) }
                            @for t in &mags {
                                h3 id=(format!("t-{}", t.name)) { (defs::table_title(t, ctx)) }
                                (r.magnitude_section(t))
                            }
                        }
                    }
                    @if let Some(e) = &effects { (e) }
                    section #linkage {
                        h2 { (r.ui("linkage_section")) }
                        @if let Some(q) = quality {
                            p.intro { (r.ui("linkage_intro")) " (" (r.l.linkage_unit(r.lang, &q.measure)) ")" }
                            (r.count_section(q, true))
                        } @else {
                            p.note { (r.ui("linkage_none")) }
                        }
                    }
                    section #definitions {
                        h2 { (r.ui("definitions_section")) }
                        (r.definitions(definitions))
                    }
                    section #files {
                        h2 { (r.ui("package_section")) }
                        p { (r.ui("files_intro")) }
                        ul.files {
                            li { code { "report.html" } " — " (r.ui("file_report")) }
                            li { code { "tables/*.csv" } " — " (r.ui("file_csv")) }
                            li { code { "tables/*.parquet" } " — " (r.ui("file_parquet")) }
                            @if quality.is_some() { li { code { "quality/" } " — " (r.ui("file_quality")) } }
                            li { code { "definitions.md" } " — " (r.ui("file_definitions")) }
                            li { code { "manifest.json" } " — " (r.ui("file_manifest")) }
                        }
                    }
                }
                footer { div.wrap { (r.ui("generated_by")) } }
            }
        }
    };
    // Counters are complete only after the macro ran.
    let html = markup.into_string();
    let _ = &r.withheld;
    Rendered {
        html,
        figures: r.figures.get(),
        bars_drawn: r.drawn.get(),
        bars_withheld: r.withheld.get(),
    }
}
