//! Writes a fuzzing seed corpus: the small images of the shared test data and of this
//! crate's `tests/fixtures`, plus the bridge photo shrunk to 48x30 and encoded in every
//! format and colour layout the `image` encoders write.
//!
//! `cargo run -p media --example fuzz_seeds -- <testdata/pdq dir> <output dir>`
//!
//! The corpus is generated at run time and never committed (see the README, "Fuzzing").

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageFormat};

/// Seeds larger than this slow every fuzzing iteration; the fuzzer grows inputs itself.
const MAX_SEED_BYTES: u64 = 100 * 1024;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(testdata), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: fuzz_seeds <testdata/pdq dir> <output dir>");
        std::process::exit(2);
    };
    let (testdata, out) = (PathBuf::from(testdata), PathBuf::from(out));
    std::fs::create_dir_all(&out)?;

    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut copied = 0;
    for root in [&testdata, &fixtures] {
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let path = entry?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if is_image(&path) && std::fs::metadata(&path)?.len() <= MAX_SEED_BYTES {
                    let name = path.strip_prefix(root)?.to_string_lossy().replace('/', "_");
                    let dest = out.join(name);
                    std::fs::write(&dest, std::fs::read(&path)?)?;
                    copied += 1;
                }
            }
        }
    }

    let photo = std::fs::read(testdata.join("data/misc-images/modes/original.jpg"))?;
    let rgb = image::load_from_memory(&photo)?.resize_exact(
        48,
        30,
        image::imageops::FilterType::Triangle,
    );
    let rgba = DynamicImage::ImageRgba8(rgb.to_rgba8());
    let variants: Vec<(&str, DynamicImage, ImageFormat)> = vec![
        ("rgb8.png", rgb.clone(), ImageFormat::Png),
        ("rgba8.png", rgba.clone(), ImageFormat::Png),
        (
            "l8.png",
            DynamicImage::ImageLuma8(rgb.to_luma8()),
            ImageFormat::Png,
        ),
        (
            "la8.png",
            DynamicImage::ImageLumaA8(rgb.to_luma_alpha8()),
            ImageFormat::Png,
        ),
        (
            "l16.png",
            DynamicImage::ImageLuma16(rgb.to_luma16()),
            ImageFormat::Png,
        ),
        (
            "rgb16.png",
            DynamicImage::ImageRgb16(rgb.to_rgb16()),
            ImageFormat::Png,
        ),
        (
            "rgba16.png",
            DynamicImage::ImageRgba16(rgb.to_rgba16()),
            ImageFormat::Png,
        ),
        ("rgb.jpg", rgb.clone(), ImageFormat::Jpeg),
        (
            "grey.jpg",
            DynamicImage::ImageLuma8(rgb.to_luma8()),
            ImageFormat::Jpeg,
        ),
        ("p.gif", rgb.clone(), ImageFormat::Gif),
        ("rgb.bmp", rgb.clone(), ImageFormat::Bmp),
        ("rgba.bmp", rgba.clone(), ImageFormat::Bmp),
        ("rgb8.tiff", rgb.clone(), ImageFormat::Tiff),
        (
            "l16.tiff",
            DynamicImage::ImageLuma16(rgb.to_luma16()),
            ImageFormat::Tiff,
        ),
        (
            "rgb32f.tiff",
            DynamicImage::ImageRgb32F(rgb.to_rgb32f()),
            ImageFormat::Tiff,
        ),
        ("rgb.webp", rgb.clone(), ImageFormat::WebP),
        ("rgba.webp", rgba, ImageFormat::WebP),
    ];
    for (name, img, format) in &variants {
        let mut buf = Cursor::new(Vec::new());
        img.write_to(&mut buf, *format)?;
        std::fs::write(out.join(format!("gen_{name}")), buf.into_inner())?;
    }
    println!(
        "{} seeds in {} ({copied} copied, {} generated)",
        copied + variants.len(),
        out.display(),
        variants.len()
    );
    Ok(())
}

fn is_image(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(
        ext.as_str(),
        "jpg" | "jpeg" | "png" | "gif" | "webp" | "bmp" | "tif" | "tiff"
    )
}
