//! One module per subcommand: argument struct plus a `run` that calls a library.

pub mod check;
pub mod key;
pub mod pseudonymise;
pub mod run;
pub mod synth;
pub mod validate;
pub mod verify;
