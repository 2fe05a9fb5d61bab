//! The 256-bit PDQ hash value: text form, byte form and Hamming distance.
//!
//! Meta's text form is a 64-digit hex string that reads as one 256-bit big-endian
//! integer whose bit `k` (value `2^k`) is hash bit `k`; bit `k = 16*i + j` is DCT
//! coefficient `B[i][j]`. We store the same integer as four `u64` words, most
//! significant first, so the text form, the 32-byte form and the word form are
//! all the same big-endian reading and the Hamming distance is four popcounts.

use std::fmt;
use std::str::FromStr;

/// A 256-bit PDQ hash in Meta's bit order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash256 {
    /// `words[0]` holds bits 255..192 (the first 16 hex digits), `words[3]` bits 63..0.
    words: [u64; 4],
}

/// Why a hex string is not a PDQ hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseHashError {
    /// The string does not have exactly 64 characters.
    #[error("a PDQ hash has 64 hex digits, got {0} characters")]
    Length(usize),
    /// A character is not a hex digit.
    #[error("invalid hex digit {ch:?} at position {pos}")]
    Digit {
        /// The offending character.
        ch: char,
        /// Its zero-based position.
        pos: usize,
    },
}

impl Hash256 {
    /// The all-zero hash (what images under 5 px hash to).
    pub const ZERO: Hash256 = Hash256 { words: [0; 4] };

    /// Builds a hash from four words, most significant first.
    pub const fn from_words(words: [u64; 4]) -> Self {
        Hash256 { words }
    }

    /// The four words, most significant first (`words[0]` = first 16 hex digits).
    pub const fn words(&self) -> [u64; 4] {
        self.words
    }

    /// Builds a hash from its 32-byte form (byte 0 = bits 255..248, as `bytes.fromhex`).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut words = [0u64; 4];
        for (w, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *w = u64::from_be_bytes(b);
        }
        Hash256 { words }
    }

    /// The 32-byte form (byte 0 = bits 255..248), as faiss and `bytes.fromhex` use it.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (chunk, w) in out.chunks_exact_mut(8).zip(self.words.iter()) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    /// Builds a hash from Meta's in-memory form: 16 words of 16 bits, `w[i]` = DCT row `i`.
    pub fn from_u16_words(w: [u16; 16]) -> Self {
        let mut words = [0u64; 4];
        for (i, &v) in w.iter().enumerate() {
            // w[15] is printed first, so it is the most significant 16 bits.
            let pos = 15 - i;
            words[pos / 4] |= (v as u64) << (48 - 16 * (pos % 4));
        }
        Hash256 { words }
    }

    /// Meta's in-memory form: 16 words of 16 bits, `w[i]` = DCT row `i`.
    pub fn to_u16_words(&self) -> [u16; 16] {
        let mut w = [0u16; 16];
        for (i, slot) in w.iter_mut().enumerate() {
            let pos = 15 - i;
            *slot = (self.words[pos / 4] >> (48 - 16 * (pos % 4))) as u16;
        }
        w
    }

    /// Hash bit `k` (0..256), i.e. DCT coefficient `B[k / 16][k % 16]` above the median.
    pub fn bit(&self, k: usize) -> bool {
        debug_assert!(k < 256);
        (self.words[3 - k / 64] >> (k % 64)) & 1 == 1
    }

    /// Sets hash bit `k` (0..256).
    pub fn set_bit(&mut self, k: usize) {
        debug_assert!(k < 256);
        self.words[3 - k / 64] |= 1u64 << (k % 64);
    }

    /// Flips hash bit `k` (0..256).
    pub fn flip_bit(&mut self, k: usize) {
        debug_assert!(k < 256);
        self.words[3 - k / 64] ^= 1u64 << (k % 64);
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> u32 {
        self.words.iter().map(|w| w.count_ones()).sum()
    }

    /// Hamming distance (0..=256).
    #[inline]
    pub fn distance(&self, other: &Hash256) -> u32 {
        (self.words[0] ^ other.words[0]).count_ones()
            + (self.words[1] ^ other.words[1]).count_ones()
            + (self.words[2] ^ other.words[2]).count_ones()
            + (self.words[3] ^ other.words[3]).count_ones()
    }

    /// Lowercase 64-digit hex, Meta's text form.
    pub fn to_hex(&self) -> String {
        format!(
            "{:016x}{:016x}{:016x}{:016x}",
            self.words[0], self.words[1], self.words[2], self.words[3]
        )
    }

    /// Parses 64 hex digits (either case, as Meta's C++ accepts).
    pub fn from_hex(s: &str) -> Result<Self, ParseHashError> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(ParseHashError::Length(s.chars().count()));
        }
        let mut words = [0u64; 4];
        for (pos, &c) in bytes.iter().enumerate() {
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => {
                    let ch = s[pos..].chars().next().unwrap_or('?');
                    return Err(ParseHashError::Digit { ch, pos });
                }
            };
            words[pos / 16] = (words[pos / 16] << 4) | v as u64;
        }
        Ok(Hash256 { words })
    }
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash256({})", self.to_hex())
    }
}

impl FromStr for Hash256 {
    type Err = ParseHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Hash256::from_hex(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BRIDGE: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

    #[test]
    fn hex_round_trip() {
        let h: Hash256 = BRIDGE.parse().unwrap();
        assert_eq!(h.to_hex(), BRIDGE);
        assert_eq!(Hash256::from_hex(&BRIDGE.to_uppercase()).unwrap(), h);
    }

    #[test]
    fn bytes_are_big_endian_hex() {
        let h: Hash256 = BRIDGE.parse().unwrap();
        let b = h.to_bytes();
        assert_eq!(b[0], 0xf8);
        assert_eq!(b[31], 0x22);
        assert_eq!(Hash256::from_bytes(b), h);
    }

    #[test]
    fn bit_k_is_value_two_to_the_k() {
        let mut h = Hash256::ZERO;
        h.set_bit(0);
        assert!(h.to_hex().ends_with('1'));
        let mut h = Hash256::ZERO;
        h.set_bit(255);
        assert!(h.to_hex().starts_with('8'));
        assert!(h.bit(255) && !h.bit(0));
    }

    #[test]
    fn u16_words_follow_meta_layout() {
        let h: Hash256 = BRIDGE.parse().unwrap();
        let w = h.to_u16_words();
        assert_eq!(w[15], 0xf8f8);
        assert_eq!(w[0], 0x9b22);
        assert_eq!(Hash256::from_u16_words(w), h);
        for k in 0..256 {
            assert_eq!(h.bit(k), (w[k / 16] >> (k % 16)) & 1 == 1);
        }
    }

    #[test]
    fn distance_counts_differing_bits() {
        let a: Hash256 = BRIDGE.parse().unwrap();
        let mut b = a;
        for k in [0, 63, 64, 200, 255] {
            b.flip_bit(k);
        }
        assert_eq!(a.distance(&b), 5);
        assert_eq!(a.distance(&a), 0);
    }

    #[test]
    fn bad_hex_is_refused() {
        assert_eq!(Hash256::from_hex("abc"), Err(ParseHashError::Length(3)));
        let mut s = BRIDGE.to_string();
        s.replace_range(10..11, "g");
        assert_eq!(
            Hash256::from_hex(&s),
            Err(ParseHashError::Digit { ch: 'g', pos: 10 })
        );
        let multibyte = format!("é{}", &BRIDGE[2..]);
        assert!(Hash256::from_hex(&multibyte).is_err());
    }
}
