//! Benchmark driver for the PDQ index (used by `bench/index/bench.sh`).
//!
//! ```text
//! index_bench gen  --n N --kind uniform|clustered --queries Q --seed S --dir DIR
//! index_bench run  --dir DIR [--radius 31] [--repeat 3]
//! ```
//! `gen` writes `db.bin` (N × 32 bytes, `bytes.fromhex` order) and `queries.bin`
//! (half near an entry, half random). `run` builds the index single-threaded, measures
//! build time, memory, queries/s (single and 8-variant dihedral batch), snapshot save and
//! load, and writes the match sets to `schoon_results.bin` (per query: u32 count, then
//! the sorted u32 entry ids = row numbers in db.bin) for comparison with faiss.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use index::PdqIndex;
use pdq::Hash256;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn random_hash(rng: &mut StdRng) -> Hash256 {
    Hash256::from_words([rng.random(), rng.random(), rng.random(), rng.random()])
}

fn flip(rng: &mut StdRng, h: &Hash256, d: usize) -> Hash256 {
    let mut out = *h;
    let mut n = 0;
    while n < d {
        let b = rng.random_range(0..256usize);
        if out.bit(b) == h.bit(b) {
            out.flip_bit(b);
            n += 1;
        }
    }
    out
}

fn write_hashes(path: &Path, hs: &[Hash256]) -> std::io::Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    for h in hs {
        w.write_all(&h.to_bytes())?;
    }
    w.flush()
}

fn read_hashes(path: &Path) -> std::io::Result<Vec<Hash256>> {
    let mut buf = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut buf)?;
    Ok(buf
        .chunks_exact(32)
        .map(|c| {
            let mut b = [0u8; 32];
            b.copy_from_slice(c);
            Hash256::from_bytes(b)
        })
        .collect())
}

fn generate(args: &[String]) -> std::io::Result<()> {
    let n: usize = arg(args, "--n")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let q: usize = arg(args, "--queries")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let seed: u64 = arg(args, "--seed")
        .and_then(|v| v.parse().ok())
        .unwrap_or(42);
    let kind = arg(args, "--kind").unwrap_or_else(|| "uniform".into());
    let dir = PathBuf::from(arg(args, "--dir").unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&dir)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let db: Vec<Hash256> = if kind == "clustered" {
        // n/100 centres x 100 members, each member 0..=20 bits from its centre.
        let centres: Vec<Hash256> = (0..n.div_ceil(100))
            .map(|_| random_hash(&mut rng))
            .collect();
        (0..n)
            .map(|i| {
                let d = rng.random_range(0..=20usize);
                flip(&mut rng, &centres[i / 100], d)
            })
            .collect()
    } else {
        (0..n).map(|_| random_hash(&mut rng)).collect()
    };
    let queries: Vec<Hash256> = (0..q)
        .map(|i| {
            if i % 2 == 0 {
                let h = db[rng.random_range(0..n)];
                let d = rng.random_range(0..=32usize);
                flip(&mut rng, &h, d)
            } else {
                random_hash(&mut rng)
            }
        })
        .collect();
    write_hashes(&dir.join("db.bin"), &db)?;
    write_hashes(&dir.join("queries.bin"), &queries)?;
    eprintln!(
        "wrote {} entries and {} queries ({kind}) to {}",
        n,
        q,
        dir.display()
    );
    Ok(())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU seconds used by this process (user + system), from /proc; 0 where unavailable.
/// On a shared machine this is steadier than wall time.
fn cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(arg(args, "--dir").unwrap_or_else(|| ".".into()));
    let radius: u32 = arg(args, "--radius")
        .and_then(|v| v.parse().ok())
        .unwrap_or(31);
    let repeat: usize = arg(args, "--repeat")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let db = read_hashes(&dir.join("db.bin"))?;
    let queries = read_hashes(&dir.join("queries.bin"))?;
    let n = db.len();

    let rss0 = rss_kib();
    let t = Instant::now();
    let c = cpu_s();
    let idx = PdqIndex::build(db.iter().enumerate().map(|(i, h)| (i as u32, *h)))?;
    let build_s = t.elapsed().as_secs_f64();
    let build_cpu = cpu_s() - c;
    let rss1 = rss_kib();
    drop(db);
    let mem = idx.memory_bytes();

    // Single queries: best of `repeat` passes.
    let mut best = f64::MAX;
    let mut best_cpu = f64::MAX;
    let mut results = Vec::new();
    let mut total_matches = 0usize;
    for pass in 0..repeat {
        let mut out = Vec::new();
        let t = Instant::now();
        let c = cpu_s();
        let mut m = 0usize;
        for q in &queries {
            idx.query_into(q, radius, &mut out);
            m += out.len();
            if pass == 0 {
                let mut ids: Vec<u32> = out.iter().map(|x| x.id).collect();
                ids.sort_unstable();
                results.push(ids);
            }
        }
        best = best.min(t.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_s() - c);
        total_matches = m;
    }
    let qps = queries.len() as f64 / best;

    // Dihedral batches: every 8 consecutive queries form one batch.
    let batches: Vec<[Hash256; 8]> = queries
        .chunks_exact(8)
        .map(|c| {
            let mut a = [Hash256::ZERO; 8];
            a.copy_from_slice(c);
            a
        })
        .collect();
    let mut best_d = f64::MAX;
    for _ in 0..repeat {
        let t = Instant::now();
        let mut m = 0usize;
        for b in &batches {
            m += idx.query_dihedral(b, radius).len();
        }
        std::hint::black_box(m);
        best_d = best_d.min(t.elapsed().as_secs_f64());
    }
    let dih_bps = batches.len() as f64 / best_d;

    // Snapshot save/load.
    let snap = dir.join("schoon.snap");
    let t = Instant::now();
    idx.save(&snap)?;
    let save_s = t.elapsed().as_secs_f64();
    drop(idx);
    let t = Instant::now();
    let c = cpu_s();
    let loaded = PdqIndex::load(&snap)?;
    let load_s = t.elapsed().as_secs_f64();
    let load_cpu = cpu_s() - c;
    let snap_bytes = std::fs::metadata(&snap)?.len();
    // The loaded index must answer like the built one.
    let mut out = Vec::new();
    for (q, want) in queries.iter().zip(&results).take(200) {
        loaded.query_into(q, radius, &mut out);
        let mut ids: Vec<u32> = out.iter().map(|x| x.id).collect();
        ids.sort_unstable();
        assert_eq!(&ids, want, "loaded snapshot answers differently");
    }
    std::fs::remove_file(&snap)?;

    let mut w = BufWriter::new(std::fs::File::create(dir.join("schoon_results.bin"))?);
    for ids in &results {
        w.write_all(&(ids.len() as u32).to_le_bytes())?;
        for id in ids {
            w.write_all(&id.to_le_bytes())?;
        }
    }
    w.flush()?;

    println!("schoon.n={n}");
    println!("schoon.queries={}", queries.len());
    println!("schoon.radius={radius}");
    println!("schoon.build_s={build_s:.3}");
    println!("schoon.build_cpu_s={build_cpu:.2}");
    println!("schoon.bytes_per_hash={:.1}", mem as f64 / n as f64);
    println!(
        "schoon.rss_delta_bytes_per_hash={:.1}",
        (rss1.saturating_sub(rss0) * 1024) as f64 / n as f64
    );
    println!("schoon.qps={qps:.0}");
    println!("schoon.us_per_query={:.2}", 1e6 / qps);
    println!(
        "schoon.qps_cpu={:.0}",
        queries.len() as f64 / best_cpu.max(1e-9)
    );
    println!("schoon.matches={total_matches}");
    println!("schoon.dihedral_batches_per_s={dih_bps:.0}");
    println!("schoon.snapshot_save_s={save_s:.3}");
    println!("schoon.snapshot_load_s={load_s:.3}");
    println!("schoon.snapshot_load_cpu_s={load_cpu:.2}");
    println!(
        "schoon.snapshot_bytes_per_hash={:.1}",
        snap_bytes as f64 / n as f64
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen") => generate(&args)?,
        Some("run") => run(&args)?,
        _ => {
            eprintln!("usage: index_bench gen|run [options] (see the source header)");
            std::process::exit(2);
        }
    }
    Ok(())
}
