//! Small bit-vector helpers: a growable bitset (tombstones) and `select` on a word slice
//! (the Elias–Fano high bits of the PDQ tables).

/// A growable bitset over `u32` positions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bitset {
    pub words: Vec<u64>,
}

impl Bitset {
    /// Makes room for positions `0..n`.
    pub fn grow_to(&mut self, n: usize) {
        let need = n.div_ceil(64);
        if self.words.len() < need {
            self.words.resize(need, 0);
        }
    }

    #[inline(always)]
    pub fn get(&self, i: usize) -> bool {
        match self.words.get(i >> 6) {
            Some(w) => (w >> (i & 63)) & 1 == 1,
            None => false,
        }
    }

    /// Sets bit `i`; returns whether it was clear before. Grows as needed.
    pub fn set(&mut self, i: usize) -> bool {
        self.grow_to(i + 1);
        let w = &mut self.words[i >> 6];
        let was = (*w >> (i & 63)) & 1 == 1;
        *w |= 1u64 << (i & 63);
        !was
    }

    pub fn count_ones(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }
}

/// Sets bit `i` of a word slice (which must be long enough).
#[inline(always)]
pub(crate) fn set_bit(words: &mut [u64], i: usize) {
    words[i >> 6] |= 1u64 << (i & 63);
}

/// Position of the `r`-th set bit (0-based) of `x`; `r < x.count_ones()`.
#[inline(always)]
fn select64(mut x: u64, r: u32) -> u32 {
    for _ in 0..r {
        x &= x.wrapping_sub(1);
    }
    x.trailing_zeros()
}

/// Position, relative to `start`, of the `r`-th set bit (0-based) at or after bit `start`,
/// or `None` if the slice ends first (only possible with a corrupt table).
#[inline(always)]
pub(crate) fn select_from(words: &[u64], start: usize, r: usize) -> Option<usize> {
    let mut w = start >> 6;
    let mut word = *words.get(w)? & (!0u64 << (start & 63));
    let mut r = r;
    loop {
        let c = word.count_ones() as usize;
        if r < c {
            return Some((w << 6) + select64(word, r as u32) as usize - start);
        }
        r -= c;
        w += 1;
        word = *words.get(w)?;
    }
}

/// Number of set bits in `[start, start + len)`.
pub(crate) fn count_range(words: &[u64], start: usize, len: usize) -> Option<usize> {
    if len == 0 {
        return Some(0);
    }
    let end = start + len; // exclusive
    let (fw, lw) = (start >> 6, (end - 1) >> 6);
    if lw >= words.len() {
        return None;
    }
    let mut total = 0usize;
    for (k, &word) in words[fw..=lw].iter().enumerate() {
        let w = fw + k;
        let mut m = !0u64;
        if w == fw {
            m &= !0u64 << (start & 63);
        }
        if w == lw {
            let top = end - (lw << 6); // 1..=64
            if top < 64 {
                m &= (1u64 << top) - 1;
            }
        }
        total += (word & m).count_ones() as usize;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_and_count_agree_with_naive() {
        let mut words = vec![0u64; 5];
        let ones = [3usize, 64, 65, 100, 200, 255, 300];
        for &o in &ones {
            set_bit(&mut words, o);
        }
        for start in [0usize, 3, 4, 64, 66, 199] {
            let after: Vec<usize> = ones.iter().copied().filter(|&o| o >= start).collect();
            for (r, &o) in after.iter().enumerate() {
                assert_eq!(select_from(&words, start, r), Some(o - start));
            }
            assert_eq!(select_from(&words, start, after.len()), None);
            for len in [0usize, 1, 60, 61, 62, 100] {
                let naive = ones
                    .iter()
                    .filter(|&&o| o >= start && o < start + len)
                    .count();
                assert_eq!(count_range(&words, start, len), Some(naive));
            }
        }
    }

    #[test]
    fn bitset_set_get() {
        let mut b = Bitset::default();
        assert!(!b.get(1000));
        assert!(b.set(1000));
        assert!(!b.set(1000));
        assert!(b.get(1000) && !b.get(999));
        assert_eq!(b.count_ones(), 1);
    }
}
