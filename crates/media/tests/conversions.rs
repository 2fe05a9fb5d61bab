//! Every format and colour layout we claim to convert, generated from the bridge photo:
//! lossless encodings must decode to exactly the RGB we expect, lossy ones must hash close.

mod common;

use std::io::Cursor;

use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, LumaA, Rgb, Rgba};
use media::{Format, Limits, SourceColour, decode_rgb8};

const W: u32 = 400;
const H: u32 = 251;

/// The bridge photo at 400x251, as decoded by us.
fn base() -> image::RgbImage {
    let bytes = std::fs::read(common::testdata().join("data/misc-images/modes/original.jpg"))
        .expect("read");
    let d = decode_rgb8(&bytes, &Limits::default()).expect("decode");
    let img = image::RgbImage::from_raw(d.info.width, d.info.height, d.rgb).expect("buffer");
    image::imageops::resize(&img, W, H, image::imageops::FilterType::Triangle)
}

fn grey(rgb: &image::RgbImage) -> image::GrayImage {
    DynamicImage::ImageRgb8(rgb.clone()).into_luma8()
}

fn encode(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

fn pdq(rgb: &[u8]) -> pdq::Hash256 {
    pdq::Hasher::new()
        .hash_rgb8(rgb, W as usize, H as usize)
        .expect("hash")
        .hash
}

/// Decodes and checks format, size and source colour; returns the RGB bytes.
fn decode(bytes: &[u8], format: Format, colour: SourceColour) -> Vec<u8> {
    let d =
        decode_rgb8(bytes, &Limits::default()).unwrap_or_else(|e| panic!("{format} {colour}: {e}"));
    assert_eq!(d.info.format, format);
    assert_eq!(d.info.colour, colour, "{format}");
    assert_eq!((d.info.width, d.info.height), (W, H));
    assert_eq!(d.rgb.len(), (W * H * 3) as usize);
    d.rgb
}

fn grey_as_rgb(g: &image::GrayImage) -> Vec<u8> {
    g.iter().flat_map(|&v| [v, v, v]).collect()
}

#[test]
fn lossless_eight_bit_layouts_are_exact() {
    let rgb = base();
    let g = grey(&rgb);
    let want_rgb = rgb.as_raw().clone();
    let want_grey = grey_as_rgb(&g);

    let rgba = ImageBuffer::from_fn(W, H, |x, y| {
        let p = rgb.get_pixel(x, y).0;
        // Alpha varies, including fully transparent pixels: it must not leak into RGB.
        Rgba([p[0], p[1], p[2], ((x * 7 + y) % 256) as u8])
    });
    let la = ImageBuffer::from_fn(W, H, |x, y| {
        LumaA([g.get_pixel(x, y).0[0], (x % 256) as u8])
    });

    let cases: Vec<(DynamicImage, ImageFormat, Format, SourceColour, &Vec<u8>)> = vec![
        (
            DynamicImage::ImageRgb8(rgb.clone()),
            ImageFormat::Png,
            Format::Png,
            SourceColour::Rgb8,
            &want_rgb,
        ),
        (
            DynamicImage::ImageRgba8(rgba.clone()),
            ImageFormat::Png,
            Format::Png,
            SourceColour::Rgba8,
            &want_rgb,
        ),
        (
            DynamicImage::ImageLuma8(g.clone()),
            ImageFormat::Png,
            Format::Png,
            SourceColour::L8,
            &want_grey,
        ),
        (
            DynamicImage::ImageLumaA8(la.clone()),
            ImageFormat::Png,
            Format::Png,
            SourceColour::La8,
            &want_grey,
        ),
        (
            DynamicImage::ImageRgb8(rgb.clone()),
            ImageFormat::Bmp,
            Format::Bmp,
            SourceColour::Rgb8,
            &want_rgb,
        ),
        (
            DynamicImage::ImageRgba8(rgba.clone()),
            ImageFormat::Bmp,
            Format::Bmp,
            SourceColour::Rgba8,
            &want_rgb,
        ),
        (
            DynamicImage::ImageRgb8(rgb.clone()),
            ImageFormat::Tiff,
            Format::Tiff,
            SourceColour::Rgb8,
            &want_rgb,
        ),
        (
            DynamicImage::ImageRgba8(rgba.clone()),
            ImageFormat::Tiff,
            Format::Tiff,
            SourceColour::Rgba8,
            &want_rgb,
        ),
        (
            DynamicImage::ImageLuma8(g.clone()),
            ImageFormat::Tiff,
            Format::Tiff,
            SourceColour::L8,
            &want_grey,
        ),
        (
            DynamicImage::ImageRgb8(rgb.clone()),
            ImageFormat::WebP,
            Format::WebP,
            SourceColour::Rgb8,
            &want_rgb,
        ),
        (
            DynamicImage::ImageRgba8(rgba),
            ImageFormat::WebP,
            Format::WebP,
            SourceColour::Rgba8,
            &want_rgb,
        ),
    ];
    for (img, enc, format, colour, want) in cases {
        let got = decode(&encode(img, enc), format, colour);
        assert!(got == *want, "{format} {colour}: pixels differ");
    }
}

#[test]
fn sixteen_bit_and_float_layouts_scale_exactly() {
    let rgb = base();
    let g = grey(&rgb);
    let want_rgb = rgb.as_raw().clone();
    let want_grey = grey_as_rgb(&g);
    let up = |v: u8| u16::from(v) * 257;

    let rgb16 = ImageBuffer::from_fn(W, H, |x, y| Rgb(rgb.get_pixel(x, y).0.map(up)));
    let rgba16 = ImageBuffer::from_fn(W, H, |x, y| {
        let p = rgb.get_pixel(x, y).0;
        Rgba([up(p[0]), up(p[1]), up(p[2]), (x * 100) as u16])
    });
    let l16 = ImageBuffer::from_fn(W, H, |x, y| Luma([up(g.get_pixel(x, y).0[0])]));
    let la16 = ImageBuffer::from_fn(W, H, |x, y| LumaA([up(g.get_pixel(x, y).0[0]), 0]));
    let rgb32 = ImageBuffer::from_fn(W, H, |x, y| {
        Rgb(rgb.get_pixel(x, y).0.map(|v| f32::from(v) / 255.0))
    });
    let rgba32 = ImageBuffer::from_fn(W, H, |x, y| {
        let p = rgb.get_pixel(x, y).0.map(|v| f32::from(v) / 255.0);
        Rgba([p[0], p[1], p[2], 0.5])
    });

    let cases: Vec<(DynamicImage, ImageFormat, Format, SourceColour, &Vec<u8>)> = vec![
        (
            DynamicImage::ImageRgb16(rgb16.clone()),
            ImageFormat::Png,
            Format::Png,
            SourceColour::Rgb16,
            &want_rgb,
        ),
        (
            DynamicImage::ImageRgba16(rgba16.clone()),
            ImageFormat::Png,
            Format::Png,
            SourceColour::Rgba16,
            &want_rgb,
        ),
        (
            DynamicImage::ImageLuma16(l16.clone()),
            ImageFormat::Png,
            Format::Png,
            SourceColour::L16,
            &want_grey,
        ),
        (
            DynamicImage::ImageLumaA16(la16),
            ImageFormat::Png,
            Format::Png,
            SourceColour::La16,
            &want_grey,
        ),
        (
            DynamicImage::ImageRgb16(rgb16),
            ImageFormat::Tiff,
            Format::Tiff,
            SourceColour::Rgb16,
            &want_rgb,
        ),
        (
            DynamicImage::ImageRgba16(rgba16),
            ImageFormat::Tiff,
            Format::Tiff,
            SourceColour::Rgba16,
            &want_rgb,
        ),
        (
            DynamicImage::ImageLuma16(l16),
            ImageFormat::Tiff,
            Format::Tiff,
            SourceColour::L16,
            &want_grey,
        ),
        (
            DynamicImage::ImageRgb32F(rgb32),
            ImageFormat::Tiff,
            Format::Tiff,
            SourceColour::Rgb32F,
            &want_rgb,
        ),
        (
            DynamicImage::ImageRgba32F(rgba32),
            ImageFormat::Tiff,
            Format::Tiff,
            SourceColour::Rgba32F,
            &want_rgb,
        ),
    ];
    for (img, enc, format, colour, want) in cases {
        let got = decode(&encode(img, enc), format, colour);
        assert!(got == *want, "{format} {colour}: pixels differ");
    }
}

#[test]
fn cmyk_tiff_converts_to_rgb() {
    let rgb = base();
    // Plain (non-inverted) CMYK as TIFF stores it, with no black: C = 255 - R etc.
    let data: Vec<u8> = rgb
        .pixels()
        .flat_map(|p| [255 - p.0[0], 255 - p.0[1], 255 - p.0[2], 0])
        .collect();
    let tiff = common::Tiff {
        width: W,
        height: H,
        bits: vec![8; 4],
        photometric: 5, // separated (CMYK)
        sample_format: 1,
        data,
        strip: None,
        rows_per_strip: None,
    };
    let got = decode(&tiff.encode(), Format::Tiff, SourceColour::Cmyk8);
    assert!(got == *rgb.as_raw(), "CMYK TIFF pixels differ");

    // With black ink: K halves every channel.
    let data: Vec<u8> = rgb.pixels().flat_map(|_| [0, 0, 0, 128]).collect();
    let tiff = common::Tiff { data, ..tiff };
    let got = decode(&tiff.encode(), Format::Tiff, SourceColour::Cmyk8);
    // (255 - 0) * (1 - 128/255) = 127, give or take the decoder's float truncation.
    assert!(
        got.iter().all(|&v| v.abs_diff(127) <= 1),
        "K=128 should give ~127 everywhere"
    );
}

#[test]
fn bilevel_and_palette_expand_to_full_range() {
    let rgb = base();
    let g = grey(&rgb);
    // 1-bit PNG, written by hand: rows of packed bits, filter byte 0.
    let row_bytes = W.div_ceil(8) as usize;
    let mut raw = Vec::new();
    let mut want = Vec::new();
    for y in 0..H {
        raw.push(0);
        let mut row = vec![0u8; row_bytes];
        for x in 0..W {
            let on = g.get_pixel(x, y).0[0] >= 128;
            if on {
                row[(x / 8) as usize] |= 0x80 >> (x % 8);
            }
            want.extend_from_slice(&[if on { 255 } else { 0 }; 3]);
        }
        raw.extend_from_slice(&row);
    }
    let png = common::png_with(W, H, 1, 0, &zlib_stored(&raw));
    let got = decode(&png, Format::Png, SourceColour::L1);
    assert!(got == want, "1-bit PNG must expand to 0/255");

    // GIF: always a palette; the encoder quantises to 256 colours, so compare hashes.
    let gif = encode(DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Gif);
    let got = decode(&gif, Format::Gif, SourceColour::Palette8);
    let d = pdq(&got).distance(&pdq(rgb.as_raw()));
    assert!(d <= 16, "GIF {d} bits from the RGB original");
}

#[test]
fn lossy_encodings_hash_close() {
    let rgb = base();
    let g = grey(&rgb);
    let reference = pdq(rgb.as_raw());
    let jpeg = encode(DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Jpeg);
    let got = decode(&jpeg, Format::Jpeg, SourceColour::Rgb8);
    assert!(pdq(&got).distance(&reference) <= 10);
    let jpeg_grey = encode(DynamicImage::ImageLuma8(g.clone()), ImageFormat::Jpeg);
    let got = decode(&jpeg_grey, Format::Jpeg, SourceColour::L8);
    assert!(pdq(&got).distance(&pdq(&grey_as_rgb(&g))) <= 10);
}

/// A zlib stream of stored (uncompressed) blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = data.chunks(65535).collect();
    for (i, c) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}
