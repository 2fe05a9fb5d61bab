//! The PDQ index must return exactly what a brute-force scan returns.

use index::{PdqIndex, PdqMatch};
use pdq::Hash256;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn random_hash(rng: &mut StdRng) -> Hash256 {
    Hash256::from_words([rng.random(), rng.random(), rng.random(), rng.random()])
}

/// `h` with exactly `d` distinct random bits flipped.
fn flip(rng: &mut StdRng, h: &Hash256, d: usize) -> Hash256 {
    let mut out = *h;
    let mut picked = [false; 256];
    let mut n = 0;
    while n < d {
        let b = rng.random_range(0..256usize);
        if !picked[b] {
            picked[b] = true;
            out.flip_bit(b);
            n += 1;
        }
    }
    out
}

fn brute(entries: &[(u32, Hash256)], removed: &[u32], q: &Hash256, r: u32) -> Vec<PdqMatch> {
    let removed: std::collections::HashSet<u32> = removed.iter().copied().collect();
    let mut v: Vec<PdqMatch> = entries
        .iter()
        .filter(|(id, _)| !removed.contains(id))
        .map(|(id, h)| PdqMatch {
            id: *id,
            distance: h.distance(q),
        })
        .filter(|m| m.distance <= r)
        .collect();
    v.sort_unstable_by_key(|m| (m.distance, m.id));
    v
}

/// A data set: uniform, clustered (centres + members within `spread` bits), with some
/// exact duplicates under several ids.
fn dataset(seed: u64, n: usize, clustered: bool) -> Vec<(u32, Hash256)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n);
    let centres: Vec<Hash256> = (0..(n / 20).max(1))
        .map(|_| random_hash(&mut rng))
        .collect();
    let mut id = 0u32;
    while out.len() < n {
        let h = if clustered {
            let c = centres[rng.random_range(0..centres.len())];
            let d = rng.random_range(0..=20usize);
            flip(&mut rng, &c, d)
        } else {
            random_hash(&mut rng)
        };
        id += rng.random_range(1..4u32);
        out.push((id, h));
        if rng.random_range(0..50) == 0 && out.len() < n {
            id += 1;
            out.push((id, h)); // duplicate hash, second id
        }
    }
    out
}

/// Queries: entries at exact distances around the radius, random hashes, cluster hits.
fn queries(seed: u64, entries: &[(u32, Hash256)], r: u32) -> Vec<Hash256> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9e37);
    let mut qs = Vec::new();
    for _ in 0..12 {
        let (_, h) = entries[rng.random_range(0..entries.len())];
        for d in [
            0usize,
            1,
            r.saturating_sub(1) as usize,
            r as usize,
            r as usize + 1,
            rng.random_range(0..=64),
        ] {
            qs.push(flip(&mut rng, &h, d.min(256)));
        }
        qs.push(random_hash(&mut rng));
    }
    qs
}

fn check(
    idx: &PdqIndex,
    entries: &[(u32, Hash256)],
    removed: &[u32],
    qs: &[Hash256],
    radii: &[u32],
) {
    for q in qs {
        for &r in radii {
            let want = brute(entries, removed, q, r);
            let got = idx.query(q, r);
            assert_eq!(got, want, "radius {r}, query {q}");
        }
    }
}

const RADII: [u32; 12] = [0, 1, 5, 8, 15, 16, 30, 31, 32, 47, 64, 100];

#[test]
fn empty_index_finds_nothing() {
    let idx = PdqIndex::new();
    assert!(idx.is_empty());
    assert!(idx.query(&Hash256::ZERO, 256).is_empty());
    let built = PdqIndex::build(Vec::new()).unwrap();
    assert!(built.query(&Hash256::ZERO, 31).is_empty());
}

#[test]
fn distances_exactly_at_the_radius() {
    let mut rng = StdRng::seed_from_u64(7);
    let base = random_hash(&mut rng);
    let mut entries = Vec::new();
    for (i, d) in [29usize, 30, 31, 32, 33].iter().enumerate() {
        entries.push((i as u32, flip(&mut rng, &base, *d)));
    }
    // Pad with random hashes so a real segment (not only the tail) is probed.
    for i in 5..5000u32 {
        entries.push((i, random_hash(&mut rng)));
    }
    let idx = PdqIndex::build(entries.clone()).unwrap();
    assert_eq!(idx.stats().tail, 0);
    let got: Vec<u32> = idx.query(&base, 31).iter().map(|m| m.distance).collect();
    assert_eq!(got, vec![29, 30, 31]);
    check(&idx, &entries, &[], &[base], &RADII);
}

#[test]
fn duplicates_removals_and_adds() {
    let entries = dataset(11, 6000, true);
    let mut idx = PdqIndex::build(entries.iter().take(4000).copied()).unwrap();
    let mut present: Vec<(u32, Hash256)> = entries[..4000].to_vec();
    // Adds after the build go to the tail, then to new segments (several freezes).
    for &(id, h) in &entries[4000..] {
        idx.insert(id, &h).unwrap();
        present.push((id, h));
    }
    assert!(idx.stats().segments.len() >= 2 || idx.stats().tail > 0);
    let mut removed = Vec::new();
    for (i, (id, _)) in entries.iter().enumerate() {
        if i % 7 == 3 {
            assert!(idx.remove(*id));
            assert!(!idx.remove(*id), "second removal reports false");
            removed.push(*id);
        }
    }
    assert!(!idx.remove(u32::MAX - 1));
    assert_eq!(idx.len(), present.len() - removed.len());
    let qs = queries(3, &present, 31);
    check(&idx, &present, &removed, &qs, &RADII);
    // Inserting out of order is refused.
    let last = idx.last_id().unwrap();
    assert!(idx.insert(last, &Hash256::ZERO).is_err());
    // Compaction keeps the answers (and ids).
    idx.compact();
    assert_eq!(idx.stats().removed, 0);
    check(&idx, &present, &removed, &qs, &RADII);
    assert_eq!(idx.get(removed[0]), None);
    let (kid, kh) = present
        .iter()
        .find(|(id, _)| !removed.contains(id))
        .unwrap();
    assert_eq!(idx.get(*kid), Some(*kh));
}

#[test]
fn duplicate_ids_are_refused() {
    let h = Hash256::ZERO;
    assert!(PdqIndex::build(vec![(1, h), (2, h), (1, h)]).is_err());
}

#[test]
fn dihedral_query_reports_min_distance_and_variant() {
    let entries = dataset(5, 3000, false);
    let idx = PdqIndex::build(entries.clone()).unwrap();
    let mut rng = StdRng::seed_from_u64(99);
    let target = entries[17];
    let mut variants = [Hash256::ZERO; 8];
    for v in variants.iter_mut() {
        *v = random_hash(&mut rng);
    }
    variants[3] = flip(&mut rng, &target.1, 9);
    variants[6] = flip(&mut rng, &target.1, 9);
    variants[5] = flip(&mut rng, &target.1, 20);
    let got = idx.query_dihedral(&variants, 31);
    let hit: Vec<_> = got.iter().filter(|m| m.id == target.0).collect();
    assert_eq!(hit.len(), 1);
    assert_eq!((hit[0].distance, hit[0].variant), (9, 3));
    // Same set as the union of the single queries, each entry once with its minimum.
    let mut union = std::collections::BTreeMap::new();
    for q in &variants {
        for m in brute(&entries, &[], q, 31) {
            let e = union.entry(m.id).or_insert(m.distance);
            *e = (*e).min(m.distance);
        }
    }
    let mine: std::collections::BTreeMap<u32, u32> =
        got.iter().map(|m| (m.id, m.distance)).collect();
    assert_eq!(mine, union);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn index_equals_brute_force(seed in any::<u64>(), n in 1usize..9000, clustered in any::<bool>(), r in 0u32..=72) {
        let entries = dataset(seed, n, clustered);
        let idx = PdqIndex::build(entries.clone()).unwrap();
        let qs = queries(seed, &entries, r);
        for q in &qs {
            prop_assert_eq!(idx.query(q, r), brute(&entries, &[], q, r));
        }
    }
}

#[test]
fn large_radii_are_exact_via_scan() {
    let entries = dataset(21, 3000, true);
    let idx = PdqIndex::build(entries.clone()).unwrap();
    let qs = queries(21, &entries, 100);
    check(
        &idx,
        &entries,
        &[],
        &qs[..10],
        &[96, 128, 200, 255, 256, 300],
    );
    assert_eq!(idx.query(&qs[0], 256).len(), entries.len());
}
