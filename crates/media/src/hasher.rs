//! One call from bytes to every hash a hash list can hold.

use pdq::{Hash256, Hasher};

use crate::{Digests, Format, ImageInfo, Limits, MediaError, SourceColour, decode_rgb8_into};

/// Everything [`MediaHasher::hash_bytes`] learns about one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaHashes {
    /// Width in pixels, as stored (EXIF orientation not applied).
    pub width: u32,
    /// Height in pixels, as stored.
    pub height: u32,
    /// Format sniffed from the bytes.
    pub format: Format,
    /// Colour model of the source before conversion to RGB8.
    pub colour: SourceColour,
    /// EXIF orientation (1..=8) when present; reported, never applied.
    pub orientation: Option<u8>,
    /// PDQ hash of the image as stored.
    pub pdq: Hash256,
    /// PDQ quality 0..=100; Meta advises ignoring hashes under 50.
    pub quality: u8,
    /// The 8 dihedral PDQ hashes (original, rotate90, rotate180, rotate270, flipx, flipy,
    /// flipplus1, flipminus1) when asked for; `dihedral[0] == pdq`.
    pub dihedral: Option<[Hash256; 8]>,
    /// MD5, SHA-1, SHA-256 and size of the bytes.
    pub digests: Digests,
}

impl MediaHashes {
    /// Size of the input in bytes.
    pub fn size(&self) -> u64 {
        self.digests.size
    }
}

/// A reusable decoder + PDQ hasher. Keep one per worker thread: it holds scratch buffers
/// (the RGB pixels and the PDQ planes) so that hashing a stream of images allocates only
/// when an image is larger than the ones before. After an image over
/// [`MediaHasher::RETAIN_PIXELS`] the buffers are released, so one huge image does not pin
/// hundreds of megabytes for the life of the worker.
pub struct MediaHasher {
    limits: Limits,
    pdq: Hasher,
    rgb: Vec<u8>,
}

impl Default for MediaHasher {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl MediaHasher {
    /// Images up to this many pixels keep their buffers for the next image (16 Mi pixels:
    /// 48 MiB of RGB plus 128 MiB of PDQ planes).
    pub const RETAIN_PIXELS: u64 = 16 * 1024 * 1024;

    /// A hasher enforcing `limits` on every decode.
    pub fn new(limits: Limits) -> Self {
        MediaHasher {
            limits,
            pdq: Hasher::new(),
            rgb: Vec::new(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Decodes `bytes`, hashes the pixels with PDQ (and its 8 dihedral variants when
    /// `dihedral` is true: they cost one DCT, not eight) and computes the exact digests.
    ///
    /// On a decode error nothing else is computed; callers that want digests of
    /// undecodable files call [`Digests::of`] themselves.
    pub fn hash_bytes(&mut self, bytes: &[u8], dihedral: bool) -> Result<MediaHashes, MediaError> {
        let info = self.decode(bytes)?;
        let result = self.hash_decoded(&info, dihedral);
        self.trim(&info);
        let (pdq, quality, dihedral) = result?;
        Ok(MediaHashes {
            width: info.width,
            height: info.height,
            format: info.format,
            colour: info.colour,
            orientation: info.orientation,
            pdq,
            quality,
            dihedral,
            digests: Digests::of(bytes),
        })
    }

    /// Decodes and hashes with PDQ only (no digests, no dihedral), e.g. for re-checking a URL
    /// whose digests are already known to differ.
    pub fn pdq_bytes(&mut self, bytes: &[u8]) -> Result<(ImageInfo, pdq::PdqHash), MediaError> {
        let info = self.decode(bytes)?;
        let result = self.hash_decoded(&info, false);
        self.trim(&info);
        let (hash, quality, _) = result?;
        Ok((info, pdq::PdqHash { hash, quality }))
    }

    #[allow(clippy::type_complexity)]
    fn hash_decoded(
        &mut self,
        info: &ImageInfo,
        dihedral: bool,
    ) -> Result<(Hash256, u8, Option<[Hash256; 8]>), MediaError> {
        let (w, h) = (info.width as usize, info.height as usize);
        // The decoder produced exactly w * h * 3 bytes, so the pdq length check cannot fail;
        // map it anyway rather than panic.
        let internal = |e: pdq::PdqError| MediaError::Corrupt {
            format: info.format,
            detail: format!("internal: {e}"),
        };
        if dihedral {
            let d = self.pdq.dihedral_rgb8(&self.rgb, w, h).map_err(internal)?;
            Ok((d.hashes[0], d.quality, Some(d.hashes)))
        } else {
            let p = self.pdq.hash_rgb8(&self.rgb, w, h).map_err(internal)?;
            Ok((p.hash, p.quality, None))
        }
    }

    /// Decodes into the reused buffer; on failure releases it if the failed attempt grew it
    /// past the retention size.
    fn decode(&mut self, bytes: &[u8]) -> Result<ImageInfo, MediaError> {
        let result = decode_rgb8_into(bytes, &self.limits, &mut self.rgb);
        if result.is_err() && self.rgb.capacity() as u64 > Self::RETAIN_PIXELS * 3 {
            self.rgb = Vec::new();
        }
        result
    }

    /// Releases the buffers after a huge image (see the type docs).
    fn trim(&mut self, info: &ImageInfo) {
        if self.rgb.capacity() as u64 > Self::RETAIN_PIXELS * 3 {
            self.rgb = Vec::new();
        }
        if u64::from(info.width) * u64::from(info.height) > Self::RETAIN_PIXELS {
            self.pdq = Hasher::new();
        }
    }
}
