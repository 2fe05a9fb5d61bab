//! PDQ perceptual hashing, bit-exact with Meta's C++ reference core.

mod hash;

pub use hash::{Hash256, ParseHashError};
