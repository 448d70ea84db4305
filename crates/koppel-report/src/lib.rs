//! koppel-report: researcher package and HTML report (DESIGN §7). Under construction (issue #8).
