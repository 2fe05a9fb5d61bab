//! One immutable multi-index-hashing segment over a contiguous range of slots.
//!
//! The 256 bits are cut into 8 *parts* of 32 bits, each part into two 16-bit *chunks*
//! (a, b). Every part has two tables: one keyed by (the top `k` bits of) chunk a whose
//! entries carry chunk b's top 15 bits as a filter, and the mirror image keyed by b.
//!
//! Exactness (generalised pigeonhole). For a query radius `r` we pick per-part thresholds
//! `t_p` with `Σ (t_p + 1) ≥ r + 1`; if `d(q, h) ≤ r` then some part has `d_p ≤ t_p`
//! (otherwise `Σ d_p ≥ Σ (t_p + 1) > r`). Within that part `d_a + d_b ≤ t_p`, so with
//! probe radii `ρ_a + ρ_b ≥ t_p − 1` one of `d_a ≤ ρ_a`, `d_b ≤ ρ_b` holds. Probing every
//! key within `ρ` of the query chunk and keeping entries with
//! `d_key + d_partner ≤ t_p` (both lower bounds of `d_a + d_b`) therefore never drops a
//! match; the survivors are verified on the full 256 bits. For `r = 31`: `t_p = 3`,
//! `ρ = (1, 1)`: 16 tables × 17 buckets, and a 31-bit filter (16 key + 15 partner bits)
//! leaves ~1 in 400 000 random entries to verify.
//!
//! Table layout (per table, `n` entries, sorted by key then slot):
//! * `off`: `2^k + 1` bucket offsets (CSR);
//! * `filt`: `u16` per entry = partner bits 15..1 | bit 16 of the position;
//! * `lo`: `u16` per entry = bits 15..0 of the position;
//! * `hi`: the position's bits 17.. as Elias–Fano unary codes, one region per bucket
//!   (`n_b + H` bits, `H = (len − 1) >> 17`), decoded only for survivors.
//!
//! That is 4 bytes + ~1.5 bits per entry and table: 16 tables cost ~67 bytes per hash,
//! plus 32 bytes for the hash itself.

use std::sync::OnceLock;

use crate::bits::{Bitset, count_range, select_from, set_bit};
use crate::error::SnapshotError;
use crate::kernel::{FILTER_MASK, PAD, Simd, prefetch};
use crate::mem::zeroed_vec;
use crate::snapshot::{SnapReader, SnapWriter};
use crate::words::Words;

/// Number of 32-bit parts.
pub(crate) const PARTS: usize = 8;
/// Number of tables (two per part).
pub(crate) const TABLES: usize = 16;
/// Position bits stored directly (15..0 in `lo`, 16 in `filt`).
const LOW_BITS: u32 = 17;

/// Per-query thresholds, derived from the radius only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Part thresholds `t_p` (−1 = part not needed).
    pub t: [i32; PARTS],
    /// Probe radius per part and side (−1 = table not probed).
    pub rho: [[i32; 2]; PARTS],
}

impl Plan {
    pub fn for_radius(r: u32) -> Plan {
        let need = r as i64 + 1;
        let base = need / PARTS as i64;
        let extra = need % PARTS as i64;
        let mut t = [0i32; PARTS];
        let mut rho = [[-1i32; 2]; PARTS];
        for p in 0..PARTS {
            let tp = (base + i64::from((p as i64) < extra) - 1) as i32;
            t[p] = tp;
            if tp >= 0 {
                let s = tp - 1; // need rho_a + rho_b >= t - 1
                let ra = (s + 1).div_euclid(2);
                rho[p] = [ra, s - ra];
            }
        }
        Plan { t, rho }
    }
}

/// All 16-bit values grouped by popcount, ascending (so the `k`-bit ones come first).
fn masks() -> &'static [Vec<u16>; 17] {
    static M: OnceLock<[Vec<u16>; 17]> = OnceLock::new();
    M.get_or_init(|| {
        let mut m: [Vec<u16>; 17] = Default::default();
        for v in 0..=u16::MAX {
            m[v.count_ones() as usize].push(v);
        }
        m
    })
}

fn binom(n: u32, k: u32) -> f64 {
    if k > n {
        return 0.0;
    }
    let mut r = 1.0f64;
    for i in 0..k {
        r = r * (n - i) as f64 / (i + 1) as f64;
    }
    r
}

/// Key bits for a segment of `n` live entries: ~8–16 entries per bucket, at most 16.
pub(crate) fn key_bits(n: usize) -> u32 {
    let l = if n == 0 { 0 } else { n.ilog2() as i64 };
    (l - 3).clamp(4, 16) as u32
}

/// Reusable per-query buffers.
#[derive(Default)]
pub(crate) struct Scratch {
    buckets: Vec<u64>,
    ranges: Vec<(u64, u32, u32)>,
    survivors: Vec<(u64, u32, u32)>,
}

/// One table (see the module docs).
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    pub off: Vec<u32>,
    pub filt: Vec<u16>,
    pub lo: Vec<u16>,
    pub hi: Vec<u64>,
}

/// An immutable MIH segment over slots `start..end`.
#[derive(Clone, Debug)]
pub(crate) struct Segment {
    pub start: u32,
    pub end: u32,
    /// Key bits per table (`2^k` buckets).
    pub k: u32,
    /// Largest high part of a position (`(end − start − 1) >> 17`).
    pub hmax: u32,
    /// Entries in each table (slots that were live when the segment was built).
    pub live: u32,
    pub tables: Vec<Table>,
}

impl Segment {
    /// Builds the 16 tables over the slots of `start..end` that are not removed.
    pub fn build(hashes: &[Words], removed: &Bitset, start: u32, end: u32) -> Segment {
        let live: Vec<u32> = (start..end)
            .filter(|&s| !removed.get(s as usize))
            .map(|s| s - start)
            .collect();
        let n = live.len();
        let k = key_bits(n);
        let hmax = end.saturating_sub(start).saturating_sub(1) >> LOW_BITS;
        let mut tables = Vec::with_capacity(TABLES);
        let mut part = vec![0u32; n];
        for p in 0..PARTS {
            for (slot_part, &rel) in part.iter_mut().zip(&live) {
                let w = &hashes[(start + rel) as usize];
                *slot_part = (u32::from(w.half(2 * p)) << 16) | u32::from(w.half(2 * p + 1));
            }
            for side in 0..2 {
                tables.push(build_table(&live, &part, side, k, hmax as usize));
            }
        }
        Segment {
            start,
            end,
            k,
            hmax,
            live: n as u32,
            tables,
        }
    }

    pub fn len(&self) -> u32 {
        self.end - self.start
    }

    pub fn memory_bytes(&self) -> usize {
        self.tables
            .iter()
            .map(|t| {
                t.off.capacity() * 4
                    + t.filt.capacity() * 2
                    + t.lo.capacity() * 2
                    + t.hi.capacity() * 8
            })
            .sum()
    }

    /// Estimated cost (ns) of answering `plan` by probing, against scanning `live` hashes.
    pub fn probing_pays(&self, plan: &Plan) -> bool {
        let n = self.live as f64;
        let k = self.k;
        let mut probes = 0.0;
        let mut survivors = 0.0;
        let filter_bits = k + 15;
        for p in 0..PARTS {
            for side in 0..2 {
                let rho = plan.rho[p][side];
                if rho < 0 {
                    continue;
                }
                for d in 0..=(rho as u32).min(k) {
                    probes += binom(k, d);
                }
                let t = plan.t[p] as u32;
                let mut cdf = 0.0;
                for d in 0..=t.min(filter_bits) {
                    cdf += binom(filter_bits, d);
                }
                survivors += n * cdf / 2f64.powi(filter_bits as i32);
            }
        }
        let entries = probes * n / 2f64.powi(k as i32);
        let mih = probes * 15.0 + entries * 0.3 + survivors * 25.0;
        let scan = n * 2.5;
        mih < scan
    }

    /// Phase 1 of a query: collects candidate `(slot << 8) | table` for every entry that
    /// passes the bucket filter, prefetching its hash.
    ///
    /// The work is staged so that cache misses overlap instead of queueing behind each
    /// other: (A) list all buckets to probe and prefetch their offsets, (B) read the
    /// offsets and prefetch the bucket starts, (C) scan the buckets and prefetch the
    /// position codes of survivors, (D) decode positions and prefetch the hashes.
    #[inline(always)]
    pub fn probe<S: Simd>(
        &self,
        simd: S,
        qh: &[u16; 16],
        plan: &Plan,
        hashes: &[Words],
        scratch: &mut Scratch,
        cands: &mut Vec<u64>,
    ) {
        let k = self.k as usize;
        let shift = 16 - k;
        let nb = 1usize << k;
        let h = self.hmax as usize;
        let seg_len = u64::from(self.len());
        let ms = masks();
        let hp = hashes.as_ptr();
        let mut qf = [0u16; TABLES];
        // (A) buckets: (table, bucket, threshold).
        scratch.buckets.clear();
        for (j, qfj) in qf.iter_mut().enumerate() {
            let p = j >> 1;
            let side = j & 1;
            let rho = plan.rho[p][side];
            if rho < 0 {
                continue;
            }
            let t = plan.t[p] as u32;
            let kh = 2 * p + side;
            let ph = 2 * p + 1 - side;
            let qkey = (qh[kh] >> shift) as usize;
            *qfj = qh[ph] & FILTER_MASK;
            let off = self.tables[j].off.as_ptr();
            for (d, masks_d) in ms.iter().enumerate().take((rho as usize).min(k) + 1) {
                let thr = t - d as u32;
                for &m in masks_d.iter().take_while(|&&m| (m as usize) < nb) {
                    let b = qkey ^ m as usize;
                    prefetch(off.wrapping_add(b));
                    scratch
                        .buckets
                        .push(((b as u64) << 16) | ((thr.min(255) as u64) << 8) | j as u64);
                }
            }
        }
        // (B) bucket ranges.
        scratch.ranges.clear();
        for &e in &scratch.buckets {
            let j = (e & 0xff) as usize;
            let b = (e >> 16) as usize;
            let tab = &self.tables[j];
            let s0 = tab.off[b];
            let e0 = tab.off[b + 1];
            if s0 < e0 {
                scratch.ranges.push((e, s0, e0));
            }
        }
        // (C) scan, prefetching whole buckets `AHEAD` buckets in advance.
        const AHEAD: usize = 8;
        let fetch = |r: &(u64, u32, u32)| {
            let tab = &self.tables[(r.0 & 0xff) as usize];
            let fp = tab.filt.as_ptr();
            let mut x = r.1 as usize;
            while x < r.2 as usize {
                prefetch(fp.wrapping_add(x));
                x += 32;
            }
            prefetch(fp.wrapping_add(r.2 as usize - 1));
        };
        for r in scratch.ranges.iter().take(AHEAD) {
            fetch(r);
        }
        scratch.survivors.clear();
        for (n, &(e, s0, e0)) in scratch.ranges.iter().enumerate() {
            if let Some(r) = scratch.ranges.get(n + AHEAD) {
                fetch(r);
            }
            let j = (e & 0xff) as usize;
            let thr = ((e >> 8) & 0xff) as u32;
            let b = (e >> 16) as usize;
            let tab = &self.tables[j];
            let (s0, e0) = (s0 as usize, e0 as usize);
            let surv = &mut scratch.survivors;
            simd.scan(&tab.filt[s0..], e0 - s0, qf[j], thr, |i| {
                let idx = s0 + i;
                prefetch(tab.lo.as_ptr().wrapping_add(idx));
                if h > 0 {
                    prefetch(tab.hi.as_ptr().wrapping_add((s0 + b * h + i) >> 6));
                }
                surv.push((e, s0 as u32, idx as u32));
            });
        }
        // (D) positions.
        for &(e, s0, idx) in &scratch.survivors {
            let j = (e & 0xff) as usize;
            let b = (e >> 16) as usize;
            let tab = &self.tables[j];
            let (s0, idx) = (s0 as usize, idx as usize);
            let mut pos = u64::from(tab.lo[idx]) | (u64::from(tab.filt[idx] & 1) << 16);
            if h > 0 {
                let i = idx - s0;
                match select_from(&tab.hi, s0 + b * h, i) {
                    Some(pr) => pos |= ((pr - i) as u64) << LOW_BITS,
                    None => continue,
                }
            }
            if pos < seg_len {
                let slot = u64::from(self.start) + pos;
                prefetch(hp.wrapping_add(slot as usize));
                cands.push((slot << 8) | j as u64);
            }
        }
    }

    /// Whether a table probed before table `j` also finds hash `h` (so `j` must not report
    /// it again). Mirrors the discovery rule of [`Segment::probe`] exactly.
    #[inline(always)]
    pub fn found_earlier(&self, j: usize, qh: &[u16; 16], h: &Words, plan: &Plan) -> bool {
        let shift = 16 - self.k;
        for jj in 0..j {
            let p = jj >> 1;
            let side = jj & 1;
            let rho = plan.rho[p][side];
            if rho < 0 {
                continue;
            }
            let kh = 2 * p + side;
            let ph = 2 * p + 1 - side;
            let dk = ((qh[kh] ^ h.half(kh)) >> shift).count_ones() as i32;
            if dk > rho {
                continue;
            }
            let dp = ((qh[ph] ^ h.half(ph)) & FILTER_MASK).count_ones() as i32;
            if dk + dp <= plan.t[p] {
                return true;
            }
        }
        false
    }

    pub fn write<W: std::io::Write>(&self, w: &mut SnapWriter<W>) -> std::io::Result<()> {
        w.block(
            *b"SEGM",
            &[
                u64::from(self.start),
                u64::from(self.end),
                u64::from(self.k),
                u64::from(self.hmax),
                u64::from(self.live),
            ],
        )?;
        for t in &self.tables {
            w.block(*b"TOFF", &t.off)?;
            w.block(*b"TFLT", &t.filt[..t.lo.len()])?;
            w.block(*b"TLOW", &t.lo)?;
            w.block(*b"THIB", &t.hi)?;
        }
        Ok(())
    }

    /// Reads a segment and checks that its tables are consistent, so that a query can
    /// never index out of bounds.
    pub fn read<R: std::io::Read>(
        r: &mut SnapReader<R>,
        total_slots: u32,
    ) -> Result<Segment, SnapshotError> {
        let bad = |m: &str| SnapshotError::Corrupt(format!("segment: {m}"));
        let meta: Vec<u64> = r.block(*b"SEGM")?;
        if meta.len() != 5 {
            return Err(bad("metadata"));
        }
        let start = u32::try_from(meta[0]).map_err(|_| bad("start"))?;
        let end = u32::try_from(meta[1]).map_err(|_| bad("end"))?;
        let k = u32::try_from(meta[2]).map_err(|_| bad("key bits"))?;
        let hmax = u32::try_from(meta[3]).map_err(|_| bad("high bits"))?;
        let live = u32::try_from(meta[4]).map_err(|_| bad("entry count"))?;
        if start > end || end > total_slots || !(1..=16).contains(&k) || live > end - start {
            return Err(bad("bounds"));
        }
        if hmax != end.saturating_sub(start).saturating_sub(1) >> LOW_BITS {
            return Err(bad("high bits"));
        }
        let nb = 1usize << k;
        let n = live as usize;
        let h = hmax as usize;
        let hi_words = if h > 0 {
            (n + nb * h).div_ceil(64) + 1
        } else {
            0
        };
        let mut tables = Vec::with_capacity(TABLES);
        for _ in 0..TABLES {
            let off: Vec<u32> = r.block(*b"TOFF")?;
            let filt: Vec<u16> = r.block_extra(*b"TFLT", PAD)?;
            let lo: Vec<u16> = r.block(*b"TLOW")?;
            let hi: Vec<u64> = r.block(*b"THIB")?;
            if off.len() != nb + 1 || off[0] != 0 || off[nb] as usize != n {
                return Err(bad("bucket offsets"));
            }
            if off.windows(2).any(|w| w[0] > w[1]) {
                return Err(bad("bucket offsets not sorted"));
            }
            if filt.len() != n + PAD || lo.len() != n || hi.len() != hi_words {
                return Err(bad("table sizes"));
            }
            if h > 0 {
                for b in 0..nb {
                    let nbk = (off[b + 1] - off[b]) as usize;
                    if count_range(&hi, off[b] as usize + b * h, nbk + h) != Some(nbk) {
                        return Err(bad("position codes"));
                    }
                }
            }
            tables.push(Table { off, filt, lo, hi });
        }
        Ok(Segment {
            start,
            end,
            k,
            hmax,
            live,
            tables,
        })
    }
}

fn build_table(live: &[u32], part: &[u32], side: usize, k: u32, h: usize) -> Table {
    let n = live.len();
    let nb = 1usize << k;
    let shift = 16 - k;
    let split = |v: u32| -> (u16, u16) {
        let (a, b) = ((v >> 16) as u16, v as u16);
        if side == 0 { (a, b) } else { (b, a) }
    };
    let mut off = vec![0u32; nb + 1];
    for &v in part {
        off[(split(v).0 >> shift) as usize + 1] += 1;
    }
    for b in 0..nb {
        off[b + 1] += off[b];
    }
    let mut cur: Vec<u32> = off[..nb].to_vec();
    let mut filt: Vec<u16> = zeroed_vec(n + PAD);
    let mut lo: Vec<u16> = zeroed_vec(n);
    let mut hi: Vec<u64> = zeroed_vec(if h > 0 {
        (n + nb * h).div_ceil(64) + 1
    } else {
        0
    });
    for (&v, &rel) in part.iter().zip(live) {
        let (key, partner) = split(v);
        let b = (key >> shift) as usize;
        let idx = cur[b] as usize;
        cur[b] += 1;
        filt[idx] = (partner & FILTER_MASK) | ((rel >> 16) & 1) as u16;
        lo[idx] = rel as u16;
        if h > 0 {
            let i = idx - off[b] as usize;
            set_bit(
                &mut hi,
                off[b] as usize + b * h + (rel >> LOW_BITS) as usize + i,
            );
        }
    }
    Table { off, filt, lo, hi }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_covers_every_radius() {
        for r in 0..=300u32 {
            let p = Plan::for_radius(r);
            let sum: i64 = p.t.iter().map(|&t| i64::from(t) + 1).sum();
            assert!(sum > i64::from(r), "radius {r}");
            for part in 0..PARTS {
                let [a, b] = p.rho[part];
                if p.t[part] >= 0 {
                    assert!(a + b >= p.t[part] - 1 && a <= p.t[part] && b <= p.t[part]);
                } else {
                    assert_eq!((a, b), (-1, -1));
                }
            }
        }
        let p31 = Plan::for_radius(31);
        assert_eq!(p31.t, [3; 8]);
        assert_eq!(p31.rho, [[1, 1]; 8]);
        let p0 = Plan::for_radius(0);
        assert_eq!(p0.rho.iter().filter(|r| r[0] >= 0 || r[1] >= 0).count(), 1);
    }

    #[test]
    fn masks_are_grouped_and_sorted() {
        let m = masks();
        assert_eq!(m[0], vec![0]);
        assert_eq!(m[1].len(), 16);
        assert_eq!(m[2].len(), 120);
        assert!(m.iter().all(|v| v.windows(2).all(|w| w[0] < w[1])));
    }

    #[test]
    fn key_bits_grow_with_size() {
        assert_eq!(key_bits(0), 4);
        assert_eq!(key_bits(2048), 8);
        assert_eq!(key_bits(1 << 20), 16);
        assert_eq!(key_bits(10_000_000), 16);
    }
}
