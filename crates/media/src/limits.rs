//! Hard limits on what a decode may cost.

use std::time::Duration;

/// Limits applied to every decode. The defaults suit a service that receives untrusted
/// uploads; a trusted batch job may raise them.
///
/// What each limit bounds, and when it is checked:
///
/// | limit | checked | bounds |
/// |---|---|---|
/// | `max_input_bytes` | before anything else | bytes read, parse time |
/// | `max_dimension`, `max_pixels` | from the header, before any pixel buffer exists | output size, decode time |
/// | `max_alloc` | before the pixel buffer is allocated (our estimate of the decode buffer), and passed to the decoders as `image::Limits::max_alloc` for their own buffers | peak memory |
/// | `max_decode_time` | cooperatively: each time a decoder pulls more input, and between stages | wall time, see below |
///
/// **About time.** Rust cannot pre-empt a running decoder, so there is no hard kill. The
/// deadline is checked whenever a decoder reads more input (PNG, GIF, TIFF and BMP read
/// their input in pieces while decoding; WebP and JPEG read it up front) and again after
/// decoding and after colour conversion. What really bounds time is the pixel cap: every
/// decoder here does work linear in the input size plus the output pixels, so with the
/// default caps the worst case is about a second of CPU (see the crate README for
/// measurements). A caller that needs a hard wall-clock kill must decode in a separate
/// process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest input accepted, in bytes. Default 64 MiB.
    pub max_input_bytes: u64,
    /// Largest `width * height`. Default 64 Mi pixels (8192 × 8192).
    pub max_pixels: u64,
    /// Longest side in pixels. Default 32768.
    pub max_dimension: u32,
    /// Memory the decode may allocate, in bytes (decoded pixel buffer plus decoder
    /// internals where the decoder honours it). Default 1 GiB. PDQ hashing adds 8 bytes per
    /// pixel on top of this (two f32 planes in [`pdq::Hasher`]).
    pub max_alloc: u64,
    /// Optional wall-clock budget for one decode, checked cooperatively (see above).
    /// Default `None`.
    pub max_decode_time: Option<Duration>,
}

impl Limits {
    /// 64 MiB.
    pub const DEFAULT_MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;
    /// 64 Mi pixels.
    pub const DEFAULT_MAX_PIXELS: u64 = 64 * 1024 * 1024;
    /// 32768 pixels per side.
    pub const DEFAULT_MAX_DIMENSION: u32 = 32_768;
    /// 1 GiB.
    pub const DEFAULT_MAX_ALLOC: u64 = 1024 * 1024 * 1024;

    pub(crate) fn to_image(&self) -> image::Limits {
        let mut l = image::Limits::no_limits();
        l.max_image_width = Some(self.max_dimension);
        l.max_image_height = Some(self.max_dimension);
        l.max_alloc = Some(self.max_alloc);
        l
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: Self::DEFAULT_MAX_INPUT_BYTES,
            max_pixels: Self::DEFAULT_MAX_PIXELS,
            max_dimension: Self::DEFAULT_MAX_DIMENSION,
            max_alloc: Self::DEFAULT_MAX_ALLOC,
            max_decode_time: None,
        }
    }
}
