//! Small generated fixtures in layouts the `image` encoders cannot write (CMYK JPEG,
//! progressive JPEG, palette PNG/BMP with and without transparency, 1-bit, animated GIF and
//! WebP, compressed TIFF): our hash against pdqhash + Pillow `convert("RGB")`.

mod common;

use std::path::PathBuf;

use media::{Format, MediaHasher, SourceColour};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn fixtures_match_pillow() {
    let mut rdr = csv::Reader::from_path(dir().join("expected.csv")).expect("expected.csv");
    let mut hasher = MediaHasher::default();
    let mut seen = 0;
    for rec in rdr.records() {
        let rec = rec.expect("row");
        let (file, pil_mode) = (&rec[0], &rec[1]);
        let pillow = pdq::Hash256::from_hex(&rec[4]).expect("hex");
        let pillow_q: u8 = rec[5].parse().expect("quality");
        let bytes = std::fs::read(dir().join(file)).expect("read fixture");
        let ours = hasher
            .hash_bytes(&bytes, false)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!((ours.width, ours.height), (64, 40), "{file}");
        let d = ours.pdq.distance(&pillow);
        println!(
            "{file:<20} {pil_mode:<5} {:<5} {:<7} dist {d:>3} q {} (pillow {pillow_q})",
            ours.format, ours.colour, ours.quality
        );
        // Lossless formats decode to the same pixels as Pillow: identical hash. JPEG and
        // lossy WebP decoders round differently.
        let lossy = file.ends_with(".jpg") || file.ends_with(".webp");
        let tol = if lossy { 4 } else { 0 };
        assert!(d <= tol, "{file}: {d} bits from Pillow (tolerance {tol})");
        if !lossy {
            assert_eq!(ours.quality, pillow_q, "{file}");
        }
        let expected_colour = match file {
            "cmyk-adobe.jpg" | "cmyk.tiff" => Some(SourceColour::Cmyk8),
            "bilevel.png" => Some(SourceColour::L1),
            "palette.png" | "animated.gif" => Some(SourceColour::Palette8),
            "palette4-trns.png" => Some(SourceColour::Palette4),
            // Pillow wrote the 16-colour image with 8-bit indices.
            "palette4.bmp" => Some(SourceColour::Palette8),
            "grey-deflate.tiff" => Some(SourceColour::L8),
            _ => None,
        };
        if let Some(c) = expected_colour {
            assert_eq!(ours.colour, c, "{file}");
        }
        seen += 1;
    }
    assert_eq!(seen, 12);
}

#[test]
fn animations_hash_their_first_frame() {
    // Frame 2 is frame 1 mirrored; a hash of frame 2 (or a blend) would be far away.
    let mut hasher = MediaHasher::default();
    let first = hasher
        .hash_bytes(&std::fs::read(dir().join("rgb.png")).expect("read"), false)
        .expect("png");
    for (file, format) in [
        ("animated.gif", Format::Gif),
        ("animated.webp", Format::WebP),
    ] {
        let h = hasher
            .hash_bytes(&std::fs::read(dir().join(file)).expect("read"), false)
            .expect("animation");
        assert_eq!(h.format, format);
        assert!(
            h.pdq.distance(&first.pdq) <= 16,
            "{file}: {}",
            h.pdq.distance(&first.pdq)
        );
    }
}
