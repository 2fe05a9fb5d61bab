//! One module per sub-command.

pub mod admin;
pub mod attribution;
pub mod audit;
pub mod dbops;
pub mod followup;
pub mod hash;
pub mod index;
pub mod matching;
pub mod report;
pub mod serve;
