//! Hash lists and the match index of schoon: exact-digest sets (MD5, SHA-1, SHA-256), an
//! exact PDQ radius index, snapshots, and hash-list import/export.
//!
//! # What is here
//!
//! * [`PdqIndex`] — every entry within a Hamming radius of a query (any radius 0..=256,
//!   per query), exactly the set a brute-force scan returns; an 8-variant (dihedral)
//!   query; incremental [`insert`](PdqIndex::insert) and [`remove`](PdqIndex::remove);
//!   snapshots. Entry ids are caller-chosen `u32`s that must increase with every insert
//!   (an SQL row id or a counter): that keeps the id map a few bytes in total.
//! * [`DigestSet`] ([`Md5Set`], [`Sha1Set`], [`Sha256Set`]) — digest → entry ids, 36 bytes
//!   per SHA-256 entry, incremental too.
//! * [`Index`] — what `schoon index build` writes and `schoon match` loads: the above plus
//!   a metadata table (list, category, source, date) per entry, `info()`, save/load.
//! * [`lists`] — streaming import of hex-per-line, CSV-with-header, python-threatexchange
//!   / HMA and NCMEC/IWF-style lists with line-numbered errors, and CSV export.
//! * [`snapshot`] — the versioned, checksummed container all of them are saved in.
//!
//! The server keeps entry metadata in SQL and only needs [`PdqIndex`] and the digest
//! sets, which do not depend on the metadata.
//!
//! # How the PDQ index works, and why
//!
//! The reference tooling (python-threatexchange, HMA) uses faiss
//! `IndexBinaryMultiHash(256, 16, 16)`: 16 hash tables keyed by 16-bit chunks, probed with
//! one flipped bit (pigeonhole: a hash within 31 bits has a chunk within 1 bit), then
//! every candidate's full hash is compared. At 10 M uniform hashes each 16-bit bucket
//! holds ~153 entries, so a query collects ~41 000 candidates and pays a cache miss for
//! each: about 650 queries/s on this machine. A brute-force scan is worse (~27 ms per
//! query at 10 M, memory-bound). Candidate verification is the cost to cut.
//!
//! Design, chosen by measurement (numbers below):
//!
//! 1. **Longer substrings, same probes.** The hash is cut into 8 parts of 32 bits. By the
//!    generalised pigeonhole principle a hash within 31 bits has a part within 3 bits,
//!    and a 32-bit part within 3 bits has one of its 16-bit halves within 1 bit. So each
//!    part gets two tables (keyed by either half) probed with 17 buckets each — the same
//!    272 probes as faiss — but every entry carries its *other* half (15 bits of it) next
//!    to the key. Filtering on `d(key) + d(partner) ≤ 3` inside the bucket is exact and
//!    keeps ~1 in 400 000 random entries instead of 1 in 240: ~200 survivors to verify
//!    per query at 10 M instead of ~41 000. Other radii use other per-part thresholds
//!    (`Σ (t_p + 1) > r`, probe radii `ρ_a + ρ_b ≥ t_p − 1`); radius 0 probes 1 bucket.
//!    When the cost model says probing would cost more than a scan (radius ≳ 64 or tiny
//!    segments), the segment is scanned instead, so every radius up to 256 is exact.
//! 2. **Compact, scan-friendly tables.** A table is CSR (`2^16 + 1` offsets, entries
//!    sorted by key then position). Entries are struct-of-arrays: a `u16` filter word
//!    (partner bits 15..1 + position bit 16) scanned 16 at a time with AVX2 (runtime
//!    detection, scalar fallback), a `u16` with position bits 0..15, and the high
//!    position bits as Elias–Fano unary codes per bucket (~1.5 bits), decoded only for
//!    survivors. 16 tables × ~4.2 bytes + the 32-byte hash ≈ **99.4 bytes per hash**
//!    (faiss: ~200). A hash found through several tables is reported once: a match is
//!    kept only by the first table whose discovery rule it satisfies.
//! 3. **Overlapping cache misses.** A query is staged: list all buckets and prefetch their
//!    offsets; read offsets; scan buckets while prefetching whole buckets 8 ahead; then
//!    decode survivors' positions and prefetch their hashes; then verify. Large arrays
//!    ask Linux for transparent huge pages (TLB misses otherwise add a page walk to most
//!    of the ~1 500 random cache lines a query touches at 10 M).
//! 4. **Incremental updates.** New entries go to a tail that queries scan (≤ 2 048); a
//!    full tail is frozen into a small segment; segments merge tiered (logarithmic count)
//!    and fold into the main segment when they reach half its size. Removal sets a
//!    tombstone bit (checked for every candidate); `compact()` drops removed entries.
//! 5. **Snapshots** store the arrays as they are in memory (one sequential read, each
//!    8 MiB step CRC-checked while in cache), so loading 10 M hashes is a file read
//!    rather than a rebuild; structure is validated on load so a damaged file can never
//!    cause out-of-bounds access.
//!
//! Clustered data (many near-duplicates) makes buckets uneven and makes many near
//! entries survive the filter in several tables; they are verified once per table,
//! which the benchmark shows costs well under 2× the uniform case.
//!
//! ## Measurements (radius 31, one thread; `bench/index/RESULTS.md` has the full table)
//!
//! Shared 2-vCPU Xeon VM (AVX2), 10 M uniform hashes, load average ≈ 3 from other work:
//!
//! | version | queries/s |
//! |---|---|
//! | 16 tables + partner filter, no prefetching | 7 600 |
//! | staged probe (offsets, buckets, survivors, hashes) | 14 400 |
//! | + whole buckets prefetched 8 ahead | 21 000–22 200 |
//! | + transparent huge pages | 20 500–23 400 |
//!
//! Build 4.3–4.7 s, 99.4 bytes per hash, snapshot load 0.53 s, 8-variant batches
//! 2 850/s; 1 M uniform 50 700 q/s. Side by side with faiss `IndexBinaryMultiHash` on the
//! same data and queries (identical match sets), at load 5–7: 10 M uniform 7 900 vs
//! 11 q/s, 1 M uniform 26 200 vs 263, 1 M clustered 14 600 vs 196; faiss uses 277–352
//! bytes per hash and 77 s to build 10 M.
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
    Digest, DihedralHit, EntryId, EntryInfo, ImportError, ImportReport, Index, IndexBuilder,
    IndexInfo, ListInfo, PdqHit,
};
pub use lists::{
    ListEntry, ListError, ListErrorKind, ListFormat, ListReader, ListWriter, ReadOptions, Signal,
    SignalKind, read_list, read_list_with_progress,
};
pub use pdq_index::{DihedralMatch, PdqIndex, PdqIndexStats, PdqMatch};
