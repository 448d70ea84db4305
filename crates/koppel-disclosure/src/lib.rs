//! koppel-disclosure.
pub mod audit;
pub mod cells;
pub mod lp;
pub mod package;
pub mod rules;
pub mod secondary;
pub mod table;
