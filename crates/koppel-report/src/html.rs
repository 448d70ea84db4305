//! `report.html`: one self-contained page (inline CSS and SVG, no script, no
//! external resource). See the crate docs for the figure markup and the
//! rule for bars with suppressed cells.

use std::cell::Cell as Counter;

use koppel_disclosure::table::TOTAL;
use maud::{html, Markup};

mod flow;
mod jobs;
mod page;

pub use page::render;

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

/// Splits a label into lines of at most `max` characters at spaces (a
/// longer word gets a line of its own): chart labels are wrapped, never cut.
fn wrap(s: &str, max: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in s.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= max => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
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
                Some(v) if t.kind == Kind::Magnitude && t.measure.contains("wage") => {
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
                if t.kind == Kind::Flag && !linkage {
                    c.label.nl = self.l.level(Lang::Nl, "flag", s);
                    c.label.en = self.l.level(Lang::En, "flag", s);
                } else if !linkage {
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
            .flat_map(|(d, l)| wrap(&self.l.level(self.lang, &t.dims[d], l), 38))
            .collect()
    }

    /// Stacked 100% bars: one per group and horizon (see the crate docs for
    /// when a bar is withheld).
    fn stacked(&self, t: &TableView, groups: &[Vec<String>], cats: &[Category]) -> Markup {
        self.bar_chart(t, groups, |g, h, by, id| self.bar(t, g, h, cats, by, id))
    }

    /// A chart of one bar per group and horizon, each group's label lines
    /// (and its total) on the left; `bar(group, horizon, y, hatch id)`
    /// draws a bar.
    fn bar_chart(
        &self,
        t: &TableView,
        groups: &[Vec<String>],
        bar: impl Fn(&[String], Option<&str>, f64, &str) -> Markup,
    ) -> Markup {
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
                            (bar(g, h.as_deref(), by, &id))
                        }
                    }
                }
            }
        }
    }

    /// One stacked bar (see the crate docs for the rule): published
    /// segments on the scale of the published total, and the suppressed
    /// states together as one hatched block, only when the total is
    /// published and at least two states are suppressed; otherwise the bar
    /// is withheld.
    fn bar(
        &self,
        t: &TableView,
        g: &[String],
        h: Option<&str>,
        cats: &[Category],
        y: f64,
        hatch: &str,
    ) -> Markup {
        let total = t.get(g, h, Some(TOTAL)).and_then(|c| c.value);
        let cells: Vec<Option<&Cell>> = cats.iter().map(|c| t.get(g, h, Some(&c.code))).collect();
        let suppressed = cells
            .iter()
            .filter(|c| c.is_none_or(|c| c.value.is_none()))
            .count();
        let published: f64 = cells.iter().flatten().filter_map(|c| c.value).sum();
        let h_attr = h.unwrap_or("");
        // The scale: the published total when part of the bar is hidden
        // (the hidden part is total minus the published segments, which a
        // reader can compute from the table anyway), else the segments' sum
        // (rounded parts need not add up to the rounded total).
        let scale = if suppressed == 0 {
            published
        } else {
            total.unwrap_or(0.0)
        };
        let drawable = match (total, suppressed) {
            (Some(t), 0) => t > 0.0 && published > 0.0,
            (Some(t), n) => n >= 2 && t > 0.0,
            (None, _) => false,
        };
        if !drawable {
            if total == Some(0.0) || (suppressed == 0 && published == 0.0) {
                return html! {
                    g.bar.empty data-h=(h_attr) {
                        text.note x=(f1(BAR_X + 4.0)) y=(f1(y + 14.0)) { (self.ui("no_persons")) }
                    }
                };
            }
            self.withheld.set(self.withheld.get() + 1);
            return html! {
                g.bar.withheld data-h=(h_attr) {
                    rect.placeholder x=(f1(BAR_X)) y=(f1(y)) width=(f1(BAR_W)) height=(BAR_H)
                        fill=(format!("url(#{hatch})")) stroke="#c4c4c4" {}
                    text.note x=(f1(BAR_X + BAR_W / 2.0)) y=(f1(y + 14.0)) text-anchor="middle" {
                        (self.ui("withheld"))
                    }
                }
            };
        }
        self.drawn.set(self.drawn.get() + 1);
        let mut x = BAR_X;
        let mut segs = Vec::new();
        for (cat, cell) in cats.iter().zip(&cells) {
            let Some(cell) = cell.filter(|c| c.value.is_some()) else {
                continue;
            };
            let w = (cell.value.unwrap_or(0.0) / scale * BAR_W).min(BAR_X + BAR_W - x);
            if w > 0.0 {
                segs.push((cat, cell, x, w));
                x += w;
            }
        }
        let rest = BAR_X + BAR_W - x;
        html! {
            g.bar.complete[suppressed == 0].partial[suppressed > 0] data-h=(h_attr) {
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
                @if suppressed > 0 && rest > 0.0 {
                    rect.together x=(f1(x)) y=(f1(y)) width=(format!("{rest:.3}")) height=(BAR_H)
                        fill=(format!("url(#{hatch})")) stroke="#c4c4c4" {
                        title { (self.ui("suppressed_together")) }
                    }
                }
            }
        }
    }

    /// Share "yes" per group on a 0–100% track.
    fn flag_chart(&self, t: &TableView, groups: &[Vec<String>]) -> Markup {
        self.bar_chart(t, groups, |g, h, by, id| self.flag_bar(t, g, h, by, id))
    }

    /// One bar of [`Self::flag_chart`]: the share "yes" of a group at a
    /// horizon, or a withheld placeholder.
    fn flag_bar(&self, t: &TableView, g: &[String], h: Option<&str>, by: f64, id: &str) -> Markup {
        html! {
            @let yes = t.get(g, h, Some("yes"));
            @match yes.and_then(|c| c.percent.map(|p| (c, p))) {
                Some((cell, p)) => {
                    @let w = p / 100.0 * BAR_W;
                    g.bar.flag data-h=(h.unwrap_or("")) {
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
                    g.bar.withheld data-h=(h.unwrap_or("")) {
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
                p.intro { (self.ui(if is_flag { "flag_chart_intro" } else if linkage { "linkage_chart_intro" } else { "state_chart_intro" })) }
                @if t.dims.len() > 1 { p.note { (self.ui("chart_groups_note")) } }
                (self.swatches(&legend_cats))
                @if is_flag { (self.flag_chart(t, &groups)) } @else { (self.stacked(t, &groups, &cats)) }
            }
            (self.counts_table(t, &cats))
        }
    }

    /// Means or medians: one row per group (and, by a job field, per
    /// level of the field), one column per horizon.
    fn magnitude_section(&self, t: &TableView) -> Markup {
        let show_h = t.horizons.iter().any(Option::is_some);
        let field = crate::model::job_field(&t.measure).filter(|_| t.measure.contains("_by_"));
        let mut states: Vec<Option<String>> = match field {
            Some(_) => std::iter::once(TOTAL.to_string())
                .chain(t.states.iter().cloned())
                .map(Some)
                .collect(),
            None => vec![None],
        };
        if let Some(f) = field {
            states.sort_by_key(|s| self.l.level_rank(f, s.as_deref().unwrap_or_default()));
        }
        let rows: Vec<(Vec<String>, Option<String>)> = t
            .groups(self.l)
            .into_iter()
            .flat_map(|g| states.iter().map(move |s| (g.clone(), s.clone())))
            .filter(|(g, s)| {
                t.horizons
                    .iter()
                    .any(|h| t.get(g, h.as_deref(), s.as_deref()).is_some())
            })
            .collect();
        let max = t
            .cells
            .iter()
            .filter_map(|c| c.value)
            .fold(0.0f64, f64::max);
        let label = |g: &[String], s: &Option<String>| {
            let mut parts = Vec::new();
            if !t.dims.is_empty() || s.is_none() {
                parts.push(t.group_label(self.l, self.lang, g));
            }
            if let (Some(f), Some(s)) = (field, s) {
                parts.push(self.l.level(self.lang, f, s));
            }
            parts.join(" · ")
        };
        html! {
            p.intro { (self.ui("wage_intro")) " " (self.ui("legend_mean")) }
            div.scroll {
                table.data {
                    thead { tr {
                        th { @if let Some(f) = field { (self.l.dim(self.lang, f)) } @else { (self.ui("group")) } }
                        @for h in &t.horizons {
                            th.num { @if show_h { (h.as_deref().map(|h| self.l.horizon(self.lang, h)).unwrap_or_default()) } @else { (self.l.measure(self.lang, &t.measure)) } }
                        }
                    } }
                    tbody {
                        @for (g, s) in &rows {
                            tr.total[g.iter().all(|l| l == TOTAL) && s.as_deref().is_none_or(|s| s == TOTAL)] {
                                td { (label(g, s)) }
                                @for h in &t.horizons {
                                    @let cell = t.get(g, h.as_deref(), s.as_deref());
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
        // The intro names exactly the columns that follow.
        let mut parts = Vec::new();
        if tables.iter().any(|t| t.kind == Kind::States) {
            parts.push(self.ui("trajectory_intro_work"));
        }
        for (head, _, _, state) in &cols {
            if *state == "yes" {
                parts.push(self.fill("trajectory_intro_flag", &[("measure", head.to_lowercase())]));
            }
        }
        let intro = self.fill(
            "trajectory_intro",
            &[("parts", join_and(&parts, &self.ui("and")))],
        );
        Some(html! {
            h3 id=(format!("cmp-{dim}")) { (self.l.dim(self.lang, dim)) }
            p.intro { (intro) }
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

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[String], and: &str) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} {and} {}", items[..n - 1].join(", "), items[n - 1]),
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
