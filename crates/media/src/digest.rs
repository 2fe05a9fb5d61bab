//! Exact digests: MD5, SHA-1 and SHA-256 in one pass over the bytes.

use std::io::Read;

use md5::Md5;
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::MediaError;

/// The exact digests of a file, as hash lists carry them (MD5 and SHA-1 from NCMEC/IWF-style
/// lists, SHA-256 from newer ones), plus the size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Digests {
    /// MD5 (broken for security, still the most common exact signal on CSAM lists).
    pub md5: [u8; 16],
    /// SHA-1.
    pub sha1: [u8; 20],
    /// SHA-256.
    pub sha256: [u8; 32],
    /// Size in bytes.
    pub size: u64,
}

/// Bytes fed to all three hashers before moving on, so each block is still in cache for the
/// second and third hasher.
const BLOCK: usize = 64 * 1024;

/// The three hashers, fed in lockstep.
#[derive(Default, Clone)]
pub struct DigestWriter {
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
    size: u64,
}

impl DigestWriter {
    /// Empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes (any chunking gives the same result).
    pub fn update(&mut self, bytes: &[u8]) {
        for block in bytes.chunks(BLOCK) {
            self.md5.update(block);
            self.sha1.update(block);
            self.sha256.update(block);
        }
        self.size += bytes.len() as u64;
    }

    /// The digests of everything added.
    pub fn finish(self) -> Digests {
        Digests {
            md5: self.md5.finalize().into(),
            sha1: self.sha1.finalize().into(),
            sha256: self.sha256.finalize().into(),
            size: self.size,
        }
    }
}

impl std::io::Write for DigestWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Digests {
    /// Digests of an in-memory byte slice.
    pub fn of(bytes: &[u8]) -> Digests {
        let mut w = DigestWriter::new();
        w.update(bytes);
        w.finish()
    }

    /// Digests of everything `reader` yields, read once in 64 KiB blocks (for files too large
    /// to hold, or streamed downloads).
    pub fn from_reader(mut reader: impl Read) -> Result<Digests, MediaError> {
        let mut w = DigestWriter::new();
        let mut buf = vec![0u8; BLOCK];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => w.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(MediaError::Io(e)),
            }
        }
        Ok(w.finish())
    }

    /// MD5 as 32 lower-case hex digits.
    pub fn md5_hex(&self) -> String {
        hex::encode(self.md5)
    }

    /// SHA-1 as 40 lower-case hex digits.
    pub fn sha1_hex(&self) -> String {
        hex::encode(self.sha1)
    }

    /// SHA-256 as 64 lower-case hex digits.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// SHA-1 in RFC 4648 base32 (upper case, no padding: 32 characters), the form the
    /// Arachnid Shield API uses for `sha1_base32`.
    pub fn sha1_base32(&self) -> String {
        base32(&self.sha1)
    }
}

/// RFC 4648 base32, upper case, without padding.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        acc = (acc << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_base32_vectors() {
        // RFC 4648 section 10, padding stripped.
        for (input, expected) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(input.as_bytes()), expected, "{input:?}");
        }
    }

    #[test]
    fn known_digests_of_abc() {
        let d = Digests::of(b"abc");
        assert_eq!(d.md5_hex(), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(d.sha1_hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            d.sha256_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.size, 3);
        // base32 of a9993e36…: 20 bytes = 160 bits = exactly 32 characters.
        assert_eq!(d.sha1_base32(), "VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE5");
    }

    #[test]
    fn empty_input_digests() {
        let d = Digests::of(b"");
        assert_eq!(d.md5_hex(), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(d.sha1_hex(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(d.size, 0);
    }

    #[test]
    fn reader_and_slice_and_chunking_agree() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let a = Digests::of(&data);
        let b = Digests::from_reader(&data[..]).expect("read");
        let mut w = DigestWriter::new();
        for chunk in data.chunks(777) {
            w.update(chunk);
        }
        assert_eq!(a, b);
        assert_eq!(a, w.finish());
        assert_eq!(a.size, 300_000);
    }

    #[test]
    fn reader_errors_are_reported() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        assert!(matches!(
            Digests::from_reader(Broken),
            Err(MediaError::Io(_))
        ));
    }
}
