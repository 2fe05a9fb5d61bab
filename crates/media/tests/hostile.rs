//! Hostile and broken inputs, generated here: each must give the right typed error, fast,
//! without a panic and without allocating what the header claims.

mod common;

use std::time::{Duration, Instant};

use media::{Format, Limits, MediaError, MediaHasher, decode_rgb8};

fn testfile(rel: &str) -> Vec<u8> {
    std::fs::read(common::testdata().join(rel)).expect("read test image")
}

fn decode(bytes: &[u8]) -> Result<media::RgbImage, MediaError> {
    decode_rgb8(bytes, &Limits::default())
}

#[test]
fn empty_input() {
    assert!(matches!(decode(b""), Err(MediaError::Empty)));
    assert_eq!(decode(b"").unwrap_err().kind(), "empty");
}

#[test]
fn garbage_bytes() {
    // Deterministic pseudo-random bytes.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let garbage: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    assert!(matches!(
        decode(&garbage),
        Err(MediaError::UnsupportedFormat("unknown"))
    ));

    // Valid magic, garbage after it: the decoder's error, typed as bad data of that format,
    // or a limit when the garbage happens to declare a huge size (GIF: 57575x14007 here).
    for magic in [
        &b"\x89PNG\r\n\x1a\n"[..],
        b"\xFF\xD8\xFF",
        b"GIF89a",
        b"II*\0",
        b"BM",
    ] {
        let mut b = magic.to_vec();
        b.extend_from_slice(&garbage);
        let err = decode(&b).expect_err("garbage must not decode");
        assert!(err.is_bad_data() || err.is_limit(), "{magic:?}: {err:?}");
    }
}

#[test]
fn input_over_the_byte_limit() {
    let bytes = testfile("data/misc-images/wee.jpg");
    let limits = Limits {
        max_input_bytes: 100,
        ..Limits::default()
    };
    match decode_rgb8(&bytes, &limits) {
        Err(MediaError::TooLarge { size, limit: 100 }) => assert_eq!(size, bytes.len() as u64),
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_jpeg() {
    let bytes = testfile("data/bridge-mods/aaa-orig.jpg");
    for cut in [bytes.len() / 2, bytes.len() - 2, bytes.len() - 1] {
        match decode(&bytes[..cut]) {
            Err(MediaError::Truncated {
                format: Format::Jpeg,
                ..
            }) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // Cut inside the headers: no scan at all.
    let err = decode(&bytes[..200]).expect_err("headers only");
    assert!(err.is_bad_data(), "{err:?}");
}

#[test]
fn truncated_png() {
    let bytes = testfile("data/misc-images/c.png");
    for cut in [bytes.len() / 2, 100, 40] {
        match decode(&bytes[..cut]) {
            Err(MediaError::Truncated {
                format: Format::Png,
                ..
            }) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn png_header_claiming_100000_square() {
    let png = common::png_with(100_000, 100_000, 8, 2, &common::zlib_zeros(1000));
    let t = Instant::now();
    assert!(matches!(
        decode(&png),
        Err(MediaError::DimensionTooLarge {
            width: 100_000,
            height: 100_000,
            limit: 32_768
        })
    ));
    // With the side limit lifted, the pixel limit still refuses it.
    let limits = Limits {
        max_dimension: u32::MAX,
        ..Limits::default()
    };
    assert!(matches!(
        decode_rgb8(&png, &limits),
        Err(MediaError::TooManyPixels {
            pixels: 10_000_000_000,
            ..
        })
    ));
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "refusal must not decode"
    );
}

#[test]
fn decompression_bomb_png() {
    // A valid PNG: 10000 x 10000 grey, 100 MB of zeros inflated from ~0.6 MB.
    let (w, h) = (10_000u32, 10_000u32);
    let idat = common::zlib_zeros(u64::from(h) * u64::from(w + 1));
    let png = common::png_with(w, h, 8, 0, &idat);
    assert!(png.len() < 1 << 20, "bomb is {} bytes", png.len());
    let t = Instant::now();
    assert!(matches!(
        decode(&png),
        Err(MediaError::TooManyPixels {
            pixels: 100_000_000,
            ..
        })
    ));
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "refusal must not inflate"
    );

    // Under the pixel cap but over the allocation budget.
    let limits = Limits {
        max_alloc: 64 << 20,
        ..Limits::default()
    };
    assert!(matches!(
        decode_rgb8(
            &png,
            &Limits {
                max_pixels: u64::MAX,
                ..limits
            }
        ),
        Err(MediaError::AllocationLimit {
            needed: Some(300_000_000),
            limit: 67_108_864
        })
    ));
}

#[test]
fn small_bomb_within_limits_decodes() {
    // 3000 x 3000 zeros (9 MP) is allowed by the defaults: it decodes to black, quality 0.
    let (w, h) = (3000u32, 3000u32);
    let png = common::png_with(
        w,
        h,
        8,
        0,
        &common::zlib_zeros(u64::from(h) * u64::from(w + 1)),
    );
    let out = MediaHasher::default()
        .hash_bytes(&png, false)
        .expect("valid png");
    assert_eq!((out.width, out.height, out.quality), (w, h, 0));
}

fn gif(screen: (u16, u16), frame: (u16, u16, u16, u16), lzw: &[u8]) -> Vec<u8> {
    let mut b = b"GIF89a".to_vec();
    b.extend_from_slice(&screen.0.to_le_bytes());
    b.extend_from_slice(&screen.1.to_le_bytes());
    b.extend_from_slice(&[0x80, 0, 0]); // global table of 2 colours
    b.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    b.push(0x2C);
    for v in [frame.0, frame.1, frame.2, frame.3] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.push(0);
    b.push(2); // LZW minimum code size
    b.push(lzw.len() as u8);
    b.extend_from_slice(lzw);
    b.extend_from_slice(&[0, 0x3B]);
    b
}

/// Clear code then end code, 3 bits each.
const LZW_EMPTY: [u8; 1] = [0x2C];

#[test]
fn gif_with_zero_size_frame_or_screen() {
    // A zero-size frame in a 10x10 screen: nothing to draw.
    let err = decode(&gif((10, 10), (0, 0, 0, 0), &LZW_EMPTY));
    println!("zero-size frame: {err:?}");
    match err {
        Err(MediaError::Corrupt {
            format: Format::Gif,
            ..
        }) => {}
        Ok(img) => {
            // Accepting it is also sound: an all-background 10x10 image.
            assert_eq!((img.info.width, img.info.height), (10, 10));
        }
        other => panic!("{other:?}"),
    }
    // A zero-size screen.
    match decode(&gif((0, 0), (0, 0, 0, 0), &LZW_EMPTY)) {
        Err(MediaError::Corrupt {
            format: Format::Gif,
            detail,
        }) => assert!(detail.contains("0x0"), "{detail}"),
        other => panic!("{other:?}"),
    }
    // A frame far outside a small screen.
    let r = decode(&gif((4, 4), (60_000, 60_000, 100, 100), &LZW_EMPTY));
    println!("frame outside screen: {r:?}");
    assert!(
        r.is_ok() || r.as_ref().is_err_and(MediaError::is_bad_data),
        "{r:?}"
    );
    // A screen over the pixel limit.
    assert!(matches!(
        decode(&gif((60_000, 60_000), (0, 0, 1, 1), &LZW_EMPTY)),
        Err(MediaError::DimensionTooLarge { .. })
    ));
}

fn tiff_100() -> common::Tiff {
    common::Tiff {
        width: 100,
        height: 100,
        bits: vec![8],
        photometric: 1,
        sample_format: 1,
        data: vec![7; 100 * 100],
        strip: None,
        rows_per_strip: None,
    }
}

#[test]
fn tiff_sanity_and_absurd_strips() {
    // The hand-made TIFF itself is valid.
    let ok = decode(&tiff_100().encode()).expect("valid tiff");
    assert!(ok.rgb.iter().all(|&v| v == 7));

    // A strip byte count of ~4 GiB at an offset inside the file.
    let t = Instant::now();
    let huge = common::Tiff {
        strip: Some((8, 0xFFFF_FFF0)),
        ..tiff_100()
    }
    .encode();
    let err = decode(&huge).expect_err("absurd strip");
    println!("huge strip: {err:?}");
    assert!(err.is_bad_data() || err.is_limit(), "{err:?}");
    // A strip that starts beyond the end of the file.
    let beyond = common::Tiff {
        strip: Some((1 << 30, 10_000)),
        ..tiff_100()
    }
    .encode();
    let err = decode(&beyond).expect_err("strip beyond EOF");
    println!("strip beyond EOF: {err:?}");
    assert!(err.is_bad_data(), "{err:?}");
    // Zero rows per strip.
    let zero_rows = common::Tiff {
        rows_per_strip: Some(0),
        ..tiff_100()
    }
    .encode();
    let err = decode(&zero_rows).expect_err("zero rows per strip");
    println!("zero rows per strip: {err:?}");
    assert!(err.is_bad_data(), "{err:?}");
    // Dimensions far beyond the limits.
    let big = common::Tiff {
        width: 1 << 20,
        height: 1 << 20,
        ..tiff_100()
    }
    .encode();
    assert!(matches!(
        decode(&big),
        Err(MediaError::DimensionTooLarge { .. })
    ));
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn jpeg_header_claiming_65000_square() {
    // SOI, SOF0 (65000 x 65000, 3 components), SOS, a few bytes, EOI.
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 8];
    b.extend_from_slice(&65000u16.to_be_bytes());
    b.extend_from_slice(&65000u16.to_be_bytes());
    b.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    b.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x0C, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0]);
    b.extend_from_slice(&[0x00, 0xFF, 0xD9]);
    assert!(matches!(
        decode(&b),
        Err(MediaError::DimensionTooLarge {
            width: 65000,
            height: 65000,
            ..
        })
    ));
    let limits = Limits {
        max_dimension: u32::MAX,
        ..Limits::default()
    };
    assert!(matches!(
        decode_rgb8(&b, &limits),
        Err(MediaError::TooManyPixels { .. })
    ));
}

#[test]
fn webp_header_claiming_16383_square() {
    let mut b = b"RIFF".to_vec();
    b.extend_from_slice(&22u32.to_le_bytes());
    b.extend_from_slice(b"WEBPVP8L");
    b.extend_from_slice(&10u32.to_le_bytes());
    b.push(0x2F);
    // width-1 and height-1 in 14 bits each: 16382 | 16382 << 14 (16383 x 16383; image-webp
    // reads the maximum 16384 as 0).
    b.extend_from_slice(&(0x3FFEu32 | (0x3FFE << 14)).to_le_bytes());
    b.extend_from_slice(&[0; 5]);
    let r = decode(&b);
    assert!(
        matches!(
            r,
            Err(MediaError::TooManyPixels {
                pixels: 268_402_689,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn bmp_header_claiming_huge_size() {
    let mut b = b"BM".to_vec();
    b.extend_from_slice(&1000u32.to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&54u32.to_le_bytes());
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&20_000i32.to_le_bytes());
    b.extend_from_slice(&20_000i32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&[0; 24]);
    b.extend_from_slice(&[0; 64]);
    assert!(matches!(
        decode(&b),
        Err(MediaError::TooManyPixels {
            pixels: 400_000_000,
            ..
        })
    ));
}

#[test]
fn deadline_is_enforced_cooperatively() {
    let bytes = testfile("data/reg-test-input/pen-and-coaster.png");
    let limits = Limits {
        max_decode_time: Some(Duration::ZERO),
        ..Limits::default()
    };
    let err = decode_rgb8(&bytes, &limits).expect_err("zero budget");
    assert!(matches!(err, MediaError::TimedOut { .. }), "{err:?}");
    assert_eq!(err.kind(), "timed_out");
    // A generous budget changes nothing.
    let limits = Limits {
        max_decode_time: Some(Duration::from_secs(60)),
        ..Limits::default()
    };
    assert!(decode_rgb8(&bytes, &limits).is_ok());
}

#[test]
fn unsupported_formats_are_named() {
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
    assert!(matches!(
        decode(heic),
        Err(MediaError::UnsupportedFormat("heif"))
    ));
    let err = decode(b"%PDF-1.4\n").expect_err("pdf");
    assert_eq!(err.to_string(), "unsupported format: pdf");
}

#[test]
fn hasher_survives_errors_and_keeps_working() {
    let mut h = MediaHasher::default();
    let good = testfile("data/misc-images/wee.jpg");
    let first = h.hash_bytes(&good, false).expect("good");
    for bad in [&b""[..], b"junk", &good[..good.len() / 2]] {
        assert!(h.hash_bytes(bad, true).is_err());
    }
    assert_eq!(h.hash_bytes(&good, false).expect("good again"), first);
}
