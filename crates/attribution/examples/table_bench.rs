//! Measures the prefix table at realistic size: a synthetic iptoasn-style file with as many
//! ranges as the real one (~520 000 IPv4 and ~180 000 IPv6 lines by default), imported, saved
//! in the compact form, loaded back, and looked up.
//!
//! `cargo run --release -p attribution --example table_bench [v4_lines v6_lines]`

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use attribution::PrefixTable;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n4 = args.first().copied().unwrap_or(520_000);
    let n6 = args.get(1).copied().unwrap_or(180_000);
    let dir = std::env::temp_dir().join(format!("attribution-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let tsv = dir.join("ip2asn-combined.tsv");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tsv)?);
        // Disjoint ranges of varying size across the space, like the real file.
        let step = (u32::MAX / n4 as u32).max(2);
        for i in 0..n4 as u32 {
            let start = i * step;
            let len = 1 + (rng.next() as u32 % (step - 1));
            let asn = 1 + rng.next() % 80_000;
            writeln!(
                w,
                "{}\t{}\t{asn}\tNL\tAS{asn}-NAME Example Network {asn}",
                Ipv4Addr::from(start),
                Ipv4Addr::from(start + len - 1)
            )?;
        }
        let step6: u128 = 1u128 << 100;
        for i in 0..n6 as u128 {
            let start = (0x2000u128 << 112) + i * step6;
            let len = 1u128 << (64 + rng.next() % 36);
            let asn = 1 + rng.next() % 80_000;
            writeln!(
                w,
                "{}\t{}\t{asn}\tDE\tAS{asn}-NAME Example Network {asn}",
                Ipv6Addr::from(start),
                Ipv6Addr::from(start + len - 1)
            )?;
        }
    }
    let tsv_size = std::fs::metadata(&tsv)?.len();

    let t = Instant::now();
    let (table, reports) = PrefixTable::import_files(&[&tsv], true)?;
    let import = t.elapsed();
    let bin = dir.join("asn.bin");
    let t = Instant::now();
    table.save(&bin)?;
    let save = t.elapsed();
    let bin_size = std::fs::metadata(&bin)?.len();
    let t = Instant::now();
    let loaded = PrefixTable::load(&bin)?;
    let load = t.elapsed();

    let queries: Vec<IpAddr> = (0..2_000_000)
        .map(|i| {
            if i % 4 == 0 {
                IpAddr::V6(Ipv6Addr::from(
                    (0x2000u128 << 112) + (u128::from(rng.next()) << 64),
                ))
            } else {
                IpAddr::V4(Ipv4Addr::from(rng.next() as u32))
            }
        })
        .collect();
    let t = Instant::now();
    let mut hits = 0usize;
    for q in &queries {
        if loaded.lookup(*q).is_some() {
            hits += 1;
        }
    }
    let look = t.elapsed();

    let t = Instant::now();
    let mut in_range = 0usize;
    for q in &queries {
        if loaded.range_of(*q).is_some() {
            in_range += 1;
        }
    }
    let ranges = t.elapsed();
    assert_eq!(in_range, hits);

    println!(
        "lines: {} v4 + {} v6, records {}",
        n4,
        n6,
        table.record_count()
    );
    println!(
        "imported {} ranges, bad {}",
        reports[0].imported, reports[0].bad_count
    );
    println!(
        "TSV {:.1} MB, compact {:.1} MB",
        tsv_size as f64 / 1e6,
        bin_size as f64 / 1e6
    );
    println!(
        "import {:.2} s, save {:.3} s, load {:.3} s",
        import.as_secs_f64(),
        save.as_secs_f64(),
        load.as_secs_f64()
    );
    println!(
        "lookups: {} in {:.3} s = {:.0} ns each ({} hits)",
        queries.len(),
        look.as_secs_f64(),
        look.as_nanos() as f64 / queries.len() as f64,
        hits
    );
    println!(
        "range_of only (no prefix, no String clones): {:.0} ns each",
        ranges.as_nanos() as f64 / queries.len() as f64
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
