//! Rough vault throughput: `cargo run --release -p vault --example vault_bench -- [DIR] [ITEMS] [KIB]`.
//!
//! Puts ITEMS distinct items of KIB KiB (generated filler bytes, never real media) into a vault in DIR (default: a
//! fresh directory under the system temp dir), reads them back, rotates them to a new key and purges them, and
//! prints wall-clock timings. Every put fsyncs its files and directory, so the numbers are dominated by the disk.

use std::time::Instant;

use chrono::Utc;
use vault::{EvidenceMeta, EvidenceRef, KeyRing, Vault};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .first()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("vault-bench-{}", std::process::id()))
        });
    let items: usize = args.get(1).map_or(Ok(200), |s| s.parse())?;
    let kib: usize = args.get(2).map_or(Ok(256), |s| s.parse())?;

    let k1 = KeyRing::from_keys([("k1", [1u8; 32])])?;
    let vault = Vault::open(&dir, k1)?;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let payloads: Vec<Vec<u8>> = (0..items)
        .map(|_| {
            (0..kib * 1024)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        })
        .collect();
    let mib = (items * kib) as f64 / 1024.0;

    let t = Instant::now();
    let mut refs = Vec::with_capacity(items);
    for (i, bytes) in payloads.iter().enumerate() {
        let meta = EvidenceMeta {
            original_url: format!("https://bench.example/page/{i}"),
            final_url: format!("https://bench.example/img/{i}.jpg"),
            fetched_at: Utc::now(),
            http_status: 200,
            headers: vault::sanitize_headers([("content-type", "image/jpeg")]),
            resolved_ip: None,
            content_type: "image/jpeg".into(),
            size: bytes.len() as u64,
            sha256: *EvidenceRef::of(bytes).sha256(),
        };
        refs.push(vault.put(bytes, &meta)?);
    }
    report("put", t, items, mib);

    let t = Instant::now();
    for r in &refs {
        let (bytes, _) = vault.get(r)?;
        std::hint::black_box(bytes);
    }
    report("get", t, items, mib);
    println!(
        "size on disk: {:.1} MiB for {mib:.1} MiB of items",
        vault.size_on_disk()? as f64 / 1048576.0
    );
    drop(vault);

    let k2k1 = KeyRing::from_keys([("k2", [2u8; 32]), ("k1", [1u8; 32])])?;
    let vault = Vault::open(&dir, k2k1)?;
    let t = Instant::now();
    let rot = vault.rotate()?;
    report("rotate", t, items, mib);
    println!(
        "  rotate report: rewritten {} scanned {} complete {}",
        rot.rewritten,
        rot.scanned,
        rot.is_complete()
    );

    let t = Instant::now();
    let purged = vault.purge(&refs, Utc::now())?;
    report("purge", t, items, mib);
    println!("  purged {} items", purged.deleted.len());
    drop(vault);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn report(what: &str, t: Instant, items: usize, mib: f64) {
    let s = t.elapsed().as_secs_f64();
    println!(
        "{what:>6}: {items} items in {s:.3} s = {:.0} items/s, {:.0} MiB/s",
        items as f64 / s,
        mib / s
    );
}
