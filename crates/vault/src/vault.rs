//! The directory-backed store.
//!
//! ```text
//! <dir>/naming.key                      the random naming key, sealed under the current ring key
//! <dir>/objects/<2 hex>/<62 hex>/       one directory per stored item; the 64 hex digits are
//!                                       HMAC-SHA256(naming key, "object" ‖ sha256(bytes))
//!         content                       the item bytes, sealed (kind 1)
//!         fetch-<32 hex>                one per distinct fetch: JSON {evidence ref, EvidenceMeta}, sealed (kind 2);
//!                                       the id is a truncated HMAC of the record, so the same put twice is stored once
//! <dir>/tmp/                            ciphertext being written (same file system, so rename is atomic)
//! <dir>/locks/<2 hex>                   empty files; an exclusive `flock` on one serialises writers of the items
//!                                       whose names start with that byte, across threads and processes
//! ```
//!
//! Plaintext never touches the disk, not even in `tmp/`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, Result, corrupt, io_err};
use crate::format::{self, Kind, MAX_HEADER_LEN, MAX_OVERHEAD};
use crate::keys::KeyRing;
use crate::meta::{EvidenceMeta, EvidenceRef};

/// Largest item the vault stores (bytes). Why a cap: objects are read whole into memory; the fetcher's own body
/// cap is far lower, so this only guards against misuse and hostile files on disk.
pub const MAX_EVIDENCE_BYTES: u64 = 1 << 30;
/// Largest serialised fetch record.
const MAX_RECORD_BYTES: usize = 1 << 20;
/// Temp files older than this are debris from a crash and are removed by `open`.
const STALE_TMP_AGE: Duration = Duration::from_secs(3600);
/// Content without any fetch record younger than this is assumed to be a `put` in progress (in another process)
/// and is left alone by [`Vault::purge_where`].
const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

const OBJECTS: &str = "objects";
const TMP: &str = "tmp";
const LOCKS: &str = "locks";
const NAMING_FILE: &str = "naming.key";
const CONTENT: &str = "content";
const FETCH_PREFIX: &str = "fetch-";
const NAMING_BINDING: &[u8] = b"schoon-vault/v1/naming-key";
const NAMING_KEY_LEN: usize = 32;
const RECORD_ID_LEN: usize = 16;

/// The keyed name of an item on disk.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ObjName([u8; 32]);

impl ObjName {
    fn parse(shard: &str, rest: &str) -> Option<Self> {
        if shard.len() != 2 || rest.len() != 62 {
            return None;
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(format!("{shard}{rest}"), &mut out).ok()?;
        Some(Self(out))
    }
}

/// One fetch record as stored (inside the encryption).
#[derive(Serialize, Deserialize)]
struct FetchRecord {
    /// Record format version.
    v: u8,
    /// The item this record belongs to; checked on read against the keyed directory name.
    evidence: EvidenceRef,
    meta: EvidenceMeta,
}

/// What [`Vault::purge`] and [`Vault::purge_where`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PurgeReport {
    /// Items whose bytes and fetch records are gone now.
    pub deleted: Vec<EvidenceRef>,
    /// Items that keep their bytes because at least one fetch record was not selected (e.g. a fetch newer than
    /// the cutoff, made by a concurrent `put`).
    pub kept: Vec<EvidenceRef>,
    /// Items asked for that were not in the vault (already purged: purging is idempotent).
    pub absent: Vec<EvidenceRef>,
    /// Fetch records removed (including those of deleted items).
    pub records_deleted: u64,
    /// Fetch records that could not be read (unknown key, tampered). `purge` deletes them for the items it was
    /// asked to purge; `purge_where` cannot evaluate them and keeps them.
    pub unreadable: u64,
    /// Items with bytes but no fetch record (debris of a crashed `put`) removed by `purge_where`.
    pub orphans_deleted: u64,
}

/// What [`Vault::rotate`] did. Safe to drop the old keys only when [`RotateReport::is_complete`].
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct RotateReport {
    /// Object files looked at.
    pub scanned: u64,
    /// Objects re-encrypted under the current key in this run.
    pub rewritten: u64,
    /// Objects that were already under the current key.
    pub already_current: u64,
    /// Objects under an older key left for a later run because of the batch limit.
    pub remaining: u64,
    /// Whether the naming-key file was re-sealed under the current key in this run.
    pub naming_key_rewrapped: bool,
    /// Objects that could not be re-encrypted (unknown key, tampered); they are left as they are.
    pub failed: Vec<Error>,
}

impl RotateReport {
    /// True when every object is now under the current key.
    pub fn is_complete(&self) -> bool {
        self.remaining == 0 && self.failed.is_empty()
    }
}

/// The evidence vault: encrypted, content-addressed storage of item bytes and their fetch records in a directory.
///
/// All methods are synchronous and take `&self`; the vault is `Send + Sync`, so share it in an `Arc` and call it
/// from `spawn_blocking`. Writers of the same item are serialised by file locks (across threads and processes on
/// one machine); readers take no locks and see whole files only.
pub struct Vault {
    root: PathBuf,
    ring: KeyRing,
    naming_key: Zeroizing<[u8; NAMING_KEY_LEN]>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("root", &self.root)
            .field("ring", &self.ring)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Opens the vault in `dir`, creating it (mode 0700) on first use.
    ///
    /// A new vault gets a random naming key, sealed under the ring's current key in `naming.key`. Stale temp files
    /// from a crash are removed. Fails with [`Error::UnknownKey`] / [`Error::KeyMismatch`] when the ring cannot
    /// open `naming.key`, and with [`Error::Corrupt`] when `naming.key` is missing although objects exist (a new
    /// naming key would silently hide them).
    pub fn open(dir: impl AsRef<Path>, ring: KeyRing) -> Result<Self> {
        let root = dir.as_ref().to_owned();
        for sub in [None, Some(OBJECTS), Some(TMP), Some(LOCKS)] {
            let path = sub.map_or_else(|| root.clone(), |s| root.join(s));
            create_private_dir_all(&path)?;
        }
        clean_stale_tmp(&root.join(TMP));
        let naming_key = load_or_create_naming_key(&root, &ring)?;
        tracing::debug!(current_key = ring.current_id(), "vault opened");
        Ok(Self {
            root,
            ring,
            naming_key,
        })
    }

    /// The vault's directory.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// The key ring in use.
    pub fn key_ring(&self) -> &KeyRing {
        &self.ring
    }

    /// Stores `bytes` with one fetch record, returning the item's reference (its SHA-256).
    ///
    /// Content-addressed: bytes already in the vault are not written again, but the new fetch record is added.
    /// Idempotent: the same bytes with the same metadata a second time (a retried job) change nothing.
    /// `meta.size` and `meta.sha256` must match `bytes` ([`Error::BadMeta`]); headers are passed through
    /// [`crate::sanitize_headers`].
    pub fn put(&self, bytes: &[u8], meta: &EvidenceMeta) -> Result<EvidenceRef> {
        let size = bytes.len() as u64;
        if size > MAX_EVIDENCE_BYTES {
            return Err(Error::TooLarge {
                size,
                limit: MAX_EVIDENCE_BYTES,
            });
        }
        let evidence = EvidenceRef::of(bytes);
        let record = FetchRecord {
            v: 1,
            evidence,
            meta: meta.checked_for(bytes, &evidence)?,
        };
        let json = serde_json::to_vec(&record)
            .map_err(|_| Error::BadMeta("metadata cannot be serialised"))?;
        if json.len() > MAX_RECORD_BYTES {
            return Err(Error::BadMeta("metadata larger than the vault accepts"));
        }
        let name = self.object_name(&evidence)?;
        let record_id = self.record_id(&name, &json)?;
        let dir = self.item_dir(&name);

        let _lock = self.lock(&name)?;
        self.ensure_item_dir(&dir)?;
        let content = dir.join(CONTENT);
        let record_path = dir.join(record_file_name(&record_id));
        // Both files are written and fsynced as temp files first, then renamed into place (content first) and the
        // directory is fsynced once: each file appears whole or not at all, at a third of the fsyncs of doing them
        // one by one. After a crash between the renames, bytes may exist without a record (swept by
        // `purge_where`), or a record without bytes (reported as `NotFound`; the retried put re-creates the bytes).
        let mut pending = Vec::with_capacity(2);
        if !exists(&content)? {
            let sealed = format::seal(self.ring.current(), Kind::Content, &name.0, bytes)?;
            pending.push((self.write_tmp(&sealed)?, content));
        }
        if !exists(&record_path)? {
            let binding = record_binding(&name, &record_id);
            let sealed = format::seal(self.ring.current(), Kind::Fetch, &binding, &json);
            match sealed.and_then(|sealed| self.write_tmp(&sealed)) {
                Ok(tmp) => pending.push((tmp, record_path)),
                Err(e) => {
                    discard_tmp(&pending);
                    return Err(e);
                }
            }
        }
        if pending.is_empty() {
            return Ok(evidence);
        }
        for (i, (tmp, path)) in pending.iter().enumerate() {
            if let Err(e) = fs::rename(tmp, path) {
                discard_tmp(&pending[i..]);
                return Err(io_err("rename into place", path)(e));
            }
        }
        sync_dir(&dir)?;
        Ok(evidence)
    }

    /// The item's bytes and all its fetch records (oldest fetch first).
    ///
    /// [`Error::NotFound`] when the item is not stored; [`Error::Corrupt`] when any of its files fails
    /// authentication or the bytes do not hash to `evidence`.
    pub fn get(&self, evidence: &EvidenceRef) -> Result<(Vec<u8>, Vec<EvidenceMeta>)> {
        let name = self.object_name(evidence)?;
        let dir = self.item_dir(&name);
        let path = dir.join(CONTENT);
        let data = read_object(&path, MAX_EVIDENCE_BYTES as usize + MAX_OVERHEAD)?
            .ok_or(Error::NotFound)?;
        let bytes = format::open(&self.ring, Kind::Content, &name.0, data, &path)?;
        if EvidenceRef::of(&bytes) != *evidence {
            return Err(corrupt(path, "content does not hash to its reference"));
        }
        let metas = self.read_records(&name, &dir, evidence)?;
        Ok((bytes, metas))
    }

    /// The item's fetch records only (oldest first), without decrypting the bytes. Why: listing an item's history
    /// in the UI should not handle toxic bytes at all.
    pub fn fetches(&self, evidence: &EvidenceRef) -> Result<Vec<EvidenceMeta>> {
        let name = self.object_name(evidence)?;
        let dir = self.item_dir(&name);
        if !exists(&dir.join(CONTENT))? {
            return Err(Error::NotFound);
        }
        self.read_records(&name, &dir, evidence)
    }

    /// Whether the item's bytes are stored (checks presence only, decrypts nothing).
    pub fn contains(&self, evidence: &EvidenceRef) -> Result<bool> {
        let name = self.object_name(evidence)?;
        exists(&self.item_dir(&name).join(CONTENT))
    }

    /// Deletes the item's bytes and all its fetch records. Returns whether anything was there.
    ///
    /// Files are unlinked, not overwritten: on SSDs and copy-on-write file systems overwriting does not reach the
    /// old blocks, and what remains on the medium is ciphertext. Destroying the *key* (after rotating everything
    /// else away from it) is what makes such remnants unreadable.
    pub fn delete(&self, evidence: &EvidenceRef) -> Result<bool> {
        let name = self.object_name(evidence)?;
        let dir = self.item_dir(&name);
        let _lock = self.lock(&name)?;
        self.remove_item_dir(&dir)
    }

    /// Retention purge of items the workflow has decided are purgeable (case closed, retention elapsed, no open
    /// case references them): removes each item's fetch records made before `fetched_before`, and the bytes once
    /// no record is left.
    ///
    /// The cutoff is what makes purging safe next to a concurrent [`Vault::put`] of the same bytes for a new case:
    /// that put writes a record fetched *now*, after the cutoff, so the item is reported in `kept` and its bytes
    /// stay. Put and purge of one item are serialised by a file lock, so neither sees the other half-done; if the
    /// purge runs first, the put simply re-creates the item. Records that cannot be read (unknown key, tampered)
    /// are deleted with the item they belong to, since the caller has declared the item purgeable.
    pub fn purge(
        &self,
        refs: &[EvidenceRef],
        fetched_before: DateTime<Utc>,
    ) -> Result<PurgeReport> {
        let mut report = PurgeReport::default();
        let mut older = |_: &EvidenceRef, m: &EvidenceMeta| m.fetched_at < fetched_before;
        for evidence in refs {
            let name = self.object_name(evidence)?;
            self.purge_item(&name, Some(evidence), &mut older, &mut report)?;
        }
        tracing::info!(
            deleted = report.deleted.len(),
            kept = report.kept.len(),
            absent = report.absent.len(),
            records_deleted = report.records_deleted,
            unreadable = report.unreadable,
            "vault purge finished"
        );
        Ok(report)
    }

    /// Sweeps the whole vault: removes every fetch record for which `select(ref, meta)` is true, and the bytes of
    /// items left without records. Also removes items whose bytes have had no record for over an hour (debris of
    /// a crashed `put`). Unreadable records are kept and counted. Decrypts every fetch record (not the bytes), so
    /// it is meant for an occasional safety-net job ("nothing older than N days, whatever the workflow says"),
    /// not for the per-case purge.
    pub fn purge_where<F>(&self, mut select: F) -> Result<PurgeReport>
    where
        F: FnMut(&EvidenceRef, &EvidenceMeta) -> bool,
    {
        let mut report = PurgeReport::default();
        for (name, _) in self.item_dirs()? {
            self.purge_item(&name, None, &mut select, &mut report)?;
        }
        tracing::info!(
            deleted = report.deleted.len(),
            kept = report.kept.len(),
            records_deleted = report.records_deleted,
            unreadable = report.unreadable,
            orphans_deleted = report.orphans_deleted,
            "vault sweep finished"
        );
        Ok(report)
    }

    /// Re-encrypts every object written under an older key with the current key, and re-seals `naming.key`.
    ///
    /// Idempotent and resumable: each object is replaced atomically on its own, and objects already under the
    /// current key are skipped after reading only their header, so an interrupted run is simply run again.
    /// Objects that cannot be opened are listed in [`RotateReport::failed`] and left alone; I/O errors abort.
    pub fn rotate(&self) -> Result<RotateReport> {
        self.rotate_some(usize::MAX)
    }

    /// Like [`Vault::rotate`], but re-encrypts at most `max_rewrites` objects (the rest are counted in
    /// [`RotateReport::remaining`]). Why: a job can rotate a large vault in bounded slices.
    pub fn rotate_some(&self, max_rewrites: usize) -> Result<RotateReport> {
        let mut report = RotateReport {
            naming_key_rewrapped: self.rewrap_naming_key()?,
            ..RotateReport::default()
        };
        let current = self.ring.current();
        let mut budget = max_rewrites;
        for (name, dir) in self.item_dirs()? {
            let _lock = self.lock(&name)?;
            for (kind, binding, path) in self.item_files(&name, &dir)? {
                let Some(prefix) = read_prefix(&path, MAX_HEADER_LEN)? else {
                    continue;
                };
                report.scanned += 1;
                let header = match format::parse_header(&prefix) {
                    Ok(h) => h,
                    Err(reason) => {
                        report.failed.push(corrupt(&path, reason));
                        continue;
                    }
                };
                if header.is_sealed_under(current) {
                    report.already_current += 1;
                    continue;
                }
                if budget == 0 {
                    report.remaining += 1;
                    continue;
                }
                let Some(data) = read_object(&path, MAX_EVIDENCE_BYTES as usize + MAX_OVERHEAD)?
                else {
                    continue;
                };
                let plain = match format::open(&self.ring, kind, &binding, data, &path) {
                    Ok(p) => Zeroizing::new(p),
                    Err(e) => {
                        report.failed.push(e);
                        continue;
                    }
                };
                let sealed = format::seal(current, kind, &binding, &plain)?;
                self.write_atomic(&path, &sealed)?;
                report.rewritten += 1;
                budget -= 1;
            }
        }
        tracing::info!(
            scanned = report.scanned,
            rewritten = report.rewritten,
            already_current = report.already_current,
            remaining = report.remaining,
            failed = report.failed.len(),
            current_key = current.id.as_str(),
            "vault key rotation pass finished"
        );
        Ok(report)
    }

    /// Bytes used on disk by the vault (ciphertext, headers and the naming key; directories not counted).
    pub fn size_on_disk(&self) -> Result<u64> {
        dir_size(&self.root)
    }

    // ----- internals -----

    fn mac(&self, parts: &[&[u8]]) -> Result<[u8; 32]> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.naming_key.as_ref())
            .map_err(|_| Error::BadKey("naming key unusable".into()))?;
        for part in parts {
            mac.update(part);
        }
        Ok(mac.finalize().into_bytes().into())
    }

    fn object_name(&self, evidence: &EvidenceRef) -> Result<ObjName> {
        self.mac(&[b"schoon-vault/v1/object\0", evidence.sha256()])
            .map(ObjName)
    }

    fn record_id(&self, name: &ObjName, record_json: &[u8]) -> Result<[u8; RECORD_ID_LEN]> {
        let full = self.mac(&[b"schoon-vault/v1/fetch\0", &name.0, record_json])?;
        let mut id = [0u8; RECORD_ID_LEN];
        id.copy_from_slice(&full[..RECORD_ID_LEN]);
        Ok(id)
    }

    fn item_dir(&self, name: &ObjName) -> PathBuf {
        let hexed = hex::encode(name.0);
        let (shard, rest) = hexed.split_at(2);
        self.root.join(OBJECTS).join(shard).join(rest)
    }

    /// Takes the exclusive lock for the items whose name starts with `name`'s first byte. Held until the returned
    /// file is dropped. A fresh open per call, because `flock` excludes open file descriptions, not threads.
    fn lock(&self, name: &ObjName) -> Result<File> {
        let path = self.root.join(LOCKS).join(hex::encode([name.0[0]]));
        let file = private_open_options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err("open lock file", &path))?;
        file.lock().map_err(io_err("lock", &path))?;
        Ok(file)
    }

    /// Creates an item's directory (and its shard) if needed, making the new entries durable.
    fn ensure_item_dir(&self, dir: &Path) -> Result<()> {
        if exists(dir)? {
            return Ok(());
        }
        if let Some(shard) = dir.parent() {
            if !exists(shard)? {
                create_private_dir_all(shard)?;
                sync_dir(&self.root.join(OBJECTS))?;
            }
            create_private_dir_all(dir)?;
            sync_dir(shard)?;
        }
        Ok(())
    }

    /// Writes `data` to a temp file, fsyncs it, renames it over `path` and fsyncs the directory.
    fn write_atomic(&self, path: &Path, data: &[u8]) -> Result<()> {
        let tmp = self.write_tmp(data)?;
        if let Err(e) = fs::rename(&tmp, path) {
            let _ = fs::remove_file(&tmp);
            return Err(io_err("rename into place", path)(e));
        }
        match path.parent() {
            Some(parent) => sync_dir(parent),
            None => Ok(()),
        }
    }

    fn write_tmp(&self, data: &[u8]) -> Result<PathBuf> {
        write_tmp_in(&self.root.join(TMP), data)
    }

    /// Reads, authenticates and checks all fetch records of one item, oldest first.
    fn read_records(
        &self,
        name: &ObjName,
        dir: &Path,
        evidence: &EvidenceRef,
    ) -> Result<Vec<EvidenceMeta>> {
        let mut metas = Vec::new();
        for (id, path) in list_records(dir)? {
            // A record that vanished between listing and reading was purged meanwhile: not an error.
            if let Some(record) = self.read_record(name, &id, &path)? {
                if record.evidence != *evidence {
                    return Err(corrupt(path, "fetch record belongs to another item"));
                }
                metas.push(record.meta);
            }
        }
        metas.sort_by(|a, b| {
            (a.fetched_at, &a.final_url, &a.original_url).cmp(&(
                b.fetched_at,
                &b.final_url,
                &b.original_url,
            ))
        });
        Ok(metas)
    }

    fn read_record(
        &self,
        name: &ObjName,
        id: &[u8; RECORD_ID_LEN],
        path: &Path,
    ) -> Result<Option<FetchRecord>> {
        let Some(data) = read_object(path, MAX_RECORD_BYTES + MAX_OVERHEAD)? else {
            return Ok(None);
        };
        let plain = format::open(
            &self.ring,
            Kind::Fetch,
            &record_binding(name, id),
            data,
            path,
        )?;
        let record: FetchRecord = serde_json::from_slice(&plain)
            .map_err(|_| corrupt(path, "fetch record is not valid JSON"))?;
        if record.v != 1 {
            return Err(corrupt(path, "unsupported fetch record version"));
        }
        if self.object_name(&record.evidence)? != *name
            || record.meta.sha256 != *record.evidence.sha256()
        {
            return Err(corrupt(path, "fetch record belongs to another item"));
        }
        Ok(Some(record))
    }

    /// The object files of one item with their kind and AEAD binding, content first.
    fn item_files(&self, name: &ObjName, dir: &Path) -> Result<Vec<(Kind, Vec<u8>, PathBuf)>> {
        let mut files = Vec::new();
        let content = dir.join(CONTENT);
        if exists(&content)? {
            files.push((Kind::Content, name.0.to_vec(), content));
        }
        for (id, path) in list_records(dir)? {
            files.push((Kind::Fetch, record_binding(name, &id), path));
        }
        Ok(files)
    }

    fn purge_item(
        &self,
        name: &ObjName,
        expected: Option<&EvidenceRef>,
        select: &mut dyn FnMut(&EvidenceRef, &EvidenceMeta) -> bool,
        report: &mut PurgeReport,
    ) -> Result<()> {
        let dir = self.item_dir(name);
        let _lock = self.lock(name)?;
        let content = dir.join(CONTENT);
        let has_content = exists(&content)?;
        let records = list_records(&dir)?;
        if !has_content && records.is_empty() {
            if let Some(r) = expected {
                report.absent.push(*r);
            }
            // An empty directory (e.g. left by a crash during delete) is removed either way.
            self.remove_item_dir(&dir)?;
            return Ok(());
        }
        let sweep = expected.is_none();
        let mut known = expected.copied();
        let mut remaining = 0u64;
        for (id, path) in &records {
            let record = match self.read_record(name, id, path) {
                Ok(Some(r)) if expected.is_none_or(|e| *e == r.evidence) => r,
                Ok(None) => continue,
                Ok(Some(_)) | Err(_) => {
                    report.unreadable += 1;
                    if sweep {
                        remaining += 1;
                    } else {
                        remove_file_if_present(path)?;
                        report.records_deleted += 1;
                    }
                    continue;
                }
            };
            known = Some(record.evidence);
            if select(&record.evidence, &record.meta) {
                remove_file_if_present(path)?;
                report.records_deleted += 1;
            } else {
                remaining += 1;
            }
        }
        if remaining > 0 {
            if let Some(r) = known {
                report.kept.push(r);
            }
            if let Some(parent) = content.parent() {
                sync_dir(parent)?;
            }
            return Ok(());
        }
        if sweep && records.is_empty() {
            // Bytes without any record: a crashed put, or a put in another process between its two writes.
            if !older_than(&content, ORPHAN_GRACE)? {
                return Ok(());
            }
            report.orphans_deleted += 1;
        } else if let Some(r) = known {
            report.deleted.push(r);
        }
        self.remove_item_dir(&dir)?;
        Ok(())
    }

    /// Removes every file of an item and its directory. Returns whether anything existed.
    fn remove_item_dir(&self, dir: &Path) -> Result<bool> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_err("list item", dir)(e)),
        };
        let mut any = false;
        for entry in entries {
            let entry = entry.map_err(io_err("list item", dir))?;
            remove_file_if_present(&entry.path())?;
            any = true;
        }
        match fs::remove_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove item directory", dir)(e)),
        }
        if let Some(shard) = dir.parent() {
            sync_dir(shard)?;
        }
        Ok(any)
    }

    /// Every item directory, in name order.
    fn item_dirs(&self) -> Result<Vec<(ObjName, PathBuf)>> {
        let objects = self.root.join(OBJECTS);
        let mut out = Vec::new();
        for shard in sorted_entries(&objects)? {
            let Some(shard_name) = shard
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_owned)
            else {
                continue;
            };
            if !shard.is_dir() {
                continue;
            }
            for item in sorted_entries(&shard)? {
                let Some(rest) = item.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if let Some(name) = ObjName::parse(&shard_name, rest) {
                    out.push((name, item));
                }
            }
        }
        Ok(out)
    }

    /// Re-seals `naming.key` under the current key if it is under an older one.
    fn rewrap_naming_key(&self) -> Result<bool> {
        let path = self.root.join(NAMING_FILE);
        let data = read_object(&path, 4096)?
            .ok_or_else(|| corrupt(&path, "naming key file is missing"))?;
        let header = format::parse_header(&data).map_err(|reason| corrupt(&path, reason))?;
        let current = self.ring.current();
        if header.is_sealed_under(current) {
            return Ok(false);
        }
        let plain = Zeroizing::new(format::open(
            &self.ring,
            Kind::NamingKey,
            NAMING_BINDING,
            data,
            &path,
        )?);
        let sealed = format::seal(current, Kind::NamingKey, NAMING_BINDING, &plain)?;
        self.write_atomic(&path, &sealed)?;
        Ok(true)
    }
}

fn record_file_name(id: &[u8; RECORD_ID_LEN]) -> String {
    format!("{FETCH_PREFIX}{}", hex::encode(id))
}

fn record_binding(name: &ObjName, id: &[u8; RECORD_ID_LEN]) -> Vec<u8> {
    let mut b = Vec::with_capacity(32 + RECORD_ID_LEN);
    b.extend_from_slice(&name.0);
    b.extend_from_slice(id);
    b
}

/// Removes temp files that will not be renamed into place (best effort: `open` sweeps leftovers).
fn discard_tmp(pending: &[(PathBuf, PathBuf)]) {
    for (tmp, _) in pending {
        let _ = fs::remove_file(tmp);
    }
}

/// The fetch records in an item directory, by id. Other file names are ignored.
fn list_records(dir: &Path) -> Result<Vec<([u8; RECORD_ID_LEN], PathBuf)>> {
    let mut out = Vec::new();
    for path in sorted_entries(dir)? {
        let Some(id_hex) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix(FETCH_PREFIX))
        else {
            continue;
        };
        let mut id = [0u8; RECORD_ID_LEN];
        if hex::decode_to_slice(id_hex, &mut id).is_ok() {
            out.push((id, path));
        }
    }
    Ok(out)
}

/// Directory entries sorted by name; empty when the directory does not exist.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list directory", dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        out.push(entry.map_err(io_err("list directory", dir))?.path());
    }
    out.sort();
    Ok(out)
}

fn exists(path: &Path) -> Result<bool> {
    path.try_exists().map_err(io_err("stat", path))
}

fn older_than(path: &Path, age: Duration) -> Result<bool> {
    let modified = fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(io_err("stat", path))?;
    Ok(SystemTime::now()
        .duration_since(modified)
        .is_ok_and(|d| d >= age))
}

fn remove_file_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("remove", path)(e)),
    }
}

/// Reads a whole object file; `None` when it does not exist. Files longer than `limit` are reported as corrupt
/// rather than read (a planted huge file must not exhaust memory).
fn read_object(path: &Path, limit: usize) -> Result<Option<Vec<u8>>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("open", path)(e)),
    };
    let len = file.metadata().map_err(io_err("stat", path))?.len();
    if len > limit as u64 {
        return Err(corrupt(path, "object larger than the vault allows"));
    }
    let mut data = Vec::with_capacity(len as usize);
    (&mut file)
        .take(limit as u64 + 1)
        .read_to_end(&mut data)
        .map_err(io_err("read", path))?;
    if data.len() > limit {
        return Err(corrupt(path, "object larger than the vault allows"));
    }
    Ok(Some(data))
}

/// Reads at most `n` bytes from the start of a file; `None` when it does not exist.
fn read_prefix(path: &Path, n: usize) -> Result<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("open", path)(e)),
    };
    let mut buf = Vec::with_capacity(n);
    file.take(n as u64)
        .read_to_end(&mut buf)
        .map_err(io_err("read", path))?;
    Ok(Some(buf))
}

fn dir_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for path in sorted_entries(dir)? {
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("stat", &path)(e)),
        };
        if meta.is_dir() {
            total += dir_size(&path)?;
        } else if meta.is_file() {
            total += meta.len();
        }
    }
    Ok(total)
}

fn private_open_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut opts = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

fn create_private_dir_all(path: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(path)
        .map_err(io_err("create directory", path))
}

/// Makes a directory's entries (new, renamed or removed files) durable.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("sync directory", dir))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes `data` to a new, fsynced temp file in `tmp_dir` and returns its path.
fn write_tmp_in(tmp_dir: &Path, data: &[u8]) -> Result<PathBuf> {
    let mut rnd = [0u8; 16];
    format::fill_random(&mut rnd)?;
    let tmp = tmp_dir.join(format!("{}.tmp", hex::encode(rnd)));
    let written = private_open_options()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(data)?;
            f.sync_all()
        });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_err("write temp file", &tmp)(e));
    }
    Ok(tmp)
}

/// Removes temp files left by a crash. Best effort: failures are logged (paths only) and ignored.
fn clean_stale_tmp(tmp_dir: &Path) {
    let Ok(entries) = sorted_entries(tmp_dir) else {
        return;
    };
    for path in entries {
        if let Ok(true) = older_than(&path, STALE_TMP_AGE)
            && let Err(e) = fs::remove_file(&path)
        {
            tracing::warn!(path = %path.display(), error = %e, "could not remove stale vault temp file");
        }
    }
}

/// Loads the naming key, or creates it for a new vault. Creation is race-free across processes: the sealed key is
/// hard-linked into place, which fails if another process got there first, and then that key is used.
fn load_or_create_naming_key(
    root: &Path,
    ring: &KeyRing,
) -> Result<Zeroizing<[u8; NAMING_KEY_LEN]>> {
    let path = root.join(NAMING_FILE);
    for _ in 0..2 {
        if let Some(data) = read_object(&path, 4096)? {
            let plain = Zeroizing::new(format::open(
                ring,
                Kind::NamingKey,
                NAMING_BINDING,
                data,
                &path,
            )?);
            let mut key = Zeroizing::new([0u8; NAMING_KEY_LEN]);
            if plain.len() != NAMING_KEY_LEN {
                return Err(corrupt(&path, "naming key has the wrong length"));
            }
            key.copy_from_slice(&plain);
            return Ok(key);
        }
        if !sorted_entries(&root.join(OBJECTS))?.is_empty() {
            return Err(corrupt(
                &path,
                "naming key file is missing but the vault holds objects",
            ));
        }
        let mut key = Zeroizing::new([0u8; NAMING_KEY_LEN]);
        format::fill_random(key.as_mut())?;
        let sealed = format::seal(
            ring.current(),
            Kind::NamingKey,
            NAMING_BINDING,
            key.as_ref(),
        )?;
        let tmp = write_tmp_in(&root.join(TMP), &sealed)?;
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                sync_dir(root)?;
                return Ok(key);
            }
            // Another process created it first: loop and read theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err("create naming key", &path)(e)),
        }
    }
    Err(corrupt(
        &path,
        "naming key file could not be created or read",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Vault>();
    }

    #[test]
    fn object_names_parse_back() {
        let name = ObjName([0xabu8; 32]);
        let hexed = hex::encode(name.0);
        assert!(ObjName::parse(&hexed[..2], &hexed[2..]) == Some(name));
        assert!(ObjName::parse("zz", &hexed[2..]).is_none());
        assert!(ObjName::parse(&hexed[..2], &hexed[3..]).is_none());
    }
}
