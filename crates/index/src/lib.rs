//! placeholder docs (rewritten below)
#![warn(missing_docs)]

mod bits;
pub mod digest;
pub mod error;
pub mod index;
mod kernel;
pub mod lists;
mod mem;
mod mih;
pub mod pdq_index;
pub mod snapshot;
mod words;

pub use digest::{DigestSet, Md5Set, Sha1Set, Sha256Set};
pub use error::{IndexError, SnapshotError};
pub use index::{
    Digest, DihedralHit, EntryId, EntryInfo, Index, IndexBuilder, IndexInfo, ListInfo, PdqHit,
};
pub use lists::{
    ListEntry, ListError, ListErrorKind, ListFormat, ListReader, ListWriter, ReadOptions, Signal,
    SignalKind, read_list, read_list_with_progress,
};
pub use pdq_index::{DihedralMatch, PdqIndex, PdqIndexStats, PdqMatch};
