//! Load generator for the hash-check API (used by `bench/hashcheck/run.sh`).
//!
//! Two modes, both bounded in time and aimed at one base URL (loopback only in our benches):
//! - `batch`: `--concurrency` workers each send `--batch-size` hashes per request, back to back;
//!   reports hash checks per second;
//! - `single`: an **open loop** at `--rate` requests per second, one hash each; latency is
//!   measured from the *scheduled* send time, so a stalled server cannot hide its queueing
//!   (no coordinated omission); reports p50/p90/p99/max.
//!
//! Queries are random PDQ hashes (almost never within radius of a random list entry), with
//! `--known-every N` replacing every N-th one with a hash from `--known-file` (one hex per
//! line) so the hit path (recording a hit) is exercised too.
//!
//! `--base` may list several nodes separated by commas (no proxy in between): batch worker `w`
//! talks to node `w mod n`, and the open loop sends request `k` to node `k mod n`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

struct Args {
    base: String,
    token: String,
    mode: String,
    concurrency: usize,
    batch_size: usize,
    duration: Duration,
    rate: f64,
    known: Vec<String>,
    known_every: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        base: "http://127.0.0.1:8080".into(),
        token: String::new(),
        mode: "batch".into(),
        concurrency: 4,
        batch_size: 1000,
        duration: Duration::from_secs(10),
        rate: 2000.0,
        known: Vec::new(),
        known_every: 1000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--base" => a.base = val()?,
            "--token" => a.token = val()?,
            "--mode" => a.mode = val()?,
            "--concurrency" => a.concurrency = val()?.parse().map_err(|e| format!("{e}"))?,
            "--batch-size" => a.batch_size = val()?.parse().map_err(|e| format!("{e}"))?,
            "--duration" => {
                a.duration = Duration::from_secs_f64(val()?.parse().map_err(|e| format!("{e}"))?)
            }
            "--rate" => a.rate = val()?.parse().map_err(|e| format!("{e}"))?,
            "--known-every" => a.known_every = val()?.parse().map_err(|e| format!("{e}"))?,
            "--known-file" => {
                let text = std::fs::read_to_string(val()?).map_err(|e| e.to_string())?;
                a.known = text
                    .lines()
                    .map(|l| l.trim().to_string())
                    .filter(|l| l.len() == 64)
                    .collect();
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if a.token.is_empty() {
        return Err("--token is required".into());
    }
    Ok(a)
}

fn random_pdq(rng: &mut impl Rng) -> String {
    let b: [u8; 32] = rng.random();
    hex::encode(b)
}

fn body(rng: &mut impl Rng, n: usize, counter: &AtomicU64, args: &Args) -> String {
    let mut s = String::with_capacity(n * 90 + 16);
    s.push_str("{\"hashes\":[");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        let k = counter.fetch_add(1, Ordering::Relaxed) as usize;
        let v =
            if !args.known.is_empty() && args.known_every > 0 && k.is_multiple_of(args.known_every)
            {
                args.known[(k / args.known_every) % args.known.len()].clone()
            } else {
                random_pdq(rng)
            };
        s.push_str("{\"type\":\"pdq\",\"value\":\"");
        s.push_str(&v);
        s.push_str("\"}");
    }
    s.push_str("]}");
    s
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = match parse_args() {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("hashcheck_load: {e}");
            std::process::exit(2);
        }
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    let urls: Vec<String> = args
        .base
        .split(',')
        .map(|b| format!("{}/api/v1/check", b.trim().trim_end_matches('/')))
        .collect();
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + args.duration;

    if args.mode == "batch" {
        let checked = Arc::new(AtomicU64::new(0));
        let mut workers = Vec::new();
        for w in 0..args.concurrency {
            let (client, url, args, counter, checked, errors) = (
                client.clone(),
                urls[w % urls.len()].clone(),
                args.clone(),
                counter.clone(),
                checked.clone(),
                errors.clone(),
            );
            workers.push(tokio::spawn(async move {
                let mut rng = rand::rngs::StdRng::seed_from_u64(w as u64 + 1);
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    let b = body(&mut rng, args.batch_size, &counter, &args);
                    let t = Instant::now();
                    let r = client
                        .post(&url)
                        .bearer_auth(&args.token)
                        .header("content-type", "application/json")
                        .body(b)
                        .send()
                        .await;
                    match r {
                        Ok(resp) if resp.status().is_success() => {
                            let _ = resp.bytes().await;
                            checked.fetch_add(args.batch_size as u64, Ordering::Relaxed);
                            lat.push(t.elapsed().as_secs_f64() * 1000.0);
                        }
                        Ok(resp) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            eprintln!("status {}", resp.status());
                        }
                        Err(e) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            eprintln!("error {e}");
                        }
                    }
                }
                lat
            }));
        }
        let mut lat = Vec::new();
        for w in workers {
            lat.extend(w.await.unwrap_or_default());
        }
        let secs = started.elapsed().as_secs_f64();
        lat.sort_by(f64::total_cmp);
        let n = checked.load(Ordering::Relaxed);
        println!(
            "{{\"mode\":\"batch\",\"concurrency\":{},\"batch_size\":{},\"seconds\":{:.1},\"requests\":{},\"hash_checks\":{},\"checks_per_s\":{:.0},\"errors\":{},\"req_p50_ms\":{:.2},\"req_p99_ms\":{:.2}}}",
            args.concurrency,
            args.batch_size,
            secs,
            lat.len(),
            n,
            n as f64 / secs,
            errors.load(Ordering::Relaxed),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
    } else {
        let interval = Duration::from_secs_f64(1.0 / args.rate);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<f64>();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut sent = 0u64;
        let mut next = Instant::now();
        while next < deadline {
            let now = Instant::now();
            if next > now {
                tokio::time::sleep(next - now).await;
            }
            let scheduled = next;
            let b = body(&mut rng, 1, &counter, &args);
            let (client, url, args, tx, errors) = (
                client.clone(),
                urls[sent as usize % urls.len()].clone(),
                args.clone(),
                tx.clone(),
                errors.clone(),
            );
            tokio::spawn(async move {
                let r = client
                    .post(&url)
                    .bearer_auth(&args.token)
                    .header("content-type", "application/json")
                    .body(b)
                    .send()
                    .await;
                match r {
                    Ok(resp) if resp.status().is_success() => {
                        let _ = resp.bytes().await;
                        let _ = tx.send(scheduled.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            sent += 1;
            next += interval;
        }
        drop(tx);
        let mut lat = Vec::with_capacity(sent as usize);
        while let Ok(Some(v)) = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            lat.push(v);
        }
        let secs = args.duration.as_secs_f64();
        lat.sort_by(f64::total_cmp);
        println!(
            "{{\"mode\":\"single\",\"target_rate\":{},\"seconds\":{:.1},\"sent\":{},\"ok\":{},\"achieved_rate\":{:.0},\"errors\":{},\"p50_ms\":{:.2},\"p90_ms\":{:.2},\"p99_ms\":{:.2},\"p999_ms\":{:.2},\"max_ms\":{:.2}}}",
            args.rate,
            secs,
            sent,
            lat.len(),
            lat.len() as f64 / secs,
            errors.load(Ordering::Relaxed),
            percentile(&lat, 0.5),
            percentile(&lat, 0.9),
            percentile(&lat, 0.99),
            percentile(&lat, 0.999),
            lat.last().copied().unwrap_or(f64::NAN)
        );
    }
}
