//! The hot loop of the PDQ index: scanning a bucket of 16-bit filter words for entries
//! whose partner chunk is within a few bits of the query's.
//!
//! Entries are `u16` words `partner[15..1] | pos_bit16`; an entry survives when
//! `popcount((f ^ q) & 0xFFFE) <= thr`. The AVX2 version tests 16 entries per step with a
//! nibble-lookup popcount; the scalar version is the portable fallback. The choice is made
//! once at run time (no `-C target-cpu` needed), and the whole query is compiled a second
//! time inside an `avx2,popcnt` function so that verification uses the POPCNT instruction.

/// Readable `u16`s required after the last entry of a filter array (vector loads).
pub(crate) const PAD: usize = 32;

/// Mask that drops the position bit from a filter word.
pub(crate) const FILTER_MASK: u16 = 0xFFFE;

/// One implementation of the bucket scan.
pub(crate) trait Simd: Copy {
    /// Calls `f(i)` for each `i < len` with `popcount((filt[i] ^ q) & 0xFFFE) <= thr`, in
    /// increasing order. `filt` must hold at least `len + PAD` elements.
    fn scan<F: FnMut(usize)>(self, filt: &[u16], len: usize, q: u16, thr: u32, f: F);
}

/// Portable scan.
#[derive(Clone, Copy)]
pub(crate) struct Scalar;

impl Simd for Scalar {
    #[inline(always)]
    fn scan<F: FnMut(usize)>(self, filt: &[u16], len: usize, q: u16, thr: u32, mut f: F) {
        for (i, &w) in filt[..len].iter().enumerate() {
            if ((w ^ q) & FILTER_MASK).count_ones() <= thr {
                f(i);
            }
        }
    }
}

/// CPU support detected once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

pub(crate) fn detect() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("popcnt") {
            return Level::Avx2;
        }
    }
    Level::Scalar
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::Avx2;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{FILTER_MASK, PAD, Scalar, Simd};
    use std::arch::x86_64::*;

    /// AVX2 scan. A value of this type exists only after AVX2 + POPCNT were detected.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx2 {
        _private: (),
    }

    impl Avx2 {
        /// # Safety
        /// The CPU must support AVX2 and POPCNT.
        pub(crate) unsafe fn new_unchecked() -> Self {
            Avx2 { _private: () }
        }
    }

    impl Simd for Avx2 {
        #[inline(always)]
        fn scan<F: FnMut(usize)>(self, filt: &[u16], len: usize, q: u16, thr: u32, mut f: F) {
            if filt.len() < len + PAD {
                // Never happens with our tables; keep the vector loads in bounds regardless.
                Scalar.scan(filt, len, q, thr, f);
                return;
            }
            // SAFETY: an `Avx2` value is only created after runtime detection of AVX2, and
            // `filt` holds at least `len + PAD` elements, so every 16-lane load starting
            // below `len` stays inside the slice.
            unsafe { scan_avx2(filt, len, q, thr, &mut f) }
        }
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn scan_avx2<F: FnMut(usize)>(filt: &[u16], len: usize, q: u16, thr: u32, f: &mut F) {
        let lut = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2,
            3, 3, 4,
        );
        let nib = _mm256_set1_epi8(0x0f);
        let lo_byte = _mm256_set1_epi16(0x00ff);
        let qv = _mm256_set1_epi16(q as i16);
        let mv = _mm256_set1_epi16(FILTER_MASK as i16);
        let tv = _mm256_set1_epi16(thr.min(16) as i16);
        let ptr = filt.as_ptr();
        let mut i = 0usize;
        while i < len {
            // SAFETY: i < len and filt.len() >= len + PAD >= i + 16 (checked by the caller).
            let v = unsafe { _mm256_loadu_si256(ptr.add(i) as *const __m256i) };
            let x = _mm256_and_si256(_mm256_xor_si256(v, qv), mv);
            let lo = _mm256_and_si256(x, nib);
            let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(x), nib);
            let c8 = _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
            let c16 = _mm256_add_epi16(_mm256_and_si256(c8, lo_byte), _mm256_srli_epi16::<8>(c8));
            let gt = _mm256_cmpgt_epi16(c16, tv);
            let mut m = !(_mm256_movemask_epi8(gt) as u32) & 0x5555_5555;
            let rest = len - i;
            if rest < 16 {
                m &= (1u32 << (2 * rest)) - 1;
            }
            while m != 0 {
                let b = m.trailing_zeros() as usize;
                f(i + b / 2);
                m &= m - 1;
            }
            i += 16;
        }
    }
}

/// Hints the CPU to fetch `p` into cache (no-op where unsupported).
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: prefetch never faults, whatever the address; SSE is part of x86_64.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = p;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect<S: Simd>(s: S, filt: &[u16], len: usize, q: u16, thr: u32) -> Vec<usize> {
        let mut v = Vec::new();
        s.scan(filt, len, q, thr, |i| v.push(i));
        v
    }

    #[test]
    fn simd_scan_equals_scalar() {
        let mut x = 0x1234_5678u32;
        let mut filt = Vec::new();
        for _ in 0..300 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            filt.push(x as u16);
        }
        filt.extend(std::iter::repeat_n(0u16, PAD));
        let level = detect();
        for len in [0usize, 1, 15, 16, 17, 31, 100, 300] {
            for thr in 0..=16u32 {
                for q in [0u16, 0xffff, 0x5a5a, filt[3]] {
                    let want = collect(Scalar, &filt, len, q, thr);
                    #[cfg(target_arch = "x86_64")]
                    if level == Level::Avx2 {
                        // SAFETY: detected above.
                        let a = unsafe { Avx2::new_unchecked() };
                        assert_eq!(collect(a, &filt, len, q, thr), want, "len {len} thr {thr}");
                    }
                    let _ = level;
                    for &i in &want {
                        assert!(((filt[i] ^ q) & FILTER_MASK).count_ones() <= thr);
                    }
                }
            }
        }
    }
}
