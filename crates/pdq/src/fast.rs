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

// Index loops here pick one lane group out of arrays of vector groups inside closures; the
// iterator forms clippy suggests do not apply.
#![allow(clippy::needless_range_loop)]

use crate::reference::{BLOCK, decimation_index, window_reach, window_size};

/// Lanes per vector.
pub(crate) const LANES: usize = 8;
/// Vectors per strip: independent running sums stepped together, to hide add latency.
const GROUP: usize = 4;
/// Rows per strip.
pub(crate) const STRIP: usize = LANES * GROUP;
/// Column blocks of the 1st vertical pass stepped together.
const V_BLOCKS: usize = 4;

/// Eight f32 lanes with exactly-rounded arithmetic. Implemented portably and with AVX2.
///
/// Loads and stores take raw pointers: the pipeline computes every address from sizes it has
/// checked once per image (and re-checks with `debug_assert!` in tests), instead of paying a
/// bounds check per vector.
pub(crate) trait Lanes: Copy {
    fn zero() -> Self;
    /// # Safety
    /// `p` must be valid for reading 8 `f32`.
    unsafe fn load(p: *const f32) -> Self;
    /// # Safety
    /// `p` must be valid for writing 8 `f32`.
    unsafe fn store(self, p: *mut f32);
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    /// Correctly rounded `self / d` for an integer-valued divisor `d` in `1..2^24`.
    fn div(self, d: f32) -> Self;
    /// Transposes 8 vectors (rows) into 8 vectors (columns).
    fn transpose(m: [Self; 8]) -> [Self; 8];
    /// Luma of 8 packed RGB pixels.
    /// # Safety
    /// `p` must be valid for reading 24 bytes.
    unsafe fn luma(p: *const u8) -> Self;
}

/// The luma formula shared by every path (see the module docs for why it is exact).
#[inline(always)]
pub(crate) fn luma_scalar(r: u8, g: u8, b: u8) -> f32 {
    let n = 299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b);
    n as f32 / 1000.0
}

/// Plain Rust lanes; the compiler vectorises them for whatever the target has.
#[derive(Clone, Copy)]
pub(crate) struct Portable(pub(crate) [f32; LANES]);

impl Lanes for Portable {
    #[inline(always)]
    fn zero() -> Self {
        Portable([0.0; LANES])
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 8 readable floats.
        Portable(unsafe { p.cast::<[f32; LANES]>().read_unaligned() })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees 8 writable floats.
        unsafe { p.cast::<[f32; LANES]>().write_unaligned(self.0) }
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
    fn transpose(src: [Self; 8]) -> [Self; 8] {
        let mut m = src;
        for (i, row) in m.iter_mut().enumerate() {
            for (j, v) in row.0.iter_mut().enumerate() {
                *v = src[j].0[i];
            }
        }
        m
    }
    #[inline(always)]
    unsafe fn luma(p: *const u8) -> Self {
        // SAFETY: the caller guarantees 24 readable bytes.
        let px = unsafe { p.cast::<[u8; 3 * LANES]>().read_unaligned() };
        let mut v = [0.0; LANES];
        for (y, c) in v.iter_mut().zip(px.chunks_exact(3)) {
            *y = luma_scalar(c[0], c[1], c[2]);
        }
        Portable(v)
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    //! AVX2 lanes. SAFETY (for every `unsafe` block below that only executes AVX2
    //! instructions): these methods are only reached from [`super::run_avx2`], which is only
    //! called after `is_x86_feature_detected!("avx2")`.
    use super::Lanes;
    use std::arch::x86_64::*;

    #[derive(Clone, Copy)]
    pub(crate) struct Avx2(__m256);

    impl Lanes for Avx2 {
        #[inline(always)]
        fn zero() -> Self {
            // SAFETY: AVX2 per the module docs.
            Avx2(unsafe { _mm256_setzero_ps() })
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            // SAFETY: 8 readable floats per the caller; AVX2 per the module docs.
            Avx2(unsafe { _mm256_loadu_ps(p) })
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            // SAFETY: 8 writable floats per the caller; AVX2 per the module docs.
            unsafe { _mm256_storeu_ps(p, self.0) }
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            // SAFETY: AVX2 per the module docs.
            Avx2(unsafe { _mm256_add_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            // SAFETY: AVX2 per the module docs.
            Avx2(unsafe { _mm256_sub_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn div(self, d: f32) -> Self {
            // SAFETY: AVX2 per the module docs.
            Avx2(unsafe { _mm256_div_ps(self.0, _mm256_set1_ps(d)) })
        }
        #[inline(always)]
        fn transpose(m: [Self; 8]) -> [Self; 8] {
            // SAFETY: AVX2 per the module docs.
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
                [
                    Avx2(_mm256_permute2f128_ps::<0x20>(u0, u4)),
                    Avx2(_mm256_permute2f128_ps::<0x20>(u1, u5)),
                    Avx2(_mm256_permute2f128_ps::<0x20>(u2, u6)),
                    Avx2(_mm256_permute2f128_ps::<0x20>(u3, u7)),
                    Avx2(_mm256_permute2f128_ps::<0x31>(u0, u4)),
                    Avx2(_mm256_permute2f128_ps::<0x31>(u1, u5)),
                    Avx2(_mm256_permute2f128_ps::<0x31>(u2, u6)),
                    Avx2(_mm256_permute2f128_ps::<0x31>(u3, u7)),
                ]
            }
        }
        #[inline(always)]
        unsafe fn luma(p: *const u8) -> Self {
            // SAFETY: two 16-byte loads at offsets 0 and 8 stay inside the 24 readable bytes
            // the caller guarantees; AVX2 per the module docs.
            unsafe {
                let lo = _mm_loadu_si128(p.cast());
                let hi = _mm_loadu_si128(p.add(8).cast());
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
    /// Row stride of the ring: the width rounded up to `LANES * V_BLOCKS`, plus 16.
    width_pad: usize,
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
            // One extra cache line per row: with power-of-two widths the ring's rows would
            // otherwise all map to the same few L1 sets.
            width_pad: width.div_ceil(LANES * V_BLOCKS) * LANES * V_BLOCKS + 16,
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
        grow(&mut self.strip_t, p.width_pad * STRIP);
        grow(&mut self.ring, p.ring_rows * p.width_pad);
        grow(&mut self.col_sums, p.width_pad);
        grow(&mut self.h2, p.rows_h2.div_ceil(STRIP) * STRIP * BLOCK);
    }
}

/// Eight vectors `f(0)..f(7)`, built in place (no zero-filled array to overwrite).
#[inline(always)]
fn eight<S>(f: impl Fn(usize) -> S) -> [S; 8] {
    [f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7)]
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

/// Divides `N` vectors by the same count.
#[inline(always)]
fn v_div<S: Lanes, const N: usize>(mut a: [S; N], count: usize) -> [S; N] {
    let d = count as f32;
    for x in a.iter_mut() {
        *x = x.div(d);
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

/// Column `c` of the transposed strip at `strip_t`: [`GROUP`] vectors of 8 rows each.
///
/// # Safety
/// `strip_t` must be valid for reading `(c + 1) * STRIP` floats.
#[inline(always)]
unsafe fn strip_col<S: Lanes>(strip_t: *const f32, c: usize) -> [S; GROUP] {
    let mut v = [S::zero(); GROUP];
    for (g, x) in v.iter_mut().enumerate() {
        // SAFETY: inside column c per the caller.
        *x = unsafe { S::load(strip_t.add(c * STRIP + g * LANES)) };
    }
    v
}

/// Luma of strip rows `r0..r0 + STRIP`, columns `0..p.cols_luma`, transposed into `strip_t`.
#[inline(always)]
fn fill_strip<S: Lanes>(p: &Plan, src: Source<'_>, r0: usize, strip_t: &mut [f32]) {
    match src {
        Source::Rgb8(rgb) => fill_strip_with::<S, u8>(
            p,
            rgb,
            3,
            r0,
            strip_t,
            #[inline(always)]
            // SAFETY: fill_strip_with passes a pointer to 8 whole pixels.
            |q| unsafe { S::luma(q) },
            #[inline(always)]
            |px| luma_scalar(px[0], px[1], px[2]),
        ),
        Source::Luma(l) => fill_strip_with::<S, f32>(
            p,
            l,
            1,
            r0,
            strip_t,
            #[inline(always)]
            // SAFETY: fill_strip_with passes a pointer to 8 whole pixels.
            |q| unsafe { S::load(q) },
            #[inline(always)]
            |px| px[0],
        ),
    }
}

/// [`fill_strip`] for pixels of `ch` values of type `T`: `full(ptr)` converts the 8 pixels at
/// `ptr`, `one(values)` converts the pixel at the start of `values`.
#[inline(always)]
fn fill_strip_with<S: Lanes, T: Copy>(
    p: &Plan,
    px: &[T],
    ch: usize,
    r0: usize,
    strip_t: &mut [f32],
    full: impl Fn(*const T) -> S,
    one: impl Fn(&[T]) -> f32,
) {
    let blocks = p.cols_luma.div_ceil(LANES);
    let full_blocks = blocks.min(p.width / LANES);
    let row_len = p.width * ch;
    assert!(px.len() >= p.height * row_len && strip_t.len() >= blocks * LANES * STRIP);
    let dst = strip_t.as_mut_ptr();
    for g in 0..GROUP {
        // Rows past the image repeat its last row: those lanes are never read downstream.
        let row_index = |k: usize| (r0 + g * LANES + k).min(p.height - 1) * row_len;
        let mut rows = [px.as_ptr(); LANES];
        for (k, row) in rows.iter_mut().enumerate() {
            // SAFETY: row_index(k) + row_len <= px.len() (asserted above).
            *row = unsafe { px.as_ptr().add(row_index(k)) };
        }
        for cb in 0..blocks {
            let c0 = cb * LANES;
            let m = if cb < full_blocks {
                // SAFETY: pixels c0..c0 + 8 lie inside the row (cb < width / 8).
                eight(
                    #[inline(always)]
                    |k| full(unsafe { rows[k].add(c0 * ch) }),
                )
            } else {
                let t = tail_block(px, row_len, ch, p.width, c0, &row_index, &one);
                // SAFETY: each t[k] holds 8 floats.
                eight(
                    #[inline(always)]
                    |k| unsafe { S::load(t[k].as_ptr()) },
                )
            };
            let m = S::transpose(m);
            for (i, v) in m.iter().enumerate() {
                // SAFETY: column c0 + i < blocks * 8, inside strip_t (asserted above).
                unsafe { v.store(dst.add((c0 + i) * STRIP + g * LANES)) };
            }
        }
    }
}

/// The last, partial block of 8 columns (`c0..width`) of 8 rows, converted one pixel at a
/// time and padded with zeros. Kept out of line so it does not clutter the hot loop.
#[cold]
#[inline(never)]
fn tail_block<T: Copy>(
    px: &[T],
    row_len: usize,
    ch: usize,
    width: usize,
    c0: usize,
    row_index: &dyn Fn(usize) -> usize,
    one: &dyn Fn(&[T]) -> f32,
) -> [[f32; LANES]; LANES] {
    let mut t = [[0.0f32; LANES]; LANES];
    for (k, tk) in t.iter_mut().enumerate() {
        let row = &px[row_index(k)..row_index(k) + row_len];
        for (c, y) in (c0..width).zip(tk.iter_mut()) {
            *y = one(&row[c * ch..]);
        }
    }
    t
}

/// 1st horizontal pass over the strip in `strip_t`, written as rows into the ring.
#[inline(always)]
fn h1_strip<S: Lanes>(p: &Plan, r0: usize, strip_t: &[f32], ring: &mut [f32]) {
    assert!(strip_t.len() >= p.width_pad * STRIP && ring.len() >= p.ring_rows * p.width_pad);
    let src = strip_t.as_ptr();
    let mut stage = [[S::zero(); GROUP]; LANES];
    let last = p.cols_v1 - 1;
    let mut slot = [ring.as_mut_ptr(); STRIP];
    for (k, s) in slot.iter_mut().enumerate() {
        // SAFETY: the slot index is below ring_rows (asserted above).
        *s = unsafe { s.add(((r0 + k) % p.ring_rows) * p.width_pad) };
    }
    box_chain::<S, GROUP>(
        p.width,
        p.win_x,
        p.cols_v1,
        // SAFETY: box_chain reads columns below p.width <= width_pad.
        #[inline(always)]
        |k| unsafe { strip_col::<S>(src, k) },
        #[inline(always)]
        |c, sum, count| {
            stage[c % LANES] = v_div(*sum, count);
            if c % LANES == LANES - 1 || c == last {
                let c0 = c - c % LANES;
                for g in 0..GROUP {
                    let m = S::transpose(eight(
                        #[inline(always)]
                        |i| stage[i][g],
                    ));
                    for (k, v) in m.iter().enumerate() {
                        // SAFETY: c0 + 8 <= width_pad, inside the ring row.
                        unsafe { v.store(slot[g * LANES + k].add(c0)) };
                    }
                }
            }
        },
    );
}

/// How one row of a vertical pass updates the running column sums.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Add,
    AddSub,
    Sub,
}

/// 1st vertical pass for rows `r0..r0 + STRIP` (only those below `p.rows_h2`), reading the ring
/// and keeping running column sums in `col_sums`; the result is written transposed into `strip_t`.
#[inline(always)]
fn v1_strip<S: Lanes>(
    p: &Plan,
    r0: usize,
    ring: &[f32],
    col_sums: &mut [f32],
    strip_t: &mut [f32],
) {
    let (ay, by) = window_reach(p.win_y);
    let wp = p.width_pad;
    let groups = p.cols_v1.div_ceil(LANES * V_BLOCKS);
    assert!(ring.len() >= p.ring_rows * wp && col_sums.len() >= wp && strip_t.len() >= wp * STRIP);
    let ring_row = |r: usize| {
        // SAFETY: the slot index is below ring_rows (asserted above).
        unsafe { ring.as_ptr().add((r % p.ring_rows) * wp) }
    };
    let sums = col_sums.as_mut_ptr();
    if r0 == 0 {
        col_sums[..wp].fill(0.0);
        for k in 0..ay {
            let row = ring_row(k);
            for o in (0..groups * LANES * V_BLOCKS).step_by(LANES) {
                // SAFETY: o + 8 <= width_pad.
                unsafe {
                    S::load(sums.add(o))
                        .add(S::load(row.add(o)))
                        .store(sums.add(o))
                };
            }
        }
    }
    // Per strip row: which step, the rows entering and leaving the window, the divisor.
    let mut step = [Step::Add; STRIP];
    let mut inc = [ring.as_ptr(); STRIP];
    let mut outg = [ring.as_ptr(); STRIP];
    let mut count = [1.0f32; STRIP];
    let rows = STRIP.min(p.rows_h2 - r0);
    for k in 0..rows {
        let r = r0 + k;
        let adds = r + ay < p.height;
        let subs = r > by;
        step[k] = match (adds, subs) {
            (true, false) => Step::Add,
            (true, true) => Step::AddSub,
            // (false, false) would mean a window longer than the column: impossible.
            _ => Step::Sub,
        };
        if adds {
            inc[k] = ring_row(r + ay);
        }
        if subs {
            outg[k] = ring_row(r - by - 1);
        }
        count[k] = ((r + ay).min(p.height - 1) - r.saturating_sub(by) + 1) as f32;
    }
    let dst = strip_t.as_mut_ptr();
    let mut out = [[S::zero(); V_BLOCKS]; STRIP];
    for gi in 0..groups {
        let o0 = gi * LANES * V_BLOCKS;
        let mut s = [S::zero(); V_BLOCKS];
        for (q, x) in s.iter_mut().enumerate() {
            // SAFETY: o0 + (q + 1) * 8 <= width_pad, inside col_sums (asserted above).
            *x = unsafe { S::load(sums.add(o0 + q * LANES)) };
        }
        for k in 0..rows {
            // SAFETY (loads): ring rows hold width_pad floats and o0 + V_BLOCKS * 8 <= width_pad.
            let ld = |row: *const f32, q: usize| unsafe { S::load(row.add(o0 + q * LANES)) };
            match step[k] {
                Step::AddSub => {
                    for (q, x) in s.iter_mut().enumerate() {
                        *x = x.add(ld(inc[k], q)).sub(ld(outg[k], q));
                    }
                }
                Step::Add => {
                    for (q, x) in s.iter_mut().enumerate() {
                        *x = x.add(ld(inc[k], q));
                    }
                }
                Step::Sub => {
                    for (q, x) in s.iter_mut().enumerate() {
                        *x = x.sub(ld(outg[k], q));
                    }
                }
            }
            for (o, x) in out[k].iter_mut().zip(s) {
                *o = x.div(count[k]);
            }
        }
        for (q, x) in s.iter().enumerate() {
            // SAFETY: as the loads above.
            unsafe { x.store(sums.add(o0 + q * LANES)) };
        }
        for q in 0..V_BLOCKS {
            for g in 0..GROUP {
                let m = S::transpose(eight(
                    #[inline(always)]
                    |k| out[g * LANES + k][q],
                ));
                let c0 = o0 + q * LANES;
                for (i, v) in m.iter().enumerate() {
                    // SAFETY: column c0 + i < width_pad, inside strip_t (asserted above).
                    unsafe { v.store(dst.add((c0 + i) * STRIP + g * LANES)) };
                }
            }
        }
    }
}

/// 2nd horizontal pass over the strip in `strip_t`, divided only at the 64 sampled columns;
/// writes rows `r0..r0 + STRIP` of `h2` (64 values per row).
#[inline(always)]
fn h2_strip<S: Lanes>(p: &Plan, r0: usize, strip_t: &[f32], h2: &mut [f32]) {
    assert!(strip_t.len() >= p.width_pad * STRIP && h2.len() >= (r0 + STRIP) * BLOCK);
    let src = strip_t.as_ptr();
    let mut sampled = [[S::zero(); GROUP]; BLOCK];
    let mut j = 0;
    let mut next = p.cols[0];
    box_chain::<S, GROUP>(
        p.width,
        p.win_x,
        p.cols[BLOCK - 1] + 1,
        // SAFETY: box_chain reads columns below p.width <= width_pad.
        #[inline(always)]
        |k| unsafe { strip_col::<S>(src, k) },
        #[inline(always)]
        |c, sum, count| {
            if c == next {
                let v = v_div(*sum, count);
                while j < BLOCK && p.cols[j] == c {
                    sampled[j] = v;
                    j += 1;
                }
                next = if j < BLOCK { p.cols[j] } else { usize::MAX };
            }
        },
    );
    let dst = h2.as_mut_ptr();
    for g in 0..GROUP {
        for jb in 0..BLOCK / LANES {
            let m = S::transpose(eight(
                #[inline(always)]
                |i| sampled[jb * LANES + i][g],
            ));
            for (k, v) in m.iter().enumerate() {
                // SAFETY: row r0 + g * 8 + k < r0 + STRIP, inside h2 (asserted above).
                unsafe { v.store(dst.add((r0 + g * LANES + k) * BLOCK + jb * LANES)) };
            }
        }
    }
}

/// 2nd vertical pass on the 64 sampled columns, emitting the 64 sampled rows into `block`.
#[inline(always)]
fn v2<S: Lanes>(p: &Plan, h2: &[f32], block: &mut [f32; BLOCK * BLOCK]) {
    const Q: usize = BLOCK / LANES;
    assert!(h2.len() >= p.rows_h2 * BLOCK);
    let src = h2.as_ptr();
    let dst = block.as_mut_ptr();
    let mut i = 0;
    box_chain::<S, Q>(
        p.height,
        p.win_y,
        p.rows[BLOCK - 1] + 1,
        #[inline(always)]
        |r| {
            let mut v = [S::zero(); Q];
            for (q, x) in v.iter_mut().enumerate() {
                // SAFETY: box_chain reads rows below rows_h2 here (the last sampled row plus
                // the window's reach), inside h2 (asserted above).
                *x = unsafe { S::load(src.add(r * BLOCK + q * LANES)) };
            }
            v
        },
        #[inline(always)]
        |r, sum, count| {
            while i < BLOCK && p.rows[i] == r {
                for (q, s) in v_div(*sum, count).iter().enumerate() {
                    // SAFETY: i < 64, inside the block.
                    unsafe { s.store(dst.add(i * BLOCK + q * LANES)) };
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
        v1_strip::<S>(&p, r0, ring, col_sums, strip_t);
        h2_strip::<S>(&p, r0, strip_t, h2);
        r0 += STRIP;
    }
    v2::<S>(&p, h2, block);
}

/// Quality and DCT of the 64x64 block, compiled with AVX2 (the same f32 operations in the same
/// order; only the vector width changes).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn finish_avx2(
    d: &[[f32; BLOCK]; 16],
    block: &[f32; BLOCK * BLOCK],
    out: &mut [f32; 256],
) -> u8 {
    crate::reference::dct16(d, block, out);
    crate::reference::quality(block)
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
            // SAFETY: `a` holds 8 floats; AVX2 detected above.
            unsafe { v.store(a.as_mut_ptr()) };
            a
        };
        // SAFETY: 24 bytes; AVX2 detected above.
        let (l1, l2) = unsafe { (Avx2::luma(rgb.as_ptr()), Portable::luma(rgb.as_ptr())) };
        assert_eq!(to_arr(l1), l2.0);
        let m: [Avx2; 8] = std::array::from_fn(|i| {
            let row: Vec<f32> = (0..8).map(|j| (i * 8 + j) as f32).collect();
            // SAFETY: 8 floats; AVX2 detected above.
            unsafe { Avx2::load(row.as_ptr()) }
        });
        let m = Avx2::transpose(m);
        for (i, v) in m.iter().enumerate() {
            let a = to_arr(*v);
            for (j, x) in a.iter().enumerate() {
                assert_eq!(*x, (j * 8 + i) as f32);
            }
        }
    }
}
