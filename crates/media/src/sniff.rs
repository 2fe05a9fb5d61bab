//! Format detection from magic numbers.
//!
//! The format is always taken from the bytes, never from a file name or a `Content-Type`
//! header: both are chosen by whoever serves the file, and a hostile server lies.

use std::fmt;

use crate::MediaError;

/// An image format this crate decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// JPEG / JFIF / EXIF (baseline and progressive, 8-bit).
    Jpeg,
    /// PNG (the first frame, i.e. the default image, of an APNG).
    Png,
    /// GIF (the first frame).
    Gif,
    /// WebP, lossy and lossless (the first frame of an animation).
    WebP,
    /// Windows bitmap.
    Bmp,
    /// TIFF and BigTIFF (the first image).
    Tiff,
}

impl Format {
    /// All supported formats.
    pub const ALL: [Format; 6] = [
        Format::Jpeg,
        Format::Png,
        Format::Gif,
        Format::WebP,
        Format::Bmp,
        Format::Tiff,
    ];

    /// Lower-case short name (`"jpeg"`, `"png"`, …), stable for APIs and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Gif => "gif",
            Format::WebP => "webp",
            Format::Bmp => "bmp",
            Format::Tiff => "tiff",
        }
    }

    /// The IANA media type, e.g. for a `Content-Type` when forwarding bytes.
    pub fn mime_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Gif => "image/gif",
            Format::WebP => "image/webp",
            Format::Bmp => "image/bmp",
            Format::Tiff => "image/tiff",
        }
    }

    /// Detects a supported format from the first bytes; `None` if it is none of them.
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(Format::Gif)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Format::WebP)
        } else if bytes.starts_with(b"BM") && bytes.len() >= 18 {
            Some(Format::Bmp)
        } else if bytes.starts_with(b"II*\0")
            || bytes.starts_with(b"MM\0*")
            || bytes.starts_with(b"II+\0")
            || bytes.starts_with(b"MM\0+")
        {
            Some(Format::Tiff)
        } else {
            None
        }
    }

    pub(crate) fn to_image(self) -> image::ImageFormat {
        match self {
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Png => image::ImageFormat::Png,
            Format::Gif => image::ImageFormat::Gif,
            Format::WebP => image::ImageFormat::WebP,
            Format::Bmp => image::ImageFormat::Bmp,
            Format::Tiff => image::ImageFormat::Tiff,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Detects the format, or says what the bytes look like when it is not a supported one,
/// so that "this is a HEIC photo" reaches the user instead of "unknown data".
pub fn sniff(bytes: &[u8]) -> Result<Format, MediaError> {
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    Format::sniff(bytes).ok_or_else(|| MediaError::UnsupportedFormat(describe_unsupported(bytes)))
}

/// Names well-known formats we do not decode (images, video, documents).
fn describe_unsupported(b: &[u8]) -> &'static str {
    let at = |off: usize, magic: &[u8]| {
        b.len() >= off + magic.len() && &b[off..off + magic.len()] == magic
    };
    if at(4, b"ftyp") {
        // ISO base media file: the major brand tells HEIF/AVIF stills from video.
        let brand = b.get(8..12).unwrap_or_default();
        return match brand {
            b"avif" | b"avis" => "avif",
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1" => "heif",
            b"crx " => "canon-raw",
            b"jp2 " | b"jpx " => "jpeg-2000",
            _ => "mp4/quicktime video",
        };
    }
    if at(0, &[0xFF, 0x0A]) || at(0, b"\0\0\0\x0cJXL \r\n\x87\n") {
        "jpeg-xl"
    } else if at(0, b"\0\0\0\x0cjP  \r\n\x87\n") || at(0, &[0xFF, 0x4F, 0xFF, 0x51]) {
        "jpeg-2000"
    } else if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
        "webm/matroska video"
    } else if at(0, b"RIFF") && at(8, b"AVI ") {
        "avi video"
    } else if at(0, b"\0\0\x01\0") || at(0, b"\0\0\x02\0") {
        "ico/cur"
    } else if at(0, b"8BPS") {
        "psd"
    } else if at(0, b"%PDF") {
        "pdf"
    } else if at(0, b"qoif") {
        "qoi"
    } else if at(0, b"PK\x03\x04") {
        "zip"
    } else if at(0, b"\x1f\x8b") {
        "gzip"
    } else if at(0, b"FLIF") {
        "flif"
    } else if at(0, b"\x76\x2f\x31\x01") {
        "openexr"
    } else if at(0, b"#?RADIANCE") {
        "hdr"
    } else if b.len() >= 2 && b[0] == b'P' && (b'1'..=b'7').contains(&b[1]) {
        "pnm"
    } else if looks_like_markup(b) {
        "svg/html/xml text"
    } else {
        "unknown"
    }
}

fn looks_like_markup(b: &[u8]) -> bool {
    let start = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    start
        .iter()
        .find(|c| !c.is_ascii_whitespace())
        .is_some_and(|&c| c == b'<')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_each_supported_magic() {
        assert_eq!(Format::sniff(b"\xFF\xD8\xFF\xE0rest"), Some(Format::Jpeg));
        assert_eq!(Format::sniff(b"\x89PNG\r\n\x1a\nrest"), Some(Format::Png));
        assert_eq!(Format::sniff(b"GIF89a...."), Some(Format::Gif));
        assert_eq!(Format::sniff(b"GIF87a...."), Some(Format::Gif));
        assert_eq!(Format::sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Format::WebP));
        assert_eq!(
            Format::sniff(b"BM\0\0\0\0\0\0\0\0\0\0\0\0\x28\0\0\0"),
            Some(Format::Bmp)
        );
        assert_eq!(Format::sniff(b"II*\0\x08\0\0\0"), Some(Format::Tiff));
        assert_eq!(Format::sniff(b"MM\0*\0\0\0\x08"), Some(Format::Tiff));
        assert_eq!(Format::sniff(b"II+\0\x08\0\0\0"), Some(Format::Tiff));
    }

    #[test]
    fn extension_like_text_is_not_a_format() {
        // "BM" alone (e.g. the start of a text file) is too short to be a bitmap header.
        assert_eq!(Format::sniff(b"BM"), None);
        assert_eq!(Format::sniff(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(Format::sniff(b"\xFF\xD8"), None);
    }

    #[test]
    fn names_common_unsupported_formats() {
        let name = |b: &[u8]| match sniff(b) {
            Err(MediaError::UnsupportedFormat(n)) => n,
            other => panic!("expected UnsupportedFormat, got {other:?}"),
        };
        assert_eq!(name(b"\0\0\0\x18ftypheic\0\0\0\0"), "heif");
        assert_eq!(name(b"\0\0\0\x18ftypavif\0\0\0\0"), "avif");
        assert_eq!(name(b"\0\0\0\x18ftypisom\0\0\0\0"), "mp4/quicktime video");
        assert_eq!(name(b"%PDF-1.7"), "pdf");
        assert_eq!(name(b"  <svg xmlns="), "svg/html/xml text");
        assert_eq!(name(b"hello world"), "unknown");
        assert!(matches!(sniff(b""), Err(MediaError::Empty)));
    }
}
