//! koppel-disclosure: tables with margins, primary and secondary
//! suppression, rounding, the LP audit and the package check (docs/disclosure.md).
//!
//! * [`cells`]: the table-independent core (cells, additive relations,
//!   statuses); every table set becomes one [`cells::CellSet`].
//! * [`secondary`]: secondary suppression, an audit-driven greedy (closure of
//!   lonely relations, interval check, repair), and the naive baseline used
//!   for comparison.
//! * [`audit`]: the attacker's feasible interval of every suppressed cell,
//!   formulated independently of the suppression code; the export gate.
//! * [`lp`]: the table-agnostic interval-LP helper behind the audit: exact
//!   presolve (two-member relations substituted, one-member relations turned
//!   into bounds, linearly dependent equations dropped), certification from
//!   feasible points, and warm re-solves for exact bounds.
//! * [`table`], [`package`], [`rules`]: protecting table files, checking a
//!   researcher package, and the disclosure rules.
pub mod audit;
pub mod cells;
pub mod lp;
pub mod package;
pub mod rules;
pub mod secondary;
pub mod table;
