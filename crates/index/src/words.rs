//! The in-memory form of a PDQ hash used by the index: four `u64` words, 32-byte aligned
//! so a hash never straddles two cache lines.

use pdq::Hash256;

/// A PDQ hash as four words, most significant first (the same order as [`Hash256::words`]).
#[repr(C, align(32))]
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Words(pub [u64; 4]);

/// Number of 16-bit halves ("chunks") of a hash.
pub(crate) const HALVES: usize = 16;

impl Words {
    #[inline(always)]
    pub fn from_hash(h: &Hash256) -> Self {
        Words(h.words())
    }

    #[inline(always)]
    pub fn to_hash(self) -> Hash256 {
        Hash256::from_words(self.0)
    }

    /// Hamming distance (0..=256).
    #[inline(always)]
    pub fn dist(&self, o: &Words) -> u32 {
        (self.0[0] ^ o.0[0]).count_ones()
            + (self.0[1] ^ o.0[1]).count_ones()
            + (self.0[2] ^ o.0[2]).count_ones()
            + (self.0[3] ^ o.0[3]).count_ones()
    }

    /// 16-bit chunk `h` (0..16); chunk 0 is the most significant (the first 4 hex digits).
    #[inline(always)]
    pub fn half(&self, h: usize) -> u16 {
        (self.0[h >> 2] >> (48 - 16 * (h & 3))) as u16
    }

    /// All 16 chunks.
    #[inline(always)]
    pub fn halves(&self) -> [u16; HALVES] {
        let mut out = [0u16; HALVES];
        for (h, slot) in out.iter_mut().enumerate() {
            *slot = self.half(h);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_follow_hex_order() {
        let h: Hash256 = "0123456789abcdef0000000000000000000000000000000000000000000000ff"
            .parse()
            .unwrap();
        let w = Words::from_hash(&h);
        assert_eq!(w.half(0), 0x0123);
        assert_eq!(w.half(3), 0xcdef);
        assert_eq!(w.half(15), 0x00ff);
        assert_eq!(w.to_hash(), h);
        assert_eq!(std::mem::size_of::<Words>(), 32);
        assert_eq!(std::mem::align_of::<Words>(), 32);
    }
}
