//! koppel-disclosure: tables with margins, primary and secondary
//! suppression, rounding, the LP audit and the package check (docs/disclosure.md).
//!
//! * [`cells`]: the table-independent core (cells, additive relations,
//!   nested cells, statuses); every table set becomes one [`cells::CellSet`].
//! * [`secondary`]: secondary suppression, an audit-driven greedy (closure of
//!   lonely relations, interval check, repair), and the naive baseline used
//!   for comparison.
//! * [`release`]: the release pass after the greedy: every secondary cell is
//!   tried for publication on its own, most expensive first (margins and
//!   whole-cohort cells before inner cells, zeros last; on small cohorts in
//!   the order [`capacity`] gives), and published when the attacker LP
//!   keeps every primary wide enough. Afterwards no secondary cell can be
//!   published on its own.
//! * [`capacity`]: the release pass on small cohorts, guided by the optimal
//!   suppression model (capacity cuts from the attacker LP's dual): its LP
//!   relaxation and an integer master order the cells a cheapest protection
//!   would publish first.
//! * [`audit`]: the attacker's feasible interval of every suppressed cell,
//!   formulated independently of the suppression code; the export gate.
//! * [`lp`]: the table-agnostic interval-LP helper behind the audit: exact
//!   presolve (two-member relations substituted, one-member relations turned
//!   into bounds, linearly dependent equations dropped), certification from
//!   feasible points, and warm re-solves for exact bounds.
//! * [`loss`]: information loss per table (cells and persons published) and
//!   the coarser table suggested for a table that ends mostly suppressed.
//! * [`table`], [`package`], [`rules`]: protecting table files, checking a
//!   researcher package, and the disclosure rules.
pub mod audit;
pub mod capacity;
pub mod cells;
pub mod loss;
pub mod lp;
pub mod package;
pub mod release;
pub mod rules;
pub mod secondary;
pub mod table;
