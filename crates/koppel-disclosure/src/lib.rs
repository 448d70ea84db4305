//! koppel-disclosure.
pub mod audit;
pub mod cells;
pub mod rules;
pub mod secondary;
pub mod table;
