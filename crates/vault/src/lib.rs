/*!
The evidence vault: encrypted, content-addressed storage of fetched media and their fetch records.

DESIGN.md rule 2 says media bytes are toxic: held only as long as the workflow needs, encrypted at rest, never
logged, served only to authorised analysts. This crate is the *storage* half of that rule. The server does the
authorisation and the audit; the report pipeline decides what is kept and for how long.

# Overview

- [`KeyRing`]: the configured keys (`[vault] keys = ["k2:BASE64", "k1:BASE64"]`, current first).
- [`Vault`]: a directory. [`Vault::put`] stores an item's bytes with an [`EvidenceMeta`] fetch record and returns
  an [`EvidenceRef`] (the item's SHA-256). [`Vault::get`] returns the bytes and every fetch record.
  [`Vault::purge`] carries out the retention policy, [`Vault::rotate`] moves everything to the current key.
- [`Error`]: one typed error; its messages never contain bytes, keys, URLs or plaintext digests.

The API is synchronous and the vault is `Send + Sync`: share it in an `Arc` and call it through
`tokio::task::spawn_blocking`.

```
use vault::{EvidenceMeta, EvidenceRef, KeyRing, Vault};

let dir = tempfile::tempdir()?;
let ring = KeyRing::generate("k1")?;            // first start; persist ring.export_config_entries()
let vault = Vault::open(dir.path(), ring)?;

let bytes = b"benign test bytes".to_vec();
let meta = EvidenceMeta {
    original_url: "https://example.invalid/page".into(),
    final_url: "https://example.invalid/a.jpg".into(),
    fetched_at: chrono::Utc::now(),
    http_status: 200,
    headers: vault::sanitize_headers([("Content-Type", "image/jpeg")]),
    resolved_ip: Some("192.0.2.7".parse()?),
    content_type: "image/jpeg".into(),
    size: bytes.len() as u64,
    sha256: *EvidenceRef::of(&bytes).sha256(),
};
let evidence = vault.put(&bytes, &meta)?;
let (back, fetches) = vault.get(&evidence)?;
assert_eq!(back, bytes);
assert_eq!(fetches, vec![meta]);
# Ok::<(), Box<dyn std::error::Error>>(())
```

# Threat model

**Protects against** anyone who obtains the vault directory without the keys: a stolen or seized disk, a leaked
backup or snapshot, a decommissioned drive, an over-broad file-system permission.

- Every object (bytes, fetch record, naming key) is sealed with XChaCha20-Poly1305 under a key derived with
  HKDF-SHA256 from a configured master key, with a fresh random 192-bit nonce. Plaintext never touches the disk,
  not even as a temp file.
- **File names reveal nothing.** An item's directory is named by HMAC-SHA256 of its SHA-256 under a random
  *naming key*. With plain SHA-256 names, whoever holds the disk and a hash list could confirm which known
  material is stored without decrypting anything. The naming key is generated when the vault is created and
  stored sealed under the ring's current key in `naming.key` (re-sealed by `rotate`). It is deliberately not
  derived from a ring key, so names stay stable when keys rotate and no object has to move.
- **Tampering and swapping are detected.** The authenticated header carries the format version, the object kind
  and the key id; the associated data binds the header to the object's place: the item's keyed name (so the
  item's reference) and, for fetch records, the record id. A modified byte, a truncated file, or a file copied
  over another item's file fails with [`Error::Corrupt`]. `get` also re-hashes the bytes against the reference.
- What a disk still shows: how many items and fetch records exist, their sizes (ciphertext length = plaintext
  length + 56–87 bytes), and file times. Padding sizes was judged not worth the space.

**Does not protect against** a compromised running server or a compromised operator: the process holds the
keys and decrypts on request. Access control, the four-eyes rules and the audit of every view are the server's
job. Nor does it protect the keys themselves: keep them out of the vault's backups (configuration or a secret
store) — a backup that contains both is not protected.

**Deletion** unlinks files. Overwriting in place is not done: on SSDs and copy-on-write file systems it does not
reach the old blocks. Remnants are ciphertext; to make them unreadable, rotate and then destroy the old key.

# Storage and concurrency

See the layout in the `vault` module source and the README. Each write is a temp file, `fsync`, `rename`,
`fsync` of the directory. Writers of the same item (put, delete, purge, rotate) are serialised by `flock` on one
of 256 lock files, which works across threads and across processes on one machine (not on network file
systems). Readers take no locks; they only ever see complete files.

Content addressing: the same bytes stored twice are stored once; each distinct fetch gets its own small sealed
record (`fetch-<id>`), whose id is a keyed hash of the record, so a retried `put` with identical metadata is a
no-op (jobs are delivered at least once, DESIGN.md rule 5).

Retention: the workflow decides which items are purgeable (case closed, retention elapsed, no open case refers to
them) and calls [`Vault::purge`] with a cutoff. A `put` of the same bytes racing with the purge writes a record
newer than the cutoff, so the bytes survive; if the purge wins the lock first, the `put` re-creates the item.
*/

#![deny(missing_docs)]

mod error;
mod format;
mod keys;
mod meta;
mod vault;

pub use error::{Error, Result};
pub use keys::{KEY_LEN, KeyRing, MAX_KEY_ID_LEN};
pub use meta::{
    EvidenceMeta, EvidenceRef, MAX_CONTENT_TYPE_LEN, MAX_HEADER_NAME_LEN, MAX_HEADER_VALUE_LEN,
    MAX_HEADERS, MAX_URL_LEN, ParseRefError, sanitize_headers,
};
pub use vault::{MAX_EVIDENCE_BYTES, PurgeReport, RotateReport, Vault};
