//! Source colour models and the in-place conversion of decoded pixels to packed RGB8.
//!
//! The rules (see the crate README for how they compare with Pillow and
//! python-threatexchange):
//!
//! * grey → R = G = B = grey;
//! * alpha is dropped, the colour values are kept as stored (no compositing over a
//!   background): this equals Pillow's `convert("RGB")`, which the shared hash lists were
//!   made with;
//! * 16-bit samples → `round(v / 257)`, the exact 0..=65535 → 0..=255 scaling;
//! * float samples (0.0..=1.0) → `round(clamp(v) * 255)`, NaN → 0;
//! * palette and 1/2/4-bit images are expanded by the decoders (1-bit black/white becomes
//!   0/255); CMYK is converted by the decoders (JPEG: Adobe-inverted, TIFF: plain).
//!
//! Conversions work in the decode buffer itself: the buffer is allocated once with room for
//! `max(decoded bytes, width * height * 3)` and the pixels are rewritten in place, forward
//! when they shrink and backward when they grow, so no second image-sized buffer exists.

use std::fmt;

use image::{ColorType, ExtendedColorType};

/// The colour model and sample depth of the *source* file, before conversion to RGB8.
/// Reported for information (and to explain unusual hashes); the hash never depends on it
/// beyond the conversion rules above.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SourceColour {
    /// 1-bit black and white.
    L1,
    /// 2-bit grey.
    L2,
    /// 4-bit grey.
    L4,
    /// 8-bit grey.
    L8,
    /// 16-bit grey.
    L16,
    /// 8-bit grey with alpha.
    La8,
    /// 16-bit grey with alpha.
    La16,
    /// 1-bit palette indices.
    Palette1,
    /// 2-bit palette indices.
    Palette2,
    /// 4-bit palette indices.
    Palette4,
    /// 8-bit palette indices (PNG, GIF, BMP).
    Palette8,
    /// 8-bit RGB (for JPEG: any 3-component image, normally YCbCr-coded).
    Rgb8,
    /// 16-bit RGB.
    Rgb16,
    /// 8-bit RGB with alpha.
    Rgba8,
    /// 16-bit RGB with alpha.
    Rgba16,
    /// 32-bit float RGB.
    Rgb32F,
    /// 32-bit float RGB with alpha.
    Rgba32F,
    /// 8-bit CMYK (JPEG or TIFF).
    Cmyk8,
    /// 16-bit CMYK (TIFF).
    Cmyk16,
    /// Adobe YCCK JPEG.
    Ycck8,
    /// Something else the decoder could still turn into RGB.
    Other,
}

impl SourceColour {
    /// Short upper-case name, e.g. `"RGBA8"`, `"P8"`, `"CMYK8"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceColour::L1 => "L1",
            SourceColour::L2 => "L2",
            SourceColour::L4 => "L4",
            SourceColour::L8 => "L8",
            SourceColour::L16 => "L16",
            SourceColour::La8 => "LA8",
            SourceColour::La16 => "LA16",
            SourceColour::Palette1 => "P1",
            SourceColour::Palette2 => "P2",
            SourceColour::Palette4 => "P4",
            SourceColour::Palette8 => "P8",
            SourceColour::Rgb8 => "RGB8",
            SourceColour::Rgb16 => "RGB16",
            SourceColour::Rgba8 => "RGBA8",
            SourceColour::Rgba16 => "RGBA16",
            SourceColour::Rgb32F => "RGB32F",
            SourceColour::Rgba32F => "RGBA32F",
            SourceColour::Cmyk8 => "CMYK8",
            SourceColour::Cmyk16 => "CMYK16",
            SourceColour::Ycck8 => "YCCK8",
            SourceColour::Other => "other",
        }
    }

    /// True when the source has an alpha channel (which the hash ignores).
    pub fn has_alpha(self) -> bool {
        matches!(
            self,
            SourceColour::La8
                | SourceColour::La16
                | SourceColour::Rgba8
                | SourceColour::Rgba16
                | SourceColour::Rgba32F
        )
    }

    pub(crate) fn from_image(ext: ExtendedColorType) -> SourceColour {
        use ExtendedColorType as E;
        match ext {
            E::L1 => SourceColour::L1,
            E::L2 => SourceColour::L2,
            E::L4 => SourceColour::L4,
            E::L8 => SourceColour::L8,
            E::L16 => SourceColour::L16,
            E::La8 => SourceColour::La8,
            E::La16 => SourceColour::La16,
            E::Rgb8 => SourceColour::Rgb8,
            E::Rgb16 => SourceColour::Rgb16,
            E::Rgba8 => SourceColour::Rgba8,
            E::Rgba16 => SourceColour::Rgba16,
            E::Rgb32F => SourceColour::Rgb32F,
            E::Rgba32F => SourceColour::Rgba32F,
            E::Cmyk8 => SourceColour::Cmyk8,
            E::Cmyk16 => SourceColour::Cmyk16,
            _ => SourceColour::Other,
        }
    }
}

impl fmt::Display for SourceColour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bytes per pixel of a decoded buffer, `None` for layouts we do not convert.
pub(crate) fn bytes_per_pixel(ct: ColorType) -> Option<usize> {
    Some(match ct {
        ColorType::L8 => 1,
        ColorType::La8 | ColorType::L16 => 2,
        ColorType::Rgb8 => 3,
        ColorType::Rgba8 | ColorType::La16 => 4,
        ColorType::Rgb16 => 6,
        ColorType::Rgba16 => 8,
        ColorType::Rgb32F => 12,
        ColorType::Rgba32F => 16,
        _ => return None,
    })
}

/// 16-bit sample to 8 bits, rounding to nearest (`round(v * 255 / 65535)`).
#[inline(always)]
fn u16_to_u8(v: u16) -> u8 {
    ((u32::from(v) + 128) / 257) as u8
}

/// Float sample (nominal 0.0..=1.0) to 8 bits; out-of-range values clamp, NaN gives 0.
#[inline(always)]
fn f32_to_u8(v: f32) -> u8 {
    // `as` saturates and maps NaN to 0.
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

#[inline(always)]
fn ne_u16(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

#[inline(always)]
fn ne_f32(b: &[u8], at: usize) -> f32 {
    f32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Rewrites `buf[..n * bpp(ct)]` (decoder output, native-endian samples) as packed RGB8 in
/// `buf[..n * 3]`. `buf` must be at least `n * max(bpp, 3)` long; the caller guarantees it.
pub(crate) fn to_rgb8_in_place(buf: &mut [u8], n: usize, ct: ColorType) {
    match ct {
        ColorType::Rgb8 => {}
        // Shrinking layouts: output pixel i (at 3i) never overtakes input pixel i (at bpp*i),
        // so a forward pass reads each input before anything overwrites it.
        ColorType::Rgba8 => {
            for i in 0..n {
                let (s, d) = (4 * i, 3 * i);
                let px = [buf[s], buf[s + 1], buf[s + 2]];
                buf[d..d + 3].copy_from_slice(&px);
            }
        }
        ColorType::La16 => {
            for i in 0..n {
                let v = u16_to_u8(ne_u16(buf, 4 * i));
                buf[3 * i..3 * i + 3].copy_from_slice(&[v, v, v]);
            }
        }
        ColorType::Rgb16 | ColorType::Rgba16 => {
            let bpp = if ct == ColorType::Rgb16 { 6 } else { 8 };
            for i in 0..n {
                let s = bpp * i;
                let px = [
                    u16_to_u8(ne_u16(buf, s)),
                    u16_to_u8(ne_u16(buf, s + 2)),
                    u16_to_u8(ne_u16(buf, s + 4)),
                ];
                buf[3 * i..3 * i + 3].copy_from_slice(&px);
            }
        }
        ColorType::Rgb32F | ColorType::Rgba32F => {
            let bpp = if ct == ColorType::Rgb32F { 12 } else { 16 };
            for i in 0..n {
                let s = bpp * i;
                let px = [
                    f32_to_u8(ne_f32(buf, s)),
                    f32_to_u8(ne_f32(buf, s + 4)),
                    f32_to_u8(ne_f32(buf, s + 8)),
                ];
                buf[3 * i..3 * i + 3].copy_from_slice(&px);
            }
        }
        // Growing layouts: a backward pass writes output pixel i (at 3i) only after every
        // input pixel j >= i has been read, and 3i >= bpp*i keeps earlier inputs intact.
        ColorType::L8 => {
            for i in (0..n).rev() {
                let v = buf[i];
                buf[3 * i..3 * i + 3].copy_from_slice(&[v, v, v]);
            }
        }
        ColorType::La8 => {
            for i in (0..n).rev() {
                let v = buf[2 * i];
                buf[3 * i..3 * i + 3].copy_from_slice(&[v, v, v]);
            }
        }
        ColorType::L16 => {
            for i in (0..n).rev() {
                let v = u16_to_u8(ne_u16(buf, 2 * i));
                buf[3 * i..3 * i + 3].copy_from_slice(&[v, v, v]);
            }
        }
        // `bytes_per_pixel` returned None for anything else, so the caller never gets here.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(input: Vec<u8>, n: usize, ct: ColorType) -> Vec<u8> {
        let bpp = bytes_per_pixel(ct).expect("supported");
        let mut buf = input;
        assert_eq!(buf.len(), n * bpp);
        buf.resize(n * bpp.max(3), 0xAA);
        to_rgb8_in_place(&mut buf, n, ct);
        buf.truncate(n * 3);
        buf
    }

    #[test]
    fn grey_expands_to_equal_channels() {
        assert_eq!(
            convert(vec![0, 7, 255], 3, ColorType::L8),
            [0, 0, 0, 7, 7, 7, 255, 255, 255]
        );
        assert_eq!(
            convert(vec![9, 1, 200, 0], 2, ColorType::La8),
            [9, 9, 9, 200, 200, 200]
        );
    }

    #[test]
    fn alpha_is_dropped_not_composited() {
        // A fully transparent red pixel stays red (Pillow convert("RGB") does the same).
        let out = convert(vec![255, 0, 0, 0, 1, 2, 3, 128], 2, ColorType::Rgba8);
        assert_eq!(out, [255, 0, 0, 1, 2, 3]);
    }

    #[test]
    fn sixteen_bit_rounds_to_nearest() {
        let s = |v: u16| v.to_ne_bytes();
        let mut input = Vec::new();
        for v in [0u16, 128, 129, 257, 32896, 65535] {
            input.extend_from_slice(&s(v));
        }
        // 128/257 = 0.498 -> 0, 129/257 = 0.502 -> 1, 32896/257 = 128.0
        assert_eq!(
            convert(input, 6, ColorType::L16),
            [
                0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 128, 128, 128, 255, 255, 255
            ]
        );
        let mut rgba = Vec::new();
        for v in [65535u16, 0, 257, 0] {
            rgba.extend_from_slice(&s(v));
        }
        assert_eq!(convert(rgba, 1, ColorType::Rgba16), [255, 0, 1]);
        let mut la = Vec::new();
        for v in [514u16, 65535] {
            la.extend_from_slice(&s(v));
        }
        assert_eq!(convert(la, 1, ColorType::La16), [2, 2, 2]);
        let mut rgb = Vec::new();
        for v in [1000u16, 2000, 60000] {
            rgb.extend_from_slice(&s(v));
        }
        assert_eq!(convert(rgb, 1, ColorType::Rgb16), [4, 8, 233]);
    }

    #[test]
    fn floats_clamp_and_round() {
        let mut input = Vec::new();
        for v in [0.5f32, -1.0, f32::NAN, 2.0, 1.0, 0.002] {
            input.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(
            convert(input, 2, ColorType::Rgb32F),
            [128, 0, 0, 255, 255, 1]
        );
        let mut rgba = Vec::new();
        for v in [0.0f32, 0.25, 1.0, 0.0] {
            rgba.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(convert(rgba, 1, ColorType::Rgba32F), [0, 64, 255]);
    }

    #[test]
    fn many_pixels_convert_without_clobbering() {
        let n = 1000;
        let grey: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        let out = convert(grey.clone(), n, ColorType::L8);
        for (i, px) in out.chunks_exact(3).enumerate() {
            assert_eq!(px, [grey[i]; 3]);
        }
        let rgba: Vec<u8> = (0..n * 4).map(|i| (i % 253) as u8).collect();
        let out = convert(rgba.clone(), n, ColorType::Rgba8);
        for (i, px) in out.chunks_exact(3).enumerate() {
            assert_eq!(px, &rgba[4 * i..4 * i + 3]);
        }
    }
}
