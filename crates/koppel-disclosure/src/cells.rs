//! The table-independent core: cells with values, additive relations between
//! them, and cell statuses. Every table set (counts of one cohort, or the
//! implied wage sums of a mean table set) becomes one [`CellSet`]; suppression
//! and the audit work on this structure only.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

/// Publication status of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Published (possibly rounded).
    Published,
    /// Suppressed because the cell itself breaks a rule.
    Primary,
    /// Suppressed to protect a primary cell.
    Secondary,
    /// Suppressed, without saying why: what a researcher package shows
    /// (telling primary from secondary would tell an attacker which
    /// suppressed cells lie in `[1, min_count - 1]`). Only read from
    /// packages; protection never produces it.
    Suppressed,
}

/// The starting point of protection: a cell is [`Status::Primary`] when
/// `is_primary(value)` holds, else [`Status::Published`]; with the interval
/// width each cell needs (`min_width` for a primary, 0 otherwise), as
/// secondary suppression, the release pass and the audit take them.
pub fn primary_pattern(
    values: &[f64],
    min_width: f64,
    is_primary: impl Fn(f64) -> bool,
) -> (Vec<Status>, Vec<f64>) {
    values
        .iter()
        .map(|&v| {
            if is_primary(v) {
                (Status::Primary, min_width)
            } else {
                (Status::Published, 0.0)
            }
        })
        .unzip()
}

impl Status {
    /// The name written in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Published => "published",
            Status::Primary => "primary",
            Status::Secondary => "secondary",
            Status::Suppressed => "suppressed",
        }
    }

    /// The name written in a researcher package: `published` or
    /// `suppressed` (the run directory keeps primary and secondary).
    pub fn package_str(self) -> &'static str {
        if self.is_suppressed() {
            Status::Suppressed.as_str()
        } else {
            Status::Published.as_str()
        }
    }

    /// Parses a `status` column value.
    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "published" => Some(Status::Published),
            "primary" => Some(Status::Primary),
            "secondary" => Some(Status::Secondary),
            "suppressed" => Some(Status::Suppressed),
            _ => None,
        }
    }

    /// Whether the cell's value is withheld.
    pub fn is_suppressed(self) -> bool {
        self != Status::Published
    }
}

/// An additive relation `total = sum(parts)` between cells (indices into a
/// [`CellSet`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The margin cell.
    pub total: usize,
    /// The cells that add up to it.
    pub parts: Vec<usize>,
}

impl Relation {
    /// Every member: the total first, then the parts.
    pub fn members(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.total).chain(self.parts.iter().copied())
    }

    /// Coefficient of a member in `total - sum(parts) = 0`.
    pub fn coefficient(&self, member_position: usize) -> f64 {
        if member_position == 0 {
            1.0
        } else {
            -1.0
        }
    }
}

/// Cells (by unique key) with values and the additive relations between them.
#[derive(Debug, Clone, Default)]
pub struct CellSet {
    /// Unique, canonical key of each cell.
    pub keys: Vec<String>,
    /// The true (unrounded) value of each cell; for a package under check,
    /// the published value (suppressed cells: `NaN`, never read).
    pub values: Vec<f64>,
    /// The additive relations (deduplicated).
    pub relations: Vec<Relation>,
    /// For each cell, the relations it belongs to.
    pub memberships: Vec<Vec<usize>>,
    /// Nested cells `(sub, sup)`: the persons of `sub` are a subset of those
    /// of `sup`, so `value[sub] <= value[sup]` (an inequality the attacker
    /// knows too, e.g. a single-instrument trajectory mix within the same
    /// last instrument).
    pub nested: Vec<(usize, usize)>,
    /// For each cell, the `nested` pairs it is part of.
    pub nest_memberships: Vec<Vec<usize>>,
}

/// Incrementally collects cells and relations, deduplicating shared cells
/// (same key) and identical relations (same total cell and axis).
#[derive(Debug, Default)]
pub struct CellSetBuilder {
    index: HashMap<String, usize>,
    keys: Vec<String>,
    values: Vec<f64>,
    relations: BTreeMap<(usize, String), BTreeSet<usize>>,
    nested: BTreeSet<(String, String)>,
}

/// A shared cell was given two different values.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueConflict {
    /// The cell's key.
    pub key: String,
    /// The value seen first.
    pub first: f64,
    /// The conflicting value.
    pub second: f64,
}

impl CellSetBuilder {
    /// Adds a cell (or finds the existing one with that key) and returns its
    /// index. A different value for an existing key is reported as a conflict;
    /// `NaN` values (unknown) never conflict.
    pub fn cell(&mut self, key: &str, value: f64) -> Result<usize, ValueConflict> {
        if let Some(&i) = self.index.get(key) {
            let first = self.values[i];
            if first.is_nan() {
                self.values[i] = value;
            } else if !value.is_nan() && (first - value).abs() > 1e-9 * first.abs().max(1.0) {
                return Err(ValueConflict {
                    key: key.to_string(),
                    first,
                    second: value,
                });
            }
            return Ok(i);
        }
        let i = self.keys.len();
        self.index.insert(key.to_string(), i);
        self.keys.push(key.to_string());
        self.values.push(value);
        Ok(i)
    }

    /// Index of an existing key.
    pub fn find(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }

    /// Declares `part` to be one of the cells adding up to `total` along
    /// `axis` (a dimension name, or the state split of a horizon).
    pub fn relate(&mut self, total: usize, axis: &str, part: usize) {
        self.relations
            .entry((total, axis.to_string()))
            .or_default()
            .insert(part);
    }

    /// Declares the persons of cell `sub` a subset of those of cell `sup`
    /// (by key; pairs whose cells never appear are dropped at
    /// [`CellSetBuilder::finish`]).
    pub fn nest(&mut self, sub: &str, sup: &str) {
        self.nested.insert((sub.to_string(), sup.to_string()));
    }

    /// Finishes the cell set.
    pub fn finish(self) -> CellSet {
        let nested: Vec<(usize, usize)> = self
            .nested
            .iter()
            .filter_map(|(a, b)| Some((*self.index.get(a)?, *self.index.get(b)?)))
            .filter(|(a, b)| a != b)
            .collect();
        let relations: Vec<Relation> = self
            .relations
            .into_iter()
            .map(|((total, _), parts)| Relation {
                total,
                parts: parts.into_iter().collect(),
            })
            .collect();
        CellSet::new(self.keys, self.values, relations).with_nested(nested)
    }
}

impl CellSet {
    /// Builds a cell set from parts (relations are used as given).
    pub fn new(keys: Vec<String>, values: Vec<f64>, relations: Vec<Relation>) -> CellSet {
        let mut memberships = vec![Vec::new(); keys.len()];
        for (r, relation) in relations.iter().enumerate() {
            for m in relation.members() {
                if memberships[m].last() != Some(&r) {
                    memberships[m].push(r);
                }
            }
        }
        let nest_memberships = vec![Vec::new(); keys.len()];
        CellSet {
            keys,
            values,
            relations,
            memberships,
            nested: Vec::new(),
            nest_memberships,
        }
    }

    /// The same cell set with nested pairs `(sub, sup)`: `value[sub] <=
    /// value[sup]`.
    pub fn with_nested(mut self, nested: Vec<(usize, usize)>) -> CellSet {
        self.nest_memberships = vec![Vec::new(); self.keys.len()];
        for (k, &(a, b)) in nested.iter().enumerate() {
            self.nest_memberships[a].push(k);
            self.nest_memberships[b].push(k);
        }
        self.nested = nested;
        self
    }

    /// For each cell, how many relations it is the total of (0 for an inner
    /// cell; the whole-cohort cells total the most).
    pub fn totals_per_cell(&self) -> Vec<usize> {
        let mut totals = vec![0usize; self.len()];
        for relation in &self.relations {
            totals[relation.total] += 1;
        }
        totals
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no cells.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl CellSet {
    /// A full n-dimensional table with every margin: `shape[d]` inner levels
    /// per dimension (level `shape[d]` is the total), `inner` the values of
    /// the inner cells in row-major order. Keys are the coordinates, e.g.
    /// `2,T,0`. Used by tests and benchmarks.
    pub fn grid(shape: &[usize], inner: &[f64]) -> CellSet {
        let full: Vec<usize> = shape.iter().map(|s| s + 1).collect();
        let total_cells: usize = full.iter().product();
        let index = |coords: &[usize]| coords.iter().zip(&full).fold(0, |acc, (c, f)| acc * f + c);
        // The inverse of `index`.
        let coords_of = |i: usize| {
            let mut c = vec![0usize; full.len()];
            let mut rest = i;
            for d in (0..full.len()).rev() {
                c[d] = rest % full[d];
                rest /= full[d];
            }
            c
        };
        let mut values = vec![0.0; total_cells];
        let mut keys = Vec::with_capacity(total_cells);
        let mut inner_pos = 0;
        for (i, value) in values.iter_mut().enumerate() {
            let coords = coords_of(i);
            keys.push(
                coords
                    .iter()
                    .zip(shape)
                    .map(|(c, s)| {
                        if c == s {
                            "T".to_string()
                        } else {
                            c.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            );
            if coords.iter().zip(shape).all(|(c, s)| c < s) {
                *value = inner.get(inner_pos).copied().unwrap_or(0.0);
                inner_pos += 1;
            }
        }
        // Margins: add each inner cell to every total reachable by replacing
        // any subset of its coordinates by the total level.
        for i in 0..total_cells {
            let c = coords_of(i);
            if c.iter().zip(shape).any(|(x, s)| x == s) {
                continue;
            }
            let v = values[i];
            for mask in 1u32..(1 << shape.len()) {
                let t: Vec<usize> = (0..shape.len())
                    .map(|d| if mask & (1 << d) != 0 { shape[d] } else { c[d] })
                    .collect();
                values[index(&t)] += v;
            }
        }
        let mut relations = Vec::new();
        for i in 0..total_cells {
            let c = coords_of(i);
            for d in 0..shape.len() {
                if c[d] == shape[d] {
                    let parts = (0..shape[d])
                        .map(|l| {
                            let mut p = c.clone();
                            p[d] = l;
                            index(&p)
                        })
                        .collect();
                    relations.push(Relation { total: i, parts });
                }
            }
        }
        CellSet::new(keys, values, relations)
    }
}
