//! Decoding untrusted bytes to packed RGB8 under [`Limits`].

use std::io::{self, BufRead, Cursor, Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

use image::error::{ImageError, LimitErrorKind, UnsupportedErrorKind};
use image::{ImageDecoder, ImageReader};

use crate::colour::{bytes_per_pixel, to_rgb8_in_place};
use crate::header::{bmp_palette_colour, jpeg_has_eoi, jpeg_header, png_header};
use crate::{Format, Limits, MediaError, SourceColour, sniff};

/// What is known about a decoded image besides its pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    /// Width in pixels, as stored (EXIF orientation not applied).
    pub width: u32,
    /// Height in pixels, as stored.
    pub height: u32,
    /// Format sniffed from the bytes.
    pub format: Format,
    /// Colour model of the source before conversion to RGB8.
    pub colour: SourceColour,
    /// EXIF orientation tag (1..=8) when the file has a valid one. Reported only: the pixels
    /// and hashes are never rotated, as in every PDQ reference implementation. For TIFF,
    /// a missing tag reads as 1.
    pub orientation: Option<u8>,
}

/// A decoded image: packed 8-bit RGB, row-major, `width * height * 3` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbImage {
    /// Size, format, source colour and orientation.
    pub info: ImageInfo,
    /// The pixels.
    pub rgb: Vec<u8>,
}

/// Decodes `bytes` (any supported format, sniffed from the bytes) to packed RGB8.
///
/// All of `limits` are enforced; see [`Limits`] for when. Never panics on any input.
pub fn decode_rgb8(bytes: &[u8], limits: &Limits) -> Result<RgbImage, MediaError> {
    let mut rgb = Vec::new();
    let info = decode_rgb8_into(bytes, limits, &mut rgb)?;
    Ok(RgbImage { info, rgb })
}

/// Like [`decode_rgb8`], but decodes into `buf` (cleared first), so a caller decoding many
/// images reuses one allocation. On success `buf.len() == width * height * 3`; on error its
/// contents are unspecified.
pub fn decode_rgb8_into(
    bytes: &[u8],
    limits: &Limits,
    buf: &mut Vec<u8>,
) -> Result<ImageInfo, MediaError> {
    buf.clear();
    let clock = Clock::start(limits.max_decode_time);
    let size = bytes.len() as u64;
    if size > limits.max_input_bytes {
        return Err(MediaError::TooLarge {
            size,
            limit: limits.max_input_bytes,
        });
    }
    let format = sniff(bytes)?;

    // Our own header look for the two formats where it tells more than the decoder (source
    // colour) or lets us refuse earlier (the JPEG decoder copies the input first).
    let mut colour = None;
    match format {
        Format::Png => {
            if let Some(h) = png_header(bytes) {
                check_size(h.width, h.height, limits)?;
                colour = Some(h.colour);
            }
        }
        Format::Jpeg => {
            if let Some(h) = jpeg_header(bytes) {
                check_size(h.width, h.height, limits)?;
                if !jpeg_has_eoi(bytes, h.scan_start) {
                    return Err(MediaError::Truncated {
                        format,
                        detail: "no end-of-image marker after the image data".into(),
                    });
                }
                colour = Some(h.colour());
            }
        }
        // GIF pixels are always palette indices; the decoder only says "RGBA".
        Format::Gif => colour = Some(SourceColour::Palette8),
        Format::Bmp => colour = bmp_palette_colour(bytes),
        _ => {}
    }

    // Open without the side limits so that an oversized header reaches `check_size` with
    // its dimensions (for a precise error), then hand the decoder the full limits.
    let input = Input::new(bytes, clock);
    let mut reader = ImageReader::with_format(input, format.to_image());
    let full = limits.to_image();
    let mut open = full.clone();
    open.max_image_width = None;
    open.max_image_height = None;
    reader.limits(open);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| map_error(e, format, limits, &clock, None))?;

    let (width, height) = decoder.dimensions();
    check_size(width, height, limits)?;
    let dims = Some((width, height));
    decoder
        .set_limits(full)
        .map_err(|e| map_error(e, format, limits, &clock, dims))?;
    if width == 0 || height == 0 {
        return Err(MediaError::Corrupt {
            format,
            detail: format!("the image is {width}x{height}"),
        });
    }
    let ct = decoder.color_type();
    let colour = colour.unwrap_or_else(|| SourceColour::from_image(decoder.original_color_type()));
    let bpp = bytes_per_pixel(ct).ok_or_else(|| MediaError::Unsupported {
        format,
        detail: format!("decoded colour layout {ct:?}"),
    })?;
    let orientation = orientation(&mut decoder, format);

    // `n` fits in u64 (two u32 factors); `needed` saturates, which only matters with
    // limits near u64::MAX. The usize conversions can fail only on 32-bit targets.
    let n = u64::from(width) * u64::from(height);
    let needed = n.saturating_mul(bpp.max(3) as u64);
    if needed > limits.max_alloc {
        return Err(MediaError::AllocationLimit {
            needed: Some(needed),
            limit: limits.max_alloc,
        });
    }
    let too_big = || MediaError::AllocationLimit {
        needed: Some(needed),
        limit: limits.max_alloc,
    };
    let n = usize::try_from(n).map_err(|_| too_big())?;
    let needed = usize::try_from(needed).map_err(|_| too_big())?;
    let decoded_len = n * bpp;
    if decoder.total_bytes() != decoded_len as u64 {
        return Err(MediaError::Corrupt {
            format,
            detail: "decoder buffer size does not match its dimensions".into(),
        });
    }
    clock.check()?;

    buf.try_reserve_exact(needed).map_err(|_| too_big())?;
    buf.resize(needed, 0);
    decoder
        .read_image(&mut buf[..decoded_len])
        .map_err(|e| map_error(e, format, limits, &clock, dims))?;
    clock.check()?;

    to_rgb8_in_place(buf, n, ct);
    buf.truncate(n * 3);
    clock.check()?;

    Ok(ImageInfo {
        width,
        height,
        format,
        colour,
        orientation,
    })
}

/// Refuses images with a side over `max_dimension` or more than `max_pixels` pixels.
fn check_size(width: u32, height: u32, limits: &Limits) -> Result<(), MediaError> {
    if width > limits.max_dimension || height > limits.max_dimension {
        return Err(MediaError::DimensionTooLarge {
            width,
            height,
            limit: limits.max_dimension,
        });
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(MediaError::TooManyPixels {
            width,
            height,
            pixels,
            limit: limits.max_pixels,
        });
    }
    Ok(())
}

/// The EXIF orientation, if the file has a valid one. Errors reading metadata never fail
/// the decode: orientation is informational.
fn orientation(decoder: &mut impl ImageDecoder, format: Format) -> Option<u8> {
    match format {
        // The TIFF decoder reads the tag from the image's own directory.
        Format::Tiff => decoder.orientation().ok().map(|o| o.to_exif()),
        Format::Jpeg | Format::Png | Format::WebP => decoder
            .exif_metadata()
            .ok()
            .flatten()
            .and_then(|exif| image::metadata::Orientation::from_exif_chunk(&exif))
            .map(|o| o.to_exif()),
        _ => None,
    }
}

/// Turns an `image` error into ours, telling truncation from corruption.
fn map_error(
    e: ImageError,
    format: Format,
    limits: &Limits,
    clock: &Clock,
    dims: Option<(u32, u32)>,
) -> MediaError {
    if let Some(err) = clock.expired() {
        return err;
    }
    match e {
        ImageError::Limits(l) => match l.kind() {
            LimitErrorKind::DimensionError => {
                let (width, height) = dims.unwrap_or((0, 0));
                MediaError::DimensionTooLarge {
                    width,
                    height,
                    limit: limits.max_dimension,
                }
            }
            LimitErrorKind::InsufficientMemory => MediaError::AllocationLimit {
                needed: None,
                limit: limits.max_alloc,
            },
            other => MediaError::Unsupported {
                format,
                detail: format!("{other:?}"),
            },
        },
        ImageError::Unsupported(u) => match u.kind() {
            UnsupportedErrorKind::Format(_) => MediaError::UnsupportedFormat(format.as_str()),
            _ => MediaError::Unsupported {
                format,
                detail: u.to_string(),
            },
        },
        ImageError::IoError(io) => {
            if io.kind() == io::ErrorKind::UnexpectedEof {
                MediaError::Truncated {
                    format,
                    detail: io.to_string(),
                }
            } else {
                MediaError::Corrupt {
                    format,
                    detail: io.to_string(),
                }
            }
        }
        other => {
            let detail = other.to_string();
            if is_truncation(&other, &detail) {
                MediaError::Truncated { format, detail }
            } else {
                MediaError::Corrupt { format, detail }
            }
        }
    }
}

/// Decoders report running out of data in different words; look at the source chain for an
/// `UnexpectedEof` and at the message for the usual phrases.
fn is_truncation(e: &(dyn std::error::Error + 'static), msg: &str) -> bool {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>()
            && io.kind() == io::ErrorKind::UnexpectedEof
        {
            return true;
        }
        source = s.source();
    }
    let m = msg.to_ascii_lowercase();
    [
        "eof",
        "end of file",
        "unexpected end",
        "truncated",
        "not enough data",
        "no more data",
        "ended early",
        "incomplete",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// Wall-clock budget for one decode.
#[derive(Clone, Copy)]
struct Clock {
    start: Instant,
    limit: Option<Duration>,
}

impl Clock {
    fn start(limit: Option<Duration>) -> Self {
        Clock {
            start: Instant::now(),
            limit,
        }
    }

    fn expired(&self) -> Option<MediaError> {
        let limit = self.limit?;
        let elapsed = self.start.elapsed();
        (elapsed > limit).then_some(MediaError::TimedOut { elapsed, limit })
    }

    fn check(&self) -> Result<(), MediaError> {
        self.expired().map_or(Ok(()), Err)
    }
}

/// The input as the decoders see it: a cursor over the caller's slice (no copy) that hands
/// out at most [`Input::CHUNK`] bytes per `fill_buf` and fails reads once the deadline has
/// passed, so streaming decoders notice the deadline while they work.
struct Input<'a> {
    cur: Cursor<&'a [u8]>,
    clock: Clock,
}

impl<'a> Input<'a> {
    const CHUNK: usize = 64 * 1024;

    fn new(bytes: &'a [u8], clock: Clock) -> Self {
        Input {
            cur: Cursor::new(bytes),
            clock,
        }
    }

    fn check(&self) -> io::Result<()> {
        if self.clock.limit.is_some() && self.clock.expired().is_some() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "decode deadline passed",
            ));
        }
        Ok(())
    }
}

impl Read for Input<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.check()?;
        self.cur.read(out)
    }

    fn read_exact(&mut self, out: &mut [u8]) -> io::Result<()> {
        self.check()?;
        self.cur.read_exact(out)
    }

    fn read_to_end(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        self.check()?;
        self.cur.read_to_end(out)
    }
}

impl BufRead for Input<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.check()?;
        let buf = self.cur.fill_buf()?;
        Ok(&buf[..buf.len().min(Self::CHUNK)])
    }

    fn consume(&mut self, amt: usize) {
        self.cur.consume(amt);
    }
}

impl Seek for Input<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.cur.seek(pos)
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        self.cur.stream_position()
    }
}
