//! koppel-disclosure (docs filled in below).
pub mod audit;
pub mod cells;
pub mod secondary;
