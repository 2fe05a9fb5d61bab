//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `<repo>/../shared/testdata/pdq`, found from this crate's manifest directory.
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/pdq")
}

/// Every regular file under `dir`, recursively, sorted.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display())) {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// One row of `expected/observed_pdqhash-0.2.8_pillow-13.0.0.csv`.
#[derive(Debug, Clone)]
pub struct Observed {
    pub file: String,
    pub width: u32,
    pub height: u32,
    pub pil_mode: String,
    pub quality: u8,
    pub pdq: pdq::Hash256,
    pub dihedral: [pdq::Hash256; 8],
    pub pytx_pdq: pdq::Hash256,
    pub pytx_quality: u8,
}

pub fn observed() -> Vec<Observed> {
    let path = testdata().join("expected/observed_pdqhash-0.2.8_pillow-13.0.0.csv");
    let mut rdr =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let h = |s: &str| pdq::Hash256::from_hex(s).unwrap_or_else(|e| panic!("bad hex {s}: {e}"));
    rdr.records()
        .map(|r| {
            let r = r.expect("csv row");
            let pdq = h(&r[5]);
            let dihedral = [
                pdq,
                h(&r[6]),
                h(&r[7]),
                h(&r[8]),
                h(&r[9]),
                h(&r[10]),
                h(&r[11]),
                h(&r[12]),
            ];
            Observed {
                file: r[0].to_string(),
                width: r[1].parse().expect("width"),
                height: r[2].parse().expect("height"),
                pil_mode: r[3].to_string(),
                quality: r[4].parse().expect("quality"),
                pdq,
                dihedral,
                pytx_pdq: h(&r[13]),
                pytx_quality: r[14].parse().expect("pytx quality"),
            }
        })
        .collect()
}

/// A little-endian baseline TIFF with one strip, built by hand so tests can make colour
/// models the `image` encoder cannot (CMYK) and headers no encoder would (absurd strips).
pub struct Tiff {
    pub width: u32,
    pub height: u32,
    pub bits: Vec<u16>,
    pub photometric: u16,
    pub sample_format: u16,
    pub data: Vec<u8>,
    /// Overrides for (strip offset, strip byte count); `None` = the real values.
    pub strip: Option<(u32, u32)>,
    pub rows_per_strip: Option<u32>,
}

impl Tiff {
    pub fn encode(&self) -> Vec<u8> {
        let spp = self.bits.len() as u32;
        let mut out = b"II*\0".to_vec();
        // Layout: header (8) | BitsPerSample[spp] | SampleFormat[spp] | pixel data | IFD
        let bits_off = 8u32;
        let fmt_off = bits_off + 2 * spp;
        let data_off = fmt_off + 2 * spp;
        let ifd_off = data_off + self.data.len() as u32;
        out.extend_from_slice(&ifd_off.to_le_bytes());
        for b in &self.bits {
            out.extend_from_slice(&b.to_le_bytes());
        }
        for _ in 0..spp {
            out.extend_from_slice(&self.sample_format.to_le_bytes());
        }
        out.extend_from_slice(&self.data);
        let (strip_off, strip_len) = self.strip.unwrap_or((data_off, self.data.len() as u32));
        // Arrays of up to 2 SHORTs fit in the entry itself; longer ones live at an offset.
        let shorts = |tag: u16, off: u32, first: u16| {
            if spp <= 2 {
                (tag, 3u16, spp, u32::from(first))
            } else {
                (tag, 3u16, spp, off)
            }
        };
        // (tag, type, count, value); type 3 = SHORT, 4 = LONG
        let entries: Vec<(u16, u16, u32, u32)> = vec![
            (256, 4, 1, self.width),
            (257, 4, 1, self.height),
            shorts(258, bits_off, self.bits[0]),
            (259, 3, 1, 1),
            (262, 3, 1, u32::from(self.photometric)),
            (273, 4, 1, strip_off),
            (277, 3, 1, spp),
            (278, 4, 1, self.rows_per_strip.unwrap_or(self.height)),
            (279, 4, 1, strip_len),
            (284, 3, 1, 1),
            shorts(339, fmt_off, self.sample_format),
        ];
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, ty, count, value) in entries {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&ty.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            if ty == 3 && count <= 2 {
                // Inline SHORTs: with count 2 both values are the same in these tests.
                out.extend_from_slice(&(value as u16).to_le_bytes());
                out.extend_from_slice(&(if count == 2 { value as u16 } else { 0 }).to_le_bytes());
            } else {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        out.extend_from_slice(&0u32.to_le_bytes());
        out
    }
}

/// A zlib stream that inflates to `n` zero bytes, using fixed-Huffman length-258 matches:
/// 13 bits per 258 output bytes (~160:1), a decompression bomb made without a compression
/// library.
pub fn zlib_zeros(n: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        len: u32,
    }
    impl Bits {
        fn put(&mut self, value: u32, n: u32) {
            self.acc |= u64::from(value) << self.len;
            self.len += n;
            while self.len >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.len -= 8;
            }
        }
        /// Huffman codes go most-significant bit first.
        fn code(&mut self, code: u32, n: u32) {
            let rev = code.reverse_bits() >> (32 - n);
            self.put(rev, n);
        }
    }
    let mut b = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        len: 0,
    };
    b.put(1, 1); // BFINAL
    b.put(1, 2); // fixed Huffman
    let mut left = n;
    if left > 0 {
        b.code(0x30, 8); // literal 0
        left -= 1;
    }
    while left >= 258 {
        b.code(0xC5, 8); // length code 285 = 258
        b.code(0, 5); // distance code 0 = 1
        left -= 258;
    }
    for _ in 0..left {
        b.code(0x30, 8);
    }
    b.code(0, 7); // end of block (256)
    if b.len > 0 {
        b.out.push(b.acc as u8);
    }
    // Adler-32 of n zero bytes: a = 1, b = n (mod 65521).
    let adler = (((n % 65521) as u32) << 16) | 1;
    b.out.extend_from_slice(&adler.to_be_bytes());
    b.out
}

/// A PNG with the given IHDR fields and one IDAT holding `idat`.
pub fn png_with(width: u32, height: u32, depth: u8, colour: u8, idat: &[u8]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    for (kind, data) in [(&b"IHDR"[..], &ihdr[..]), (b"IDAT", idat), (b"IEND", &[])] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    out
}
