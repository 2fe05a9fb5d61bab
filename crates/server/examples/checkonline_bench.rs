//! Check-online throughput bench (used by `bench/checkonline/bench.sh`).
//!
//! Two modes:
//! - `site --port P --secs S`: a loopback web server serving one synthetic PNG under
//!   `/img/{n}.png` for S seconds (a separate process, so its CPU is not the checker's);
//! - `check --site-port P --urls N --secs S`: a schoon state over a fresh SQLite database with
//!   N monitored cases on `http://siteK.bench.localhost:P/img/{n}.png` (the fetcher connects
//!   `*.localhost` to 127.0.0.1, allowed for this bench only), then check rounds back to back
//!   for S seconds of wall time. A manual clock is moved past every case's next check whenever a
//!   sweep over all cases is done, so the bench measures the checker, not the schedule. Prints
//!   one JSON line: checks, wall seconds, re-checks per hour, CPU seconds and peak RSS of the
//!   measured window (from /proc).
//!
//! Every check is the real path: safe fetcher → SHA-256 compare → `record_observation` (a
//! SQLite write transaction with the verdict over the case's recent observations).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use schoon_core::hit::{Clock, ManualClock};
use schoon_core::report::{Attributes, Classification, SourceKind};
use server::{AppState, Config};
use store::reports::{AnalystAction, AutoOutcome, Fetched, NewReport};
use store::takedown::{CaseContacts, NewAttribution, NewCase};
use store::{Actor, NewTenant, ReportStore, SqliteStore, Store, TakedownStore};

fn synthetic_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(256, 192, |x, y| {
        let block = ((x / 32) + (y / 32)) % 2 == 0;
        image::Rgb([
            (x % 256) as u8,
            (y * 255 / 192) as u8,
            if block { 220 } else { 30 },
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

struct Args {
    mode: String,
    port: u16,
    urls: usize,
    secs: f64,
    concurrency: usize,
    data: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().ok_or("mode: site or check")?;
    let mut a = Args {
        mode,
        port: 0,
        urls: 10_000,
        secs: 60.0,
        concurrency: 32,
        data: None,
    };
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" | "--site-port" => a.port = val()?.parse().map_err(|e| format!("{e}"))?,
            "--urls" => a.urls = val()?.parse().map_err(|e| format!("{e}"))?,
            "--secs" => a.secs = val()?.parse().map_err(|e| format!("{e}"))?,
            "--concurrency" => a.concurrency = val()?.parse().map_err(|e| format!("{e}"))?,
            "--data" => a.data = Some(val()?.into()),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

async fn site(port: u16, secs: f64) {
    let body = axum::body::Bytes::from(synthetic_png());
    let app = axum::Router::new().route(
        "/img/{n}",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([(axum::http::header::CONTENT_TYPE, "image/png")], body) }
        }),
    );
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    eprintln!("site listening on {}", l.local_addr().expect("addr"));
    let serve = axum::serve(l, app);
    let _ = tokio::time::timeout(Duration::from_secs_f64(secs), serve).await;
}

/// (user + system CPU seconds, peak RSS in KiB) of this process, from /proc.
fn usage() -> (f64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = 100.0; // USER_HZ on Linux
    let cpu = f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (cpu / ticks, hwm)
}

async fn check(a: Args) -> anyhow::Result<()> {
    let tmp;
    let dir = match &a.data {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let mut config = Config {
        data_dir: dir.clone(),
        ..Config::default()
    };
    config.fetch.allow_addresses = vec!["127.0.0.1/32".into()];
    config.fetch.timeout_secs = 10;
    config.reports.worker = false;
    config.takedown.attribution.rdap = false;
    config.takedown.check_concurrency = a.concurrency;
    config.takedown.check_batch = 2000;
    config.takedown.check_round_secs = 3600;
    // Re-attribution is measured elsewhere (it is RDAP-bound); here every check is a re-fetch.
    config.takedown.reattribute_every = 0;
    let start: DateTime<Utc> = "2026-06-01T00:00:00Z".parse()?;
    let clock = Arc::new(ManualClock::new(start));
    let store = Arc::new(SqliteStore::open(&config.database_path()).await?);
    let tenant = store
        .create_tenant(
            &Actor::system(),
            NewTenant {
                name: "bench".into(),
                country: Some("NL".into()),
                hit_deadline_hours: 24,
            },
        )
        .await?;
    let state = AppState::with_clock(store.clone(), config, clock.clone())?;

    // N monitored cases: one report with N classified media items, cases opened and
    // attributed directly (no RDAP in this bench).
    let setup = Instant::now();
    let png = synthetic_png();
    let digests = media::Digests::of(&png);
    let h = media::MediaHasher::default().hash_bytes(&png, false)?;
    let actor = Actor("bench".into());
    let page = format!("http://site0.bench.localhost:{}/gallery.html", a.port);
    let sub = store
        .submit_reports(
            &actor,
            tenant.id,
            vec![NewReport {
                url: page.clone(),
                original_url: page.clone(),
                registrable_domain: None,
                referer: None,
                note: None,
                source_kind: SourceKind::Hotline,
                source_org_id: None,
                reporter_email: None,
            }],
            clock.now(),
        )
        .await?;
    let report = sub[0].report_id;
    let urls: Vec<(String, String)> = (0..a.urls)
        .map(|n| {
            (
                format!(
                    "http://site{}.bench.localhost:{}/img/{n}.png",
                    n % 100,
                    a.port
                ),
                "img".to_string(),
            )
        })
        .collect();
    store.record_page(&actor, report, None, None, urls).await?;
    let items = store.report_items(report).await?;
    for it in &items {
        let f = Fetched {
            md5: Some(digests.md5_hex()),
            sha1: Some(digests.sha1_hex()),
            sha256: Some(digests.sha256_hex()),
            pdq: Some(h.pdq.to_hex()),
            content_type: Some("image/png".into()),
            size: Some(png.len() as i64),
            ..Fetched::default()
        };
        store
            .complete_item(&actor, it.id, f, AutoOutcome::NeedsAnalyst)
            .await?;
    }
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    for chunk in ids.chunks(1000) {
        store
            .analyst_action(
                &actor,
                chunk,
                AnalystAction::Classify {
                    classification: Classification::Baseline,
                    attributes: Attributes::default(),
                },
                false,
            )
            .await?;
    }
    for it in &items {
        let c = store
            .open_case(
                &actor,
                NewCase {
                    tenant_id: tenant.id,
                    report_id: report,
                    item_id: it.id,
                    url: it.url.clone(),
                    page_url: page.clone(),
                    police_first: false,
                },
                clock.now(),
            )
            .await?;
        let host = c.url.split('/').nth(2).unwrap_or("").to_string();
        store
            .record_attribution(
                &actor,
                c.id,
                NewAttribution {
                    contacts: CaseContacts {
                        hoster_org: Some("Bench Hosting B.V.".into()),
                        hoster_email: Some("abuse@bench-hosting.test".into()),
                        hoster_country: Some("NL".into()),
                        asn: Some(64501),
                        ip: Some("127.0.0.1".into()),
                        ..CaseContacts::default()
                    },
                    host,
                    registrable_domain: Some("bench.localhost".into()),
                    needs_contact: Vec::new(),
                    raw: serde_json::json!({}),
                    made_at: clock.now(),
                    tenant_country: Some("NL".into()),
                },
            )
            .await?;
    }
    let setup_s = setup.elapsed().as_secs_f64();
    eprintln!("{} cases ready in {setup_s:.1} s", items.len());

    let (cpu0, _) = usage();
    let started = Instant::now();
    let window = Duration::from_secs_f64(a.secs);
    let (mut checks, mut online, mut sweeps, mut failed) = (0usize, 0usize, 0usize, 0usize);
    while started.elapsed() < window {
        // Everything due: past the longest interval (60 min).
        clock.advance(chrono::Duration::minutes(61));
        sweeps += 1;
        loop {
            let r = server::takedown::check::run_round(&state).await?;
            checks += r.checked;
            online += r.online;
            failed += r.failed;
            if r.checked + r.failed == 0 || started.elapsed() >= window {
                break;
            }
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let (cpu1, rss_kib) = usage();
    let per_hour = checks as f64 / wall * 3600.0;
    println!(
        "{}",
        serde_json::json!({
            "urls": a.urls,
            "concurrency": a.concurrency,
            "setup_s": setup_s,
            "window_s": wall,
            "checks": checks,
            "online": online,
            "failed": failed,
            "sweeps": sweeps,
            "rechecks_per_hour": per_hour.round(),
            "cpu_s": cpu1 - cpu0,
            "cpu_cores_busy": (cpu1 - cpu0) / wall,
            "peak_rss_mib": rss_kib as f64 / 1024.0,
            "vs_scart_900_per_hour": (per_hour / 900.0 * 10.0).round() / 10.0,
            "vs_target_100k_per_hour": (per_hour / 100_000.0 * 100.0).round() / 100.0,
        })
    );
    store.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = parse_args().map_err(|e| anyhow::anyhow!(e))?;
    match a.mode.as_str() {
        "site" => {
            site(a.port, a.secs).await;
            Ok(())
        }
        "check" => check(a).await,
        other => anyhow::bail!("unknown mode {other}: site or check"),
    }
}
