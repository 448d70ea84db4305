//! Jobs after outflow: per group and horizon, one bar per level of the job
//! field (share of everyone in work, from the published percentage only),
//! and the figures with the work states the total is made of.

use koppel_disclosure::table::{TOTAL, WORK_STATES};
use maud::{html, Markup};

use super::{f1, wrap, Col, BAR_H, FLAG_COLOR, LINE_H, R, W};
use crate::defs;
use crate::model::{job_field, TableView};

/// Left edge of the bars in a job chart.
const JOB_BAR_X: f64 = 300.0;
/// Width of the 100% track.
const JOB_BAR_W: f64 = W - JOB_BAR_X - 60.0;
/// Most bars drawn in one job chart (more: figures only).
const MAX_JOB_BARS: usize = 120;

impl R<'_> {
    /// The job field's levels in label order.
    fn job_levels(&self, t: &TableView) -> (String, Vec<String>) {
        let field = job_field(&t.measure).unwrap_or_default().to_string();
        let mut levels = t.states.clone();
        levels.sort_by_key(|l| self.l.level_rank(&field, l));
        (field, levels)
    }

    /// A job table: intro, chart and figures.
    pub(super) fn job_section(&self, t: &TableView) -> Markup {
        let (field, levels) = self.job_levels(t);
        let groups = t.chart_groups(self.l);
        let bars = groups.len() * t.horizons.len() * levels.len();
        html! {
            p.intro { (self.ui("jobs_intro")) }
            @let d = self.l.measure_description(self.lang, &t.measure);
            @if !d.is_empty() { p.note { (d) } }
            @if bars > MAX_JOB_BARS {
                p.note { (self.ui("too_many_groups")) }
            } @else {
                (self.job_chart(t, &groups, &field, &levels))
            }
            (self.job_figures(t, &field, &levels))
        }
    }

    fn job_chart(
        &self,
        t: &TableView,
        groups: &[Vec<String>],
        field: &str,
        levels: &[String],
    ) -> Markup {
        let id = format!("hatch-{}", self.next_chart());
        let row_h = BAR_H - 4.0 + 6.0;
        // Layout: a heading line per group and horizon, then one bar per level.
        let mut blocks = Vec::new();
        let mut y = 2.0;
        for g in groups {
            for h in &t.horizons {
                let mut ry = y + LINE_H + 8.0;
                let mut rows: Vec<(&String, Vec<String>, f64)> = Vec::new();
                for l in levels {
                    let lines = wrap(&self.l.level(self.lang, field, l), 40);
                    let hgt = (lines.len() as f64 * LINE_H).max(row_h);
                    rows.push((l, lines, ry));
                    ry += hgt;
                }
                blocks.push((g, h, y, rows));
                y = ry + 10.0;
            }
        }
        let height = y.max(10.0);
        html! {
            svg.chart.jobs viewBox=(format!("0 0 {W} {}", f1(height))) role="img"
                aria-label=(defs::table_title(t, self.ctx)) {
                (self.hatch(&id))
                @for (g, h, y0, rows) in &blocks {
                    @let total = t.get(g, h.as_deref(), Some(TOTAL));
                    g.group data-g=(g.join("|")) data-h=(h.as_deref().unwrap_or("")) {
                        text.gl x="0" y=(f1(y0 + 11.0)) {
                            (t.group_label(self.l, self.lang, g))
                            @if let Some(h) = h.as_deref() { ", " (self.l.horizon(self.lang, h)) }
                            @if let Some(total) = total {
                                " — " (self.ui("in_work_total")) ": " (self.tspan_fig(t, total, Col::Value))
                            }
                        }
                        @for (level, lines, ry) in rows {
                            @let cell = t.get(g, h.as_deref(), Some(level.as_str()));
                            @for (i, line) in lines.iter().enumerate() {
                                text.gl x=(f1(JOB_BAR_X - 8.0)) y=(f1(*ry + 12.0 + i as f64 * LINE_H)) text-anchor="end" { (line) }
                            }
                            rect.track x=(f1(JOB_BAR_X)) y=(f1(*ry)) width=(f1(JOB_BAR_W)) height=(f1(row_h - 4.0)) fill="#ececec" {}
                            @match cell.and_then(|c| c.percent.map(|p| (c, p))) {
                                Some((c, p)) => {
                                    @let w = p / 100.0 * JOB_BAR_W;
                                    rect.seg data-t=(t.path_id) data-r=(c.row) x=(f1(JOB_BAR_X)) y=(f1(*ry))
                                        width=(format!("{w:.3}")) height=(f1(row_h - 4.0)) fill=(FLAG_COLOR) {}
                                    (self.svg_fig(t, c, Col::Percent, JOB_BAR_X + w + 5.0, *ry + 12.0, "start", "#222222", "seg-label"))
                                }
                                None => {
                                    @if let Some(c) = cell {
                                        (self.svg_fig(t, c, Col::Value, JOB_BAR_X + 5.0, *ry + 12.0, "start", "#6b6b6b", "note"))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Figures: one row per level (then the total and the two work states
    /// it is made of), two columns (number, % of those in work) per group
    /// and horizon.
    fn job_figures(&self, t: &TableView, field: &str, levels: &[String]) -> Markup {
        let groups = t.groups(self.l);
        let cols: Vec<(&Vec<String>, &Option<String>)> = groups
            .iter()
            .flat_map(|g| t.horizons.iter().map(move |h| (g, h)))
            .collect();
        let mut rows: Vec<(String, String, bool)> = levels
            .iter()
            .map(|l| (l.clone(), self.l.level(self.lang, field, l), false))
            .collect();
        rows.push((TOTAL.into(), self.ui("in_work_total"), true));
        for s in WORK_STATES {
            rows.push((s.into(), format!("– {}", self.l.state(self.lang, s)), false));
        }
        html! {
            details.figures {
                summary { (self.ui("figures")) }
                div.scroll {
                    table.data.jobs {
                        thead {
                            tr {
                                th rowspan="2" { (self.l.dim(self.lang, field)) }
                                @for (g, h) in &cols {
                                    th colspan="2" {
                                        (t.group_label(self.l, self.lang, g))
                                        @if let Some(h) = h.as_deref() { br; (self.l.horizon(self.lang, h)) }
                                    }
                                }
                            }
                            tr {
                                @for _ in &cols {
                                    th.num { (self.ui("n_persons")) }
                                    th.num { (self.ui("of_all_in_work")) }
                                }
                            }
                        }
                        tbody {
                            @for (code, label, total) in &rows {
                                tr.total[*total] {
                                    td { (label) }
                                    @for (g, h) in &cols {
                                        @let cell = t.get(g, h.as_deref(), Some(code.as_str()));
                                        td.num { (self.fig(t, cell, Col::Value)) }
                                        td.num { @if !*total { (self.fig(t, cell, Col::Percent)) } }
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
