//! [`PdqIndex`]: exact Hamming-radius search over PDQ hashes, with incremental add and
//! remove and a checksummed snapshot.

use std::path::Path;

use pdq::Hash256;

use crate::bits::Bitset;
use crate::error::{IndexError, SnapshotError};
use crate::kernel::{Level, Scalar, Simd, detect};
use crate::mih::{Plan, Scratch, Segment};
use crate::snapshot::{Kind, SnapReader, SnapWriter, open_file, write_atomic};
use crate::words::Words;

/// Entries added after the last segment are kept in a tail that every query scans; at
/// this size the tail is frozen into a new MIH segment (a 2048-hash scan costs ~2 µs).
pub const TAIL_MAX: usize = 2048;

/// One match of a PDQ query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PdqMatch {
    /// The entry id given when the hash was added.
    pub id: u32,
    /// Hamming distance between the query and the entry (0..=256).
    pub distance: u32,
}

/// One match of an 8-variant (dihedral) query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DihedralMatch {
    /// The entry id.
    pub id: u32,
    /// The smallest distance over the variants.
    pub distance: u32,
    /// Index (0..8) of the variant that reached it (the lowest index on a tie), in the
    /// order of the query array (for PDQ: original, rot90, rot180, rot270, flipx, flipy,
    /// flip+1, flip−1).
    pub variant: u8,
}

/// Sizes of the parts of a [`PdqIndex`], for diagnostics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PdqIndexStats {
    /// Live (not removed) entries.
    pub entries: usize,
    /// Removed entries still holding a slot (dropped by [`PdqIndex::compact`]).
    pub removed: usize,
    /// Slots covered by each MIH segment, oldest (main) first.
    pub segments: Vec<usize>,
    /// Entries in the scanned tail.
    pub tail: usize,
    /// Bytes held by the index structures.
    pub memory_bytes: usize,
}

/// Maps slots (positions in the hash array) to caller ids and back, as runs of
/// consecutive ids: free when ids are dense, a few bytes per gap otherwise.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct IdMap {
    slots: Vec<u32>,
    ids: Vec<u32>,
}

impl IdMap {
    fn push(&mut self, slot: u32, id: u32) {
        if let (Some(&ls), Some(&li)) = (self.slots.last(), self.ids.last())
            && u64::from(id) == u64::from(li) + u64::from(slot - ls)
        {
            return;
        }
        self.slots.push(slot);
        self.ids.push(id);
    }

    fn id_of(&self, slot: u32) -> u32 {
        let i = self.slots.partition_point(|&s| s <= slot).saturating_sub(1);
        match (self.slots.get(i), self.ids.get(i)) {
            (Some(&s), Some(&id)) => id.wrapping_add(slot - s),
            _ => slot,
        }
    }

    fn slot_of(&self, id: u32, len: u32) -> Option<u32> {
        let i = self.ids.partition_point(|&x| x <= id).checked_sub(1)?;
        let slot = u64::from(self.slots[i]) + u64::from(id - self.ids[i]);
        let end = self.slots.get(i + 1).copied().unwrap_or(len);
        (slot < u64::from(end)).then_some(slot as u32)
    }
}

/// Exact PDQ radius search (multi-index hashing, see the crate docs).
///
/// Entries are `(id, hash)` pairs. Ids are `u32` chosen by the caller and must increase
/// with every insert (an SQL row id, or a counter); several ids may carry the same hash.
/// Queries return every live entry within the radius, never a removed one, with its
/// distance — the same set as a brute-force scan, for any radius.
#[derive(Clone, Debug)]
pub struct PdqIndex {
    hashes: Vec<Words>,
    removed: Bitset,
    removed_count: usize,
    ids: IdMap,
    last_id: Option<u32>,
    segments: Vec<Segment>,
    indexed_end: u32,
    level: Level,
}

impl Default for PdqIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl PdqIndex {
    /// An empty index.
    pub fn new() -> Self {
        PdqIndex {
            hashes: Vec::new(),
            removed: Bitset::default(),
            removed_count: 0,
            ids: IdMap::default(),
            last_id: None,
            segments: Vec::new(),
            indexed_end: 0,
            level: detect(),
        }
    }

    /// Builds an index from `(id, hash)` pairs in any order (they are sorted by id).
    pub fn build<I: IntoIterator<Item = (u32, Hash256)>>(entries: I) -> Result<Self, IndexError> {
        let mut v: Vec<(u32, Hash256)> = entries.into_iter().collect();
        v.sort_by_key(|e| e.0);
        if let Some(w) = v.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(IndexError::DuplicateId(w[0].0));
        }
        if v.len() >= u32::MAX as usize {
            return Err(IndexError::Full);
        }
        let mut idx = PdqIndex::new();
        idx.hashes = crate::mem::zeroed_vec(v.len());
        for (slot, ((id, h), w)) in v.iter().zip(idx.hashes.iter_mut()).enumerate() {
            *w = Words::from_hash(h);
            idx.ids.push(slot as u32, *id);
        }
        idx.last_id = v.last().map(|e| e.0);
        drop(v);
        let t = std::time::Instant::now();
        idx.reindex_all();
        tracing::debug!(
            entries = idx.len(),
            secs = t.elapsed().as_secs_f64(),
            "built PDQ index"
        );
        Ok(idx)
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.hashes.len() - self.removed_count
    }

    /// Whether there is no live entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The largest id ever added (new ids must be greater).
    pub fn last_id(&self) -> Option<u32> {
        self.last_id
    }

    /// The hash of a live entry.
    pub fn get(&self, id: u32) -> Option<Hash256> {
        let slot = self.ids.slot_of(id, self.hashes.len() as u32)?;
        if self.removed.get(slot as usize) {
            return None;
        }
        self.hashes.get(slot as usize).map(|w| w.to_hash())
    }

    /// Adds an entry. `id` must be greater than every id added before.
    pub fn insert(&mut self, id: u32, hash: &Hash256) -> Result<(), IndexError> {
        if let Some(last) = self.last_id
            && id <= last
        {
            return Err(IndexError::IdOrder { id, last });
        }
        if self.hashes.len() >= u32::MAX as usize {
            return Err(IndexError::Full);
        }
        let slot = self.hashes.len() as u32;
        self.hashes.push(Words::from_hash(hash));
        self.ids.push(slot, id);
        self.last_id = Some(id);
        if self.hashes.len() - self.indexed_end as usize >= TAIL_MAX {
            self.freeze_tail();
        }
        Ok(())
    }

    /// Removes (revokes) an entry; it is never returned again. Returns whether it was live.
    pub fn remove(&mut self, id: u32) -> bool {
        let Some(slot) = self.ids.slot_of(id, self.hashes.len() as u32) else {
            return false;
        };
        if self.removed.set(slot as usize) {
            self.removed_count += 1;
            true
        } else {
            false
        }
    }

    /// Drops removed entries for good and rebuilds one segment over everything
    /// (what a periodic maintenance job or a snapshot writer may call).
    pub fn compact(&mut self) {
        if self.removed_count > 0 {
            let mut hashes: Vec<Words> = crate::mem::zeroed_vec(self.len());
            let mut ids = IdMap::default();
            let mut n = 0usize;
            for (slot, w) in self.hashes.iter().enumerate() {
                if !self.removed.get(slot) {
                    ids.push(n as u32, self.ids.id_of(slot as u32));
                    hashes[n] = *w;
                    n += 1;
                }
            }
            self.hashes = hashes;
            self.ids = ids;
            self.removed = Bitset::default();
            self.removed_count = 0;
        }
        self.reindex_all();
    }

    fn reindex_all(&mut self) {
        let len = self.hashes.len() as u32;
        self.segments.clear();
        if len > 0 {
            self.segments
                .push(Segment::build(&self.hashes, &self.removed, 0, len));
        }
        self.indexed_end = len;
    }

    fn freeze_tail(&mut self) {
        let len = self.hashes.len() as u32;
        let seg = Segment::build(&self.hashes, &self.removed, self.indexed_end, len);
        self.segments.push(seg);
        self.indexed_end = len;
        // Tiered merging keeps the number of segments logarithmic.
        while self.segments.len() >= 3 {
            let n = self.segments.len();
            let (a, b) = (&self.segments[n - 2], &self.segments[n - 1]);
            if a.len() > 2 * b.len() {
                break;
            }
            let (s, e) = (a.start, b.end);
            self.segments.truncate(n - 2);
            self.segments
                .push(Segment::build(&self.hashes, &self.removed, s, e));
        }
        if self.segments.len() >= 2 {
            let main = self.segments[0].len() as usize;
            let side: usize = self.segments[1..].iter().map(|s| s.len() as usize).sum();
            if 2 * side >= main {
                let s = self.segments[0].start;
                self.segments.clear();
                self.segments
                    .push(Segment::build(&self.hashes, &self.removed, s, len));
            }
        }
    }

    /// Every live entry within `radius` of `query`, closest first (ties by id).
    pub fn query(&self, query: &Hash256, radius: u32) -> Vec<PdqMatch> {
        let mut out = Vec::new();
        self.query_into(query, radius, &mut out);
        out
    }

    /// Like [`PdqIndex::query`], reusing `out` (cleared first).
    pub fn query_into(&self, query: &Hash256, radius: u32, out: &mut Vec<PdqMatch>) {
        out.clear();
        let mut raw = Vec::new();
        self.search_dispatch(&Words::from_hash(query), radius, &mut raw);
        out.extend(raw.iter().map(|&(slot, d)| PdqMatch {
            id: self.ids.id_of(slot),
            distance: d,
        }));
        out.sort_unstable_by_key(|m| (m.distance, m.id));
    }

    /// Queries all 8 dihedral variants of an image at once; each entry is reported once,
    /// with its smallest distance and the variant that reached it.
    pub fn query_dihedral(&self, variants: &[Hash256; 8], radius: u32) -> Vec<DihedralMatch> {
        let mut all: Vec<(u32, u32, u8)> = Vec::new();
        let mut raw = Vec::new();
        for (v, q) in variants.iter().enumerate() {
            raw.clear();
            self.search_dispatch(&Words::from_hash(q), radius, &mut raw);
            all.extend(raw.iter().map(|&(s, d)| (s, d, v as u8)));
        }
        all.sort_unstable();
        all.dedup_by_key(|e| e.0);
        let mut out: Vec<DihedralMatch> = all
            .into_iter()
            .map(|(s, d, v)| DihedralMatch {
                id: self.ids.id_of(s),
                distance: d,
                variant: v,
            })
            .collect();
        out.sort_unstable_by_key(|m| (m.distance, m.id));
        out
    }

    /// Brute-force reference: scans every live entry (exact for any radius; what the index
    /// falls back to by itself when probing would cost more).
    pub fn query_scan(&self, query: &Hash256, radius: u32) -> Vec<PdqMatch> {
        let mut raw = Vec::new();
        self.scan_range(
            0,
            self.hashes.len() as u32,
            &Words::from_hash(query),
            radius,
            &mut raw,
        );
        let mut out: Vec<PdqMatch> = raw
            .iter()
            .map(|&(slot, d)| PdqMatch {
                id: self.ids.id_of(slot),
                distance: d,
            })
            .collect();
        out.sort_unstable_by_key(|m| (m.distance, m.id));
        out
    }

    fn search_dispatch(&self, q: &Words, r: u32, raw: &mut Vec<(u32, u32)>) {
        match self.level {
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => {
                // SAFETY: `Level::Avx2` is only chosen after detecting AVX2 and POPCNT.
                unsafe { self.search_avx2(q, r, raw) }
            }
            Level::Scalar => self.search(Scalar, q, r, raw),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt")]
    unsafe fn search_avx2(&self, q: &Words, r: u32, raw: &mut Vec<(u32, u32)>) {
        // SAFETY: this function only runs on CPUs with AVX2 (see the caller).
        let simd = unsafe { crate::kernel::Avx2::new_unchecked() };
        self.search(simd, q, r, raw)
    }

    #[inline(always)]
    fn search<S: Simd>(&self, simd: S, q: &Words, r: u32, raw: &mut Vec<(u32, u32)>) {
        thread_local! {
            static SCRATCH: std::cell::RefCell<(Scratch, Vec<u64>)> = Default::default();
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut s) => {
                let (scratch, cands) = &mut *s;
                self.search_with(simd, q, r, raw, scratch, cands);
            }
            // Re-entered from the same thread (cannot happen today): use fresh buffers.
            Err(_) => self.search_with(simd, q, r, raw, &mut Scratch::default(), &mut Vec::new()),
        })
    }

    #[inline(always)]
    fn search_with<S: Simd>(
        &self,
        simd: S,
        q: &Words,
        r: u32,
        raw: &mut Vec<(u32, u32)>,
        scratch: &mut Scratch,
        cands: &mut Vec<u64>,
    ) {
        let qh = q.halves();
        let plan = Plan::for_radius(r.min(256));
        for seg in &self.segments {
            if seg.live == 0 {
                continue;
            }
            if r >= 256 || !seg.probing_pays(&plan) {
                self.scan_range(seg.start, seg.end, q, r, raw);
                continue;
            }
            cands.clear();
            seg.probe(simd, &qh, &plan, &self.hashes, scratch, cands);
            for &c in cands.iter() {
                let slot = (c >> 8) as usize;
                let j = (c & 0xff) as usize;
                if self.removed.get(slot) {
                    continue;
                }
                let Some(h) = self.hashes.get(slot) else {
                    continue;
                };
                let d = h.dist(q);
                if d > r || seg.found_earlier(j, &qh, h, &plan) {
                    continue;
                }
                raw.push((slot as u32, d));
            }
        }
        self.scan_range(self.indexed_end, self.hashes.len() as u32, q, r, raw);
    }

    #[inline(always)]
    fn scan_range(&self, start: u32, end: u32, q: &Words, r: u32, raw: &mut Vec<(u32, u32)>) {
        let (s, e) = (start as usize, (end as usize).min(self.hashes.len()));
        if s >= e {
            return;
        }
        for (i, h) in self.hashes[s..e].iter().enumerate() {
            let d = h.dist(q);
            if d <= r && !self.removed.get(s + i) {
                raw.push(((s + i) as u32, d));
            }
        }
    }

    /// Bytes held by the index structures (hashes, tables, id map, tombstones).
    pub fn memory_bytes(&self) -> usize {
        self.hashes.capacity() * 32
            + self.removed.words.capacity() * 8
            + (self.ids.slots.capacity() + self.ids.ids.capacity()) * 4
            + self
                .segments
                .iter()
                .map(Segment::memory_bytes)
                .sum::<usize>()
    }

    /// Sizes of the index's parts.
    pub fn stats(&self) -> PdqIndexStats {
        PdqIndexStats {
            entries: self.len(),
            removed: self.removed_count,
            segments: self.segments.iter().map(|s| s.len() as usize).collect(),
            tail: self.hashes.len() - self.indexed_end as usize,
            memory_bytes: self.memory_bytes(),
        }
    }

    /// Live `(id, hash)` pairs in id order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, Hash256)> + '_ {
        self.hashes
            .iter()
            .enumerate()
            .filter(|(slot, _)| !self.removed.get(*slot))
            .map(|(slot, w)| (self.ids.id_of(slot as u32), w.to_hash()))
    }

    pub(crate) fn write_blocks<W: std::io::Write>(
        &self,
        w: &mut SnapWriter<W>,
    ) -> std::io::Result<()> {
        w.block(
            *b"PMET",
            &[
                self.hashes.len() as u64,
                u64::from(self.indexed_end),
                self.removed_count as u64,
                self.segments.len() as u64,
                self.last_id.map_or(u64::MAX, u64::from),
            ],
        )?;
        w.block(*b"HASH", &self.hashes)?;
        w.block(*b"TOMB", &self.removed.words)?;
        w.block(*b"IDSL", &self.ids.slots)?;
        w.block(*b"IDID", &self.ids.ids)?;
        for s in &self.segments {
            s.write(w)?;
        }
        Ok(())
    }

    pub(crate) fn read_blocks<R: std::io::Read>(
        r: &mut SnapReader<R>,
    ) -> Result<Self, SnapshotError> {
        let bad = |m: &str| SnapshotError::Corrupt(format!("PDQ index: {m}"));
        let meta: Vec<u64> = r.block(*b"PMET")?;
        if meta.len() != 5 {
            return Err(bad("metadata"));
        }
        let len = u32::try_from(meta[0]).map_err(|_| bad("size"))?;
        let indexed_end = u32::try_from(meta[1]).map_err(|_| bad("indexed size"))?;
        let removed_count = usize::try_from(meta[2]).map_err(|_| bad("removed count"))?;
        let nseg = usize::try_from(meta[3]).map_err(|_| bad("segment count"))?;
        let last_id = if meta[4] == u64::MAX {
            None
        } else {
            Some(u32::try_from(meta[4]).map_err(|_| bad("last id"))?)
        };
        let hashes: Vec<Words> = r.block(*b"HASH")?;
        let removed = Bitset {
            words: r.block(*b"TOMB")?,
        };
        let ids = IdMap {
            slots: r.block(*b"IDSL")?,
            ids: r.block(*b"IDID")?,
        };
        if hashes.len() != len as usize || indexed_end > len || nseg > 64 {
            return Err(bad("sizes"));
        }
        if removed.count_ones() != removed_count
            || removed.words.len() > (len as usize).div_ceil(64)
        {
            return Err(bad("tombstones"));
        }
        if let Some(&last) = removed.words.last() {
            let used = len as usize - (removed.words.len() - 1) * 64;
            if used < 64 && last >> used != 0 {
                return Err(bad("tombstones"));
            }
        }
        // Id runs: slots start at 0 and increase; ids increase without overlapping runs.
        if ids.slots.len() != ids.ids.len() || (len > 0) == ids.slots.is_empty() {
            return Err(bad("id map"));
        }
        if ids.slots.first().is_some_and(|&s| s != 0) {
            return Err(bad("id map"));
        }
        for i in 0..ids.slots.len() {
            let end = ids.slots.get(i + 1).copied().unwrap_or(len);
            if end <= ids.slots[i] {
                return Err(bad("id map"));
            }
            let last_of_run = u64::from(ids.ids[i]) + u64::from(end - ids.slots[i]) - 1;
            let next = ids.ids.get(i + 1).map_or(u64::MAX, |&x| u64::from(x));
            if last_of_run >= next || last_of_run > u64::from(u32::MAX) {
                return Err(bad("id map"));
            }
            if i + 1 == ids.slots.len() && Some(last_of_run as u32) != last_id {
                return Err(bad("last id"));
            }
        }
        if len == 0 && last_id.is_some() {
            // Everything was compacted away; the last id still guards the order of inserts.
        }
        let mut segments = Vec::with_capacity(nseg);
        let mut expect_start = 0u32;
        for _ in 0..nseg {
            let s = Segment::read(r, len)?;
            if s.start != expect_start {
                return Err(bad("segments are not contiguous"));
            }
            expect_start = s.end;
            segments.push(s);
        }
        if expect_start != indexed_end {
            return Err(bad("segments do not cover the indexed range"));
        }
        Ok(PdqIndex {
            hashes,
            removed,
            removed_count,
            ids,
            last_id,
            segments,
            indexed_end,
            level: detect(),
        })
    }

    /// Writes a snapshot (atomically: temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), SnapshotError> {
        write_atomic(path, |f| {
            let mut w = SnapWriter::new(f, Kind::Pdq)?;
            self.write_blocks(&mut w)?;
            w.finish().map(|_| ())
        })
    }

    /// Loads a snapshot written by [`PdqIndex::save`]; refuses corrupt, truncated or
    /// foreign files.
    pub fn load(path: &Path) -> Result<Self, SnapshotError> {
        let t = std::time::Instant::now();
        let (f, len) = open_file(path)?;
        let mut r = SnapReader::open(f, Some(len), Kind::Pdq)?;
        let idx = Self::read_blocks(&mut r)?;
        r.finish()?;
        tracing::debug!(
            entries = idx.len(),
            bytes = len,
            secs = t.elapsed().as_secs_f64(),
            "loaded PDQ index"
        );
        Ok(idx)
    }

    /// Writes a snapshot to any writer.
    pub fn write_to<W: std::io::Write>(&self, w: W) -> Result<W, SnapshotError> {
        let mut sw = SnapWriter::new(w, Kind::Pdq)?;
        self.write_blocks(&mut sw)?;
        Ok(sw.finish()?)
    }

    /// Reads a snapshot from any reader (positioned at its start).
    pub fn read_from<R: std::io::Read>(r: R) -> Result<Self, SnapshotError> {
        let mut sr = SnapReader::open(r, None, Kind::Pdq)?;
        let idx = Self::read_blocks(&mut sr)?;
        sr.finish()?;
        Ok(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_map_runs() {
        let mut m = IdMap::default();
        for (slot, id) in [(0u32, 10u32), (1, 11), (2, 12), (3, 20), (4, 21), (5, 100)] {
            m.push(slot, id);
        }
        assert_eq!(m.slots, vec![0, 3, 5]);
        for (slot, id) in [(0u32, 10u32), (2, 12), (3, 20), (4, 21), (5, 100)] {
            assert_eq!(m.id_of(slot), id);
            assert_eq!(m.slot_of(id, 6), Some(slot));
        }
        for id in [0u32, 9, 13, 19, 22, 99, 101] {
            assert_eq!(m.slot_of(id, 6), None, "id {id}");
        }
    }
}
