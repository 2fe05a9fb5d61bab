//! The streaming PDQ pipeline: the same f32 operations as [`crate::reference`], reorganised for
//! speed, with bit-identical results.
//!
//! # Why this is exact
//!
//! Every blurred value is produced by the same running sum as in the reference, with the same
//! operations in the same order; we only change *which lane* of a vector does the work and
//! *which values we bother to compute*:
//!
//! * A box pass along rows is a chain along each row, so a vector holds 8 different rows (one
//!   lane each) and steps along the columns; a pass along columns holds 8 adjacent columns and
//!   steps down the rows. Between passes, 8x8 blocks are transposed.
//! * Divisions are IEEE divisions (correctly rounded), or multiplications by the f64 reciprocal
//!   followed by rounding to f32, which give the same result for every f32 numerator and integer
//!   divisor below 2^27 (the f64 product is within 2^-52 relative of the true quotient, and an
//!   f32 quotient of a 24-bit numerator by such a divisor is never that close to an f32
//!   rounding midpoint without being one, which it cannot be).
//! * Luma `(0.299 R + 0.587 G + 0.114 B)` evaluated in f64 and rounded to f32 equals
//!   `(299 R + 587 G + 114 B) as f32 / 1000` for all 2^24 colours (the exact value is `N/1000`
//!   and never lies within f64 error of an f32 midpoint; `luma_shortcut_is_exact` checks all).
//! * Only the 64x64 sample points of the last vertical pass are read, so: the last vertical pass
//!   runs on the 64 sampled columns only, the last horizontal pass divides only at those
//!   columns, and rows/columns past the last sample's window are never computed.
//!
//! The image is streamed in strips of [`STRIP`] rows; working memory is a few strips plus a ring
//! of `window + 2 * STRIP` rows, so even a 12-megapixel image stays within the L2 cache.

use crate::reference::{BLOCK, decimation_index, window_reach, window_size};

/// Lanes per vector.
pub(crate) const LANES: usize = 8;
/// Vectors per strip: independent running sums stepped together, to hide add latency.
const GROUP: usize = 4;
/// Rows per strip.
pub(crate) const STRIP: usize = LANES * GROUP;

/// Eight f32 lanes with exactly-rounded arithmetic. Implemented portably and with AVX2.
pub(crate) trait Lanes: Copy {
    fn zero() -> Self;
    fn load(s: &[f32]) -> Self;
    fn store(self, d: &mut [f32]);
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    /// Correctly rounded `self / d` for an integer-valued divisor `d` in `1..2^24`.
    fn div(self, d: f32) -> Self;
    /// Transposes 8 vectors (rows) into 8 vectors (columns).
    fn transpose(m: &mut [Self; 8]);
    /// Luma of 8 packed RGB pixels (24 bytes).
    fn luma(rgb: &[u8]) -> Self;
}

/// The luma formula shared by every path (see the module docs for why it is exact).
#[inline(always)]
pub(crate) fn luma_scalar(r: u8, g: u8, b: u8) -> f32 {
    let n = 299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b);
    n as f32 / 1000.0
}

/// Plain Rust lanes; the compiler vectorises them for whatever the target has.
#[derive(Clone, Copy)]
pub(crate) struct Portable([f32; LANES]);

impl Lanes for Portable {
    #[inline(always)]
    fn zero() -> Self {
        Portable([0.0; LANES])
    }
    #[inline(always)]
    fn load(s: &[f32]) -> Self {
        let mut v = [0.0; LANES];
        v.copy_from_slice(&s[..LANES]);
        Portable(v)
    }
    #[inline(always)]
    fn store(self, d: &mut [f32]) {
        d[..LANES].copy_from_slice(&self.0);
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        let mut v = self.0;
        for (a, b) in v.iter_mut().zip(o.0) {
            *a += b;
        }
        Portable(v)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        let mut v = self.0;
        for (a, b) in v.iter_mut().zip(o.0) {
            *a -= b;
        }
        Portable(v)
    }
    #[inline(always)]
    fn div(self, d: f32) -> Self {
        let mut v = self.0;
        for a in v.iter_mut() {
            *a /= d;
        }
        Portable(v)
    }
    #[inline(always)]
    fn transpose(m: &mut [Self; 8]) {
        let src = *m;
        for (i, row) in m.iter_mut().enumerate() {
            for (j, v) in row.0.iter_mut().enumerate() {
                *v = src[j].0[i];
            }
        }
    }
    #[inline(always)]
    fn luma(rgb: &[u8]) -> Self {
        let mut v = [0.0; LANES];
        for (y, p) in v.iter_mut().zip(rgb[..3 * LANES].chunks_exact(3)) {
            *y = luma_scalar(p[0], p[1], p[2]);
        }
        Portable(v)
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    //! AVX2 lanes. SAFETY: these methods execute AVX2 instructions; they are only reached from
    //! [`super::run_avx2`], which is only called after `is_x86_feature_detected!("avx2")`.
    use super::{LANES, Lanes};
    use std::arch::x86_64::*;

    #[derive(Clone, Copy)]
    pub(crate) struct Avx2(__m256);

    impl Lanes for Avx2 {
        #[inline(always)]
        fn zero() -> Self {
            // SAFETY: see the module docs.
            Avx2(unsafe { _mm256_setzero_ps() })
        }
        #[inline(always)]
        fn load(s: &[f32]) -> Self {
            let s = &s[..LANES];
            // SAFETY: `s` holds 8 floats; AVX2 per the module docs.
            Avx2(unsafe { _mm256_loadu_ps(s.as_ptr()) })
        }
        #[inline(always)]
        fn store(self, d: &mut [f32]) {
            let d = &mut d[..LANES];
            // SAFETY: `d` holds 8 floats; AVX2 per the module docs.
            unsafe { _mm256_storeu_ps(d.as_mut_ptr(), self.0) }
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            // SAFETY: see the module docs.
            Avx2(unsafe { _mm256_add_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            // SAFETY: see the module docs.
            Avx2(unsafe { _mm256_sub_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn div(self, d: f32) -> Self {
            // SAFETY: see the module docs.
            Avx2(unsafe { _mm256_div_ps(self.0, _mm256_set1_ps(d)) })
        }
        #[inline(always)]
        fn transpose(m: &mut [Self; 8]) {
            // SAFETY: see the module docs.
            unsafe {
                let t0 = _mm256_unpacklo_ps(m[0].0, m[1].0);
                let t1 = _mm256_unpackhi_ps(m[0].0, m[1].0);
                let t2 = _mm256_unpacklo_ps(m[2].0, m[3].0);
                let t3 = _mm256_unpackhi_ps(m[2].0, m[3].0);
                let t4 = _mm256_unpacklo_ps(m[4].0, m[5].0);
                let t5 = _mm256_unpackhi_ps(m[4].0, m[5].0);
                let t6 = _mm256_unpacklo_ps(m[6].0, m[7].0);
                let t7 = _mm256_unpackhi_ps(m[6].0, m[7].0);
                let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                let u1 = _mm256_shuffle_ps::<0xee>(t0, t2);
                let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                let u3 = _mm256_shuffle_ps::<0xee>(t1, t3);
                let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                let u5 = _mm256_shuffle_ps::<0xee>(t4, t6);
                let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                let u7 = _mm256_shuffle_ps::<0xee>(t5, t7);
                m[0] = Avx2(_mm256_permute2f128_ps::<0x20>(u0, u4));
                m[1] = Avx2(_mm256_permute2f128_ps::<0x20>(u1, u5));
                m[2] = Avx2(_mm256_permute2f128_ps::<0x20>(u2, u6));
                m[3] = Avx2(_mm256_permute2f128_ps::<0x20>(u3, u7));
                m[4] = Avx2(_mm256_permute2f128_ps::<0x31>(u0, u4));
                m[5] = Avx2(_mm256_permute2f128_ps::<0x31>(u1, u5));
                m[6] = Avx2(_mm256_permute2f128_ps::<0x31>(u2, u6));
                m[7] = Avx2(_mm256_permute2f128_ps::<0x31>(u3, u7));
            }
        }
        #[inline(always)]
        fn luma(rgb: &[u8]) -> Self {
            let rgb = &rgb[..3 * LANES];
            // SAFETY: two 16-byte loads at offsets 0 and 8 stay inside the 24 bytes; AVX2 per
            // the module docs.
            unsafe {
                let lo = _mm_loadu_si128(rgb.as_ptr().cast());
                let hi = _mm_loadu_si128(rgb.as_ptr().add(8).cast());
                let v = _mm256_set_m128i(hi, lo);
                // Low half: pixels 0..4 at bytes 3p..; high half (loaded from byte 8): pixels
                // 4..8 at bytes 4 + 3q... Each 32-bit lane gets (r, g) as two 16-bit words, or b.
                const Z: i8 = -128;
                let rg = _mm256_setr_epi8(
                    0, Z, 1, Z, 3, Z, 4, Z, 6, Z, 7, Z, 9, Z, 10, Z, //
                    4, Z, 5, Z, 7, Z, 8, Z, 10, Z, 11, Z, 13, Z, 14, Z,
                );
                let bb = _mm256_setr_epi8(
                    2, Z, Z, Z, 5, Z, Z, Z, 8, Z, Z, Z, 11, Z, Z, Z, //
                    6, Z, Z, Z, 9, Z, Z, Z, 12, Z, Z, Z, 15, Z, Z, Z,
                );
                let rg = _mm256_shuffle_epi8(v, rg);
                let bb = _mm256_shuffle_epi8(v, bb);
                let n = _mm256_add_epi32(
                    _mm256_madd_epi16(rg, _mm256_set1_epi32(299 | (587 << 16))),
                    _mm256_madd_epi16(bb, _mm256_set1_epi32(114)),
                );
                Avx2(_mm256_div_ps(_mm256_cvtepi32_ps(n), _mm256_set1_ps(1000.0)))
            }
        }
    }
}

/// Which pixels feed the pipeline.
#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    Rgb8(&'a [u8]),
    Luma(&'a [f32]),
}

/// Sizes and limits derived from the image dimensions.
struct Plan {
    width: usize,
    height: usize,
    /// Padded width: a multiple of [`LANES`].
    width8: usize,
    win_x: usize,
    win_y: usize,
    rows: [usize; BLOCK],
    cols: [usize; BLOCK],
    /// Rows of the 2nd horizontal pass (= of the 1st vertical pass) the last pass reads.
    rows_h2: usize,
    /// Rows of the 1st horizontal pass the 1st vertical pass reads.
    rows_h1: usize,
    /// Columns of the 1st vertical pass (= 1st horizontal pass output) the 2nd horizontal pass reads.
    cols_v1: usize,
    /// Columns of luma the 1st horizontal pass reads.
    cols_luma: usize,
    /// Capacity of the ring of 1st-horizontal-pass rows.
    ring_rows: usize,
}

impl Plan {
    fn new(width: usize, height: usize) -> Plan {
        let win_x = window_size(width);
        let win_y = window_size(height);
        let (ax, _) = window_reach(win_x);
        let (ay, _) = window_reach(win_y);
        let mut rows = [0; BLOCK];
        let mut cols = [0; BLOCK];
        for i in 0..BLOCK {
            rows[i] = decimation_index(i, height);
            cols[i] = decimation_index(i, width);
        }
        let rows_h2 = height.min(rows[BLOCK - 1] + ay + 1);
        let rows_h1 = height.min(rows_h2 + ay);
        let cols_v1 = width.min(cols[BLOCK - 1] + ax + 1);
        let cols_luma = width.min(cols_v1 + ax);
        Plan {
            width,
            height,
            width8: width.div_ceil(LANES) * LANES,
            win_x,
            win_y,
            rows,
            cols,
            rows_h2,
            rows_h1,
            cols_v1,
            cols_luma,
            ring_rows: win_y + 2 * STRIP,
        }
    }
}

/// Reusable working memory of the streaming pipeline.
#[derive(Default)]
pub(crate) struct Scratch {
    /// One strip transposed: column `c`, strip row `k` at `c * STRIP + k`.
    strip_t: Vec<f32>,
    /// Rows of the 1st horizontal pass, row `r` at slot `r % ring_rows`.
    ring: Vec<f32>,
    /// Column sums of the 1st vertical pass.
    col_sums: Vec<f32>,
    /// One strip of 1st-vertical-pass rows, row-major.
    strip_rows: Vec<f32>,
    /// 2nd horizontal pass at the 64 sampled columns, 64 values per row.
    h2: Vec<f32>,
}

impl Scratch {
    fn prepare(&mut self, p: &Plan) {
        let grow = |v: &mut Vec<f32>, n: usize| {
            if v.len() < n {
                v.resize(n, 0.0);
            }
        };
        grow(&mut self.strip_t, p.width8 * STRIP);
        grow(&mut self.ring, p.ring_rows * p.width8);
        grow(&mut self.col_sums, p.width8);
        grow(&mut self.strip_rows, STRIP * p.width8);
        grow(&mut self.h2, p.rows_h2.div_ceil(STRIP) * STRIP * BLOCK);
    }
}

/// `N` vectors, added and subtracted lane-wise.
#[inline(always)]
fn v_add<S: Lanes, const N: usize>(mut a: [S; N], b: &[S; N]) -> [S; N] {
    for q in 0..N {
        a[q] = a[q].add(b[q]);
    }
    a
}

#[inline(always)]
fn v_sub<S: Lanes, const N: usize>(mut a: [S; N], b: &[S; N]) -> [S; N] {
    for q in 0..N {
        a[q] = a[q].sub(b[q]);
    }
    a
}

/// One running-sum box pass over `n` samples, emitting outputs `0..limit`.
///
/// `x(k)` returns input `k` (`N` vectors of independent lanes); `emit(c, sum, count)` receives
/// output `c`'s running sum and the number of samples in its window (the caller divides, or not,
/// if it does not need `c`). The operation order is exactly [`crate::reference::box1d`]'s.
#[inline(always)]
fn box_chain<S: Lanes, const N: usize>(
    n: usize,
    w: usize,
    limit: usize,
    x: impl Fn(usize) -> [S; N],
    mut emit: impl FnMut(usize, &[S; N], usize),
) {
    let (ahead, behind) = window_reach(w);
    let mut sum = [S::zero(); N];
    for k in 0..ahead {
        sum = v_add(sum, &x(k));
    }
    for c in 0..(behind + 1).min(limit) {
        sum = v_add(sum, &x(c + ahead));
        emit(c, &sum, c + ahead + 1);
    }
    for c in behind + 1..(n - ahead).min(limit) {
        sum = v_add(sum, &x(c + ahead));
        sum = v_sub(sum, &x(c - behind - 1));
        emit(c, &sum, w);
    }
    for c in n - ahead..limit {
        sum = v_sub(sum, &x(c - behind - 1));
        emit(c, &sum, n - c + behind);
    }
}

/// Column `c` of a transposed strip: [`GROUP`] vectors of 8 rows each.
#[inline(always)]
fn strip_col<S: Lanes>(strip_t: &[f32], c: usize) -> [S; GROUP] {
    let col = &strip_t[c * STRIP..(c + 1) * STRIP];
    let mut v = [S::zero(); GROUP];
    for (g, x) in v.iter_mut().enumerate() {
        *x = S::load(&col[g * LANES..]);
    }
    v
}

/// Divides `N` vectors by the same count.
#[inline(always)]
fn v_div<S: Lanes, const N: usize>(mut a: [S; N], count: usize) -> [S; N] {
    let d = count as f32;
    for x in a.iter_mut() {
        *x = x.div(d);
    }
    a
}

/// Luma of strip rows `r0..r0 + STRIP`, columns `0..p.cols_luma`, transposed into `strip_t`.
#[inline(always)]
fn fill_strip<S: Lanes>(p: &Plan, src: Source<'_>, r0: usize, strip_t: &mut [f32]) {
    match src {
        Source::Rgb8(rgb) => fill_strip_with::<S, u8>(p, rgb, 3, r0, strip_t, S::luma, |px| {
            luma_scalar(px[0], px[1], px[2])
        }),
        Source::Luma(l) => fill_strip_with::<S, f32>(p, l, 1, r0, strip_t, S::load, |px| px[0]),
    }
}

/// [`fill_strip`] for pixels of type `T`, `ch` values each: `full(values)` converts the 8
/// pixels starting at `values`, `one(values)` converts one pixel.
#[inline(always)]
fn fill_strip_with<S: Lanes, T: Copy>(
    p: &Plan,
    px: &[T],
    ch: usize,
    r0: usize,
    strip_t: &mut [f32],
    full: impl Fn(&[T]) -> S,
    one: impl Fn(&[T]) -> f32,
) {
    let blocks = p.cols_luma.div_ceil(LANES);
    let full_blocks = blocks.min(p.width / LANES);
    let row_len = p.width * ch;
    for g in 0..GROUP {
        let rg = r0 + g * LANES;
        let mut rows: [&[T]; LANES] = [&[]; LANES];
        for (k, row) in rows.iter_mut().enumerate() {
            if rg + k < p.height {
                *row = &px[(rg + k) * row_len..(rg + k + 1) * row_len];
            }
        }
        for cb in 0..blocks {
            let c0 = cb * LANES;
            let mut m = [S::zero(); 8];
            for (v, row) in m.iter_mut().zip(rows.iter()) {
                if row.is_empty() {
                    continue;
                }
                if cb < full_blocks {
                    *v = full(&row[c0 * ch..]);
                } else {
                    let mut t = [0.0f32; LANES];
                    for (c, y) in (c0..p.width).zip(t.iter_mut()) {
                        *y = one(&row[c * ch..]);
                    }
                    *v = S::load(&t);
                }
            }
            S::transpose(&mut m);
            for (i, v) in m.iter().enumerate() {
                v.store(&mut strip_t[(c0 + i) * STRIP + g * LANES..]);
            }
        }
    }
}

/// 1st horizontal pass over the strip in `strip_t`, written as rows into the ring.
#[inline(always)]
fn h1_strip<S: Lanes>(p: &Plan, r0: usize, strip_t: &[f32], ring: &mut [f32]) {
    let mut stage = [[S::zero(); GROUP]; LANES];
    let last = p.cols_v1 - 1;
    let mut slot = [0usize; STRIP];
    for (k, s) in slot.iter_mut().enumerate() {
        *s = ((r0 + k) % p.ring_rows) * p.width8;
    }
    box_chain::<S, GROUP>(
        p.width,
        p.win_x,
        p.cols_v1,
        #[inline(always)]
        |k| strip_col::<S>(strip_t, k),
        #[inline(always)]
        |c, sum, count| {
            stage[c % LANES] = v_div(*sum, count);
            if c % LANES == LANES - 1 || c == last {
                let c0 = c - c % LANES;
                for g in 0..GROUP {
                    let mut m = [S::zero(); 8];
                    for (i, x) in m.iter_mut().enumerate() {
                        *x = stage[i][g];
                    }
                    S::transpose(&mut m);
                    for (k, v) in m.iter().enumerate() {
                        v.store(&mut ring[slot[g * LANES + k] + c0..]);
                    }
                }
            }
        },
    );
}

/// Row `r` of the ring, its first `n` columns.
#[inline(always)]
fn ring_row<'a>(ring: &'a [f32], p: &Plan, r: usize, n: usize) -> &'a [f32] {
    &ring[(r % p.ring_rows) * p.width8..][..n]
}

/// 1st vertical pass for rows `r0..r0 + STRIP` (only those below `p.rows_h2`), reading the ring
/// and keeping running column sums in `col_sums`; the result is written transposed into `strip_t`.
#[inline(always)]
fn v1_strip<S: Lanes>(
    p: &Plan,
    r0: usize,
    ring: &[f32],
    col_sums: &mut [f32],
    strip_rows: &mut [f32],
    strip_t: &mut [f32],
) {
    let (ay, by) = window_reach(p.win_y);
    let w8 = p.width8;
    let blocks = p.cols_v1.div_ceil(LANES);
    let n = blocks * LANES;
    let ring_row = |r: usize| ring_row(ring, p, r, n);
    if r0 == 0 {
        col_sums[..n].fill(0.0);
        for k in 0..ay {
            let row = ring_row(k);
            for (s, x) in col_sums[..n]
                .chunks_exact_mut(LANES)
                .zip(row.chunks_exact(LANES))
            {
                S::load(s).add(S::load(x)).store(s);
            }
        }
    }
    for k in 0..STRIP {
        let r = r0 + k;
        let out = &mut strip_rows[k * w8..][..n];
        if r >= p.rows_h2 {
            out.fill(0.0);
            continue;
        }
        let count = ((r + ay).min(p.height - 1) - r.saturating_sub(by) + 1) as f32;
        let sums = &mut col_sums[..n];
        match (r + ay < p.height, r > by) {
            (true, true) => {
                let (inc, outg) = (ring_row(r + ay), ring_row(r - by - 1));
                for (((s, a), b), o) in sums
                    .chunks_exact_mut(LANES)
                    .zip(inc.chunks_exact(LANES))
                    .zip(outg.chunks_exact(LANES))
                    .zip(out.chunks_exact_mut(LANES))
                {
                    let v = S::load(s).add(S::load(a)).sub(S::load(b));
                    v.store(s);
                    v.div(count).store(o);
                }
            }
            (true, false) => {
                let inc = ring_row(r + ay);
                for ((s, a), o) in sums
                    .chunks_exact_mut(LANES)
                    .zip(inc.chunks_exact(LANES))
                    .zip(out.chunks_exact_mut(LANES))
                {
                    let v = S::load(s).add(S::load(a));
                    v.store(s);
                    v.div(count).store(o);
                }
            }
            (false, true) => {
                let outg = ring_row(r - by - 1);
                for ((s, b), o) in sums
                    .chunks_exact_mut(LANES)
                    .zip(outg.chunks_exact(LANES))
                    .zip(out.chunks_exact_mut(LANES))
                {
                    let v = S::load(s).sub(S::load(b));
                    v.store(s);
                    v.div(count).store(o);
                }
            }
            // r <= by and r + ay >= height: the window covers the whole column, impossible
            // since win_y <= height; nothing changes.
            (false, false) => {
                for (s, o) in sums.chunks_exact(LANES).zip(out.chunks_exact_mut(LANES)) {
                    S::load(s).div(count).store(o);
                }
            }
        }
    }
    for g in 0..GROUP {
        for cb in 0..blocks {
            let c0 = cb * LANES;
            let mut m = [S::zero(); 8];
            for (k, x) in m.iter_mut().enumerate() {
                *x = S::load(&strip_rows[(g * LANES + k) * w8 + c0..]);
            }
            S::transpose(&mut m);
            for (i, v) in m.iter().enumerate() {
                v.store(&mut strip_t[(c0 + i) * STRIP + g * LANES..]);
            }
        }
    }
}

/// 2nd horizontal pass over the strip in `strip_t`, divided only at the 64 sampled columns;
/// writes rows `r0..r0 + STRIP` of `h2` (64 values per row).
#[inline(always)]
fn h2_strip<S: Lanes>(p: &Plan, r0: usize, strip_t: &[f32], h2: &mut [f32]) {
    let mut sampled = [[S::zero(); GROUP]; BLOCK];
    let mut j = 0;
    box_chain::<S, GROUP>(
        p.width,
        p.win_x,
        p.cols[BLOCK - 1] + 1,
        #[inline(always)]
        |k| strip_col::<S>(strip_t, k),
        #[inline(always)]
        |c, sum, count| {
            while j < BLOCK && p.cols[j] == c {
                sampled[j] = v_div(*sum, count);
                j += 1;
            }
        },
    );
    for g in 0..GROUP {
        for jb in 0..BLOCK / LANES {
            let mut m = [S::zero(); 8];
            for (i, x) in m.iter_mut().enumerate() {
                *x = sampled[jb * LANES + i][g];
            }
            S::transpose(&mut m);
            for (k, v) in m.iter().enumerate() {
                v.store(&mut h2[(r0 + g * LANES + k) * BLOCK + jb * LANES..]);
            }
        }
    }
}

/// 2nd vertical pass on the 64 sampled columns, emitting the 64 sampled rows into `block`.
#[inline(always)]
fn v2<S: Lanes>(p: &Plan, h2: &[f32], block: &mut [f32; BLOCK * BLOCK]) {
    const Q: usize = BLOCK / LANES;
    let mut i = 0;
    box_chain::<S, Q>(
        p.height,
        p.win_y,
        p.rows[BLOCK - 1] + 1,
        #[inline(always)]
        |r| {
            let mut v = [S::zero(); Q];
            for (q, x) in v.iter_mut().enumerate() {
                *x = S::load(&h2[r * BLOCK + q * LANES..]);
            }
            v
        },
        #[inline(always)]
        |r, sum, count| {
            while i < BLOCK && p.rows[i] == r {
                for (q, s) in v_div(*sum, count).iter().enumerate() {
                    s.store(&mut block[i * BLOCK + q * LANES..]);
                }
                i += 1;
            }
        },
    );
}

/// Blur and decimate `src` (`width x height`, both >= 1) into the 64x64 `block`.
#[inline(always)]
fn run<S: Lanes>(
    src: Source<'_>,
    width: usize,
    height: usize,
    scratch: &mut Scratch,
    block: &mut [f32; BLOCK * BLOCK],
) {
    let p = Plan::new(width, height);
    scratch.prepare(&p);
    let Scratch {
        strip_t,
        ring,
        col_sums,
        strip_rows,
        h2,
    } = scratch;
    let (ay, _) = window_reach(p.win_y);
    let mut h1_rows = 0;
    let mut r0 = 0;
    while r0 < p.rows_h2 {
        let need = p.rows_h1.min(r0 + STRIP + ay);
        while h1_rows < need {
            fill_strip::<S>(&p, src, h1_rows, strip_t);
            h1_strip::<S>(&p, h1_rows, strip_t, ring);
            h1_rows += STRIP;
        }
        v1_strip::<S>(&p, r0, ring, col_sums, strip_rows, strip_t);
        h2_strip::<S>(&p, r0, strip_t, h2);
        r0 += STRIP;
    }
    v2::<S>(&p, h2, block);
}

/// The pipeline with portable lanes.
pub(crate) fn run_portable(
    src: Source<'_>,
    width: usize,
    height: usize,
    scratch: &mut Scratch,
    block: &mut [f32; BLOCK * BLOCK],
) {
    run::<Portable>(src, width, height, scratch, block);
}

/// The pipeline with AVX2 lanes.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn run_avx2(
    src: Source<'_>,
    width: usize,
    height: usize,
    scratch: &mut Scratch,
    block: &mut [f32; BLOCK * BLOCK],
) {
    run::<avx2::Avx2>(src, width, height, scratch, block);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_shortcut_is_exact() {
        for r in 0..=255u8 {
            for g in 0..=255u8 {
                for b in 0..=255u8 {
                    let want = crate::reference::luma(r, g, b);
                    let got = luma_scalar(r, g, b);
                    assert!(
                        want.to_bits() == got.to_bits(),
                        "{r} {g} {b}: {want} vs {got}"
                    );
                }
            }
        }
    }

    #[test]
    fn f64_reciprocal_division_is_exact() {
        // The claim in the module docs, on many numerators per divisor.
        let mut s = 0x1234_5678u32;
        for d in (1..=64u32).chain([100, 127, 128, 255, 1000, 4095, 65_537]) {
            let df = d as f32;
            let recip = 1.0 / f64::from(d);
            for _ in 0..20_000 {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let x = f32::from_bits(s & 0x7fff_ffff);
                if !x.is_finite() {
                    continue;
                }
                let want = x / df;
                let got = (f64::from(x) * recip) as f32;
                assert_eq!(want.to_bits(), got.to_bits(), "{x} / {d}");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_lanes_match_portable_ones() {
        use avx2::Avx2;
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let rgb: Vec<u8> = (0..24u32).map(|k| (k * 37 % 256) as u8).collect();
        let to_arr = |v: Avx2| {
            let mut a = [0.0f32; 8];
            v.store(&mut a);
            a
        };
        assert_eq!(to_arr(Avx2::luma(&rgb)), Portable::luma(&rgb).0);
        let mut m: [Avx2; 8] = std::array::from_fn(|i| {
            let row: Vec<f32> = (0..8).map(|j| (i * 8 + j) as f32).collect();
            Avx2::load(&row)
        });
        Avx2::transpose(&mut m);
        for (i, v) in m.iter().enumerate() {
            let a = to_arr(*v);
            for (j, x) in a.iter().enumerate() {
                assert_eq!(*x, (j * 8 + i) as f32);
            }
        }
    }
}
