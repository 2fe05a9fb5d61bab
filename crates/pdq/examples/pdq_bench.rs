//! Times PDQ hashing on raw RGB8 files, for `bench/pdq/bench.sh`.
//!
//! Usage: `pdq_bench MANIFEST [RUNS] [auto|portable|reference]`, where each manifest line is
//! `name<TAB>width<TAB>height<TAB>path-to-raw-rgb` (further columns ignored, `#` lines skipped).
//! Prints `name<TAB>ms<TAB>dihedral_ms<TAB>hash<TAB>quality` per image; ms is the minimum over RUNS
//! runs (default 15) of `Hasher::hash_rgb8` on pixels already in memory, single thread.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let manifest = args.get(1).ok_or("usage: pdq_bench MANIFEST [RUNS]")?;
    let runs: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(15);
    let backend = match args.get(3).map(String::as_str) {
        None | Some("auto") => pdq::Backend::Auto,
        Some("portable") => pdq::Backend::Portable,
        Some("reference") => pdq::Backend::Reference,
        Some(other) => return Err(format!("unknown backend {other}").into()),
    };
    let mut hasher = pdq::Hasher::with_backend(backend);
    for line in std::fs::read_to_string(manifest)?.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let [name, w, h, path, ..] = f[..] else {
            return Err(format!("bad manifest line: {line}").into());
        };
        let (w, h): (usize, usize) = (w.parse()?, h.parse()?);
        let rgb = std::fs::read(path)?;
        let mut best = f64::INFINITY;
        let mut result = hasher.hash_rgb8(&rgb, w, h)?;
        for _ in 0..runs {
            let t = Instant::now();
            result = hasher.hash_rgb8(&rgb, w, h)?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        let mut best_dih = f64::INFINITY;
        for _ in 0..runs.div_ceil(3) {
            let t = Instant::now();
            let d = hasher.dihedral_rgb8(&rgb, w, h)?;
            best_dih = best_dih.min(t.elapsed().as_secs_f64());
            if d.hashes[0] != result.hash {
                return Err(format!("{name}: dihedral[0] differs from the plain hash").into());
            }
        }
        println!(
            "{name}\t{:.3}\t{:.3}\t{}\t{}",
            best * 1e3,
            best_dih * 1e3,
            result.hash,
            result.quality
        );
    }
    Ok(())
}
