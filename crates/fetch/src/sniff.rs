//! Content-type sniffing from the bytes themselves.
//!
//! A reported site lies about `Content-Type` as often as it pleases (an image served as
//! `text/html` to dodge filters, a page served as `image/png`). What the bytes are decides how we
//! treat them; the declared type is kept next to it as evidence. Signatures follow the WHATWG MIME
//! Sniffing standard's image, audio/video and HTML rules, plus a few container formats.

/// What the first bytes of a body say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SniffedType {
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG.
    Png,
    /// GIF87a / GIF89a.
    Gif,
    /// WebP (RIFF container).
    Webp,
    /// Windows bitmap (`BM`).
    Bmp,
    /// TIFF, either byte order.
    Tiff,
    /// Windows icon.
    Ico,
    /// AVIF (ISO BMFF with an `avif`/`avis` brand).
    Avif,
    /// HEIF/HEIC (ISO BMFF with a HEIF brand).
    Heif,
    /// JPEG XL (codestream or container).
    JpegXl,
    /// SVG (XML whose root is `<svg`).
    Svg,
    /// MP4 and other ISO BMFF video (`ftyp` box).
    Mp4,
    /// QuickTime (`ftyp` brand `qt  `).
    QuickTime,
    /// WebM (EBML with doc type `webm`).
    WebM,
    /// Matroska (EBML, other doc type).
    Matroska,
    /// AVI (RIFF container).
    Avi,
    /// Flash video.
    Flv,
    /// MPEG program stream.
    Mpeg,
    /// Windows Media / ASF.
    Asf,
    /// Ogg container.
    Ogg,
    /// HTML (WHATWG HTML signatures, after leading whitespace).
    Html,
    /// PDF.
    Pdf,
    /// ZIP archive.
    Zip,
    /// gzip stream (only seen when a server gzips without saying so).
    Gzip,
    /// Nothing we recognise (plain text, JSON, empty, …).
    Unknown,
}

impl SniffedType {
    /// The MIME type for this kind of content.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
            Self::Bmp => "image/bmp",
            Self::Tiff => "image/tiff",
            Self::Ico => "image/x-icon",
            Self::Avif => "image/avif",
            Self::Heif => "image/heif",
            Self::JpegXl => "image/jxl",
            Self::Svg => "image/svg+xml",
            Self::Mp4 => "video/mp4",
            Self::QuickTime => "video/quicktime",
            Self::WebM => "video/webm",
            Self::Matroska => "video/x-matroska",
            Self::Avi => "video/x-msvideo",
            Self::Flv => "video/x-flv",
            Self::Mpeg => "video/mpeg",
            Self::Asf => "video/x-ms-asf",
            Self::Ogg => "application/ogg",
            Self::Html => "text/html",
            Self::Pdf => "application/pdf",
            Self::Zip => "application/zip",
            Self::Gzip => "application/gzip",
            Self::Unknown => "application/octet-stream",
        }
    }

    /// A still or animated image (including SVG).
    pub fn is_image(self) -> bool {
        self.mime().starts_with("image/")
    }

    /// A video container (Ogg counts: it is mostly used for video on the web).
    pub fn is_video(self) -> bool {
        self.mime().starts_with("video/") || self == Self::Ogg
    }

    /// Media we hash: an image or a video.
    pub fn is_media(self) -> bool {
        self.is_image() || self.is_video()
    }
}

impl std::fmt::Display for SniffedType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.mime())
    }
}

/// Looks at the first bytes of `body` and says what it is.
pub fn sniff(body: &[u8]) -> SniffedType {
    let b = body;
    let starts = |sig: &[u8]| b.starts_with(sig);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return SniffedType::Jpeg;
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return SniffedType::Png;
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return SniffedType::Gif;
    }
    if b.len() >= 12 && starts(b"RIFF") {
        match &b[8..12] {
            b"WEBP" => return SniffedType::Webp,
            b"AVI " => return SniffedType::Avi,
            _ => {}
        }
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return SniffedType::Tiff;
    }
    if starts(&[0, 0, 1, 0]) && b.len() >= 6 {
        return SniffedType::Ico;
    }
    if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0cJXL \r\n\x87\n") {
        return SniffedType::JpegXl;
    }
    if let Some(t) = sniff_iso_bmff(b) {
        return t;
    }
    if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        let head = &b[..b.len().min(64)];
        return if find(head, b"\x42\x82").is_some() && find(head, b"webm").is_some() {
            SniffedType::WebM
        } else {
            SniffedType::Matroska
        };
    }
    if starts(b"FLV\x01") {
        return SniffedType::Flv;
    }
    if starts(&[0, 0, 1, 0xBA]) {
        return SniffedType::Mpeg;
    }
    if starts(&[0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9]) {
        return SniffedType::Asf;
    }
    if starts(b"OggS\0") {
        return SniffedType::Ogg;
    }
    if starts(b"%PDF-") {
        return SniffedType::Pdf;
    }
    if starts(b"PK\x03\x04") {
        return SniffedType::Zip;
    }
    if starts(&[0x1F, 0x8B, 0x08]) {
        return SniffedType::Gzip;
    }
    // BMP last among binaries: "BM" is a weak signature, so also require a sane header size.
    if starts(b"BM") && b.len() >= 18 {
        let dib = u32::from_le_bytes([b[14], b[15], b[16], b[17]]);
        if matches!(dib, 12 | 40 | 52 | 56 | 64 | 108 | 124) {
            return SniffedType::Bmp;
        }
    }
    sniff_markup(b)
}

/// ISO base media file format: `....ftyp<brand>`.
fn sniff_iso_bmff(b: &[u8]) -> Option<SniffedType> {
    if b.len() < 12 || &b[4..8] != b"ftyp" {
        return None;
    }
    let box_len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let end = box_len.clamp(12, b.len().min(256));
    let major = &b[8..12];
    let compatible: Vec<&[u8]> = b[16.min(end)..end].chunks_exact(4).collect();
    let has = |brand: &[u8]| major == brand || compatible.contains(&brand);
    Some(if has(b"avif") || has(b"avis") {
        SniffedType::Avif
    } else if [
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1",
    ]
    .iter()
    .any(|brand| major == *brand)
    {
        SniffedType::Heif
    } else if major == b"qt  " {
        SniffedType::QuickTime
    } else {
        SniffedType::Mp4
    })
}

/// WHATWG "rules for identifying an unknown MIME type" (HTML part), plus SVG and XHTML roots.
fn sniff_markup(b: &[u8]) -> SniffedType {
    let mut s = b;
    if s.starts_with(&[0xEF, 0xBB, 0xBF]) {
        s = &s[3..];
    }
    let start = s
        .iter()
        .position(|c| !matches!(c, b'\t' | b'\n' | b'\x0c' | b'\r' | b' '))
        .unwrap_or(s.len());
    let s = &s[start..];
    const TAGS: &[&[u8]] = &[
        b"<!DOCTYPE HTML",
        b"<HTML",
        b"<HEAD",
        b"<SCRIPT",
        b"<IFRAME",
        b"<H1",
        b"<DIV",
        b"<FONT",
        b"<TABLE",
        b"<A",
        b"<STYLE",
        b"<TITLE",
        b"<B",
        b"<BODY",
        b"<BR",
        b"<P",
        b"<!--",
        // Not in WHATWG's list, but how many real pages begin:
        b"<META",
        b"<LINK",
    ];
    for tag in TAGS {
        if s.len() > tag.len()
            && s[..tag.len()].eq_ignore_ascii_case(tag)
            && matches!(s[tag.len()], b' ' | b'>' | b'\t' | b'\n' | b'\r' | b'\x0c')
        {
            return SniffedType::Html;
        }
    }
    if s.starts_with(b"<?xml") || s.starts_with(b"<svg") || s.starts_with(b"<!DOCTYPE svg") {
        let head: Vec<u8> = s[..s.len().min(1024)].to_ascii_lowercase();
        if find(&head, b"<svg").is_some() {
            return SniffedType::Svg;
        }
        if find(&head, b"<html").is_some() {
            return SniffedType::Html;
        }
    }
    SniffedType::Unknown
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The MIME essence of a `Content-Type` value: `"Text/HTML; charset=x"` → `"text/html"`.
pub fn mime_essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let table: &[(&[u8], SniffedType)] = &[
            (b"\xFF\xD8\xFF\xE0\0\x10JFIF", SniffedType::Jpeg),
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", SniffedType::Png),
            (b"GIF89a\x01\0\x01\0", SniffedType::Gif),
            (b"RIFF\x10\0\0\0WEBPVP8 ", SniffedType::Webp),
            (b"RIFF\x10\0\0\0AVI LIST", SniffedType::Avi),
            (b"II*\0\x08\0\0\0", SniffedType::Tiff),
            (b"MM\0*\0\0\0\x08", SniffedType::Tiff),
            (
                b"BM\x36\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0",
                SniffedType::Bmp,
            ),
            (b"BMW is a car", SniffedType::Unknown),
            (b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom", SniffedType::Mp4),
            (b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf", SniffedType::Avif),
            (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", SniffedType::Heif),
            (b"\0\0\0\x14ftypqt  \0\0\0\0qt  ", SniffedType::QuickTime),
            (
                b"\x1A\x45\xDF\xA3\x9f\x42\x86\x81\x01\x42\x82\x84webm",
                SniffedType::WebM,
            ),
            (
                b"\x1A\x45\xDF\xA3\x9f\x42\x82\x88matroska",
                SniffedType::Matroska,
            ),
            (b"OggS\0\x02", SniffedType::Ogg),
            (b"%PDF-1.7", SniffedType::Pdf),
            (b"  \n<!doctype html><html>", SniffedType::Html),
            (b"\xEF\xBB\xBF<HTML>", SniffedType::Html),
            (b"<p>hi", SniffedType::Html),
            (b"<!-- c --><x>", SniffedType::Html),
            (b"<pre>not listed", SniffedType::Unknown),
            (
                b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\">",
                SniffedType::Svg,
            ),
            (b"<svg width=\"1\">", SniffedType::Svg),
            (b"{\"json\": true}", SniffedType::Unknown),
            (b"", SniffedType::Unknown),
        ];
        for (bytes, want) in table {
            assert_eq!(sniff(bytes), *want, "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn classes() {
        assert!(SniffedType::Jpeg.is_image() && !SniffedType::Jpeg.is_video());
        assert!(SniffedType::WebM.is_video() && SniffedType::WebM.is_media());
        assert!(!SniffedType::Html.is_media());
        assert_eq!(mime_essence("Text/HTML; charset=UTF-8"), "text/html");
    }
}
