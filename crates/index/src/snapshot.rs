//! The snapshot container shared by every structure of this crate.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! file header, 32 bytes: magic "SCHOONIX" | version u32 | kind u32 | 12 zero bytes | crc32 of the first 28 bytes
//! blocks, each:         tag [u8;4] | elem_size u32 | count u64 | data crc32 | header crc32 (of the 20 bytes before)
//!                       data (count * elem_size bytes) | zero padding to a multiple of 8
//! end block:            tag "END\0", elem_size 0, count = number of blocks before it, no data
//! ```
//!
//! Every byte is covered by a checksum: a flipped bit anywhere is refused, a truncated file
//! is refused (the end block is missing), and so is a file with bytes after the end block.
//! A block's `count` is checked against the bytes left in the file before any allocation.
//! Arrays are read straight into their final `Vec` in 8 MiB steps, checksumming each step
//! while it is still in cache: one sequential pass over the file.

use std::io::{self, Read, Write};

use crate::error::SnapshotError;
use crate::words::Words;

/// The file magic.
pub(crate) const MAGIC: [u8; 8] = *b"SCHOONIX";
/// Format version written by this build (and the only one it reads).
pub const SNAPSHOT_VERSION: u32 = 1;

/// What a snapshot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Kind {
    Index = 1,
    Pdq = 2,
    Md5 = 3,
    Sha1 = 4,
    Sha256 = 5,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Index => "schoon index",
            Kind::Pdq => "PDQ index",
            Kind::Md5 => "MD5 set",
            Kind::Sha1 => "SHA-1 set",
            Kind::Sha256 => "SHA-256 set",
        }
    }
    fn from_u32(v: u32) -> Option<Kind> {
        Some(match v {
            1 => Kind::Index,
            2 => Kind::Pdq,
            3 => Kind::Md5,
            4 => Kind::Sha1,
            5 => Kind::Sha256,
            _ => return None,
        })
    }
}

/// Plain-old-data element types that can be stored as raw little-endian bytes.
///
/// # Safety
/// Implementors must have no padding bytes and accept every bit pattern.
pub(crate) unsafe trait Plain: Copy {
    /// Converts between native and little-endian byte order in place (a no-op on LE hosts).
    fn swap_le(s: &mut [Self]);
}

macro_rules! plain_int {
    ($($t:ty),*) => {$(
        // SAFETY: primitive integers have no padding and accept every bit pattern.
        unsafe impl Plain for $t {
            fn swap_le(s: &mut [Self]) {
                if cfg!(target_endian = "big") {
                    for v in s { *v = v.swap_bytes(); }
                }
            }
        }
    )*};
}
plain_int!(u8, u16, u32, u64);

// SAFETY: `Words` is `repr(C, align(32))` around `[u64; 4]` (32 bytes): no padding.
unsafe impl Plain for Words {
    fn swap_le(s: &mut [Self]) {
        if cfg!(target_endian = "big") {
            for w in s {
                for v in &mut w.0 {
                    *v = v.swap_bytes();
                }
            }
        }
    }
}

// SAFETY: byte arrays have alignment 1, no padding, every bit pattern valid.
unsafe impl<const N: usize> Plain for [u8; N] {
    fn swap_le(_: &mut [Self]) {}
}

fn as_bytes<T: Plain>(s: &[T]) -> &[u8] {
    // SAFETY: `Plain` types have no padding, so every byte is initialised; the length is
    // the exact byte size of the slice and `u8` has alignment 1.
    unsafe { std::slice::from_raw_parts(s.as_ptr() as *const u8, std::mem::size_of_val(s)) }
}

fn as_bytes_mut<T: Plain>(s: &mut [T]) -> &mut [u8] {
    // SAFETY: as above, and every bit pattern written through the byte view is a valid `T`.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr() as *mut u8, std::mem::size_of_val(s)) }
}

const END_TAG: [u8; 4] = *b"END\0";
const STEP: usize = 8 << 20;

fn tag_str(tag: [u8; 4]) -> String {
    tag.iter()
        .filter(|&&b| b != 0)
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect()
}

/// Writes a snapshot.
pub(crate) struct SnapWriter<W: Write> {
    w: W,
    blocks: u64,
}

impl<W: Write> SnapWriter<W> {
    pub fn new(mut w: W, kind: Kind) -> io::Result<Self> {
        let mut h = [0u8; 32];
        h[..8].copy_from_slice(&MAGIC);
        h[8..12].copy_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        h[12..16].copy_from_slice(&(kind as u32).to_le_bytes());
        let crc = crc32fast::hash(&h[..28]);
        h[28..].copy_from_slice(&crc.to_le_bytes());
        w.write_all(&h)?;
        Ok(SnapWriter { w, blocks: 0 })
    }

    fn header(&mut self, tag: [u8; 4], elem: u32, count: u64, crc: u32) -> io::Result<()> {
        let mut h = [0u8; 24];
        h[..4].copy_from_slice(&tag);
        h[4..8].copy_from_slice(&elem.to_le_bytes());
        h[8..16].copy_from_slice(&count.to_le_bytes());
        h[16..20].copy_from_slice(&crc.to_le_bytes());
        let hc = crc32fast::hash(&h[..20]);
        h[20..].copy_from_slice(&hc.to_le_bytes());
        self.w.write_all(&h)
    }

    /// Writes one array block.
    pub fn block<T: Plain>(&mut self, tag: [u8; 4], data: &[T]) -> io::Result<()> {
        let size = std::mem::size_of::<T>();
        let owned;
        let bytes: &[u8] = if cfg!(target_endian = "big") {
            let mut v = data.to_vec();
            T::swap_le(&mut v);
            owned = as_bytes(&v).to_vec();
            &owned
        } else {
            as_bytes(data)
        };
        let crc = crc32fast::hash(bytes);
        self.header(tag, size as u32, data.len() as u64, crc)?;
        self.w.write_all(bytes)?;
        let pad = (8 - bytes.len() % 8) % 8;
        self.w.write_all(&[0u8; 8][..pad])?;
        self.blocks += 1;
        Ok(())
    }

    /// Writes a UTF-8 string table: the concatenated bytes and the end offsets.
    pub fn strings(
        &mut self,
        tag_bytes: [u8; 4],
        tag_ends: [u8; 4],
        items: &[String],
    ) -> io::Result<()> {
        let mut bytes = Vec::new();
        let mut ends = Vec::with_capacity(items.len());
        for s in items {
            bytes.extend_from_slice(s.as_bytes());
            ends.push(bytes.len() as u64);
        }
        self.block(tag_bytes, &bytes)?;
        self.block(tag_ends, &ends)
    }

    /// Writes the end block and flushes; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.header(END_TAG, 0, self.blocks, 0)?;
        self.w.flush()?;
        Ok(self.w)
    }
}

/// Reads a snapshot written by [`SnapWriter`].
pub(crate) struct SnapReader<R: Read> {
    r: R,
    /// Bytes left in the file (after what was consumed), if known.
    left: Option<u64>,
    blocks: u64,
}

fn map_eof(e: io::Error) -> SnapshotError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        SnapshotError::Truncated
    } else {
        SnapshotError::Io(e)
    }
}

impl<R: Read> SnapReader<R> {
    /// Checks the file header. `len` is the total file length when known (it lets the
    /// reader refuse absurd block sizes before allocating).
    pub fn open(mut r: R, len: Option<u64>, expected: Kind) -> Result<Self, SnapshotError> {
        let mut h = [0u8; 32];
        // A file shorter than the magic is "not a snapshot" unless it starts like one.
        let mut got = 0;
        while got < h.len() {
            match r.read(&mut h[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SnapshotError::Io(e)),
            }
        }
        let magic_len = got.min(8);
        if h[..magic_len] != MAGIC[..magic_len] || got == 0 {
            return Err(SnapshotError::BadMagic);
        }
        if got < h.len() {
            return Err(SnapshotError::Truncated);
        }
        let crc = u32::from_le_bytes([h[28], h[29], h[30], h[31]]);
        if crc32fast::hash(&h[..28]) != crc {
            return Err(SnapshotError::Checksum {
                section: "file header".into(),
            });
        }
        let version = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
        if version != SNAPSHOT_VERSION {
            return Err(SnapshotError::UnsupportedVersion {
                found: version,
                supported: SNAPSHOT_VERSION,
            });
        }
        let kind = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
        match Kind::from_u32(kind) {
            Some(k) if k == expected => {}
            Some(k) => {
                return Err(SnapshotError::WrongKind {
                    found: k.name(),
                    expected: expected.name(),
                });
            }
            None => {
                return Err(SnapshotError::Corrupt(format!(
                    "unknown snapshot kind {kind}"
                )));
            }
        }
        Ok(SnapReader {
            r,
            left: len.map(|l| l.saturating_sub(32)),
            blocks: 0,
        })
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), SnapshotError> {
        self.r.read_exact(buf).map_err(map_eof)?;
        if let Some(l) = &mut self.left {
            *l = l.saturating_sub(buf.len() as u64);
        }
        Ok(())
    }

    fn header(&mut self) -> Result<([u8; 4], u32, u64, u32), SnapshotError> {
        let mut h = [0u8; 24];
        self.read_exact(&mut h)?;
        let hc = u32::from_le_bytes([h[20], h[21], h[22], h[23]]);
        let tag = [h[0], h[1], h[2], h[3]];
        if crc32fast::hash(&h[..20]) != hc {
            return Err(SnapshotError::Checksum {
                section: format!("{} (block header)", tag_str(tag)),
            });
        }
        let elem = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        let mut c = [0u8; 8];
        c.copy_from_slice(&h[8..16]);
        let count = u64::from_le_bytes(c);
        let crc = u32::from_le_bytes([h[16], h[17], h[18], h[19]]);
        Ok((tag, elem, count, crc))
    }

    /// Reads the next block, which must carry `tag`, into a vector with `extra` zeroed
    /// elements appended (room for padding without a reallocation).
    pub fn block_extra<T: Plain>(
        &mut self,
        tag: [u8; 4],
        extra: usize,
    ) -> Result<Vec<T>, SnapshotError> {
        let (t, elem, count, crc) = self.header()?;
        if t == END_TAG {
            return Err(SnapshotError::Corrupt(format!(
                "section {} missing",
                tag_str(tag)
            )));
        }
        if t != tag {
            return Err(SnapshotError::Corrupt(format!(
                "expected section {}, found {}",
                tag_str(tag),
                tag_str(t)
            )));
        }
        let size = std::mem::size_of::<T>();
        if elem as usize != size {
            return Err(SnapshotError::Corrupt(format!(
                "section {} has element size {elem}",
                tag_str(tag)
            )));
        }
        let bytes = count
            .checked_mul(size as u64)
            .ok_or(SnapshotError::Truncated)?;
        if let Some(l) = self.left
            && bytes > l
        {
            return Err(SnapshotError::Truncated);
        }
        let n = usize::try_from(count).map_err(|_| SnapshotError::Truncated)?;
        let mut v: Vec<T> = crate::mem::zeroed_vec(n + extra);
        let mut hasher = crc32fast::Hasher::new();
        {
            let view = as_bytes_mut(&mut v[..n]);
            for chunk in view.chunks_mut(STEP) {
                self.read_exact(chunk)?;
                hasher.update(chunk);
            }
        }
        if hasher.finalize() != crc {
            return Err(SnapshotError::Checksum {
                section: tag_str(tag),
            });
        }
        let pad = ((8 - (bytes % 8)) % 8) as usize;
        let mut p = [0u8; 8];
        self.read_exact(&mut p[..pad])?;
        if p.iter().any(|&b| b != 0) {
            return Err(SnapshotError::Corrupt(format!(
                "non-zero padding after {}",
                tag_str(tag)
            )));
        }
        T::swap_le(&mut v[..n]);
        self.blocks += 1;
        Ok(v)
    }

    pub fn block<T: Plain>(&mut self, tag: [u8; 4]) -> Result<Vec<T>, SnapshotError> {
        self.block_extra(tag, 0)
    }

    /// Reads a string table written by [`SnapWriter::strings`].
    pub fn strings(
        &mut self,
        tag_bytes: [u8; 4],
        tag_ends: [u8; 4],
    ) -> Result<Vec<String>, SnapshotError> {
        let bytes: Vec<u8> = self.block(tag_bytes)?;
        let ends: Vec<u64> = self.block(tag_ends)?;
        let mut out = Vec::with_capacity(ends.len());
        let mut start = 0usize;
        for &e in &ends {
            let e =
                usize::try_from(e).map_err(|_| SnapshotError::Corrupt("string offset".into()))?;
            if e < start || e > bytes.len() {
                return Err(SnapshotError::Corrupt(format!(
                    "string table {}",
                    tag_str(tag_bytes)
                )));
            }
            let s = std::str::from_utf8(&bytes[start..e]).map_err(|_| {
                SnapshotError::Corrupt(format!("string table {} is not UTF-8", tag_str(tag_bytes)))
            })?;
            out.push(s.to_string());
            start = e;
        }
        Ok(out)
    }

    /// Expects the end block and then the end of the file.
    pub fn finish(mut self) -> Result<(), SnapshotError> {
        let (t, _, count, _) = self.header()?;
        if t != END_TAG {
            return Err(SnapshotError::Corrupt(format!(
                "unexpected extra section {}",
                tag_str(t)
            )));
        }
        if count != self.blocks {
            return Err(SnapshotError::Corrupt("section count mismatch".into()));
        }
        let mut one = [0u8; 1];
        loop {
            match self.r.read(&mut one) {
                Ok(0) => return Ok(()),
                Ok(_) => {
                    return Err(SnapshotError::Corrupt(
                        "trailing bytes after the end of the snapshot".into(),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SnapshotError::Io(e)),
            }
        }
    }
}

/// Writes `f`'s output to `path` atomically: a temporary file in the same directory,
/// synced, then renamed over the target, so a crash never leaves half a snapshot.
pub(crate) fn write_atomic(
    path: &std::path::Path,
    f: impl FnOnce(&mut io::BufWriter<std::fs::File>) -> io::Result<()>,
) -> Result<(), SnapshotError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot".into());
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let res = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut w = io::BufWriter::with_capacity(1 << 20, file);
        f(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.map_err(SnapshotError::Io)
}

/// Opens `path` for [`SnapReader`] with its length.
pub(crate) fn open_file(
    path: &std::path::Path,
) -> Result<(io::BufReader<std::fs::File>, u64), SnapshotError> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    Ok((io::BufReader::with_capacity(1 << 16, file), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = SnapWriter::new(Vec::new(), Kind::Pdq).unwrap();
        w.block(*b"AAAA", &[1u32, 2, 3]).unwrap();
        w.block(*b"BBBB", &[7u16; 5]).unwrap();
        w.strings(*b"STRB", *b"STRE", &["a".to_string(), "bé".to_string()])
            .unwrap();
        w.finish().unwrap()
    }

    type Sample = (Vec<u32>, Vec<u16>, Vec<String>);

    fn read(bytes: &[u8]) -> Result<Sample, SnapshotError> {
        let mut r = SnapReader::open(bytes, Some(bytes.len() as u64), Kind::Pdq)?;
        let a = r.block(*b"AAAA")?;
        let b = r.block(*b"BBBB")?;
        let s = r.strings(*b"STRB", *b"STRE")?;
        r.finish()?;
        Ok((a, b, s))
    }

    #[test]
    fn round_trip() {
        let (a, b, s) = read(&sample()).unwrap();
        assert_eq!(a, vec![1, 2, 3]);
        assert_eq!(b, vec![7; 5]);
        assert_eq!(s, vec!["a", "bé"]);
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_refused() {
        let good = sample();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            assert!(read(&bad).is_err(), "flip at {i} accepted");
            assert!(read(&good[..i]).is_err(), "truncation at {i} accepted");
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(matches!(read(&longer), Err(SnapshotError::Corrupt(_))));
    }

    #[test]
    fn header_errors_are_typed() {
        let good = sample();
        assert!(matches!(
            read(b"hello world, not a snapshot at all"),
            Err(SnapshotError::BadMagic)
        ));
        assert!(matches!(read(b""), Err(SnapshotError::BadMagic)));
        assert!(matches!(read(&good[..20]), Err(SnapshotError::Truncated)));
        let mut v2 = good.clone();
        v2[8..12].copy_from_slice(&2u32.to_le_bytes());
        let crc = crc32fast::hash(&v2[..28]);
        v2[28..32].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            read(&v2),
            Err(SnapshotError::UnsupportedVersion {
                found: 2,
                supported: 1
            })
        ));
        let r = SnapReader::open(&good[..], None, Kind::Md5);
        assert!(matches!(r, Err(SnapshotError::WrongKind { .. })));
    }
}
