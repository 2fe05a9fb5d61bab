//! [`DigestSet`]: exact look-up of MD5 / SHA-1 / SHA-256 digests to entry ids.
//!
//! A sorted array of `(digest, id)` (struct of arrays: 32 + 4 bytes per SHA-256 entry)
//! with a 2^16-entry offset table on the first two digest bytes, so a look-up is one
//! offset read plus a binary search over ~N/65 536 entries. Digests are uniformly
//! distributed, so the buckets stay small. Adds go to a small sorted delta that is merged
//! (linearly) when it reaches 1/16 of the main array; removals are tombstones over main
//! positions (and plain deletes in the delta).

use std::path::Path;

use crate::bits::Bitset;
use crate::error::SnapshotError;
use crate::snapshot::{Kind, SnapReader, SnapWriter, open_file, write_atomic};

/// Exact digest set for digests of `N` bytes.
#[derive(Clone, Debug)]
pub struct DigestSet<const N: usize> {
    keys: Vec<[u8; N]>,
    ids: Vec<u32>,
    /// Offsets by the first `prefix_bits` bits of the digest (empty for small sets).
    prefix: Vec<u32>,
    prefix_bits: u32,
    removed: Bitset,
    removed_count: usize,
    /// Recent adds, sorted by (digest, id).
    delta: Vec<([u8; N], u32)>,
}

/// MD5 digests (16 bytes).
pub type Md5Set = DigestSet<16>;
/// SHA-1 digests (20 bytes).
pub type Sha1Set = DigestSet<20>;
/// SHA-256 digests (32 bytes).
pub type Sha256Set = DigestSet<32>;

const DELTA_MIN: usize = 4096;

fn prefix_of<const N: usize>(k: &[u8; N], bits: u32) -> usize {
    if bits == 0 {
        return 0;
    }
    let mut v = 0u32;
    for &b in k.iter().take(3) {
        v = (v << 8) | u32::from(b);
    }
    let have = 8 * N.min(3) as u32;
    (v >> (have - bits)) as usize
}

impl<const N: usize> Default for DigestSet<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> DigestSet<N> {
    /// An empty set.
    pub fn new() -> Self {
        DigestSet {
            keys: Vec::new(),
            ids: Vec::new(),
            prefix: Vec::new(),
            prefix_bits: 0,
            removed: Bitset::default(),
            removed_count: 0,
            delta: Vec::new(),
        }
    }

    /// Builds a set from `(digest, id)` pairs (duplicates of either are allowed).
    pub fn build<I: IntoIterator<Item = ([u8; N], u32)>>(entries: I) -> Self {
        let mut v: Vec<([u8; N], u32)> = entries.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        let mut s = Self::new();
        s.keys = v.iter().map(|e| e.0).collect();
        s.ids = v.iter().map(|e| e.1).collect();
        s.rebuild_prefix();
        s
    }

    fn rebuild_prefix(&mut self) {
        let n = self.keys.len();
        let bits = if n < 64 { 0 } else { (n.ilog2() - 2).min(16) };
        self.prefix_bits = bits;
        self.prefix.clear();
        if bits == 0 {
            return;
        }
        let nb = 1usize << bits;
        self.prefix = vec![0u32; nb + 1];
        for k in &self.keys {
            self.prefix[prefix_of(k, bits) + 1] += 1;
        }
        for b in 0..nb {
            self.prefix[b + 1] += self.prefix[b];
        }
    }

    /// Range of main positions holding `digest`.
    fn main_range(&self, digest: &[u8; N]) -> std::ops::Range<usize> {
        let (lo, hi) = if self.prefix_bits == 0 {
            (0, self.keys.len())
        } else {
            let b = prefix_of(digest, self.prefix_bits);
            (self.prefix[b] as usize, self.prefix[b + 1] as usize)
        };
        let slice = &self.keys[lo..hi];
        let a = slice.partition_point(|k| k < digest);
        let b = a + slice[a..].partition_point(|k| k == digest);
        lo + a..lo + b
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.keys.len() - self.removed_count + self.delta.len()
    }

    /// Whether the set has no live entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the ids of every live entry with this digest to `out` (ascending).
    pub fn lookup_into(&self, digest: &[u8; N], out: &mut Vec<u32>) {
        let start = out.len();
        for p in self.main_range(digest) {
            if !self.removed.get(p) {
                out.push(self.ids[p]);
            }
        }
        let a = self.delta.partition_point(|e| &e.0 < digest);
        out.extend(
            self.delta[a..]
                .iter()
                .take_while(|e| &e.0 == digest)
                .map(|e| e.1),
        );
        out[start..].sort_unstable();
    }

    /// The ids of every live entry with this digest (ascending).
    pub fn lookup(&self, digest: &[u8; N]) -> Vec<u32> {
        let mut v = Vec::new();
        self.lookup_into(digest, &mut v);
        v
    }

    /// Whether any live entry has this digest.
    pub fn contains(&self, digest: &[u8; N]) -> bool {
        self.main_range(digest).any(|p| !self.removed.get(p))
            || self.delta.binary_search_by(|e| e.0.cmp(digest)).is_ok()
    }

    /// Adds `(digest, id)`; returns false if exactly that pair is already live.
    pub fn insert(&mut self, digest: [u8; N], id: u32) -> bool {
        let r = self.main_range(&digest);
        if let Some(p) = r.clone().find(|&p| self.ids[p] == id) {
            if self.removed.get(p) {
                // Re-adding a revoked pair: let the delta carry it (the tombstone stays).
                return self.delta_insert(digest, id);
            }
            return false;
        }
        self.delta_insert(digest, id)
    }

    fn delta_insert(&mut self, digest: [u8; N], id: u32) -> bool {
        match self.delta.binary_search(&(digest, id)) {
            Ok(_) => false,
            Err(pos) => {
                self.delta.insert(pos, (digest, id));
                if self.delta.len() >= DELTA_MIN.max(self.keys.len() / 16) {
                    self.compact();
                }
                true
            }
        }
    }

    /// Removes `(digest, id)`; returns whether it was live.
    pub fn remove(&mut self, digest: &[u8; N], id: u32) -> bool {
        if let Ok(pos) = self.delta.binary_search(&(*digest, id)) {
            self.delta.remove(pos);
            return true;
        }
        for p in self.main_range(digest) {
            if self.ids[p] == id && self.removed.set(p) {
                self.removed_count += 1;
                return true;
            }
        }
        false
    }

    /// Merges the delta into the main array and drops removed entries (linear time).
    pub fn compact(&mut self) {
        let mut keys = Vec::with_capacity(self.len());
        let mut ids = Vec::with_capacity(self.len());
        let mut d = self.delta.iter().peekable();
        for (p, (k, &id)) in self.keys.iter().zip(&self.ids).enumerate() {
            while let Some(&&(dk, did)) = d.peek() {
                if (dk, did) < (*k, id) {
                    keys.push(dk);
                    ids.push(did);
                    d.next();
                } else {
                    break;
                }
            }
            if !self.removed.get(p) {
                keys.push(*k);
                ids.push(id);
            }
        }
        for &(dk, did) in d {
            keys.push(dk);
            ids.push(did);
        }
        // A revoked-then-re-added pair may now appear twice.
        let mut w = 0;
        for r in 0..keys.len() {
            if w == 0 || (keys[w - 1], ids[w - 1]) != (keys[r], ids[r]) {
                keys[w] = keys[r];
                ids[w] = ids[r];
                w += 1;
            }
        }
        keys.truncate(w);
        ids.truncate(w);
        self.keys = keys;
        self.ids = ids;
        self.removed = Bitset::default();
        self.removed_count = 0;
        self.delta.clear();
        self.rebuild_prefix();
    }

    /// Live `(digest, id)` pairs in digest order.
    pub fn iter(&self) -> impl Iterator<Item = ([u8; N], u32)> + '_ {
        let mut all: Vec<([u8; N], u32)> = self
            .keys
            .iter()
            .zip(&self.ids)
            .enumerate()
            .filter(|(p, _)| !self.removed.get(*p))
            .map(|(_, (k, id))| (*k, *id))
            .chain(self.delta.iter().copied())
            .collect();
        all.sort_unstable();
        all.into_iter()
    }

    /// Bytes held by the set.
    pub fn memory_bytes(&self) -> usize {
        self.keys.capacity() * N
            + self.ids.capacity() * 4
            + self.prefix.capacity() * 4
            + self.removed.words.capacity() * 8
            + self.delta.capacity() * std::mem::size_of::<([u8; N], u32)>()
    }

    fn kind() -> Kind {
        match N {
            16 => Kind::Md5,
            20 => Kind::Sha1,
            _ => Kind::Sha256,
        }
    }

    pub(crate) fn write_blocks<W: std::io::Write>(
        &self,
        w: &mut SnapWriter<W>,
    ) -> std::io::Result<()> {
        let mut c = self.clone();
        c.compact();
        w.block(*b"DMET", &[N as u64, c.keys.len() as u64])?;
        w.block(*b"DKEY", &c.keys)?;
        w.block(*b"DIDS", &c.ids)
    }

    pub(crate) fn read_blocks<R: std::io::Read>(
        r: &mut SnapReader<R>,
    ) -> Result<Self, SnapshotError> {
        let meta: Vec<u64> = r.block(*b"DMET")?;
        if meta.len() != 2 || meta[0] != N as u64 {
            return Err(SnapshotError::Corrupt("digest set metadata".into()));
        }
        let keys: Vec<[u8; N]> = r.block(*b"DKEY")?;
        let ids: Vec<u32> = r.block(*b"DIDS")?;
        if keys.len() as u64 != meta[1] || ids.len() != keys.len() {
            return Err(SnapshotError::Corrupt("digest set sizes".into()));
        }
        if keys
            .windows(2)
            .zip(ids.windows(2))
            .any(|(k, i)| (k[0], i[0]) >= (k[1], i[1]))
        {
            return Err(SnapshotError::Corrupt("digest set is not sorted".into()));
        }
        let mut s = Self::new();
        s.keys = keys;
        s.ids = ids;
        s.rebuild_prefix();
        Ok(s)
    }

    /// Writes a snapshot (atomically).
    pub fn save(&self, path: &Path) -> Result<(), SnapshotError> {
        write_atomic(path, |f| {
            let mut w = SnapWriter::new(f, Self::kind())?;
            self.write_blocks(&mut w)?;
            w.finish().map(|_| ())
        })
    }

    /// Loads a snapshot written by [`DigestSet::save`].
    pub fn load(path: &Path) -> Result<Self, SnapshotError> {
        let (f, len) = open_file(path)?;
        let mut r = SnapReader::open(f, Some(len), Self::kind())?;
        let s = Self::read_blocks(&mut r)?;
        r.finish()?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(x: u8, y: u8) -> [u8; 16] {
        let mut a = [0u8; 16];
        a[0] = x;
        a[15] = y;
        a
    }

    #[test]
    fn lookup_insert_remove_compact() {
        let mut s = Md5Set::build((0..5000u32).map(|i| (d((i % 251) as u8, (i / 251) as u8), i)));
        s.insert(d(1, 1), 9000); // duplicate digest, new id
        assert_eq!(s.lookup(&d(1, 1)), vec![252, 9000]);
        assert!(s.remove(&d(1, 1), 252));
        assert!(!s.remove(&d(1, 1), 252));
        assert_eq!(s.lookup(&d(1, 1)), vec![9000]);
        assert!(s.remove(&d(1, 1), 9000));
        assert!(!s.contains(&d(1, 1)));
        assert!(s.insert(d(1, 1), 252)); // re-add after revocation
        assert_eq!(s.lookup(&d(1, 1)), vec![252]);
        assert!(!s.insert(d(1, 1), 252));
        let before: Vec<_> = s.iter().collect();
        s.compact();
        assert_eq!(s.iter().collect::<Vec<_>>(), before);
        assert_eq!(s.lookup(&d(1, 1)), vec![252]);
        assert_eq!(s.len(), 5000);
        assert!(s.lookup(&d(255, 255)).is_empty());
        // Many adds trigger merges and stay findable.
        for i in 0..10_000u32 {
            s.insert(d(200, (i % 256) as u8), 100_000 + i);
        }
        // id 1957 from the build (1957 % 251 == 200, 1957 / 251 == 7) plus 40 adds.
        assert_eq!(s.lookup(&d(200, 7)).len(), 41);
        assert_eq!(s.len(), 15_000);
    }

    #[test]
    fn sha256_memory_is_compact() {
        let s = Sha256Set::build((0..100_000u32).map(|i| {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_be_bytes());
            (k, i)
        }));
        assert!(s.memory_bytes() as f64 / 100_000.0 <= 40.0);
    }
}
