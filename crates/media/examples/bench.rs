//! Per-stage timings (best of N runs, which on a shared machine is closer to the true cost
//! than the median) for the files given: digests, decode to RGB8,
//! PDQ, PDQ with dihedral variants, and the whole `MediaHasher::hash_bytes`.
//!
//! `cargo run --release -p media --example bench -- [-n RUNS] FILE...`

use std::time::{Duration, Instant};

use media::{Digests, Limits, MediaHasher, decode_rgb8_into};

fn best(v: Vec<Duration>) -> f64 {
    v.into_iter().min().unwrap_or_default().as_secs_f64() * 1000.0
}

fn time(runs: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    best(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 15;
    if args.first().map(String::as_str) == Some("-n") && args.len() > 1 {
        runs = args[1].parse()?;
        args.drain(..2);
    }
    println!(
        "{:<28} {:>9} {:>6} {:>9} {:>9} {:>8} {:>8} {:>9} {:>8}",
        "file", "size", "MP", "digest ms", "decode ms", "pdq ms", "dih ms", "total ms", "MB/s dig"
    );
    let limits = Limits::default();
    let mut hasher = MediaHasher::new(limits.clone());
    let mut pdq = pdq::Hasher::new();
    // Column sums over every file (size, MP, then the seven timings) for the TOTAL row.
    let mut sum = [0.0f64; 7];
    for path in &args {
        let bytes = std::fs::read(path)?;
        let mut rgb = Vec::new();
        let info = decode_rgb8_into(&bytes, &limits, &mut rgb)?;
        let (w, h) = (info.width as usize, info.height as usize);
        let t_dig = time(runs, || {
            std::hint::black_box(Digests::of(&bytes));
        });
        let t_dec = time(runs, || {
            decode_rgb8_into(&bytes, &limits, &mut rgb).expect("decodes");
        });
        let t_pdq = time(runs, || {
            std::hint::black_box(pdq.hash_rgb8(&rgb, w, h).expect("hash"));
        });
        let t_dih = time(runs, || {
            std::hint::black_box(pdq.dihedral_rgb8(&rgb, w, h).expect("hash"));
        });
        let t_all = time(runs, || {
            std::hint::black_box(hasher.hash_bytes(&bytes, false).expect("hash"));
        });
        let name = std::path::Path::new(path)
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        println!(
            "{:<28} {:>9} {:>6.2} {:>9.2} {:>9.2} {:>8.2} {:>8.2} {:>9.2} {:>8.0}",
            name,
            bytes.len(),
            (w * h) as f64 / 1e6,
            t_dig,
            t_dec,
            t_pdq,
            t_dih,
            t_all,
            bytes.len() as f64 / 1e6 / (t_dig / 1000.0),
        );
        let row = [
            bytes.len() as f64,
            (w * h) as f64 / 1e6,
            t_dig,
            t_dec,
            t_pdq,
            t_dih,
            t_all,
        ];
        for (s, v) in sum.iter_mut().zip(row) {
            *s += v;
        }
    }
    if args.len() > 1 {
        println!(
            "{:<28} {:>9} {:>6.2} {:>9.2} {:>9.2} {:>8.2} {:>8.2} {:>9.2} {:>8.0}",
            "TOTAL",
            sum[0] as u64,
            sum[1],
            sum[2],
            sum[3],
            sum[4],
            sum[5],
            sum[6],
            sum[0] / 1e6 / (sum[2] / 1000.0),
        );
    }
    Ok(())
}
