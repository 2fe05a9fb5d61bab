//! Error types of the index crate.

/// Why an entry could not be added to an index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// PDQ entry ids must grow with every insert (that keeps the id map a few bytes).
    #[error(
        "entry id {id} is not greater than the last id {last}; PDQ ids must be added in increasing order"
    )]
    IdOrder {
        /// The id that was offered.
        id: u32,
        /// The largest id already in the index.
        last: u32,
    },
    /// The same id was given twice to a build.
    #[error("duplicate entry id {0}")]
    DuplicateId(u32),
    /// More than `u32::MAX` entries.
    #[error("the index is full (at most 4294967295 entries)")]
    Full,
}

/// Why a snapshot file could not be read (or written).
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The operating system refused a read or write.
    #[error("snapshot I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not start with the schoon snapshot magic: it is some other file.
    #[error("not a schoon index snapshot (bad magic)")]
    BadMagic,
    /// Written by a newer or older, incompatible format version.
    #[error("unsupported snapshot version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// Version found in the file.
        found: u32,
        /// Version this build understands.
        supported: u32,
    },
    /// A snapshot of another structure (e.g. a digest set where a PDQ index was expected).
    #[error("snapshot holds a {found}, expected a {expected}")]
    WrongKind {
        /// What the file holds.
        found: &'static str,
        /// What the caller asked for.
        expected: &'static str,
    },
    /// The file ends early.
    #[error("snapshot is truncated")]
    Truncated,
    /// A section's CRC-32 does not match its bytes.
    #[error("snapshot checksum mismatch in section {section}")]
    Checksum {
        /// Section tag, e.g. `HASH`.
        section: String,
    },
    /// The checksums are right but the content is inconsistent (or a section is missing).
    #[error("corrupt snapshot: {0}")]
    Corrupt(String),
}
