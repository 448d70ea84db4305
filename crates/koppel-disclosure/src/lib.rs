//! koppel-disclosure.
pub mod audit;
pub mod package;
pub mod cells;
pub mod rules;
pub mod secondary;
pub mod table;
