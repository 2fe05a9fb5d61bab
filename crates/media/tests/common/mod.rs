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
    let mut rdr = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let h = |s: &str| pdq::Hash256::from_hex(s).unwrap_or_else(|e| panic!("bad hex {s}: {e}"));
    rdr.records()
        .map(|r| {
            let r = r.expect("csv row");
            let pdq = h(&r[5]);
            let dihedral = [pdq, h(&r[6]), h(&r[7]), h(&r[8]), h(&r[9]), h(&r[10]), h(&r[11]), h(&r[12])];
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
