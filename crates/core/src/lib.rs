//! schoon domain types and pure policies for the hash-check service.
//!
//! No I/O and no async here: the store, the server and the CLI share these types and decisions,
//! and everything in this crate is tested by plain unit tests.
//!
//! (The package is called `schoon-core` because a crate named `core` would shadow Rust's own.)

pub mod apikey;
pub mod audit;
pub mod hit;
pub mod model;
pub mod order;
pub mod policy;
pub mod report;
pub mod signal;
pub mod takedown;

pub use model::*;
pub use signal::{SignalError, SignalType, SignalValue};
