//! placeholder docs (rewritten below)
#![warn(missing_docs)]

mod bits;
pub mod error;
mod kernel;
mod mem;
mod mih;
pub mod pdq_index;
pub mod snapshot;
mod words;

pub use error::{IndexError, SnapshotError};
pub use pdq_index::{DihedralMatch, PdqIndex, PdqIndexStats, PdqMatch};
