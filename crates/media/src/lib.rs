//! From untrusted bytes to the hashes that hash lists hold: PDQ and MD5/SHA-1/SHA-256.
//!
//! Every image a hotline or a hash-check service sees comes from someone who may want to
//! break it: a "photo" can announce 100000 × 100000 pixels in a 60-byte header, compress
//! gigabytes of zeros into kilobytes, or simply be cut short. So this crate decodes under
//! hard [`Limits`], all checked *before* the expensive step they guard:
//!
//! 1. **size** of the input, then the **format** from magic numbers ([`sniff`]; never the
//!    file name or a `Content-Type`);
//! 2. **dimensions and pixel count** from the header, before any pixel buffer exists;
//! 3. an **allocation** budget for the decode buffer (also handed to the decoders);
//! 4. an optional **deadline**, checked whenever a decoder reads more input and between
//!    stages (Rust cannot pre-empt a decoder; the pixel cap is what really bounds time).
//!
//! Failures are typed ([`MediaError`]) and never panic.
//!
//! Pixels are then converted to packed 8-bit RGB, the input of [`pdq::Hasher`]. The rules
//! are those of Pillow's `convert("RGB")` (what python-threatexchange and HMA hash), with
//! deliberate exceptions where that path is plainly wrong: CMYK, palette and 1-bit images
//! are converted for real, so they hash like the picture they show, and 16-bit grey is
//! scaled rather than clipped. Alpha is dropped without compositing, and EXIF orientation
//! is reported but never applied, as in every PDQ reference. The crate README has the
//! table of measured differences.
//!
//! The exact [`Digests`] (MD5, SHA-1, SHA-256, size; plus the Arachnid Shield
//! `sha1_base32` form) are computed in one pass over the bytes.
//!
//! [`MediaHasher`] ties it together for the common case, reusing its buffers between
//! images:
//!
//! ```no_run
//! let bytes = std::fs::read("photo.jpg")?;
//! let mut hasher = media::MediaHasher::default();
//! let h = hasher.hash_bytes(&bytes, false)?;
//! println!("{} {} q={} md5={}", h.format, h.pdq, h.quality, h.digests.md5_hex());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod colour;
mod decode;
mod digest;
mod error;
mod hasher;
mod header;
mod limits;
mod sniff;

pub use colour::SourceColour;
pub use decode::{ImageInfo, RgbImage, decode_rgb8, decode_rgb8_into};
pub use digest::{DigestWriter, Digests, base32};
pub use error::MediaError;
pub use hasher::{MediaHasher, MediaHashes};
pub use limits::Limits;
pub use sniff::{Format, sniff};

/// Re-exported so callers need not depend on `pdq` for the result types.
pub use pdq::{Hash256, PdqHash};
