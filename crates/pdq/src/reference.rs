//! The PDQ stages in their plainest form, in the reference's f32 operation order.
//!
//! This module is the executable specification: whole-image buffers, one stage after
//! the other, exactly as Meta's C++ core orders its floating-point operations. The
//! fast pipeline in [`crate::fast`] must produce bit-identical results; tests compare
//! the two on many sizes. It is also the portable fallback for [`crate::Hasher`] when
//! no vector unit is detected (through the scalar lane type of the fast pipeline, not
//! through these whole-image buffers).

/// Side length of the block the image is reduced to before the DCT.
pub(crate) const BLOCK: usize = 64;

/// Images with a side shorter than this hash to all zeros with quality 0.
pub(crate) const MIN_HASHABLE_DIM: usize = 5;

/// Box-filter window for one dimension: `ceil(old / 128)`.
///
/// Two passes of half the `old / 64` block width make a tent filter over one block.
pub(crate) fn window_size(old: usize) -> usize {
    old.div_ceil(2 * BLOCK)
}

/// `(ahead, behind)`: how many samples the window reaches after and before the centre.
///
/// The reference uses `half = (w + 2) / 2`; the window for output `i` is
/// `[i - (w - half), i + (half - 1)]`, so even windows lean one sample forward.
pub(crate) fn window_reach(w: usize) -> (usize, usize) {
    let half = (w + 2) / 2;
    (half - 1, w - half)
}

/// Source index sampled for decimated index `i` of a dimension of length `n`:
/// `floor((i + 0.5) * n / 64)` (sample centres, computed in f64 like the reference).
pub(crate) fn decimation_index(i: usize, n: usize) -> usize {
    (((i as f64 + 0.5) * n as f64) / BLOCK as f64) as usize
}

/// Luma of one RGB pixel as `pdqhash` computes it: BT.601 weights in f64, then rounded to f32.
#[inline]
pub(crate) fn luma(r: u8, g: u8, b: u8) -> f32 {
    (f64::from(r) * 0.299 + f64::from(g) * 0.587 + f64::from(b) * 0.114) as f32
}

/// One running-sum box pass over `n` samples at `src[start + k * stride]`, written to the
/// same positions of `dst`.
///
/// Four phases, as in the reference: prime the sum with the `ahead` samples, then grow the
/// window (dividing by the growing count), then slide it (add the incoming sample, then
/// subtract the outgoing one, divide by `w`), then shrink it at the end. The rounding of this
/// running f32 sum is part of the reference result. Requires `1 <= w <= n`.
pub(crate) fn box1d(src: &[f32], dst: &mut [f32], start: usize, stride: usize, n: usize, w: usize) {
    let (ahead, behind) = window_reach(w);
    let at = |k: usize| start + k * stride;
    let mut sum = 0.0f32;
    for k in 0..ahead {
        sum += src[at(k)];
    }
    for i in 0..=behind {
        sum += src[at(i + ahead)];
        dst[at(i)] = sum / (i + ahead + 1) as f32;
    }
    let wf = w as f32;
    for i in behind + 1..n - ahead {
        sum += src[at(i + ahead)];
        sum -= src[at(i - behind - 1)];
        dst[at(i)] = sum / wf;
    }
    for i in n - ahead..n {
        sum -= src[at(i - behind - 1)];
        dst[at(i)] = sum / (n - i + behind) as f32;
    }
}

/// Two rounds of (horizontal box pass, vertical box pass) over a `w x h` image in `a`,
/// using `b` as scratch; the result ends up in `a`. Requires `w, h >= 1`.
pub(crate) fn jarosz(a: &mut [f32], b: &mut [f32], width: usize, height: usize) {
    let win_x = window_size(width);
    let win_y = window_size(height);
    for _ in 0..2 {
        for r in 0..height {
            box1d(a, b, r * width, 1, width, win_x);
        }
        for c in 0..width {
            box1d(b, a, c, width, height, win_y);
        }
    }
}

/// Picks the 64x64 sample points out of a blurred `w x h` image.
pub(crate) fn decimate(src: &[f32], width: usize, height: usize, out: &mut [f32; BLOCK * BLOCK]) {
    for i in 0..BLOCK {
        let r = decimation_index(i, height);
        for j in 0..BLOCK {
            let c = decimation_index(j, width);
            out[i * BLOCK + j] = src[r * width + c];
        }
    }
}

/// The gradient-sum quality metric, 0..=100.
///
/// Each neighbour difference is scaled to percent of full range in f32 and truncated to an
/// integer before its absolute value is summed, so gradients under 2.55 grey levels count 0.
///
/// Each term is clamped to 9000 so the i32 sum cannot overflow on absurd luma values: one term
/// that large already makes the capped result 100, so the clamp never changes it. (The clamp
/// and the simple loops over rows let the compiler vectorise this.)
#[inline(always)]
pub(crate) fn quality(a: &[f32; BLOCK * BLOCK]) -> u8 {
    #[inline(always)]
    fn pct(u: f32, v: f32) -> i32 {
        let x = ((u - v) * 100.0) / 255.0;
        // NaN (from non-finite luma) counts as no gradient, as `as i32` would make it.
        let x = if x.is_nan() {
            0.0
        } else {
            x.clamp(-9000.0, 9000.0)
        };
        // SAFETY: x is finite and within i32 range; truncation toward zero, like `as`.
        unsafe { x.to_int_unchecked::<i32>() }.abs()
    }
    let mut sum: i32 = 0;
    for (r0, r1) in a.chunks_exact(BLOCK).zip(a.chunks_exact(BLOCK).skip(1)) {
        for (&u, &v) in r0.iter().zip(r1) {
            sum += pct(u, v);
        }
    }
    for r in a.chunks_exact(BLOCK) {
        for (&u, &v) in r.iter().zip(&r[1..]) {
            sum += pct(u, v);
        }
    }
    (sum / 90).min(100) as u8
}

/// The 16x64 DCT-II basis (frequencies 1..=16), rounded as the reference rounds it:
/// `sqrt(2/64)` to f32, times the f64 cosine, the product stored as f32.
pub(crate) fn dct_matrix() -> [[f32; BLOCK]; 16] {
    let scale = f64::from((2.0f64 / BLOCK as f64).sqrt() as f32);
    let mut d = [[0.0f32; BLOCK]; 16];
    for (i, row) in d.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            let arg =
                std::f64::consts::PI / (2.0 * BLOCK as f64) * (i + 1) as f64 * (2 * j + 1) as f64;
            *v = (scale * arg.cos()) as f32;
        }
    }
    d
}

/// `B = D * A * D^T` with plain left-to-right f32 sums, as the reference.
///
/// Written as outer products (for each `k`, add `D[i][k] * A[k][..]` to row `i` of `T`) so the
/// compiler vectorises across outputs; every output still sums its 64 products from `k = 0`
/// upwards, starting at 0, so the result is identical to the dot-product form.
#[inline(always)]
pub(crate) fn dct16(d: &[[f32; BLOCK]; 16], a: &[f32; BLOCK * BLOCK], out: &mut [f32; 256]) {
    let mut t = [[0.0f32; BLOCK]; 16];
    for (ti, di) in t.iter_mut().zip(d.iter()) {
        for (k, &dik) in di.iter().enumerate() {
            let ak = &a[k * BLOCK..(k + 1) * BLOCK];
            for (x, &y) in ti.iter_mut().zip(ak) {
                *x += dik * y;
            }
        }
    }
    // D transposed, so the second product is also a row update.
    let mut dt = [[0.0f32; 16]; BLOCK];
    for (j, dj) in d.iter().enumerate() {
        for (k, &v) in dj.iter().enumerate() {
            dt[k][j] = v;
        }
    }
    for (ti, oi) in t.iter().zip(out.chunks_exact_mut(16)) {
        let mut acc = [0.0f32; 16];
        for (&tik, dtk) in ti.iter().zip(dt.iter()) {
            for (x, &y) in acc.iter_mut().zip(dtk) {
                *x += tik * y;
            }
        }
        oi.copy_from_slice(&acc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_sizes_follow_ceil_of_old_over_128() {
        for (old, w) in [
            (1, 1),
            (64, 1),
            (128, 1),
            (129, 2),
            (256, 2),
            (1004, 8),
            (1600, 13),
            (3024, 24),
            (4032, 32),
        ] {
            assert_eq!(window_size(old), w, "{old}");
        }
        assert_eq!(window_reach(7), (3, 3));
        assert_eq!(window_reach(8), (4, 3)); // covers i-3 ..= i+4
        assert_eq!(window_reach(2), (1, 0)); // covers i ..= i+1
        assert_eq!(window_reach(1), (0, 0));
    }

    #[test]
    fn box_pass_averages_the_clipped_window() {
        let src: Vec<f32> = (0..10).map(|k| (k * k) as f32).collect();
        for w in 1..=10 {
            let mut dst = vec![0.0f32; 10];
            box1d(&src, &mut dst, 0, 1, 10, w);
            let (ahead, behind) = window_reach(w);
            for (i, &got) in dst.iter().enumerate() {
                let lo = i.saturating_sub(behind);
                let hi = (i + ahead).min(9);
                let mean = src[lo..=hi].iter().sum::<f32>() / (hi - lo + 1) as f32;
                // small integers: the running sum is exact
                assert_eq!(got, mean, "w {w} i {i}");
            }
        }
    }

    #[test]
    fn dct_outer_product_form_equals_dot_products() {
        let d = dct_matrix();
        let mut a = [0.0f32; BLOCK * BLOCK];
        for (k, v) in a.iter_mut().enumerate() {
            *v = ((k * 7919) % 2551) as f32 / 10.0;
        }
        let mut fast = [0.0f32; 256];
        dct16(&d, &a, &mut fast);
        let mut t = [[0.0f32; BLOCK]; 16];
        for i in 0..16 {
            for j in 0..BLOCK {
                let mut s = 0.0f32;
                for k in 0..BLOCK {
                    s += d[i][k] * a[k * BLOCK + j];
                }
                t[i][j] = s;
            }
        }
        for i in 0..16 {
            for j in 0..16 {
                let mut s = 0.0f32;
                for k in 0..BLOCK {
                    s += t[i][k] * d[j][k];
                }
                assert_eq!(s.to_bits(), fast[i * 16 + j].to_bits(), "B[{i}][{j}]");
            }
        }
    }

    #[test]
    fn decimation_samples_centres() {
        assert_eq!(decimation_index(0, 64), 0);
        assert_eq!(decimation_index(63, 64), 63);
        assert_eq!(decimation_index(0, 1600), 12);
        assert_eq!(decimation_index(63, 1600), 1587);
        assert_eq!(decimation_index(0, 5), 0);
        assert_eq!(decimation_index(63, 5), 4);
    }

    #[test]
    fn quality_truncates_each_gradient() {
        // a step of 2 grey levels is 0.78 % -> truncated to 0
        let mut a = [0.0f32; BLOCK * BLOCK];
        for (k, v) in a.iter_mut().enumerate() {
            *v = if (k % BLOCK).is_multiple_of(2) {
                2.0
            } else {
                0.0
            };
        }
        assert_eq!(quality(&a), 0);
        // a step of 255 is 100 %: 64 * 63 horizontal pairs * 100 / 90 -> capped at 100
        for (k, v) in a.iter_mut().enumerate() {
            *v = if (k % BLOCK).is_multiple_of(2) {
                255.0
            } else {
                0.0
            };
        }
        assert_eq!(quality(&a), 100);
        // one vertical edge of 51 levels (20 %) over 64 rows: 64 * 20 / 90 = 14
        for (k, v) in a.iter_mut().enumerate() {
            *v = if k % BLOCK < 32 { 51.0 } else { 0.0 };
        }
        assert_eq!(quality(&a), 14);
        // absurd values saturate instead of overflowing
        a[0] = f32::MAX;
        a[1] = f32::MIN;
        a[100] = f32::NAN;
        assert_eq!(quality(&a), 100);
        let mut nan = [f32::NAN; BLOCK * BLOCK];
        assert_eq!(quality(&nan), 0);
        nan[5] = f32::INFINITY;
        assert_eq!(quality(&nan), 0, "inf - NaN is NaN");
    }

    #[test]
    fn quality_matches_the_unclamped_i64_form() {
        let mut a = [0.0f32; BLOCK * BLOCK];
        let mut s = 7u32;
        for round in 0..50 {
            for v in a.iter_mut() {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                // smooth-ish images with all quality levels
                *v = (s % (1 + round * 3)) as f32 * 0.37;
            }
            let mut sum: i64 = 0;
            let pct = |u: f32, v: f32| i64::from((((u - v) * 100.0) / 255.0) as i32).abs();
            for i in 0..BLOCK {
                for j in 0..BLOCK {
                    if i + 1 < BLOCK {
                        sum += pct(a[i * BLOCK + j], a[(i + 1) * BLOCK + j]);
                    }
                    if j + 1 < BLOCK {
                        sum += pct(a[i * BLOCK + j], a[i * BLOCK + j + 1]);
                    }
                }
            }
            assert_eq!(i64::from(quality(&a)), (sum / 90).min(100), "round {round}");
        }
    }
}
