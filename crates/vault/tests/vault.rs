//! Behaviour of the vault through its public API, on real directories.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use vault::{Error, EvidenceMeta, EvidenceRef, KeyRing, Vault};

fn k1() -> KeyRing {
    KeyRing::from_keys([("k1", [1u8; 32])]).expect("ring")
}

fn k2_k1() -> KeyRing {
    KeyRing::from_keys([("k2", [2u8; 32]), ("k1", [1u8; 32])]).expect("ring")
}

fn k2() -> KeyRing {
    KeyRing::from_keys([("k2", [2u8; 32])]).expect("ring")
}

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn meta_for(bytes: &[u8], url: &str, fetched_at: DateTime<Utc>) -> EvidenceMeta {
    EvidenceMeta {
        original_url: format!("https://reported.example/page?u={url}"),
        final_url: url.to_owned(),
        fetched_at,
        http_status: 200,
        headers: vault::sanitize_headers([("Content-Type", "image/jpeg"), ("Server", "test")]),
        resolved_ip: Some("192.0.2.10".parse().expect("ip")),
        content_type: "image/jpeg".into(),
        size: bytes.len() as u64,
        sha256: *EvidenceRef::of(bytes).sha256(),
    }
}

/// Every regular file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn files_named(dir: &Path, pred: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&pred))
        .collect()
}

fn content_files(dir: &Path) -> Vec<PathBuf> {
    files_named(dir, |n| n == "content")
}

fn fetch_files(dir: &Path) -> Vec<PathBuf> {
    files_named(dir, |n| n.starts_with("fetch-"))
}

/// Deterministic pseudo-random bytes (benign filler standing in for media).
fn filler(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn round_trip_returns_bytes_and_fetch_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let bytes = filler(1, 10_000);
    let meta = meta_for(&bytes, "https://cdn.example/a.jpg", at(1));
    let r = vault.put(&bytes, &meta).expect("put");
    assert_eq!(r, EvidenceRef::of(&bytes));
    assert!(vault.contains(&r).expect("contains"));
    let (back, metas) = vault.get(&r).expect("get");
    assert_eq!(back, bytes);
    assert_eq!(metas, vec![meta.clone()]);
    assert_eq!(vault.fetches(&r).expect("fetches"), vec![meta]);

    // Reopening (a restart) finds everything again.
    drop(vault);
    let vault = Vault::open(dir.path(), k1()).expect("reopen");
    assert_eq!(vault.get(&r).expect("get").0, bytes);

    let missing = EvidenceRef::of(b"never stored");
    assert!(!vault.contains(&missing).expect("contains"));
    assert!(matches!(vault.get(&missing), Err(Error::NotFound)));
    assert!(matches!(vault.fetches(&missing), Err(Error::NotFound)));
}

#[test]
fn empty_item_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let r = vault
        .put(b"", &meta_for(b"", "https://x.example/empty", at(1)))
        .expect("put");
    assert_eq!(vault.get(&r).expect("get").0, Vec::<u8>::new());
}

#[test]
fn same_bytes_twice_is_one_object_with_two_fetch_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let bytes = filler(2, 5000);
    let first = meta_for(&bytes, "https://one.example/x.jpg", at(2));
    let second = meta_for(&bytes, "https://two.example/y.jpg", at(1));
    let r1 = vault.put(&bytes, &first).expect("put 1");
    let size_after_one = vault.size_on_disk().expect("size");
    let r2 = vault.put(&bytes, &second).expect("put 2");
    assert_eq!(r1, r2);
    assert_eq!(content_files(dir.path()).len(), 1);
    assert_eq!(fetch_files(dir.path()).len(), 2);
    let growth = vault.size_on_disk().expect("size") - size_after_one;
    assert!(
        growth < 2000,
        "second fetch of the same bytes grew the vault by {growth} bytes"
    );
    let (_, metas) = vault.get(&r1).expect("get");
    assert_eq!(
        metas,
        vec![second.clone(), first.clone()],
        "oldest fetch first"
    );

    // A retried put (same bytes, same metadata) changes nothing: jobs are at-least-once.
    vault.put(&bytes, &first).expect("retry");
    assert_eq!(fetch_files(dir.path()).len(), 2);
    assert_eq!(vault.fetches(&r1).expect("fetches").len(), 2);
}

#[test]
fn metadata_must_describe_the_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let bytes = filler(3, 100);
    let mut meta = meta_for(&bytes, "https://x.example/a", at(1));
    meta.size += 1;
    assert!(matches!(vault.put(&bytes, &meta), Err(Error::BadMeta(_))));
    let mut meta = meta_for(&bytes, "https://x.example/a", at(1));
    meta.sha256[0] ^= 1;
    assert!(matches!(vault.put(&bytes, &meta), Err(Error::BadMeta(_))));
    let mut meta = meta_for(&bytes, "https://x.example/a", at(1));
    meta.final_url = format!("https://x.example/{}", "a".repeat(vault::MAX_URL_LEN));
    assert!(matches!(vault.put(&bytes, &meta), Err(Error::BadMeta(_))));
    assert!(
        files_under(&dir.path().join("objects")).is_empty(),
        "a rejected put left files"
    );
}

#[test]
fn headers_are_sanitised_on_put() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let bytes = filler(4, 100);
    let mut meta = meta_for(&bytes, "https://x.example/a", at(1));
    meta.headers = vec![
        ("X-Evil".into(), "a\r\nSet-Cookie: b".into()),
        ("bad name".into(), "x".into()),
    ];
    let r = vault.put(&bytes, &meta).expect("put");
    let stored = vault.fetches(&r).expect("fetches");
    assert_eq!(
        stored[0].headers,
        vec![("x-evil".to_owned(), "a  Set-Cookie: b".to_owned())]
    );
}

#[test]
fn nothing_on_disk_reveals_plaintext_or_its_digest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let marker = b"PLAINTEXT-MARKER-0123456789".repeat(50);
    let url = "https://very-distinctive-host.example/marker.jpg";
    let mut refs = Vec::new();
    for i in 0..20u64 {
        let mut bytes = marker.clone();
        bytes.extend(filler(i, 64));
        refs.push(
            vault
                .put(&bytes, &meta_for(&bytes, url, at(1)))
                .expect("put"),
        );
    }
    let files = files_under(dir.path());
    assert!(files.len() > 40);
    for path in &files {
        let text = path.to_string_lossy().to_lowercase();
        for r in &refs {
            let hexed = r.to_hex();
            assert!(
                !text.contains(&hexed[..16]),
                "{text} reveals a plaintext sha256"
            );
        }
        let data = fs::read(path).expect("read");
        assert!(
            !data.windows(16).any(|w| w == &marker[..16]),
            "plaintext bytes in {text}"
        );
        assert!(
            !data.windows(url.len()).any(|w| w == url.as_bytes()),
            "plaintext URL in {text}"
        );
        for r in &refs {
            assert!(
                !data.windows(32).any(|w| w == r.sha256()),
                "raw digest in {text}"
            );
            let hexed = r.to_hex();
            assert!(
                !data.windows(64).any(|w| w == hexed.as_bytes()),
                "hex digest in {text}"
            );
        }
    }
}

#[test]
fn file_names_do_not_depend_on_sha256_alone() {
    // Two vaults with the same key ring name the same item differently: names are keyed by the random naming key,
    // so a hash list cannot be turned into a list of file names.
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let bytes = filler(5, 100);
    let meta = meta_for(&bytes, "https://x.example/a", at(1));
    Vault::open(a.path(), k1())
        .expect("open")
        .put(&bytes, &meta)
        .expect("put");
    Vault::open(b.path(), k1())
        .expect("open")
        .put(&bytes, &meta)
        .expect("put");
    let rel = |root: &Path| -> BTreeSet<PathBuf> {
        content_files(root)
            .into_iter()
            .map(|p| p.strip_prefix(root).expect("prefix").to_owned())
            .collect()
    };
    assert_eq!(rel(a.path()).len(), 1);
    assert!(rel(a.path()).is_disjoint(&rel(b.path())));
}

#[test]
fn tampered_content_or_record_is_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let bytes = filler(6, 3000);
    let r = vault
        .put(&bytes, &meta_for(&bytes, "https://x.example/a", at(1)))
        .expect("put");

    let content = content_files(dir.path()).remove(0);
    let original = fs::read(&content).expect("read");
    for offset in [0usize, 5, 60, 1500, original.len() - 1] {
        let mut bad = original.clone();
        bad[offset] ^= 0x20;
        fs::write(&content, &bad).expect("write");
        let err = vault.get(&r).expect_err("tampered content must fail");
        assert!(
            matches!(
                err,
                Error::Corrupt { .. } | Error::UnknownKey { .. } | Error::KeyMismatch { .. }
            ),
            "offset {offset}: {err:?}"
        );
    }
    // A flipped ciphertext or tag byte is always Corrupt.
    let mut bad = original.clone();
    bad[1500] ^= 0x01;
    fs::write(&content, &bad).expect("write");
    assert!(matches!(
        vault.get(&r),
        Err(Error::Corrupt {
            reason: "authentication failed",
            ..
        })
    ));
    // Truncated.
    fs::write(&content, &original[..original.len() / 2]).expect("write");
    assert!(matches!(vault.get(&r), Err(Error::Corrupt { .. })));
    fs::write(&content, b"").expect("write");
    assert!(matches!(vault.get(&r), Err(Error::Corrupt { .. })));
    fs::write(&content, &original).expect("restore");
    assert_eq!(vault.get(&r).expect("restored").0, bytes);

    let record = fetch_files(dir.path()).remove(0);
    let mut bad = fs::read(&record).expect("read");
    let n = bad.len();
    bad[n - 20] ^= 0x01;
    fs::write(&record, &bad).expect("write");
    assert!(matches!(vault.get(&r), Err(Error::Corrupt { .. })));
    assert!(matches!(vault.fetches(&r), Err(Error::Corrupt { .. })));
}

#[test]
fn swapped_files_are_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let a = filler(7, 2000);
    let b = filler(8, 2000);
    let ra = vault
        .put(&a, &meta_for(&a, "https://x.example/a", at(1)))
        .expect("put a");
    let rb = vault
        .put(&b, &meta_for(&b, "https://x.example/b", at(1)))
        .expect("put b");
    let contents = content_files(dir.path());
    assert_eq!(contents.len(), 2);
    let (ca, cb) = (
        fs::read(&contents[0]).expect("read"),
        fs::read(&contents[1]).expect("read"),
    );
    fs::write(&contents[0], &cb).expect("swap");
    fs::write(&contents[1], &ca).expect("swap");
    for r in [ra, rb] {
        assert!(
            matches!(
                vault.get(&r),
                Err(Error::Corrupt {
                    reason: "authentication failed",
                    ..
                })
            ),
            "swapped content accepted"
        );
    }
    fs::write(&contents[0], &ca).expect("restore");
    fs::write(&contents[1], &cb).expect("restore");
    vault.get(&ra).expect("restored a");

    // A fetch record copied into another item's directory (same file name) is rejected too.
    let records = fetch_files(dir.path());
    let foreign = records
        .iter()
        .find(|p| p.parent() != contents[0].parent())
        .expect("a record of the other item");
    let planted = contents[0]
        .parent()
        .expect("dir")
        .join(foreign.file_name().expect("name"));
    fs::copy(foreign, &planted).expect("plant");
    let failures: Vec<Error> = [ra, rb].iter().filter_map(|r| vault.get(r).err()).collect();
    assert_eq!(
        failures.len(),
        1,
        "exactly the item with the planted record must fail"
    );
    assert!(
        matches!(
            failures[0],
            Error::Corrupt {
                reason: "authentication failed",
                ..
            }
        ),
        "{failures:?}"
    );
}

#[test]
fn missing_or_wrong_key_is_a_typed_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let bytes = filler(9, 100);
    vault
        .put(&bytes, &meta_for(&bytes, "https://x.example/a", at(1)))
        .expect("put");
    drop(vault);

    match Vault::open(dir.path(), k2()) {
        Err(Error::UnknownKey { key_id, .. }) => assert_eq!(key_id, "k1"),
        other => panic!("expected UnknownKey, got {other:?}"),
    }
    let wrong_k1 = KeyRing::from_keys([("k1", [0x11u8; 32])]).expect("ring");
    match Vault::open(dir.path(), wrong_k1) {
        Err(Error::KeyMismatch { key_id, .. }) => assert_eq!(key_id, "k1"),
        other => panic!("expected KeyMismatch, got {other:?}"),
    }
    let msg = Vault::open(dir.path(), k2())
        .expect_err("unknown")
        .to_string();
    assert!(
        msg.contains("k1") && msg.contains("not in the key ring"),
        "{msg}"
    );
}

#[test]
fn naming_key_missing_with_objects_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let bytes = filler(10, 100);
    vault
        .put(&bytes, &meta_for(&bytes, "https://x.example/a", at(1)))
        .expect("put");
    drop(vault);
    fs::remove_file(dir.path().join("naming.key")).expect("remove");
    assert!(matches!(
        Vault::open(dir.path(), k1()),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn rotate_then_drop_old_key_keeps_everything_readable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let mut items = Vec::new();
    for i in 0..6u64 {
        let bytes = filler(100 + i, 500 + i as usize);
        let meta = meta_for(&bytes, &format!("https://x.example/{i}"), at(1));
        let r = vault.put(&bytes, &meta).expect("put");
        // A second fetch for some items.
        if i % 2 == 0 {
            vault
                .put(
                    &bytes,
                    &meta_for(&bytes, &format!("https://y.example/{i}"), at(2)),
                )
                .expect("put again");
        }
        items.push((r, bytes));
    }
    drop(vault);
    let object_count = (content_files(dir.path()).len() + fetch_files(dir.path()).len()) as u64;
    assert_eq!(object_count, 6 + 6 + 3);

    let vault = Vault::open(dir.path(), k2_k1()).expect("open with k2 current");
    let report = vault.rotate().expect("rotate");
    assert!(report.is_complete(), "{report:?}");
    assert!(report.naming_key_rewrapped);
    assert_eq!(report.scanned, object_count);
    assert_eq!(report.rewritten, object_count);
    assert_eq!(report.already_current, 0);

    // Idempotent: a second run has nothing to do.
    let again = vault.rotate().expect("rotate again");
    assert!(again.is_complete());
    assert_eq!((again.rewritten, again.already_current), (0, object_count));
    assert!(!again.naming_key_rewrapped);
    drop(vault);

    let vault = Vault::open(dir.path(), k2()).expect("open without k1");
    for (r, bytes) in &items {
        let (back, metas) = vault.get(r).expect("readable after dropping k1");
        assert_eq!(&back, bytes);
        assert!(!metas.is_empty());
    }
}

#[test]
fn new_writes_use_the_current_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(Vault::open(dir.path(), k1()).expect("create"));
    let vault = Vault::open(dir.path(), k2_k1()).expect("open");
    let bytes = filler(11, 100);
    let r = vault
        .put(&bytes, &meta_for(&bytes, "https://x.example/a", at(1)))
        .expect("put");
    drop(vault);
    // Only naming.key is under k1; after rewrapping it, k1 can go and the new item is readable.
    let report = Vault::open(dir.path(), k2_k1())
        .expect("open")
        .rotate()
        .expect("rotate");
    assert_eq!((report.rewritten, report.already_current), (0, 2));
    assert!(report.naming_key_rewrapped);
    assert_eq!(
        Vault::open(dir.path(), k2())
            .expect("open")
            .get(&r)
            .expect("get")
            .0,
        bytes
    );
}

#[test]
fn rotation_is_resumable_after_interruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let items: Vec<(EvidenceRef, Vec<u8>)> = (0..10u64)
        .map(|i| {
            let bytes = filler(200 + i, 300);
            let r = vault
                .put(
                    &bytes,
                    &meta_for(&bytes, &format!("https://x.example/{i}"), at(1)),
                )
                .expect("put");
            (r, bytes)
        })
        .collect();
    drop(vault);
    let total = 20u64; // 10 contents + 10 fetch records

    // First pass "interrupted" after half the objects.
    let vault = Vault::open(dir.path(), k2_k1()).expect("open");
    let first = vault.rotate_some(10).expect("rotate half");
    assert_eq!(first.rewritten, 10);
    assert_eq!(first.remaining, total - 10);
    assert!(!first.is_complete());
    drop(vault);

    // Dropping k1 now would be premature: some items are unreadable, with a typed error naming the key.
    let vault = Vault::open(dir.path(), k2()).expect("naming key already under k2");
    let mut unknown = 0;
    for (r, _) in &items {
        match vault.get(r) {
            Ok(_) => {}
            Err(Error::UnknownKey { key_id, .. }) => {
                assert_eq!(key_id, "k1");
                unknown += 1;
            }
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert!(
        unknown > 0 && unknown < items.len(),
        "{unknown} of {} unreadable",
        items.len()
    );
    // Rotation with k1 missing reports the objects it cannot move instead of failing.
    let stuck = vault.rotate().expect("rotate without k1");
    assert_eq!(stuck.failed.len() as u64, total - 10);
    assert!(
        stuck
            .failed
            .iter()
            .all(|e| matches!(e, Error::UnknownKey { .. }))
    );
    assert!(!stuck.is_complete());
    drop(vault);

    // Resume with the full ring.
    let vault = Vault::open(dir.path(), k2_k1()).expect("open");
    let second = vault.rotate().expect("resume");
    assert_eq!(second.rewritten, total - 10);
    assert_eq!(second.already_current, 10);
    assert!(second.is_complete());
    drop(vault);

    let vault = Vault::open(dir.path(), k2()).expect("open");
    for (r, bytes) in &items {
        assert_eq!(&vault.get(r).expect("get").0, bytes);
    }
}

#[test]
fn record_without_bytes_is_not_found_and_a_retried_put_repairs_it() {
    // As after a crash between the two renames of a put.
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let bytes = filler(26, 700);
    let meta = meta_for(&bytes, "https://x.example/a", at(1));
    let r = vault.put(&bytes, &meta).expect("put");
    fs::remove_file(content_files(dir.path()).remove(0)).expect("remove content");
    assert!(!vault.contains(&r).expect("contains"));
    assert!(matches!(vault.get(&r), Err(Error::NotFound)));
    assert!(matches!(vault.fetches(&r), Err(Error::NotFound)));
    vault.put(&bytes, &meta).expect("retry");
    let (back, metas) = vault.get(&r).expect("repaired");
    assert_eq!((back, metas), (bytes, vec![meta]));
    assert_eq!(fetch_files(dir.path()).len(), 1);
}

#[test]
fn delete_removes_item_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let bytes = filler(12, 1000);
    let r = vault
        .put(&bytes, &meta_for(&bytes, "https://x.example/a", at(1)))
        .expect("put");
    let other = filler(13, 1000);
    let r_other = vault
        .put(&other, &meta_for(&other, "https://x.example/b", at(1)))
        .expect("put");
    assert!(vault.delete(&r).expect("delete"));
    assert!(!vault.contains(&r).expect("contains"));
    assert!(matches!(vault.get(&r), Err(Error::NotFound)));
    assert!(
        !vault.delete(&r).expect("delete again"),
        "second delete finds nothing"
    );
    assert_eq!(content_files(dir.path()).len(), 1);
    assert_eq!(fetch_files(dir.path()).len(), 1);
    assert_eq!(vault.get(&r_other).expect("other item untouched").0, other);
}

#[test]
fn purge_deletes_old_items_and_keeps_newer_fetches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let old = filler(14, 4000);
    let shared = filler(15, 4000);
    let live = filler(16, 4000);
    let r_old = vault
        .put(&old, &meta_for(&old, "https://x.example/old", at(1)))
        .expect("put");
    let r_shared = vault
        .put(&shared, &meta_for(&shared, "https://x.example/s1", at(1)))
        .expect("put");
    let r_live = vault
        .put(&live, &meta_for(&live, "https://x.example/live", at(1)))
        .expect("put");
    // The same bytes were fetched again later for another (open) case.
    vault
        .put(
            &shared,
            &meta_for(&shared, "https://elsewhere.example/s2", at(20)),
        )
        .expect("put");
    let before = vault.size_on_disk().expect("size");

    let report = vault.purge(&[r_old, r_shared], at(10)).expect("purge");
    assert_eq!(report.deleted, vec![r_old]);
    assert_eq!(report.kept, vec![r_shared]);
    assert!(report.absent.is_empty());
    assert_eq!(report.records_deleted, 2);
    assert_eq!(report.unreadable, 0);

    assert!(!vault.contains(&r_old).expect("contains"));
    let (bytes, metas) = vault.get(&r_shared).expect("shared kept");
    assert_eq!(bytes, shared);
    assert_eq!(metas.len(), 1);
    assert_eq!(metas[0].final_url, "https://elsewhere.example/s2");
    assert_eq!(vault.get(&r_live).expect("untouched").0, live);
    assert!(vault.size_on_disk().expect("size") < before - 4000);

    // Idempotent: the job may run again.
    let again = vault
        .purge(&[r_old, r_shared], at(10))
        .expect("purge again");
    assert_eq!(again.absent, vec![r_old]);
    assert_eq!(again.kept, vec![r_shared]);
    assert_eq!(again.records_deleted, 0);

    // Purging everything leaves no item directory behind.
    let all = vault.purge(&[r_shared, r_live], at(30)).expect("purge all");
    assert_eq!(all.deleted, vec![r_shared, r_live]);
    assert!(files_under(&dir.path().join("objects")).is_empty());
    let leftover: Vec<_> = fs::read_dir(dir.path().join("objects"))
        .expect("objects")
        .flat_map(|shard| fs::read_dir(shard.expect("shard").path()).expect("shard dir"))
        .collect();
    assert!(
        leftover.is_empty(),
        "empty item directories left: {}",
        leftover.len()
    );
}

#[test]
fn purge_removes_unreadable_records_of_purgeable_items() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let bytes = filler(17, 100);
    let r = vault
        .put(&bytes, &meta_for(&bytes, "https://x.example/a", at(1)))
        .expect("put");
    let record = fetch_files(dir.path()).remove(0);
    let mut bad = fs::read(&record).expect("read");
    let n = bad.len();
    bad[n - 1] ^= 1;
    fs::write(&record, bad).expect("tamper");
    let report = vault.purge(&[r], at(10)).expect("purge");
    assert_eq!(report.unreadable, 1);
    assert_eq!(report.deleted, vec![r]);
    assert!(!vault.contains(&r).expect("contains"));
}

#[test]
fn purge_where_sweeps_by_predicate_and_removes_old_orphans() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let a = filler(18, 100);
    let b = filler(19, 100);
    let c = filler(20, 100);
    let ra = vault
        .put(&a, &meta_for(&a, "https://x.example/a", at(1)))
        .expect("put");
    let rb = vault
        .put(&b, &meta_for(&b, "https://x.example/b", at(15)))
        .expect("put");
    let rc = vault
        .put(&c, &meta_for(&c, "https://x.example/c", at(1)))
        .expect("put");
    // Make c an orphan (bytes without a record, as after a crash between the two writes of a put).
    let c_dir = {
        let before: BTreeSet<PathBuf> = content_files(dir.path()).into_iter().collect();
        vault.delete(&rc).expect("delete");
        let after: BTreeSet<PathBuf> = content_files(dir.path()).into_iter().collect();
        vault
            .put(&c, &meta_for(&c, "https://x.example/c", at(1)))
            .expect("put");
        let again: BTreeSet<PathBuf> = content_files(dir.path()).into_iter().collect();
        assert_eq!(before, again);
        let gone: Vec<_> = before.difference(&after).cloned().collect();
        gone[0].parent().expect("dir").to_owned()
    };
    for f in fetch_files(&c_dir) {
        fs::remove_file(f).expect("remove record");
    }

    // A young orphan could be a put in progress in another process: left alone.
    let report = vault
        .purge_where(|_, m| m.fetched_at < at(10))
        .expect("sweep");
    assert_eq!(report.deleted, vec![ra]);
    assert_eq!(report.kept, vec![rb]);
    assert_eq!(report.orphans_deleted, 0);
    assert!(vault.contains(&rc).expect("young orphan kept"));

    // An old orphan is debris.
    let old = SystemTime::now() - Duration::from_secs(2 * 3600);
    fs::File::options()
        .write(true)
        .open(c_dir.join("content"))
        .and_then(|f| f.set_modified(old))
        .expect("age orphan");
    let report = vault.purge_where(|_, _| false).expect("sweep");
    assert_eq!(report.orphans_deleted, 1);
    assert_eq!(report.kept, vec![rb]);
    assert!(!vault.contains(&rc).expect("orphan removed"));
    assert!(vault.contains(&rb).expect("b kept"));
}

#[test]
fn concurrent_puts_from_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Arc::new(Vault::open(dir.path(), k1()).expect("open"));
    let shared = filler(21, 20_000);
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let vault = Arc::clone(&vault);
            let shared = shared.clone();
            std::thread::spawn(move || {
                for i in 0..10u64 {
                    let url = format!("https://t{t}.example/{i}");
                    vault
                        .put(&shared, &meta_for(&shared, &url, at(1)))
                        .expect("put shared");
                    let own = filler(1000 + t * 100 + i, 1000);
                    vault
                        .put(&own, &meta_for(&own, &url, at(1)))
                        .expect("put own");
                    // Everyone also retries one identical put (idempotency under contention).
                    vault
                        .put(&shared, &meta_for(&shared, "https://same.example/x", at(1)))
                        .expect("put same");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(content_files(dir.path()).len(), 1 + 80);
    assert_eq!(fetch_files(dir.path()).len(), 80 + 1 + 80);
    let (bytes, metas) = vault.get(&EvidenceRef::of(&shared)).expect("get shared");
    assert_eq!(bytes, shared);
    assert_eq!(metas.len(), 81);
    assert!(
        files_under(&dir.path().join("tmp")).is_empty(),
        "temp files left behind"
    );
}

#[test]
fn concurrent_put_and_purge_never_leave_records_without_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Arc::new(Vault::open(dir.path(), k1()).expect("open"));
    let bytes = filler(22, 2000);
    let r = EvidenceRef::of(&bytes);
    let putter = {
        let vault = Arc::clone(&vault);
        let bytes = bytes.clone();
        std::thread::spawn(move || {
            for i in 0..80u32 {
                // Alternate old fetches (purgeable) and new ones (after the cutoff).
                let day = if i % 2 == 0 { 1 } else { 25 };
                let meta = meta_for(&bytes, &format!("https://x.example/{i}"), at(day));
                vault.put(&bytes, &meta).expect("put");
            }
        })
    };
    let purger = {
        let vault = Arc::clone(&vault);
        std::thread::spawn(move || {
            for _ in 0..80 {
                vault.purge(&[r], at(10)).expect("purge");
            }
        })
    };
    putter.join().expect("putter");
    purger.join().expect("purger");
    // Every new fetch (after the cutoff) survived with its bytes.
    let metas = vault.fetches(&r).expect("item exists");
    let new = metas.iter().filter(|m| m.fetched_at > at(10)).count();
    assert_eq!(new, 40);
    assert_eq!(vault.get(&r).expect("bytes present").0, bytes);
    // And a final purge leaves exactly the new ones.
    vault.purge(&[r], at(10)).expect("purge");
    assert_eq!(vault.fetches(&r).expect("fetches").len(), 40);
}

#[test]
fn concurrent_first_open_agrees_on_one_naming_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("fresh");
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let root = root.clone();
            std::thread::spawn(move || Vault::open(&root, k1()).expect("open"))
        })
        .collect();
    let vaults: Vec<Vault> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    let bytes = filler(23, 100);
    let r = vaults[0]
        .put(&bytes, &meta_for(&bytes, "https://x.example/a", at(1)))
        .expect("put");
    for v in &vaults {
        assert!(
            v.contains(&r).expect("contains"),
            "vault handles disagree on names"
        );
    }
}

#[test]
fn size_on_disk_counts_ciphertext() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let empty = vault.size_on_disk().expect("size");
    assert!(empty > 0 && empty < 200, "naming key only: {empty}");
    let bytes = filler(24, 100_000);
    vault
        .put(&bytes, &meta_for(&bytes, "https://x.example/a", at(1)))
        .expect("put");
    let used = vault.size_on_disk().expect("size") - empty;
    assert!((100_000..101_500).contains(&used), "{used}");
}

#[test]
fn debug_output_reveals_no_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), k1()).expect("open");
    let dbg = format!("{vault:?}");
    assert!(dbg.contains("k1"));
    assert!(!dbg.contains("0101010101"), "{dbg}");
    assert!(!dbg.contains("1, 1, 1"), "{dbg}");
    assert!(!dbg.contains("naming"), "{dbg}");
}

#[cfg(unix)]
#[test]
fn files_and_directories_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("v");
    let vault = Vault::open(&root, k1()).expect("open");
    let bytes = filler(25, 100);
    vault
        .put(&bytes, &meta_for(&bytes, "https://x.example/a", at(1)))
        .expect("put");
    let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&root), 0o700);
    for f in files_under(&root) {
        assert_eq!(mode(&f) & 0o077, 0, "{} readable by others", f.display());
        assert_eq!(mode(f.parent().expect("parent")) & 0o077, 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..20_000), day in 1u32..28) {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = Vault::open(dir.path(), k1()).expect("open");
        let meta = meta_for(&bytes, "https://x.example/p", at(day));
        let r = vault.put(&bytes, &meta).expect("put");
        prop_assert_eq!(r, EvidenceRef::of(&bytes));
        let (back, metas) = vault.get(&r).expect("get");
        prop_assert_eq!(back, bytes);
        prop_assert_eq!(metas, vec![meta]);
    }
}
