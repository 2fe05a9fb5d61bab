//! PDQ perceptual hashing, bit-exact with Meta's C++ reference core.
//!
//! PDQ turns an image into 256 bits such that visually similar images get hashes a small
//! Hamming distance apart (Meta: distance <= 31 is a match, quality < 50 is unreliable).
//! Hash lists shared between hotlines and platforms are produced by Meta's C++ core (through
//! python-threatexchange, HMA and the PyPI `pdqhash` package), so this crate reproduces that
//! core *bit for bit* on identical pixels, quality included, and is tested against it.
//!
//! # The algorithm, and where exactness lives
//!
//! 1. **Luma** `0.299 R + 0.587 G + 0.114 B`, computed in f64 and rounded to f32, as `pdqhash`
//!    does (it does the sum in NumPy before calling the C++ core).
//! 2. Images with a side under 5 pixels hash to all zeros, quality 0.
//! 3. **Jarosz blur**: two rounds of (box filter along rows, box filter along columns) with
//!    windows `ceil(W/128)` and `ceil(H/128)`. Each 1-D pass is a *running f32 sum* (prime,
//!    grow, slide with add-then-subtract, shrink), and its rounding is part of the result, so we
//!    perform the same operations in the same order, never a prefix sum or f64.
//! 4. **Decimation** to 64x64 at sample centres `floor((i + 0.5) * N / 64)`. A 64x64 input skips
//!    blur and decimation in the plain and float entry points (not in the dihedral one).
//! 5. **Quality**: sum over neighbour pairs of `|trunc((a - b) * 100 / 255)|`, divided by 90,
//!    capped at 100.
//! 6. **DCT**: 16x16 = `D * A * D^T` with the f32-rounded basis for frequencies 1..=16,
//!    left-to-right f32 sums.
//! 7. Bit `16 i + j` is set iff `B[i][j]` is strictly above the 128th smallest value.
//! 8. **Dihedral**: the hashes of the 8 rotations/mirrors come from sign flips and the
//!    transpose of the same 16x16 DCT, each thresholded at its own median.
//!
//! No fused multiply-add anywhere: it would round differently from the reference.
//!
//! # Speed
//!
//! [`Hasher`] streams the image once, in strips of rows, holding only a few rows of
//! intermediate results, and computes only the blurred values the decimation reads. On x86-64
//! with AVX2 (detected at run time) the box passes run 8 rows or columns per vector, each lane
//! in the reference's operation order, so the result is identical to the portable path.
//!
//! # Input contract
//!
//! Every entry point takes the pixel slice with its width and height. The slice must hold
//! exactly `width * height * channels` values; anything else is a [`PdqError::BufferLength`],
//! never a panic. Any size is accepted, including 0: images under 5 pixels give the zero hash.
//! Non-finite luma values do not panic (their hash is meaningless). Pixel decoding, colour
//! conversion (CMYK, palette, 16-bit) and size limits belong to the caller (the `media` crate).
//!
//! ```
//! let (w, h) = (320, 240);
//! let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 7) % 251) as u8).collect();
//! let mut hasher = pdq::Hasher::new();
//! let pdq = hasher.hash_rgb8(&rgb, w, h)?;
//! println!("{} quality {}", pdq.hash, pdq.quality);
//! let all8 = hasher.dihedral_rgb8(&rgb, w, h)?;
//! assert_eq!(all8.hashes[0], pdq.hash);
//! # Ok::<(), pdq::PdqError>(())
//! ```

mod bits;
mod fast;
mod hash;
mod reference;

pub use hash::{Hash256, ParseHashError};

use reference::{BLOCK, MIN_HASHABLE_DIM};

/// A PDQ hash with its quality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PdqHash {
    /// The 256-bit hash.
    pub hash: Hash256,
    /// 0..=100; Meta advises discarding hashes under 50 (featureless images hash unreliably).
    pub quality: u8,
}

/// The hashes of the 8 rotations and mirror images, computed from one DCT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dihedral {
    /// In the order of [`DIHEDRAL_NAMES`]; `hashes[0]` is the plain hash.
    pub hashes: [Hash256; 8],
    /// Shared by all 8 variants.
    pub quality: u8,
}

/// Names of the dihedral variants, in Meta's order (as `pdqhash.compute_dihedral` and the
/// C++ CLI `--pdqdih` return them).
pub const DIHEDRAL_NAMES: [&str; 8] = [
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flipx",
    "flipy",
    "flipplus1",
    "flipminus1",
];

/// Why a pixel buffer cannot be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdqError {
    /// The slice does not hold exactly `width * height * channels` values.
    #[error(
        "pixel buffer holds {actual} values, a {width}x{height} image with {channels} channel(s) needs exactly that many times {channels}"
    )]
    BufferLength {
        /// Width given.
        width: usize,
        /// Height given.
        height: usize,
        /// Values per pixel (3 for RGB, 1 for luma).
        channels: usize,
        /// Length of the slice given.
        actual: usize,
    },
}

/// Checks `len == width * height * channels` without overflowing.
fn check_len(len: usize, width: usize, height: usize, channels: usize) -> Result<(), PdqError> {
    let expected = width
        .checked_mul(height)
        .and_then(|n| n.checked_mul(channels));
    if expected == Some(len) {
        Ok(())
    } else {
        Err(PdqError::BufferLength {
            width,
            height,
            channels,
            actual: len,
        })
    }
}

use fast::Source as Pixels;

/// Which implementation of the blur does the work. All give identical results; the choice
/// exists for tests and benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The fastest one this CPU supports (detected at run time).
    Auto,
    /// Whole-image buffers in the reference's loop order: the executable specification, slow.
    Reference,
    /// The streaming pipeline in plain Rust (whatever vector unit the compiler targets).
    Portable,
    /// The streaming pipeline with AVX2 (x86-64 only).
    Avx2,
}

fn avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A reusable PDQ hasher. Keeps its scratch buffers between images, so hashing many images
/// allocates only when an image is larger than all before it.
pub struct Hasher {
    backend: Backend,
    dct: [[f32; BLOCK]; 16],
    scratch: fast::Scratch,
    buf1: Vec<f32>,
    buf2: Vec<f32>,
    block: Box<[f32; BLOCK * BLOCK]>,
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher {
    /// A hasher with empty buffers, using the fastest backend this CPU supports.
    pub fn new() -> Self {
        Self::with_backend(Backend::Auto)
    }

    /// A hasher with a chosen backend. [`Backend::Avx2`] on a CPU without AVX2 falls back to
    /// [`Backend::Portable`]; [`Hasher::backend`] tells which one is in use.
    pub fn with_backend(backend: Backend) -> Self {
        let backend = match backend {
            Backend::Auto | Backend::Avx2 if avx2_available() => Backend::Avx2,
            Backend::Auto | Backend::Avx2 => Backend::Portable,
            other => other,
        };
        Hasher {
            backend,
            dct: reference::dct_matrix(),
            scratch: fast::Scratch::default(),
            buf1: Vec::new(),
            buf2: Vec::new(),
            block: Box::new([0.0; BLOCK * BLOCK]),
        }
    }

    /// The backend in use (never [`Backend::Auto`]).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// PDQ hash and quality of a packed 8-bit RGB image (3 bytes per pixel, row-major).
    ///
    /// Images with a side under 5 pixels hash to [`Hash256::ZERO`] with quality 0.
    pub fn hash_rgb8(
        &mut self,
        rgb: &[u8],
        width: usize,
        height: usize,
    ) -> Result<PdqHash, PdqError> {
        check_len(rgb.len(), width, height, 3)?;
        Ok(self.hash(Pixels::Rgb8(rgb), width, height))
    }

    /// The 8 dihedral hashes and quality of a packed 8-bit RGB image.
    pub fn dihedral_rgb8(
        &mut self,
        rgb: &[u8],
        width: usize,
        height: usize,
    ) -> Result<Dihedral, PdqError> {
        check_len(rgb.len(), width, height, 3)?;
        Ok(self.dihedral(Pixels::Rgb8(rgb), width, height))
    }

    /// The unthresholded 16x16 DCT output (`B[i][j]` at `16 * i + j`) and quality
    /// ("PDQF", as TMK+PDQF uses it). All zeros with quality 0 for images under 5 pixels.
    pub fn float_rgb8(
        &mut self,
        rgb: &[u8],
        width: usize,
        height: usize,
    ) -> Result<([f32; 256], u8), PdqError> {
        check_len(rgb.len(), width, height, 3)?;
        Ok(self.float(Pixels::Rgb8(rgb), width, height, true))
    }

    /// PDQ hash of a luma image (one f32 per pixel, row-major, 0..=255 scale).
    pub fn hash_luma(
        &mut self,
        luma: &[f32],
        width: usize,
        height: usize,
    ) -> Result<PdqHash, PdqError> {
        check_len(luma.len(), width, height, 1)?;
        Ok(self.hash(Pixels::Luma(luma), width, height))
    }

    /// The 8 dihedral hashes of a luma image.
    pub fn dihedral_luma(
        &mut self,
        luma: &[f32],
        width: usize,
        height: usize,
    ) -> Result<Dihedral, PdqError> {
        check_len(luma.len(), width, height, 1)?;
        Ok(self.dihedral(Pixels::Luma(luma), width, height))
    }

    /// The unthresholded 16x16 DCT output and quality of a luma image.
    pub fn float_luma(
        &mut self,
        luma: &[f32],
        width: usize,
        height: usize,
    ) -> Result<([f32; 256], u8), PdqError> {
        check_len(luma.len(), width, height, 1)?;
        Ok(self.float(Pixels::Luma(luma), width, height, true))
    }

    fn hash(&mut self, px: Pixels<'_>, width: usize, height: usize) -> PdqHash {
        if width.min(height) < MIN_HASHABLE_DIM {
            return PdqHash {
                hash: Hash256::ZERO,
                quality: 0,
            };
        }
        let (dct, quality) = self.float(px, width, height, true);
        PdqHash {
            hash: bits::threshold(&dct),
            quality,
        }
    }

    fn dihedral(&mut self, px: Pixels<'_>, width: usize, height: usize) -> Dihedral {
        if width.min(height) < MIN_HASHABLE_DIM {
            return Dihedral {
                hashes: [Hash256::ZERO; 8],
                quality: 0,
            };
        }
        let (dct, quality) = self.float(px, width, height, false);
        Dihedral {
            hashes: bits::dihedral(&dct),
            quality,
        }
    }

    /// Luma -> 64x64 block -> quality and DCT. `shortcut` takes a 64x64 image as the block
    /// directly, as the reference's plain and float entry points do (its dihedral one does not).
    fn float(
        &mut self,
        px: Pixels<'_>,
        width: usize,
        height: usize,
        shortcut: bool,
    ) -> ([f32; 256], u8) {
        if width.min(height) < MIN_HASHABLE_DIM {
            return ([0.0; 256], 0);
        }
        if shortcut && width == BLOCK && height == BLOCK {
            match px {
                Pixels::Rgb8(rgb) => {
                    for (y, p) in self.block.iter_mut().zip(rgb.chunks_exact(3)) {
                        *y = fast::luma_scalar(p[0], p[1], p[2]);
                    }
                }
                Pixels::Luma(l) => self.block.copy_from_slice(l),
            }
        } else {
            match self.backend {
                Backend::Reference => self.reference_block(px, width, height),
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the backend is Avx2 only if AVX2 was detected (`with_backend`).
                Backend::Avx2 => unsafe {
                    fast::run_avx2(px, width, height, &mut self.scratch, &mut self.block)
                },
                _ => fast::run_portable(px, width, height, &mut self.scratch, &mut self.block),
            }
        }
        let mut out = [0.0f32; 256];
        let quality = match self.backend {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the backend is Avx2 only if AVX2 was detected (`with_backend`).
            Backend::Avx2 => unsafe { fast::finish_avx2(&self.dct, &self.block, &mut out) },
            _ => {
                reference::dct16(&self.dct, &self.block, &mut out);
                reference::quality(&self.block)
            }
        };
        (out, quality)
    }

    /// The whole-image reference blur and decimation.
    fn reference_block(&mut self, px: Pixels<'_>, width: usize, height: usize) {
        let n = width * height;
        if self.buf1.len() < n {
            self.buf1.resize(n, 0.0);
            self.buf2.resize(n, 0.0);
        }
        let buf1 = &mut self.buf1[..n];
        match px {
            Pixels::Rgb8(rgb) => {
                for (y, p) in buf1.iter_mut().zip(rgb.chunks_exact(3)) {
                    *y = reference::luma(p[0], p[1], p[2]);
                }
            }
            Pixels::Luma(l) => buf1.copy_from_slice(l),
        }
        reference::jarosz(buf1, &mut self.buf2[..n], width, height);
        reference::decimate(buf1, width, height, &mut self.block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, seed: u32) -> Vec<u8> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn images_under_5_pixels_hash_to_zero_with_quality_0() {
        let mut h = Hasher::new();
        for (w, hgt) in [(4, 100), (100, 4), (0, 0), (0, 7), (1, 1), (4, 4)] {
            let rgb = noise(w * hgt * 3, 3);
            let p = h.hash_rgb8(&rgb, w, hgt).expect("length matches");
            assert_eq!(
                p,
                PdqHash {
                    hash: Hash256::ZERO,
                    quality: 0
                },
                "{w}x{hgt}"
            );
            let d = h.dihedral_rgb8(&rgb, w, hgt).expect("length matches");
            assert_eq!(d.hashes, [Hash256::ZERO; 8]);
            assert_eq!(d.quality, 0);
            assert_eq!(
                h.float_rgb8(&rgb, w, hgt).expect("length matches"),
                ([0.0; 256], 0)
            );
        }
        // 5x5 is hashable
        let rgb = noise(75, 4);
        assert_ne!(h.hash_rgb8(&rgb, 5, 5).expect("ok").hash, Hash256::ZERO);
    }

    #[test]
    fn wrong_buffer_length_is_an_error_not_a_panic() {
        let mut h = Hasher::new();
        let rgb = vec![0u8; 10];
        let err = h.hash_rgb8(&rgb, 2, 2).expect_err("10 != 12");
        assert_eq!(
            err,
            PdqError::BufferLength {
                width: 2,
                height: 2,
                channels: 3,
                actual: 10
            }
        );
        assert!(h.dihedral_rgb8(&rgb, 0, 0).is_err());
        assert!(h.float_rgb8(&[], 1, 0).is_ok());
        assert!(h.hash_luma(&[0.0; 3], 1, 4).is_err());
        assert!(h.hash_rgb8(&rgb, usize::MAX, 3).is_err());
        assert!(h.dihedral_luma(&[0.0; 4], usize::MAX / 2 + 1, 2).is_err());
    }

    #[test]
    fn non_finite_luma_does_not_panic() {
        let mut h = Hasher::new();
        let mut luma = vec![10.0f32; 200 * 150];
        luma[77] = f32::NAN;
        luma[999] = f32::INFINITY;
        luma[5000] = f32::NEG_INFINITY;
        let _ = h.hash_luma(&luma, 200, 150).expect("length matches");
        let _ = h.dihedral_luma(&luma, 200, 150).expect("length matches");
    }

    #[test]
    fn luma_entry_points_agree_with_rgb_ones() {
        let (w, hgt) = (211, 97);
        let rgb = noise(w * hgt * 3, 9);
        let luma: Vec<f32> = rgb
            .chunks_exact(3)
            .map(|p| reference::luma(p[0], p[1], p[2]))
            .collect();
        let mut h = Hasher::new();
        assert_eq!(h.hash_rgb8(&rgb, w, hgt), h.hash_luma(&luma, w, hgt));
        assert_eq!(
            h.dihedral_rgb8(&rgb, w, hgt),
            h.dihedral_luma(&luma, w, hgt)
        );
        assert_eq!(h.float_rgb8(&rgb, w, hgt), h.float_luma(&luma, w, hgt));
    }

    #[test]
    fn a_64x64_image_is_its_own_block_in_the_plain_and_float_paths() {
        let rgb = noise(64 * 64 * 3, 5);
        let luma: Vec<f32> = rgb
            .chunks_exact(3)
            .map(|p| reference::luma(p[0], p[1], p[2]))
            .collect();
        let block: [f32; BLOCK * BLOCK] = luma.clone().try_into().expect("4096");
        let mut direct = [0.0f32; 256];
        reference::dct16(&reference::dct_matrix(), &block, &mut direct);
        let mut h = Hasher::new();
        let (float, quality) = h.float_rgb8(&rgb, 64, 64).expect("ok");
        assert_eq!(float, direct);
        assert_eq!(quality, reference::quality(&block));
        assert_eq!(
            h.hash_rgb8(&rgb, 64, 64).expect("ok").hash,
            bits::threshold(&direct)
        );
        // The dihedral path has no shortcut: its window-1 running sum rounds differently.
        let (blurred, _) = h.float(Pixels::Rgb8(&rgb), 64, 64, false);
        assert_ne!(blurred, direct);
    }

    /// Every backend must produce the same 64x64 block, bit for bit, on sizes that exercise
    /// partial vectors, partial strips, windows 1 to 4 and images under 64 pixels.
    #[test]
    fn backends_agree_bit_for_bit() {
        let mut hashers: Vec<Hasher> = [Backend::Reference, Backend::Portable, Backend::Avx2]
            .into_iter()
            .map(Hasher::with_backend)
            .collect();
        let sizes = [
            (5, 5),
            (5, 9),
            (13, 6),
            (31, 33),
            (64, 64),
            (63, 64),
            (65, 65),
            (100, 7),
            (127, 129),
            (129, 127),
            (200, 300),
            (257, 250),
            (385, 97),
            (50, 520),
            (611, 403),
        ];
        // plus pseudo-random sizes
        let mut s = 0x9e37_79b9u32;
        let mut next = |m: u32| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s % m) as usize
        };
        let random: Vec<(usize, usize)> = (0..24).map(|_| (5 + next(400), 5 + next(400))).collect();
        for (n, &(w, hgt)) in sizes.iter().chain(&random).enumerate() {
            let rgb = noise(w * hgt * 3, n as u32 + 11);
            let luma: Vec<f32> = rgb
                .chunks_exact(3)
                .map(|p| reference::luma(p[0], p[1], p[2]) * 0.7 + 3.1)
                .collect();
            for shortcut in [false, true] {
                for px in [Pixels::Rgb8(&rgb), Pixels::Luma(&luma)] {
                    let mut blocks = Vec::new();
                    for h in hashers.iter_mut() {
                        let out = h.float(px, w, hgt, shortcut);
                        blocks.push((h.block.map(f32::to_bits), out));
                    }
                    for k in 1..blocks.len() {
                        assert!(
                            blocks[k].0 == blocks[0].0,
                            "{w}x{hgt}: backend {:?} block differs",
                            hashers[k].backend()
                        );
                        assert_eq!(blocks[k].1, blocks[0].1, "{w}x{hgt}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_flat_image_has_quality_0() {
        let rgb = vec![128u8; 300 * 200 * 3];
        assert_eq!(
            Hasher::new().hash_rgb8(&rgb, 300, 200).expect("ok").quality,
            0
        );
    }
}
