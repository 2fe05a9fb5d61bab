//! Minimal header readers for PNG and JPEG.
//!
//! Why our own: the `image` decoders do not say what the *source* colour model was (a
//! palette PNG and a CMYK JPEG both come out as RGB8), the JPEG decoder copies the whole
//! input before it looks at the size, and its lenient mode accepts truncated files. A
//! marker walk costs microseconds and lets us report the source colour, refuse oversized
//! images before that copy, and detect a missing end-of-image marker.

use crate::SourceColour;

/// What the PNG `IHDR` chunk says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PngHeader {
    pub width: u32,
    pub height: u32,
    pub colour: SourceColour,
}

/// Reads `IHDR`, which the PNG specification requires to be the first chunk.
pub(crate) fn png_header(b: &[u8]) -> Option<PngHeader> {
    if b.len() < 29 || &b[12..16] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes([b[16], b[17], b[18], b[19]]);
    let height = u32::from_be_bytes([b[20], b[21], b[22], b[23]]);
    let depth = b[24];
    let colour = match (b[25], depth) {
        (0, 1) => SourceColour::L1,
        (0, 2) => SourceColour::L2,
        (0, 4) => SourceColour::L4,
        (0, 8) => SourceColour::L8,
        (0, 16) => SourceColour::L16,
        (2, 8) => SourceColour::Rgb8,
        (2, 16) => SourceColour::Rgb16,
        (3, 1) => SourceColour::Palette1,
        (3, 2) => SourceColour::Palette2,
        (3, 4) => SourceColour::Palette4,
        (3, 8) => SourceColour::Palette8,
        (4, 8) => SourceColour::La8,
        (4, 16) => SourceColour::La16,
        (6, 8) => SourceColour::Rgba8,
        (6, 16) => SourceColour::Rgba16,
        _ => SourceColour::Other,
    };
    Some(PngHeader {
        width,
        height,
        colour,
    })
}

/// The palette depth of a BMP (1, 4 or 8 bits per pixel), `None` for direct colour or an
/// unreadable header. The decoder expands palettes to RGB without saying so.
pub(crate) fn bmp_palette_colour(b: &[u8]) -> Option<SourceColour> {
    let dib = u32::from_le_bytes(b.get(14..18)?.try_into().ok()?);
    // BITMAPCOREHEADER (12 bytes) keeps the bit count at 24, all later headers at 28.
    let at = if dib == 12 { 24 } else { 28 };
    let bpp = u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?);
    match bpp {
        1 => Some(SourceColour::Palette1),
        4 => Some(SourceColour::Palette4),
        8 => Some(SourceColour::Palette8),
        _ => None,
    }
}

/// What the JPEG markers before the first scan say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct JpegHeader {
    pub width: u32,
    pub height: u32,
    pub components: u8,
    /// The Adobe APP14 colour transform (0 = none/CMYK or RGB, 1 = YCbCr, 2 = YCCK).
    pub adobe_transform: Option<u8>,
    /// Offset of the first byte after the first SOS marker.
    pub scan_start: usize,
}

impl JpegHeader {
    /// The colour model as stored in the file.
    pub fn colour(&self) -> SourceColour {
        match (self.components, self.adobe_transform) {
            (1, _) => SourceColour::L8,
            (3, _) => SourceColour::Rgb8,
            (4, Some(2)) => SourceColour::Ycck8,
            (4, _) => SourceColour::Cmyk8,
            _ => SourceColour::Other,
        }
    }
}

/// Walks the JPEG markers up to the first start-of-scan. `None` if there is no frame
/// header or no scan (the decoder then produces the precise error).
pub(crate) fn jpeg_header(b: &[u8]) -> Option<JpegHeader> {
    let mut i = 2; // after SOI
    let mut frame: Option<(u32, u32, u8)> = None;
    let mut adobe = None;
    loop {
        // Find the next marker: 0xFF followed by a non-0xFF, non-zero byte. Anything else
        // between segments is junk that decoders skip.
        while i < b.len() && b[i] != 0xFF {
            i += 1;
        }
        while i < b.len() && b[i] == 0xFF {
            i += 1;
        }
        let marker = *b.get(i)?;
        i += 1;
        match marker {
            0x00 | 0x01 | 0xD0..=0xD8 => continue,
            0xD9 => return None,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
        if len < 2 {
            return None;
        }
        let seg = b.get(i + 2..i + len)?;
        match marker {
            0xDA => {
                let (width, height, components) = frame?;
                return Some(JpegHeader {
                    width,
                    height,
                    components,
                    adobe_transform: adobe,
                    scan_start: i + len,
                });
            }
            // SOFn (not DHT C4, JPG C8, DAC CC); the first frame header wins.
            0xC0..=0xCF
                if !matches!(marker, 0xC4 | 0xC8 | 0xCC) && seg.len() >= 6 && frame.is_none() =>
            {
                let h = u32::from(u16::from_be_bytes([seg[1], seg[2]]));
                let w = u32::from(u16::from_be_bytes([seg[3], seg[4]]));
                frame = Some((w, h, seg[5]));
            }
            0xEE if seg.len() >= 12 && seg.starts_with(b"Adobe") => adobe = Some(seg[11]),
            _ => {}
        }
        i += len;
    }
}

/// True when an end-of-image marker (FF D9) follows the first scan. Entropy-coded data
/// never contains FF D9 (0xFF bytes are stuffed as FF 00), so its absence means the file
/// was cut short. Trailing bytes after EOI (camera trailers, appended data) are allowed.
pub(crate) fn jpeg_has_eoi(b: &[u8], scan_start: usize) -> bool {
    let Some(scan) = b.get(scan_start..) else {
        return false;
    };
    if scan.ends_with(&[0xFF, 0xD9]) {
        return true;
    }
    // Rare slow path: data after EOI. Look for the marker from the end, where it usually is.
    scan.windows(2).rev().any(|w| w == [0xFF, 0xD9])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFF, marker];
        v.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn jpeg_walk_finds_frame_adobe_and_scan() {
        let mut b = vec![0xFF, 0xD8];
        b.extend(seg(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
        b.extend(seg(0xEE, b"Adobe\0\x64\0\0\0\0\x02"));
        b.extend(seg(
            0xC2,
            &[
                8, 0x01, 0x00, 0x02, 0x00, 4, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 4, 0x11, 0,
            ],
        ));
        b.extend(seg(0xDA, &[1, 1, 0, 0, 63, 0]));
        let scan_start = b.len();
        b.extend([0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD9]);
        let h = jpeg_header(&b).expect("header");
        assert_eq!((h.width, h.height, h.components), (512, 256, 4));
        assert_eq!(h.adobe_transform, Some(2));
        assert_eq!(h.colour(), SourceColour::Ycck8);
        assert_eq!(h.scan_start, scan_start);
        assert!(jpeg_has_eoi(&b, h.scan_start));
        assert!(!jpeg_has_eoi(&b[..b.len() - 2], h.scan_start));
        let mut trailer = b.clone();
        trailer.extend_from_slice(b"trailing camera data");
        assert!(jpeg_has_eoi(&trailer, h.scan_start));
    }

    #[test]
    fn jpeg_walk_gives_up_on_garbage() {
        assert_eq!(jpeg_header(&[0xFF, 0xD8, 0xFF]), None);
        assert_eq!(jpeg_header(&[0xFF, 0xD8, 0xFF, 0xC0, 0x00]), None);
        assert_eq!(jpeg_header(&[0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x01]), None);
        assert_eq!(jpeg_header(&[0xFF, 0xD8, 0xFF, 0xD9]), None);
    }

    #[test]
    fn png_header_reads_ihdr() {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend_from_slice(&100_000u32.to_be_bytes());
        b.extend_from_slice(&7u32.to_be_bytes());
        b.extend_from_slice(&[16, 0, 0, 0, 0]);
        let h = png_header(&b).expect("ihdr");
        assert_eq!(
            (h.width, h.height, h.colour),
            (100_000, 7, SourceColour::L16)
        );
        assert_eq!(png_header(&b[..20]), None);
    }
}
