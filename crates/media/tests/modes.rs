//! The bridge photo saved in every Pillow colour mode (`data/misc-images/modes/`), and the
//! 16-bit grey PNG of python-threatexchange's tests.
//!
//! Two references per file (see the README table "Colour modes"):
//! * Pillow `convert("RGB")` + pdqhash: we must agree with it wherever its conversion is
//!   right, which on these files is everywhere except 16-bit grey;
//! * python-threatexchange's own array path, which hashes raw CMYK channels, palette
//!   indices and 0/1 bit values: we deliberately differ, and hash those files like the
//!   picture they show.

mod common;

use media::{Limits, MediaHasher, SourceColour};

const MODES: &str = "data/misc-images/modes/";

/// How a modes file must relate to the references.
enum Expect {
    /// Pillow convert("RGB") is right: within `tol` bits of its hash.
    Pillow { tol: u32 },
    /// python-threatexchange is wrong here: close to the RGB original, far from (or much
    /// higher quality than) python-threatexchange.
    Proper,
}

fn expectation(name: &str) -> Expect {
    match name {
        // Lossless: identical pixels to Pillow's.
        "L.png" | "LA.png" | "RGBA.png" => Expect::Pillow { tol: 0 },
        // Lossy: decoders round differently; "a few bits".
        "RGB.jpg" | "YCbCr.jpg" | "original.jpg" => Expect::Pillow { tol: 4 },
        // Pillow saved F/HSV/I/LAB/PA as ordinary lossy RGB WebP.
        "F.webp" | "HSV.webp" | "I.webp" | "LAB.webp" | "PA.webp" => Expect::Pillow { tol: 4 },
        "1.png" | "P.png" | "CMYK.jpg" => Expect::Proper,
        other => panic!("new file in modes/: {other}: add an expectation"),
    }
}

#[test]
fn every_mode_hashes_like_the_picture() {
    let observed = common::observed();
    let row_for = |name: &str| {
        observed
            .iter()
            .find(|r| r.file == format!("{MODES}{name}"))
            .unwrap_or_else(|| panic!("{name} not in the observed CSV"))
    };
    let mut hasher = MediaHasher::new(Limits::default());
    let dir = common::testdata().join(MODES);
    let original = hasher
        .hash_bytes(
            &std::fs::read(dir.join("original.jpg")).expect("read"),
            false,
        )
        .expect("original decodes");

    let files = common::files_under(&dir);
    assert!(files.len() >= 14, "modes directory incomplete: {files:?}");
    for path in files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        let ours = hasher
            .hash_bytes(&std::fs::read(&path).expect("read"), false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let row = row_for(name);
        let to_pillow = ours.pdq.distance(&row.pdq);
        let to_original = ours.pdq.distance(&original.pdq);
        let to_pytx = ours.pdq.distance(&row.pytx_pdq);
        println!(
            "{name:<12} {:<6} pillow {to_pillow:>3} original {to_original:>3} pytx {to_pytx:>3} q {} (pytx q {})",
            ours.colour, ours.quality, row.pytx_quality
        );
        // Every copy of the photo must match the original at the usual threshold, with
        // room to spare.
        assert!(
            to_original <= 8,
            "{name}: {to_original} bits from original.jpg"
        );
        assert!(ours.quality >= 80, "{name}: quality {}", ours.quality);
        match expectation(name) {
            Expect::Pillow { tol } => {
                assert!(
                    to_pillow <= tol,
                    "{name}: {to_pillow} bits from Pillow (tolerance {tol})"
                );
            }
            Expect::Proper => {
                assert!(
                    to_original <= 4,
                    "{name}: {to_original} bits from original.jpg"
                );
                // Pillow's convert("RGB") is right for these, and so are we.
                assert!(to_pillow <= 4, "{name}: {to_pillow} bits from Pillow");
            }
        }
    }
}

#[test]
fn deliberate_differences_from_python_threatexchange() {
    let observed = common::observed();
    let row = |name: &str| {
        observed
            .iter()
            .find(|r| r.file == format!("{MODES}{name}"))
            .expect("row")
            .clone()
    };
    let mut hasher = MediaHasher::new(Limits::default());
    let hash = |h: &mut MediaHasher, name: &str| {
        let bytes = std::fs::read(common::testdata().join(MODES).join(name)).expect("read");
        h.hash_bytes(&bytes, false).expect("decodes")
    };

    // CMYK JPEG: pytx hashes the raw (inverted) ink channels, which inverts the luma and
    // complements the hash. We convert CMYK to RGB.
    let cmyk = hash(&mut hasher, "CMYK.jpg");
    assert_eq!(cmyk.colour, SourceColour::Cmyk8);
    assert!(cmyk.pdq.distance(&row("CMYK.jpg").pytx_pdq) >= 200);

    // Palette PNG: pytx hashes the palette indices (36 bits off the photo).
    let p = hash(&mut hasher, "P.png");
    assert_eq!(p.colour, SourceColour::Palette8);
    assert!(p.pdq.distance(&row("P.png").pytx_pdq) >= 20);

    // 1-bit PNG: pytx sees 0/1 values, so the same bits but quality 0 (dropped by every
    // quality filter). We expand to 0/255: quality 100.
    let one = hash(&mut hasher, "1.png");
    assert_eq!(one.colour, SourceColour::L1);
    assert_eq!(row("1.png").pytx_quality, 0);
    assert!(one.quality >= 80);
}

/// Pillow opens a 16-bit grey PNG as mode `I;16` and `convert("RGB")` *clips* every
/// sample above 255 to white; python-threatexchange and HMA hash that (quality 36 on this
/// file, i.e. below Meta's discard threshold). We scale 0..=65535 to 0..=255 instead.
#[test]
fn sixteen_bit_grey_is_scaled_not_clipped() {
    let path = common::testdata().join("python-threatexchange/resources/I16.png");
    let bytes = std::fs::read(&path).expect("read");
    let decoded = media::decode_rgb8(&bytes, &Limits::default()).expect("decodes");
    assert_eq!(decoded.info.colour, SourceColour::L16);

    // Reference: the raw 16-bit samples as the `image` crate reads them.
    let raw = image::load_from_memory(&bytes)
        .expect("image decodes")
        .into_luma16();
    assert_eq!(raw.len() * 3, decoded.rgb.len());
    for (v, px) in raw.iter().zip(decoded.rgb.chunks_exact(3)) {
        let want = ((u32::from(*v) * 255 + 32767) / 65535) as u8;
        assert_eq!(px, [want; 3]);
    }
    // Full-range noise: the mean is mid-grey, not Pillow's near-white (254.46).
    let mean = decoded.rgb.iter().map(|&v| f64::from(v)).sum::<f64>() / decoded.rgb.len() as f64;
    assert!((100.0..156.0).contains(&mean), "mean {mean}");

    let pillow = common::observed()
        .into_iter()
        .find(|r| r.file.ends_with("I16.png"))
        .expect("row");
    assert_eq!(pillow.quality, 36);
    let ours = MediaHasher::default()
        .hash_bytes(&bytes, false)
        .expect("hash");
    assert_eq!(ours.quality, 100);
}
