//! Secondary suppression: an audit-driven greedy.
//!
//! 1. **Closure.** A relation with exactly one suppressed member discloses it
//!    exactly, so every such relation gets a second suppressed member. The
//!    member is chosen to create as few new "lonely" relations as possible
//!    (a cell that also completes another lonely relation is preferred: this
//!    is what closes rectangles and hypercubes in a grid, and cycles across
//!    linked tables), then cells that give real room (value at least the
//!    protection width; zeros give none below), then the smallest value.
//! 2. **Interval check.** The feasible interval of every primary cell is
//!    computed by LP (component by component, cached while a component does
//!    not change; the LPs are presolved, see [`crate::lp`]: right after a
//!    closure every relation has two suppressed members, so the whole
//!    system collapses by substitution and needs no LP at all). Suppressing
//!    more cells only widens intervals, so a cell found wide enough once is
//!    not checked again. When a component has more than 32 primaries that
//!    the seed LPs do not certify, their shortfall is taken from the inner
//!    bound instead of being proven by LPs one by one (they all get a
//!    complement anyway; at 11,880 cells this takes 5 rounds and 23 LPs
//!    instead of 11 rounds and 454 LPs, for 3% more information loss); with
//!    fewer, each is proven exactly.
//! 3. **Repair.** For every primary cell whose interval is still too narrow,
//!    one more cell is suppressed: a published cell sharing a relation with it
//!    (or, failing that, with its component), preferring cells whose value
//!    covers the missing width, then few new lonely relations, then small
//!    values. Back to 1.
//!
//! Each round suppresses at least one more cell, so the loop ends; everything
//! is ordered by cell index, so the result is deterministic.

use std::collections::{HashMap, VecDeque};

use crate::audit::{component_intervals, components, AuditError, CellInterval};

/// More uncertified primaries than this in a component: repair them from
/// their inner bounds without proving each shortfall by LP.
const PROVE_LIMIT: usize = 32;
use crate::cells::{CellSet, Status};

/// Secondary suppression failed.
#[derive(Debug, thiserror::Error)]
pub enum SuppressionError {
    /// The interval computation failed.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// A primary cell cannot be protected even with every related cell suppressed.
    #[error("cell {key} cannot be protected: every related cell is already suppressed")]
    Unprotectable {
        /// The cell's key.
        key: String,
    },
    /// Input lengths disagree.
    #[error("{got} statuses or requirements for {cells} cells")]
    Shape {
        /// Cells in the set.
        cells: usize,
        /// Entries given.
        got: usize,
    },
}

/// What secondary suppression did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecondaryStats {
    /// Cells suppressed to protect others.
    pub cells: usize,
    /// Sum of their values (information loss).
    pub total_value: f64,
    /// Closure/check/repair rounds.
    pub rounds: usize,
    /// LPs solved for interval checks.
    pub lps_solved: usize,
}

struct State<'a> {
    cells: &'a CellSet,
    status: &'a mut [Status],
    /// Suppressed members per relation.
    count: Vec<usize>,
    /// Value below which a published cell gives little protection room.
    useful: f64,
    /// Per cell, the number of relations it is the total of: 0 for inner
    /// cells, more for margins (a grand total shared by linked tables is the
    /// total of many). Complements are taken from the lowest depth first, so
    /// margins (the figures readers use most) are suppressed only when no
    /// inner cell can do.
    depth: Vec<usize>,
}

impl State<'_> {
    fn suppress(&mut self, cell: usize, queue: &mut VecDeque<usize>) {
        debug_assert_eq!(self.status[cell], Status::Published);
        self.status[cell] = Status::Secondary;
        for &r in &self.cells.memberships[cell] {
            self.count[r] += 1;
            if self.count[r] == 1 {
                queue.push_back(r);
            }
        }
    }

    /// New lonely relations minus completed ones if `cell` were suppressed
    /// (ignoring relation `except`).
    /// The published cell of `pool` to suppress for a primary whose
    /// interval is `deficit` too narrow: preferably one whose value covers
    /// the deficit, then the shallowest (inner cells before margins), then
    /// the fewest new lonely relations, then the smallest value, then the
    /// lowest index.
    fn complement(&self, deficit: f64, pool: &mut dyn Iterator<Item = usize>) -> Option<usize> {
        let values = &self.cells.values;
        let score = |c: usize| {
            (
                (values[c] < deficit) as u8,
                self.depth[c],
                self.net_lonely(c, None),
            )
        };
        pool.filter(|&m| self.status[m] == Status::Published)
            .min_by(|&a, &b| {
                score(a)
                    .cmp(&score(b))
                    .then(values[a].total_cmp(&values[b]))
                    .then(a.cmp(&b))
            })
    }

    fn net_lonely(&self, cell: usize, except: Option<usize>) -> i64 {
        self.cells.memberships[cell]
            .iter()
            .filter(|&&r| Some(r) != except)
            .map(|&r| match self.count[r] {
                0 => 1,
                1 => -1,
                _ => 0,
            })
            .sum()
    }

    fn close(&mut self, mut queue: VecDeque<usize>) {
        while let Some(r) = queue.pop_front() {
            if self.count[r] != 1 {
                continue;
            }
            let relation = &self.cells.relations[r];
            let best = relation
                .members()
                .filter(|&m| self.status[m] == Status::Published)
                .min_by(|&a, &b| {
                    let key = |c: usize| {
                        (
                            self.depth[c],
                            self.net_lonely(c, Some(r)),
                            (self.cells.values[c] < self.useful) as u8,
                        )
                    };
                    key(a)
                        .cmp(&key(b))
                        .then(self.cells.values[a].total_cmp(&self.cells.values[b]))
                        .then(a.cmp(&b))
                });
            if let Some(c) = best {
                self.suppress(c, &mut queue);
            }
        }
    }
}

/// Adds secondary suppressions to `status` (primary cells marked already)
/// until every cell with `required[i] > 0` has a feasible interval at least
/// that wide. `useful` is the value below which a cell is a poor complement
/// (the minimum count).
pub fn suppress_secondary(
    cells: &CellSet,
    status: &mut [Status],
    required: &[f64],
    useful: f64,
) -> Result<SecondaryStats, SuppressionError> {
    if status.len() != cells.len() || required.len() != cells.len() {
        return Err(SuppressionError::Shape {
            cells: cells.len(),
            got: status.len().min(required.len()),
        });
    }
    let count = cells
        .relations
        .iter()
        .map(|r| r.members().filter(|&m| status[m].is_suppressed()).count())
        .collect();
    let mut depth = vec![0usize; cells.len()];
    for relation in &cells.relations {
        depth[relation.total] += 1;
    }
    let mut state = State {
        cells,
        status,
        count,
        useful,
        depth,
    };
    let mut stats = SecondaryStats::default();
    let mut cache: HashMap<Vec<usize>, Vec<CellInterval>> = HashMap::new();
    // Suppressing more cells only removes equations from the attacker's
    // system, so an interval once wide enough stays wide enough: certified
    // cells are not checked again.
    let mut certified = vec![false; cells.len()];
    let mut queue: VecDeque<usize> = (0..cells.relations.len())
        .filter(|&r| state.count[r] == 1)
        .collect();
    // Repairs sized from inner bounds may report shortfalls that an exact LP
    // would not: when no cell can be added, prove every interval exactly
    // before declaring a cell unprotectable.
    let mut exact_only = false;
    loop {
        stats.rounds += 1;
        state.close(std::mem::take(&mut queue));
        let published: Vec<Option<f64>> = (0..cells.len())
            .map(|i| (!state.status[i].is_suppressed()).then_some(cells.values[i]))
            .collect();
        let mut violations: Vec<(CellInterval, usize)> = Vec::new();
        for (ci, component) in components(cells, &published).into_iter().enumerate() {
            let targets: Vec<usize> = component
                .iter()
                .copied()
                .filter(|&c| required[c] > 0.0 && !certified[c])
                .collect();
            if targets.is_empty() {
                continue;
            }
            let intervals = match cache.get(&component) {
                Some(found) => found.clone(),
                None => {
                    let (intervals, lps) = component_intervals(
                        cells,
                        &published,
                        required,
                        0.0,
                        &component,
                        &targets,
                        (!exact_only).then_some(PROVE_LIMIT),
                        false,
                    )?;
                    stats.lps_solved += lps;
                    cache.insert(component.clone(), intervals.clone());
                    intervals
                }
            };
            for interval in intervals {
                if interval.is_violation() {
                    violations.push((interval, ci));
                } else {
                    certified[interval.cell] = true;
                }
            }
        }
        if violations.is_empty() {
            break;
        }
        let mut comps: Option<Vec<Vec<usize>>> = None;
        let mut added_any = false;
        let mut stuck: Option<usize> = None;
        for (violation, ci) in violations {
            let p = violation.cell;
            let deficit = violation.required - violation.width();
            let mut near = cells.memberships[p]
                .iter()
                .flat_map(|&r| cells.relations[r].members());
            let mut choice = state.complement(deficit, &mut near);
            if choice.is_none() {
                let all = comps.get_or_insert_with(|| components(cells, &published));
                let mut members = all[ci]
                    .iter()
                    .flat_map(|&c| cells.memberships[c].iter())
                    .flat_map(|&r| cells.relations[r].members());
                choice = state.complement(deficit, &mut members);
            }
            match choice {
                Some(c) => {
                    state.suppress(c, &mut queue);
                    added_any = true;
                }
                None => {
                    stuck.get_or_insert(p);
                }
            }
        }
        if !added_any {
            if !exact_only {
                exact_only = true;
                cache.clear();
                continue;
            }
            let p = stuck.unwrap_or_default();
            return Err(SuppressionError::Unprotectable {
                key: cells.keys[p].clone(),
            });
        }
    }
    for (i, s) in state.status.iter().enumerate() {
        if *s == Status::Secondary {
            stats.cells += 1;
            stats.total_value += cells.values[i];
        }
    }
    Ok(stats)
}

/// The naive baseline (for comparison only, not protective in general): for
/// every relation (row, column, ...) in which a primary cell is the only
/// suppressed member, suppress the smallest other published member; one pass.
pub fn naive_baseline(cells: &CellSet, status: &mut [Status]) -> SecondaryStats {
    let mut stats = SecondaryStats::default();
    for relation in &cells.relations {
        let members: Vec<usize> = relation.members().collect();
        let suppressed = members
            .iter()
            .filter(|&&m| status[m].is_suppressed())
            .count();
        if suppressed == 1 && members.iter().any(|&m| status[m] == Status::Primary) {
            if let Some(&c) = members
                .iter()
                .filter(|&&m| status[m] == Status::Published)
                .min_by(|&&a, &&b| cells.values[a].total_cmp(&cells.values[b]).then(a.cmp(&b)))
            {
                status[c] = Status::Secondary;
                stats.cells += 1;
                stats.total_value += cells.values[c];
            }
        }
    }
    stats
}
