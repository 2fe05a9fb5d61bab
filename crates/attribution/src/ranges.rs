//! A compact sorted-range map with binary search, shared by the prefix table and the CDN list.
//!
//! Input ranges may nest (a /24 re-assigned inside a /16) or even overlap. At build time they
//! are flattened into disjoint *segments*, each pointing at the range that wins there:
//! **the smallest range containing the address wins (longest match)**; between ranges of the same
//! size, the one added later wins, so an operator can append corrections. A lookup is then one
//! binary search. When the input is already disjoint (iptoasn data is), no segment list is kept
//! and the ranges themselves are searched.

use std::collections::BTreeSet;

use crate::prefix::Key;

/// One imported range and its value (an index into the owner's records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawRange<K> {
    pub(crate) start: K,
    pub(crate) end: K,
    pub(crate) value: u32,
}

/// A piece of the address space where one range wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment<K> {
    start: K,
    end: K,
    range: u32,
}

/// The ranges of one address family.
#[derive(Debug, Clone)]
pub(crate) struct Family<K> {
    /// Sorted by start, larger ranges first at equal start; ties keep insertion order.
    ranges: Vec<RawRange<K>>,
    /// Disjoint, sorted; `None` when `ranges` is itself disjoint.
    segments: Option<Vec<Segment<K>>>,
    /// The start addresses of whichever list is searched, packed densely: the binary search
    /// touches only this array (4 bytes per IPv4 entry), which keeps it cache-friendly.
    starts: Vec<K>,
}

impl<K: Key> Default for Family<K> {
    fn default() -> Self {
        Self {
            ranges: Vec::new(),
            segments: None,
            starts: Vec::new(),
        }
    }
}

impl<K: Key> Family<K> {
    /// Builds from ranges in insertion order (later ones win ties).
    pub(crate) fn build(ranges: Vec<RawRange<K>>) -> Self {
        let mut indexed: Vec<(usize, RawRange<K>)> = ranges.into_iter().enumerate().collect();
        // Stable order: start ascending, then larger first; equal ranges keep insertion order.
        indexed.sort_by(|(ia, a), (ib, b)| {
            a.start
                .cmp(&b.start)
                .then(b.end.cmp(&a.end))
                .then(ia.cmp(ib))
        });
        let disjoint = indexed.windows(2).all(|w| w[0].1.end < w[1].1.start);
        if disjoint {
            let ranges: Vec<RawRange<K>> = indexed.into_iter().map(|(_, r)| r).collect();
            return Self {
                starts: ranges.iter().map(|r| r.start).collect(),
                ranges,
                segments: None,
            };
        }
        // Keep the insertion rank to break ties in favour of later ranges.
        let ranks: Vec<usize> = indexed.iter().map(|(i, _)| *i).collect();
        let ranges: Vec<RawRange<K>> = indexed.into_iter().map(|(_, r)| r).collect();
        let segments = flatten(&ranges, &ranks);
        Self {
            starts: segments.iter().map(|s| s.start).collect(),
            ranges,
            segments: Some(segments),
        }
    }

    /// The ranges as sorted (for serialisation).
    pub(crate) fn ranges(&self) -> &[RawRange<K>] {
        &self.ranges
    }

    /// Number of ranges.
    pub(crate) fn len(&self) -> usize {
        self.ranges.len()
    }

    /// The winning range for `ip`.
    pub(crate) fn lookup(&self, ip: K) -> Option<&RawRange<K>> {
        let i = self.starts.partition_point(|&s| s <= ip).checked_sub(1)?;
        match &self.segments {
            None => {
                let r = self.ranges.get(i)?;
                (r.end >= ip).then_some(r)
            }
            Some(segs) => {
                let s = segs.get(i)?;
                if s.end >= ip {
                    self.ranges.get(s.range as usize)
                } else {
                    None
                }
            }
        }
    }

    /// Every piece of space with its winning range: `(start, end, range)`. Each address is
    /// counted once, which is what per-AS announced space needs.
    pub(crate) fn pieces(&self) -> Box<dyn Iterator<Item = (K, K, &RawRange<K>)> + '_> {
        match &self.segments {
            None => Box::new(self.ranges.iter().map(|r| (r.start, r.end, r))),
            Some(segs) => Box::new(segs.iter().filter_map(|s| {
                self.ranges
                    .get(s.range as usize)
                    .map(|r| (s.start, s.end, r))
            })),
        }
    }
}

/// Sweeps over all range boundaries keeping the set of open ranges ordered by (size, newest).
fn flatten<K: Key>(ranges: &[RawRange<K>], ranks: &[usize]) -> Vec<Segment<K>> {
    // (point, is_open, index). Closing happens at end + 1 (none for ranges ending at MAX).
    let mut events: Vec<(u128, bool, usize)> = Vec::with_capacity(ranges.len() * 2);
    for (i, r) in ranges.iter().enumerate() {
        events.push((r.start.to_u128(), true, i));
        if r.end != K::MAX {
            events.push((r.end.to_u128() + 1, false, i));
        }
    }
    events.sort_unstable_by_key(|&(p, open, i)| (p, open, i));
    // Ordered by size ascending, then newest first.
    let mut active: BTreeSet<(u128, std::cmp::Reverse<usize>, usize)> = BTreeSet::new();
    let key = |i: usize| {
        let r = &ranges[i];
        (
            r.end.to_u128() - r.start.to_u128(),
            std::cmp::Reverse(ranks[i]),
            i,
        )
    };
    let mut out: Vec<Segment<K>> = Vec::new();
    let mut e = 0;
    while e < events.len() {
        let point = events[e].0;
        while e < events.len() && events[e].0 == point {
            let (_, open, i) = events[e];
            if open {
                active.insert(key(i));
            } else {
                active.remove(&key(i));
            }
            e += 1;
        }
        let seg_end = match events.get(e) {
            Some(&(next, _, _)) => next - 1,
            None => K::MAX.to_u128(),
        };
        if let Some(&(_, _, winner)) = active.first() {
            let winner = u32::try_from(winner).unwrap_or(u32::MAX);
            match out.last_mut() {
                Some(last) if last.range == winner && last.end.to_u128() + 1 == point => {
                    last.end = K::from_u128(seg_end);
                }
                _ => out.push(Segment {
                    start: K::from_u128(point),
                    end: K::from_u128(seg_end),
                    range: winner,
                }),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u32, end: u32, value: u32) -> RawRange<u32> {
        RawRange { start, end, value }
    }

    fn val(f: &Family<u32>, ip: u32) -> Option<u32> {
        f.lookup(ip).map(|r| r.value)
    }

    #[test]
    fn disjoint_ranges_need_no_segments() {
        let f = Family::build(vec![r(20, 29, 2), r(0, 9, 1)]);
        assert!(f.segments.is_none());
        assert_eq!(val(&f, 0), Some(1));
        assert_eq!(val(&f, 9), Some(1));
        assert_eq!(val(&f, 10), None);
        assert_eq!(val(&f, 25), Some(2));
        assert_eq!(val(&f, 30), None);
    }

    #[test]
    fn nested_ranges_longest_match() {
        // 0..=99 outer, 10..=19 inner, 12..=13 innermost, 50..=99 second inner.
        let f = Family::build(vec![r(0, 99, 1), r(10, 19, 2), r(12, 13, 3), r(50, 99, 4)]);
        let got: Vec<Option<u32>> = [0, 9, 10, 11, 12, 13, 14, 19, 20, 49, 50, 99, 100]
            .iter()
            .map(|&ip| val(&f, ip))
            .collect();
        assert_eq!(
            got,
            [1, 1, 2, 2, 3, 3, 2, 2, 1, 1, 4, 4]
                .into_iter()
                .map(Some)
                .chain([None])
                .collect::<Vec<_>>()
        );
        // Each address counted once in the pieces.
        let total: u64 = f.pieces().map(|(s, e, _)| u64::from(e - s) + 1).sum();
        assert_eq!(total, 100);
    }

    #[test]
    fn equal_ranges_later_wins_and_full_space() {
        let f = Family::build(vec![r(0, u32::MAX, 1), r(5, 6, 2), r(5, 6, 3)]);
        assert_eq!(val(&f, 5), Some(3));
        assert_eq!(val(&f, 7), Some(1));
        assert_eq!(val(&f, u32::MAX), Some(1));
        // Partial overlap: the smaller one wins where both apply.
        let f = Family::build(vec![r(0, 10, 1), r(5, 20, 2)]);
        assert_eq!(val(&f, 4), Some(1));
        assert_eq!(val(&f, 5), Some(1), "0..=10 is smaller than 5..=20");
        assert_eq!(val(&f, 11), Some(2));
    }
}
