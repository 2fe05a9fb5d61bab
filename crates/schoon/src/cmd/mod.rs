//! One module per sub-command.

pub mod hash;
