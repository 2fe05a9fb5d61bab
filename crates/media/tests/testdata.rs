//! Every image in the shared test data decodes and hashes; metadata is reported right.

mod common;

use media::{Digests, Format, Limits, MediaHasher, SourceColour};

#[test]
fn every_test_image_decodes() {
    let mut hasher = MediaHasher::new(Limits::default());
    let mut n = 0;
    for path in common::files_under(&common::testdata()) {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !matches!(
            ext.as_str(),
            "jpg" | "jpeg" | "png" | "gif" | "webp" | "bmp" | "tif" | "tiff"
        ) {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        let h = hasher
            .hash_bytes(&bytes, true)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(h.width > 0 && h.height > 0);
        assert_eq!(h.digests, Digests::of(&bytes));
        assert_eq!(h.size(), bytes.len() as u64);
        assert_eq!(
            h.dihedral.expect("dihedral")[0],
            h.pdq,
            "{}",
            path.display()
        );
        n += 1;
    }
    assert!(
        n >= 55,
        "only {n} images found under {}",
        common::testdata().display()
    );
}

#[test]
fn exif_orientation_is_reported_not_applied() {
    let dir = common::testdata().join("data/reg-test-input/exif-rotn");
    let expected = common::observed();
    let mut hasher = MediaHasher::default();
    for tag in [1u8, 3, 6, 8] {
        let name = format!("exif-rotn-{tag}.jpg");
        let h = hasher
            .hash_bytes(&std::fs::read(dir.join(&name)).expect("read"), false)
            .expect("decodes");
        assert_eq!(h.orientation, Some(tag), "{name}");
        // Stored size, not the rotated one: 6 and 8 are portrait on screen.
        assert_eq!((h.width, h.height), (4032, 3024), "{name}");
        // And the hash is of the stored pixels, like every reference.
        let row = expected
            .iter()
            .find(|r| r.file.ends_with(&name))
            .expect("row");
        assert!(h.pdq.distance(&row.pdq) <= 4, "{name}");
    }
    // original.jpg carries an EXIF orientation of 0, which is invalid: reported as None.
    let orig = common::testdata().join("data/misc-images/modes/original.jpg");
    let h = hasher
        .hash_bytes(&std::fs::read(orig).expect("read"), false)
        .expect("decodes");
    assert_eq!(h.orientation, None);
    // A PNG without eXIf.
    let c = common::testdata().join("data/misc-images/c.png");
    let h = hasher
        .hash_bytes(&std::fs::read(c).expect("read"), false)
        .expect("decodes");
    assert_eq!(
        (h.orientation, h.format, h.colour),
        (None, Format::Png, SourceColour::Rgba8)
    );
}

#[test]
fn bridge_vector_is_exact() {
    // Meta's C++ README value for the bridge photo, and our digests of the same file.
    let bytes =
        std::fs::read(common::testdata().join("data/reg-test-input/dih/bridge-1-original.jpg"))
            .expect("read");
    let h = MediaHasher::default()
        .hash_bytes(&bytes, false)
        .expect("hash");
    assert_eq!(
        h.pdq.to_hex(),
        "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    );
    assert_eq!(h.quality, 100);
    assert_eq!(h.digests.md5_hex().len(), 32);
    assert_eq!(h.digests.sha1_base32().len(), 32);
    assert!(
        h.digests
            .sha1_base32()
            .bytes()
            .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))
    );
}
