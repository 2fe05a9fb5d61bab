//! The high-level index, snapshots (round trip and refusal of damaged files) and the
//! real ThreatExchange haystack/needles fixture.

use std::path::PathBuf;

use index::lists::{ListEntry, ReadOptions, Signal, SignalKind, read_list};
use index::{Digest, Index, PdqIndex, Sha256Set, SnapshotError};
use pdq::Hash256;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/pdq")
        .join(rel)
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("schoon-index-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn read_pdq_list(rel: &str) -> Vec<Hash256> {
    let f = std::fs::File::open(testdata(rel)).unwrap();
    read_list(
        f,
        ReadOptions {
            kind: Some(SignalKind::Pdq),
            ..Default::default()
        },
    )
    .map(|r| match r.unwrap().signal {
        Signal::Pdq(h) => h,
        other => panic!("not pdq: {other:?}"),
    })
    .collect()
}

#[test]
fn haystack_and_needles_fixture() {
    let hay = read_pdq_list("data/reg-test-input/haystack.txt");
    let needles = read_pdq_list("data/reg-test-input/needles.txt");
    assert_eq!((hay.len(), needles.len()), (1350, 100));
    let idx = Index::build(
        hay.iter()
            .map(|h| ("haystack", ListEntry::new(Signal::Pdq(*h)))),
    )
    .unwrap();
    let mut exact = 0;
    for n in &needles {
        let hits = idx.match_pdq(n, 31);
        let mut want: Vec<(u32, u32)> = hay
            .iter()
            .enumerate()
            .map(|(i, h)| (i as u32, h.distance(n)))
            .filter(|&(_, d)| d <= 31)
            .collect();
        want.sort_by_key(|&(i, d)| (d, i));
        let got: Vec<(u32, u32)> = hits.iter().map(|h| (h.entry, h.distance)).collect();
        assert_eq!(got, want, "needle {n}");
        let best = hits
            .first()
            .expect("every needle is near a haystack entry")
            .distance;
        assert!(best <= 4, "needle {n}: best {best}");
        exact += usize::from(best == 0);
        assert_eq!(idx.entry(hits[0].entry).unwrap().list, "haystack");
    }
    assert_eq!(exact, 50);
}

fn random_hash(rng: &mut StdRng) -> Hash256 {
    Hash256::from_words([rng.random(), rng.random(), rng.random(), rng.random()])
}

fn sample_index() -> (Index, Vec<Hash256>) {
    let mut rng = StdRng::seed_from_u64(1);
    let mut entries = Vec::new();
    let mut pdqs = Vec::new();
    for i in 0..6000u32 {
        let list = if i % 3 == 0 { "nl-baseline" } else { "iwf" };
        let signal = match i % 4 {
            0 | 1 => {
                let h = random_hash(&mut rng);
                pdqs.push(h);
                Signal::Pdq(h)
            }
            2 => Signal::Md5(rng.random()),
            _ => Signal::Sha256(rng.random()),
        };
        let mut e = ListEntry::new(signal);
        e.category = Some(if i % 2 == 0 { "A" } else { "B" }.into());
        e.source = (i % 5 == 0).then(|| "ncmec".to_string());
        e.added_at = Some(format!("2026-0{}-01", 1 + i % 9));
        entries.push((list, e));
    }
    entries.push(("iwf", ListEntry::new(Signal::PhotoDna("AAAA".into()))));
    (Index::build(entries).unwrap(), pdqs)
}

#[test]
fn index_matches_and_describes_entries() {
    let (mut idx, pdqs) = sample_index();
    let info = idx.info();
    assert_eq!(info.entries, 6000);
    assert_eq!(
        (info.pdq, info.md5, info.sha256, info.sha1),
        (3000, 1500, 1500, 0)
    );
    assert_eq!(info.photodna_skipped, 1);
    assert_eq!(info.lists.len(), 2);
    let hits = idx.match_pdq(&pdqs[10], 31);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].distance, 0);
    let e = idx.entry(hits[0].entry).unwrap();
    assert_eq!(e.kind, SignalKind::Pdq);
    assert_eq!(idx.pdq_hash(hits[0].entry), Some(pdqs[10]));

    // Digest look-up, then revocation.
    let id = 2u32; // i = 2 is an MD5 entry
    let Some(info2) = idx.entry(id) else { panic!() };
    assert_eq!(info2.kind, SignalKind::Md5);
    // Rebuild the digest of entry 2 from the same seed order (entries 0 and 1 are PDQ).
    let md5: [u8; 16] = {
        let mut rng = StdRng::seed_from_u64(1);
        let _h0 = random_hash(&mut rng);
        let _h1 = random_hash(&mut rng);
        rng.random()
    };
    assert_eq!(idx.match_digest(&Digest::Md5(md5)), vec![id]);
    assert!(idx.remove(id));
    assert!(!idx.remove(id));
    assert!(idx.match_digest(&Digest::Md5(md5)).is_empty());
    let pid = hits[0].entry;
    assert!(idx.remove(pid));
    assert!(idx.match_pdq(&pdqs[10], 31).is_empty());
    assert_eq!(idx.info().entries, 5998);

    // Incremental add after the build.
    let new = random_hash(&mut StdRng::seed_from_u64(77));
    let nid = idx
        .add("late", &ListEntry::new(Signal::Pdq(new)))
        .unwrap()
        .unwrap();
    assert_eq!(idx.match_pdq(&new, 0)[0].entry, nid);
    assert_eq!(idx.entry(nid).unwrap().list, "late");
    idx.compact();
    assert_eq!(idx.match_pdq(&new, 0)[0].entry, nid);
    assert!(idx.match_digest(&Digest::Md5(md5)).is_empty());
}

#[test]
fn index_snapshot_round_trip() {
    let (mut idx, pdqs) = sample_index();
    idx.remove(5);
    idx.add("late", &ListEntry::new(Signal::Sha1([7; 20])))
        .unwrap();
    let path = tmp("round.six");
    idx.save(&path).unwrap();
    let back = Index::load(&path).unwrap();
    let strip = |mut i: index::IndexInfo| {
        i.memory_bytes = 0;
        i
    };
    assert_eq!(strip(back.info()), strip(idx.info()));
    for h in pdqs.iter().step_by(97) {
        assert_eq!(back.match_pdq(h, 40), idx.match_pdq(h, 40));
    }
    assert_eq!(
        back.match_digest(&Digest::Sha1([7; 20])),
        idx.match_digest(&Digest::Sha1([7; 20]))
    );
    for id in [0u32, 1, 2, 3, 5, 4999, 6000] {
        assert_eq!(back.entry(id), idx.entry(id));
        assert_eq!(back.is_removed(id), idx.is_removed(id));
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn pdq_snapshot_round_trip_with_segments_tail_and_removals() {
    let mut rng = StdRng::seed_from_u64(3);
    let base: Vec<(u32, Hash256)> = (0..5000u32)
        .map(|i| (i * 2, random_hash(&mut rng)))
        .collect();
    let mut idx = PdqIndex::build(base.clone()).unwrap();
    for i in 0..3000u32 {
        idx.insert(20_000 + i, &random_hash(&mut rng)).unwrap();
    }
    for id in (0..10_000u32).step_by(14) {
        idx.remove(id);
    }
    assert!(idx.stats().segments.len() >= 2 && idx.stats().tail > 0);
    let path = tmp("pdq.snap");
    idx.save(&path).unwrap();
    let back = PdqIndex::load(&path).unwrap();
    let strip = |mut s: index::PdqIndexStats| {
        s.memory_bytes = 0;
        s
    };
    assert_eq!(strip(back.stats()), strip(idx.stats()));
    assert_eq!(
        back.iter().collect::<Vec<_>>(),
        idx.iter().collect::<Vec<_>>()
    );
    for (_, h) in base.iter().step_by(50) {
        assert_eq!(back.query(h, 31), idx.query(h, 31));
    }
    let mut back = back;
    assert!(
        back.insert(idx.last_id().unwrap(), &Hash256::ZERO).is_err(),
        "id order survives the snapshot"
    );
    std::fs::remove_file(&path).unwrap();

    // Digest sets too.
    let s = Sha256Set::build((0..1000u32).map(|i| ([(i % 256) as u8; 32], i)));
    let p2 = tmp("sha.snap");
    s.save(&p2).unwrap();
    assert_eq!(
        Sha256Set::load(&p2).unwrap().iter().collect::<Vec<_>>(),
        s.iter().collect::<Vec<_>>()
    );
    assert!(matches!(
        PdqIndex::load(&p2),
        Err(SnapshotError::WrongKind { .. })
    ));
    std::fs::remove_file(&p2).unwrap();
}

#[test]
fn damaged_snapshots_are_refused_with_typed_errors() {
    let (idx, _) = sample_index();
    let path = tmp("damage.six");
    idx.save(&path).unwrap();
    let good = std::fs::read(&path).unwrap();
    let bad_path = tmp("damage-bad.six");
    let load = |bytes: &[u8]| {
        std::fs::write(&bad_path, bytes).unwrap();
        Index::load(&bad_path)
    };
    // Flip one byte at many positions: always refused (checksum or structure).
    let mut rng = StdRng::seed_from_u64(9);
    for _ in 0..60 {
        let mut b = good.clone();
        let at = rng.random_range(0..b.len());
        b[at] ^= 1 << rng.random_range(0..8);
        let err = load(&b).expect_err("flipped byte accepted");
        assert!(
            matches!(
                err,
                SnapshotError::Checksum { .. }
                    | SnapshotError::Corrupt(_)
                    | SnapshotError::BadMagic
                    | SnapshotError::UnsupportedVersion { .. }
                    | SnapshotError::WrongKind { .. }
                    | SnapshotError::Truncated
            ),
            "{err}"
        );
    }
    // Truncated anywhere.
    for cut in [good.len() - 1, good.len() - 24, good.len() / 2, 40, 31, 5] {
        assert!(load(&good[..cut]).is_err(), "cut at {cut}");
    }
    assert!(matches!(
        load(&good[..good.len() / 2]),
        Err(SnapshotError::Truncated)
    ));
    // Wrong magic / foreign file.
    assert!(matches!(
        load(b"PK\x03\x04 this is a zip file, not an index"),
        Err(SnapshotError::BadMagic)
    ));
    let mut m = good.clone();
    m[0] = b'X';
    assert!(matches!(load(&m), Err(SnapshotError::BadMagic)));
    // Wrong version (with a valid header checksum, as a future writer would produce).
    let mut v = good.clone();
    v[8..12].copy_from_slice(&99u32.to_le_bytes());
    let crc = crc32(&v[..28]);
    v[28..32].copy_from_slice(&crc.to_le_bytes());
    assert!(matches!(
        load(&v),
        Err(SnapshotError::UnsupportedVersion { found: 99, .. })
    ));
    // A PDQ-only snapshot is not an index.
    let p = tmp("only-pdq.snap");
    idx.pdq().save(&p).unwrap();
    assert!(matches!(
        Index::load(&p),
        Err(SnapshotError::WrongKind { .. })
    ));
    for f in [path, bad_path, p] {
        std::fs::remove_file(f).unwrap();
    }
}

fn crc32(b: &[u8]) -> u32 {
    // Plain bitwise CRC-32 (IEEE), independent of the crate's implementation.
    let mut c = !0u32;
    for &x in b {
        c ^= u32::from(x);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn import_is_all_or_nothing_unless_skip_bad() {
    use index::{ImportError, IndexBuilder};
    let good = "md5 d41d8cd98f00b204e9800998ecf8427e\nphotodna QUJD\n";
    let bad = "md5 d41d8cd98f00b204e9800998ecf8427e\nmd5 nothex\nsha1 da39a3ee5e6b4b0d3255bfef95601890afd80709\n";
    let mut b = IndexBuilder::new();
    let r = b
        .import(
            "a",
            read_list(good.as_bytes(), ReadOptions::default()),
            false,
        )
        .unwrap();
    assert_eq!((r.added, r.photodna_skipped), (1, 1));
    let err = b
        .import(
            "b",
            read_list(bad.as_bytes(), ReadOptions::default()),
            false,
        )
        .unwrap_err();
    assert!(
        matches!(err, ImportError::Line(ref e) if e.line == 2),
        "{err}"
    );
    let idx = b.finish().unwrap();
    let info = idx.info();
    assert_eq!(info.entries, 1, "list b was rolled back");
    assert_eq!(
        info.lists
            .iter()
            .find(|l| l.name == "b")
            .map(|l| l.md5 + l.sha1),
        Some(0)
    );

    let mut b = IndexBuilder::new();
    let r = b
        .import("b", read_list(bad.as_bytes(), ReadOptions::default()), true)
        .unwrap();
    assert_eq!(r.added, 2);
    assert_eq!(r.bad.len(), 1);
    assert_eq!(r.bad[0].line, 2);
    assert_eq!(b.finish().unwrap().info().entries, 2);
}
