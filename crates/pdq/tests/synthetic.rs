//! Pixel-exact vectors independent of any image decoder: synthetic RGB images defined by a
//! formula, hashed by Meta's C++ core (PyPI `pdqhash`) in `bench/pdq/make_vectors.py`, which
//! wrote `tests/data/synthetic.csv`. Here the same formula regenerates the same pixels, and
//! every hash, dihedral hash and quality must be identical, with every backend.

use pdq::{Backend, Hash256, Hasher};

/// The 32-bit finaliser used by the formula (see `bench/pdq/make_vectors.py`).
fn mix32(mut z: u32) -> u32 {
    z ^= z >> 16;
    z = z.wrapping_mul(0x7feb_352d);
    z ^= z >> 15;
    z = z.wrapping_mul(0x846c_a68b);
    z ^= z >> 16;
    z
}

/// Packed RGB8 pixels of synthetic image `(kind, seed, width, height)`.
pub fn synthetic_image(kind: u32, seed: u32, width: usize, height: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            for c in 0..3 {
                let idx = ((y * width + x) * 3 + c) as u64;
                let n = mix32((u64::from(seed) * 0x9e37_79b9 + idx) as u32);
                let v = if kind == 0 {
                    n >> 24
                } else {
                    let (x, y, c) = (x as u64, y as u64, c as u64);
                    let checker = 96 * ((x / 13 + y / 17) % 2);
                    ((x * 255 / width as u64
                        + (y * 7) % 64
                        + c * 50
                        + u64::from(n >> 27)
                        + checker)
                        % 256) as u32
                };
                out.push(v as u8);
            }
        }
    }
    out
}

struct Case {
    kind: u32,
    seed: u32,
    width: usize,
    height: usize,
    pixel_sum: u64,
    quality: u8,
    pdq: Hash256,
    dihedral_quality: u8,
    dihedral: [Hash256; 8],
}

fn cases() -> Vec<Case> {
    let text = include_str!("data/synthetic.csv");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    assert!(
        header
            .starts_with("kind,seed,width,height,pixel_sum,quality,pdq,dihedral_quality,original,")
    );
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let mut dihedral = [Hash256::ZERO; 8];
            for (k, h) in dihedral.iter_mut().enumerate() {
                *h = f[8 + k].parse().expect("hex");
            }
            Case {
                kind: f[0].parse().expect("kind"),
                seed: f[1].parse().expect("seed"),
                width: f[2].parse().expect("width"),
                height: f[3].parse().expect("height"),
                pixel_sum: f[4].parse().expect("sum"),
                quality: f[5].parse().expect("quality"),
                pdq: f[6].parse().expect("hex"),
                dihedral_quality: f[7].parse().expect("quality"),
                dihedral,
            }
        })
        .collect()
}

#[test]
fn synthetic_images_hash_exactly_like_the_reference() {
    let cases = cases();
    assert!(cases.len() >= 15);
    for backend in [Backend::Auto, Backend::Portable, Backend::Reference] {
        check_cases(&cases, Hasher::with_backend(backend));
    }
}

fn check_cases(cases: &[Case], mut hasher: Hasher) {
    let backend = hasher.backend();
    for c in cases {
        let rgb = synthetic_image(c.kind, c.seed, c.width, c.height);
        let sum: u64 = rgb.iter().map(|&v| u64::from(v)).sum();
        assert_eq!(
            sum, c.pixel_sum,
            "pixel formula differs for {}x{} seed {}",
            c.width, c.height, c.seed
        );
        let what = format!(
            "{backend:?}: kind {} seed {} {}x{}",
            c.kind, c.seed, c.width, c.height
        );
        let plain = hasher.hash_rgb8(&rgb, c.width, c.height).expect("hash");
        assert_eq!(plain.hash, c.pdq, "{what}: plain hash");
        assert_eq!(plain.quality, c.quality, "{what}: plain quality");
        let dih = hasher
            .dihedral_rgb8(&rgb, c.width, c.height)
            .expect("dihedral");
        assert_eq!(dih.quality, c.dihedral_quality, "{what}: dihedral quality");
        for k in 0..8 {
            assert_eq!(
                dih.hashes[k],
                c.dihedral[k],
                "{what}: dihedral variant {}",
                pdq::DIHEDRAL_NAMES[k]
            );
        }
    }
}

#[test]
fn the_set_covers_the_special_cases() {
    let cases = cases();
    // under 5 px: zero hash, quality 0
    assert!(
        cases
            .iter()
            .any(|c| c.width.min(c.height) < 5 && c.pdq == Hash256::ZERO && c.quality == 0)
    );
    // 64x64: the plain path takes the block as is, the dihedral path blurs with window 1
    assert!(cases.iter().any(|c| c.width == 64 && c.height == 64));
    // windows 1, 2, 3 and 16 in at least one dimension
    for w in [1, 2, 3, 16] {
        assert!(
            cases.iter().any(|c| c.width.min(c.height) >= 5
                && (c.width.div_ceil(128) == w || c.height.div_ceil(128) == w)),
            "window {w}"
        );
    }
    // an intermediate quality value exercises the metric's truncation
    assert!(cases.iter().any(|c| c.quality > 0 && c.quality < 100));
}
