//! Seeds monitored takedown cases for the multi-node check-online bench (`bench/scale/bench.sh`).
//!
//! `scale_seed --database SPEC --urls N --site-port P` opens the store named by `SPEC` (a
//! `postgres://…` URL or a SQLite file, as `schoon serve --database`), creates a tenant and N
//! cases on `http://siteK.bench.localhost:P/img/{n}.png` (the picture `checkonline_bench site`
//! serves), each attributed without a hoster address: the cases wait in `needs_contact`, which
//! is still checked online but sends no notices, so the bench measures the checkers only. Every
//! case is due at once. Prints one JSON line with the set-up time.

use std::time::Instant;

use schoon_core::report::{Attributes, Classification, SourceKind};
use store::reports::{AnalystAction, AutoOutcome, Fetched, NewReport};
use store::takedown::{CaseContacts, NewAttribution, NewCase};
use store::{Actor, NewTenant};

/// The picture of `checkonline_bench site` (same bytes, so the checks find it online).
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

fn arg(name: &str) -> anyhow::Result<String> {
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        if a == name {
            return it
                .next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"));
        }
    }
    anyhow::bail!("{name} is required")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let spec = arg("--database")?;
    let urls: usize = arg("--urls")?.parse()?;
    let port: u16 = arg("--site-port")?.parse()?;
    let store = store::open_database(&spec).await?;
    let started = Instant::now();
    let now = chrono::Utc::now();
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
    let png = synthetic_png();
    let digests = media::Digests::of(&png);
    let h = media::MediaHasher::default().hash_bytes(&png, false)?;
    let actor = Actor("bench".into());
    let page = format!("http://site0.bench.localhost:{port}/gallery.html");
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
            now,
        )
        .await?;
    let report = sub[0].report_id;
    let media: Vec<(String, String)> = (0..urls)
        .map(|n| {
            (
                format!("http://site{}.bench.localhost:{port}/img/{n}.png", n % 100),
                "img".to_string(),
            )
        })
        .collect();
    store.record_page(&actor, report, None, None, media).await?;
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
                now,
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
                        asn: Some(64501),
                        ip: Some("127.0.0.1".into()),
                        ..CaseContacts::default()
                    },
                    host,
                    registrable_domain: Some("bench.localhost".into()),
                    needs_contact: vec!["hoster:no_abuse_contact".into()],
                    raw: serde_json::json!({}),
                    made_at: now,
                    tenant_country: Some("NL".into()),
                },
            )
            .await?;
    }
    println!(
        "{}",
        serde_json::json!({"cases": items.len(), "setup_s": started.elapsed().as_secs_f64()})
    );
    Ok(())
}
