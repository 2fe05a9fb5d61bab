//! From the 16x16 DCT output to hash bits: median, threshold and the 8 dihedral variants.

use crate::Hash256;

/// The lower median of 256 values: the 128th smallest (`sorted[127]`), which is what the
/// reference's Torben selection returns for an even count.
pub(crate) fn median(values: &[f32; 256]) -> f32 {
    let mut scratch = *values;
    // total_cmp never panics, even on NaN from a caller's luma; the reference compares with
    // `<`/`>` only, which agrees with total_cmp on every finite value except the sign of
    // zero, and -0.0 and 0.0 threshold alike below.
    let (_, m, _) = scratch.select_nth_unstable_by(127, f32::total_cmp);
    *m
}

/// Bit `k = 16*i + j` is set iff `B[i][j]` is strictly above the median.
pub(crate) fn threshold(values: &[f32; 256]) -> Hash256 {
    let m = median(values);
    let mut words = [0u16; 16];
    for (i, word) in words.iter_mut().enumerate() {
        for j in 0..16 {
            if values[i * 16 + j] > m {
                *word |= 1 << j;
            }
        }
    }
    Hash256::from_u16_words(words)
}

/// The 8 dihedral variants of the DCT output, in the order of [`crate::DIHEDRAL_NAMES`].
///
/// Rotating or mirroring the image maps each cosine basis onto itself or its transpose,
/// negating those of odd frequency (index `i` even, since row `i` is frequency `i + 1`), so
/// the variants come from the DCT alone, without re-hashing pixels. Each is thresholded at
/// its own median.
pub(crate) fn dihedral(a: &[f32; 256]) -> [Hash256; 8] {
    let at = |i: usize, j: usize| a[i * 16 + j];
    let neg_if = |v: f32, negate: bool| if negate { -v } else { v };
    let build = |f: &dyn Fn(usize, usize) -> (usize, usize, f32)| {
        let mut b = [0.0f32; 256];
        for i in 0..16 {
            for j in 0..16 {
                let (bi, bj, v) = f(i, j);
                b[bi * 16 + bj] = v;
            }
        }
        threshold(&b)
    };
    let even = |k: usize| k.is_multiple_of(2);
    [
        threshold(a),
        build(&|i, j| (j, i, neg_if(at(i, j), even(j)))),
        build(&|i, j| (i, j, neg_if(at(i, j), !even(i + j)))),
        build(&|i, j| (j, i, neg_if(at(i, j), even(i)))),
        build(&|i, j| (i, j, neg_if(at(i, j), even(i)))),
        build(&|i, j| (i, j, neg_if(at(i, j), even(j)))),
        build(&|i, j| (j, i, at(i, j))),
        build(&|i, j| (j, i, neg_if(at(i, j), !even(i + j)))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_the_128th_smallest() {
        let mut v = [0.0f32; 256];
        for (k, x) in v.iter_mut().enumerate() {
            // a permutation of 0..256
            *x = ((k * 97) % 256) as f32;
        }
        assert_eq!(median(&v), 127.0);
        let h = threshold(&v);
        assert_eq!(h.count_ones(), 128);
    }

    #[test]
    fn ties_with_the_median_stay_zero() {
        let v = [1.5f32; 256];
        assert_eq!(threshold(&v), Hash256::ZERO);
        let mut v = [0.0f32; 256];
        v[200] = 5.0;
        let h = threshold(&v);
        assert_eq!(h.count_ones(), 1);
        assert!(h.bit(200));
    }

    #[test]
    fn dihedral_group_laws_hold() {
        // a coefficient field without ties
        let mut a = [0.0f32; 256];
        for (k, x) in a.iter_mut().enumerate() {
            *x = (((k * 131 + 7) % 509) as f32) - 254.3;
        }
        let d = dihedral(&a);
        assert_eq!(d[0], threshold(&a));
        // All 8 variants differ from each other on a generic field.
        for x in 0..8 {
            for y in x + 1..8 {
                assert_ne!(d[x], d[y], "variants {x} and {y}");
            }
        }
        // Transpose is an involution on the bits: transposing the transposed field gives back
        // the original hash.
        let mut t = [0.0f32; 256];
        for i in 0..16 {
            for j in 0..16 {
                t[j * 16 + i] = a[i * 16 + j];
            }
        }
        assert_eq!(dihedral(&t)[6], d[0]);
        // rotate90 applied to the rotate90 field equals rotate180 of the original.
        let mut r = [0.0f32; 256];
        for i in 0..16 {
            for j in 0..16 {
                let v = a[i * 16 + j];
                r[j * 16 + i] = if j % 2 == 0 { -v } else { v };
            }
        }
        assert_eq!(dihedral(&r)[1], d[2]);
    }
}
