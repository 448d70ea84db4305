//! koppel-link: linkage and cohort outcomes (DESIGN §5). Under construction (issue #6).
