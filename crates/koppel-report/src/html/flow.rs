//! Flows between horizons: a Sankey-style chart drawn from published cells
//! only, and the figures (from-state × to-state per pair of horizons).
//!
//! Geometry: one column per horizon, one block per state, heights on one
//! scale (the published persons total). A block is the published state
//! count at that horizon (the flow's margin `a>Total` or `Total>b`); a
//! suppressed block gets a fixed small hatched box and no bands. A band
//! from `a` to `b` is the published flow `a>b`. Suppressed flows out of a
//! published block are drawn together as one hatched band stub, only when
//! there are two or more of them: its width (block minus its published
//! bands) is then the sum of several suppressed cells, which a reader can
//! compute from the published table anyway, and no single suppressed value
//! can be read off. The same holds for flows into a block.

use koppel_disclosure::table::{FLOW_SEP, STATES, TOTAL};
use maud::{html, Markup};

use super::{f1, Col, R, W};
use crate::defs;
use crate::labels::Category;
use crate::model::{flow_horizons, horizon_months, Cell, TableView};

/// Height of the tallest column (the whole group).
const PLOT_H: f64 = 300.0;
/// Gap between blocks of one column.
const NODE_GAP: f64 = 10.0;
/// Width of a block.
const NODE_W: f64 = 14.0;
/// Height of a suppressed block.
const HIDDEN_H: f64 = 10.0;
/// Top margin (column headings).
const TOP: f64 = 26.0;
/// Left margin (labels of the first column).
const LEFT: f64 = 150.0;
/// Right margin (labels of the last column).
const RIGHT: f64 = 150.0;
/// Most groups drawn as separate charts.
const MAX_FLOW_CHARTS: usize = 8;

fn flow_state(a: &str, b: &str) -> String {
    format!("{a}{FLOW_SEP}{b}")
}

/// One block of a column.
struct Node<'c> {
    state: &'static str,
    cell: Option<&'c Cell>,
    /// Published count.
    value: Option<f64>,
    y: f64,
    h: f64,
}

impl R<'_> {
    /// The horizons of a flow table in order (`6m`, `12m`, `18m`) and its
    /// pairs (`6m>12m`, ...).
    fn flow_columns(t: &TableView) -> (Vec<String>, Vec<String>) {
        let mut pairs: Vec<String> = t.horizons.iter().flatten().cloned().collect();
        pairs.sort_by_key(|p| horizon_months(p));
        let mut cols: Vec<String> = Vec::new();
        for p in &pairs {
            if let Some((a, b)) = flow_horizons(p) {
                for h in [a, b] {
                    if !cols.iter().any(|c| c == h) {
                        cols.push(h.to_string());
                    }
                }
            }
        }
        (cols, pairs)
    }

    /// A flow table: intro, one chart per group (up to a limit), figures.
    pub(super) fn flow_section(&self, t: &TableView) -> Markup {
        let groups = t.chart_groups(self.l);
        let cats: Vec<Category> = STATES.iter().map(|s| self.l.category(s, false)).collect();
        html! {
            p.intro { (self.ui("flow_intro")) }
            (self.swatches(&cats))
            @if groups.len() > MAX_FLOW_CHARTS {
                p.note { (self.ui("too_many_groups")) }
            } @else {
                @for g in &groups {
                    @if !t.dims.is_empty() { h4 { (t.group_label(self.l, self.lang, g)) } }
                    (self.sankey(t, g, &cats))
                }
            }
            (self.flow_figures(t))
        }
    }

    /// The blocks of one column: `pair` is the flow pair the margins come
    /// from, `first` whether the column is that pair's first horizon.
    fn nodes<'c>(
        &self,
        t: &'c TableView,
        g: &[String],
        pair: &str,
        first: bool,
        unit: f64,
    ) -> Vec<Node<'c>> {
        let mut y = TOP;
        let mut out = Vec::new();
        for s in STATES {
            let key = if first {
                flow_state(s, TOTAL)
            } else {
                flow_state(TOTAL, s)
            };
            let cell = t.get(g, Some(pair), Some(key.as_str()));
            let value = cell.and_then(|c| c.value);
            let h = match value {
                Some(v) => v * unit,
                None => HIDDEN_H,
            };
            if value == Some(0.0) {
                out.push(Node {
                    state: s,
                    cell,
                    value,
                    y,
                    h: 0.0,
                });
                continue;
            }
            out.push(Node {
                state: s,
                cell,
                value,
                y,
                h,
            });
            y += h + NODE_GAP;
        }
        out
    }

    fn sankey(&self, t: &TableView, g: &[String], cats: &[Category]) -> Markup {
        let id = format!("hatch-{}", self.next_chart());
        let (cols, pairs) = Self::flow_columns(t);
        let total = pairs
            .first()
            .and_then(|p| t.get(g, Some(p.as_str()), Some(flow_state(TOTAL, TOTAL).as_str())));
        let Some(total_v) = total.and_then(|c| c.value).filter(|v| *v > 0.0) else {
            self.withheld.set(self.withheld.get() + 1);
            return html! { p.note { (self.ui("withheld")) } };
        };
        let unit = (PLOT_H - NODE_GAP * (STATES.len() - 1) as f64) / total_v;
        let span = W - LEFT - RIGHT - NODE_W;
        let step = span / (cols.len().max(2) - 1) as f64;
        let x_of = |i: usize| LEFT + i as f64 * step;
        // Column i's blocks: margins of pair i (first horizon) or of pair
        // i - 1 (second horizon) for the last column.
        let columns: Vec<Vec<Node>> = (0..cols.len())
            .map(|i| match pairs.get(i) {
                Some(p) => self.nodes(t, g, p, true, unit),
                None => self.nodes(t, g, &pairs[i - 1], false, unit),
            })
            .collect();
        let mut bands = Vec::new();
        let mut stubs = Vec::new();
        for (i, pair) in pairs.iter().enumerate() {
            let (src, dst) = (&columns[i], &columns[i + 1]);
            let mut out_off = vec![0.0; STATES.len()];
            let mut in_off = vec![0.0; STATES.len()];
            let mut hidden_out = vec![0usize; STATES.len()];
            let mut hidden_in = vec![0usize; STATES.len()];
            for (a, na) in src.iter().enumerate() {
                for (b, nb) in dst.iter().enumerate() {
                    let cell = t.get(
                        g,
                        Some(pair.as_str()),
                        Some(flow_state(na.state, nb.state).as_str()),
                    );
                    match cell.and_then(|c| c.value.map(|v| (c, v))) {
                        Some((c, v)) if v > 0.0 && na.value.is_some() && nb.value.is_some() => {
                            let th = v * unit;
                            bands.push((
                                c,
                                na.state,
                                x_of(i) + NODE_W,
                                na.y + out_off[a],
                                x_of(i + 1),
                                nb.y + in_off[b],
                                th,
                            ));
                            out_off[a] += th;
                            in_off[b] += th;
                        }
                        Some(_) => {}
                        None => {
                            hidden_out[a] += 1;
                            hidden_in[b] += 1;
                        }
                    }
                }
            }
            for (a, na) in src.iter().enumerate() {
                let rest = na.h - out_off[a];
                if na.value.is_some() && hidden_out[a] >= 2 && rest > 0.5 {
                    stubs.push((x_of(i) + NODE_W, na.y + out_off[a], rest, true, step));
                }
            }
            for (b, nb) in dst.iter().enumerate() {
                let rest = nb.h - in_off[b];
                if nb.value.is_some() && hidden_in[b] >= 2 && rest > 0.5 {
                    stubs.push((x_of(i + 1), nb.y + in_off[b], rest, false, step));
                }
            }
        }
        let height = columns
            .iter()
            .flat_map(|c| c.iter().map(|n| n.y + n.h))
            .fold(TOP, f64::max)
            + 8.0;
        let color = |s: &str| {
            cats.iter()
                .find(|c| c.code == s)
                .map(|c| c.color.clone())
                .unwrap_or_else(|| "#9A9A9A".into())
        };
        html! {
            svg.chart.flow viewBox=(format!("0 0 {W} {}", f1(height))) role="img"
                aria-label=(defs::table_title(t, self.ctx)) {
                (self.hatch(&id))
                @for (i, h) in cols.iter().enumerate() {
                    text.hz x=(f1(x_of(i) + NODE_W / 2.0)) y="14" text-anchor="middle" { (self.l.horizon(self.lang, h)) }
                }
                @for (c, s, x0, y0, x1, y1, th) in &bands {
                    @let xm = (x0 + x1) / 2.0;
                    path.band data-t=(t.path_id) data-r=(c.row) fill=(color(s)) fill-opacity="0.45"
                        d=(format!("M{},{} C{},{} {},{} {},{} L{},{} C{},{} {},{} {},{} Z",
                            f1(*x0), f1(*y0), f1(xm), f1(*y0), f1(xm), f1(*y1), f1(*x1), f1(*y1),
                            f1(*x1), f1(y1 + th), f1(xm), f1(y1 + th), f1(xm), f1(y0 + th), f1(*x0), f1(y0 + th))) {
                        title { (self.l.state(self.lang, s)) " → " (self.fig_text(t, c, Col::Value)) }
                    }
                }
                @for (x, y, th, out, step) in &stubs {
                    @let w = step / 3.0;
                    rect.together x=(f1(if *out { *x } else { x - w })) y=(f1(*y)) width=(f1(w)) height=(f1(*th))
                        fill=(format!("url(#{id})")) stroke="#c4c4c4" {
                        title { (self.ui("suppressed_together")) }
                    }
                }
                @for (i, col) in columns.iter().enumerate() {
                    @for n in col {
                        @if n.value != Some(0.0) {
                            @if n.value.is_some() {
                                rect.node x=(f1(x_of(i))) y=(f1(n.y)) width=(f1(NODE_W)) height=(f1(n.h)) fill=(color(n.state)) {}
                            } @else {
                                rect.node.hidden x=(f1(x_of(i))) y=(f1(n.y)) width=(f1(NODE_W)) height=(f1(n.h))
                                    fill=(format!("url(#{id})")) stroke="#c4c4c4" {}
                            }
                            @let last = i + 1 == cols.len();
                            @let (lx, anchor) = if last { (x_of(i) + NODE_W + 6.0, "start") } else if i == 0 { (x_of(i) - 6.0, "end") } else { (x_of(i) + NODE_W + 6.0, "start") };
                            text.gl x=(f1(lx)) y=(f1(n.y + n.h / 2.0 + 4.0)) text-anchor=(anchor) {
                                (self.l.state(self.lang, n.state)) " "
                                @if let Some(c) = n.cell { (self.tspan_fig(t, c, Col::Value)) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Figures: per group and pair of horizons, from-state rows × to-state
    /// columns (with `Total` on both sides).
    fn flow_figures(&self, t: &TableView) -> Markup {
        let (_, pairs) = Self::flow_columns(t);
        let all: Vec<&str> = STATES.iter().copied().chain([TOTAL]).collect();
        let label = |s: &str| {
            if s == TOTAL {
                self.ui("total")
            } else {
                self.l.state(self.lang, s)
            }
        };
        html! {
            details.figures {
                summary { (self.ui("figures")) }
                @for g in t.groups(self.l) {
                    @for p in &pairs {
                        @let (h1, h2) = flow_horizons(p).unwrap_or((p.as_str(), ""));
                        div.scroll {
                            table.data.flow {
                                caption {
                                    @if !t.dims.is_empty() { (t.group_label(self.l, self.lang, &g)) ": " }
                                    (self.fill("flow_from", &[("h", self.l.horizon(self.lang, h1))]))
                                    " → " (self.fill("flow_to", &[("h", self.l.horizon(self.lang, h2))]))
                                }
                                thead { tr {
                                    th { (self.fill("flow_from", &[("h", self.l.horizon_short(self.lang, h1))])) }
                                    @for b in &all { th.num { (label(b)) } }
                                } }
                                tbody {
                                    @for a in &all {
                                        tr.total[*a == TOTAL] {
                                            td { (label(a)) }
                                            @for b in &all {
                                                td.num { (self.fig(t, t.get(&g, Some(p.as_str()), Some(flow_state(a, b).as_str())), Col::Value)) }
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
    }
}
