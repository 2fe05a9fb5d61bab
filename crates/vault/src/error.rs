//! The vault's one error type.
//!
//! Messages name files (whose names are keyed hashes and reveal nothing), key *ids* and reasons; they never contain
//! media bytes, key material, URLs or plaintext digests, so callers may log them as they are.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the vault.
///
/// Variants are coarse on purpose: a caller needs to know whether to retry (`Io`), alert an operator about the key
/// configuration (`UnknownKey`, `KeyMismatch`, `BadKey`), alert about tampering (`Corrupt`), or fix its own input
/// (`BadMeta`, `TooLarge`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file-system operation failed (disk full, permissions, …). Usually worth retrying later.
    #[error("vault i/o error ({op}) on {path}: {source}")]
    Io {
        /// What the vault was doing.
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// An object failed authentication or is malformed: the file was tampered with, truncated, swapped with
    /// another object's file, or damaged on disk. Never retried; an operator must look.
    #[error("vault object {path} is corrupt or was tampered with: {reason}")]
    Corrupt {
        /// The object file.
        path: PathBuf,
        /// Which check failed.
        reason: &'static str,
    },
    /// The object was written under a key id that is not in the key ring (an old key was dropped from the
    /// configuration before `rotate` finished, or the wrong configuration is loaded). A tampered header can also
    /// produce this; either way the object is not readable with this ring.
    #[error(
        "vault object {path} was written under key id {key_id:?}, which is not in the key ring"
    )]
    UnknownKey {
        /// The key id recorded in the object's header.
        key_id: String,
        /// The object file.
        path: PathBuf,
    },
    /// The key ring has a key with the object's key id, but it is a different key (its fingerprint differs): a
    /// typing or copy error in the configuration, or two deployments that reused an id (or a tampered header).
    #[error(
        "key id {key_id:?} in the key ring is not the key vault object {path} was written with"
    )]
    KeyMismatch {
        /// The key id recorded in the object's header.
        key_id: String,
        /// The object file.
        path: PathBuf,
    },
    /// No evidence is stored under this reference.
    #[error("evidence not found in the vault")]
    NotFound,
    /// The key configuration is unusable (bad syntax, wrong length, duplicate id, empty ring). The message names
    /// the entry and key id, never the key material.
    #[error("bad vault key configuration: {0}")]
    BadKey(String),
    /// The metadata handed to `put` is inconsistent with the bytes or exceeds a limit.
    #[error("evidence metadata rejected: {0}")]
    BadMeta(&'static str),
    /// The item is larger than the vault accepts.
    #[error("evidence of {size} bytes exceeds the vault limit of {limit} bytes")]
    TooLarge {
        /// Size offered.
        size: u64,
        /// The limit ([`crate::MAX_EVIDENCE_BYTES`]).
        limit: u64,
    },
    /// The operating system's random number generator failed (no nonce or key can be made safely).
    #[error("the operating system's random number generator failed: {0}")]
    Rng(String),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps an `io::Error` with the operation and path.
pub(crate) fn io_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}

/// Builds a `Corrupt` error.
pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: &'static str) -> Error {
    Error::Corrupt {
        path: path.into(),
        reason,
    }
}
