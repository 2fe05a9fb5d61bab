//! Times rendering and e-mail building for a 3-item and a 500-item notice, and prints the
//! message sizes. `cargo run --release -p schoon-notify --example build_timing`

use std::time::Instant;

use chrono::{TimeZone, Utc};
use schoon_notify::{
    Detection, Digests, Language, LegalCategory, MailLayout, Notice, NoticeItem, Recipient,
    Renderer, Step, StepKind, Tenant, build_mails,
};

fn notice(n_items: usize) -> Notice {
    let seen = Utc
        .with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let items = (0..n_items)
        .map(|idx| NoticeItem {
            url: format!("https://img{}.hoster.test/u/{idx:06}.jpg", idx % 7),
            first_seen: seen,
            last_seen_online: Some(seen),
            digests: Digests {
                md5: Some(format!("{idx:032x}")),
                sha1: Some(format!("{idx:040x}")),
                sha256: Some(format!("{idx:064x}")),
            },
            pdq: Some(format!("{:064x}", idx * 31)),
            legal_category: LegalCategory::Baseline,
            grade: None,
            detection: Detection::HashMatch,
            media: None,
            ip: Some(
                "192.0.2.10"
                    .parse()
                    .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
            ),
            asn: Some(64500),
            hosting_org: Some("Example Hosting B.V.".to_owned()),
        })
        .collect();
    Notice {
        tenant: Tenant {
            name: "Meldpunt Voorbeeld".to_owned(),
            domain: "meldpunt.example".to_owned(),
            from_address: "notices@meldpunt.example".to_owned(),
            reply_to: None,
            bounce_address: "bounces@meldpunt.example".to_owned(),
            contact_address: "abuse-reports@meldpunt.example".to_owned(),
            website: None,
            language: Language::Nl,
        },
        reference: "NL-2026-000123".to_owned(),
        step: Step {
            kind: StepKind::Hoster,
            sequence: 0,
        },
        recipient: Recipient {
            email: "abuse@hoster.test".to_owned(),
            name: None,
            organisation: None,
            language: None,
        },
        items,
        response_link: Some("https://meldpunt.example/r/x".to_owned()),
        created_at: seen,
    }
}

fn main() -> Result<(), schoon_notify::Error> {
    let started = Instant::now();
    let renderer = Renderer::builtin()?;
    println!("compile built-in templates: {:?}", started.elapsed());
    for n_items in [3, 500] {
        let notice = notice(n_items);
        for layout in [MailLayout::Grouped, MailLayout::XarfPerUrl] {
            let rounds = if n_items > 100 { 5 } else { 200 };
            let started = Instant::now();
            let mut bytes = 0;
            let mut n_mails = 0;
            for _ in 0..rounds {
                let mails = build_mails(&renderer, &notice, layout)?;
                n_mails = mails.len();
                bytes = mails.iter().map(|m| m.raw.len()).sum();
            }
            let per = started.elapsed() / rounds;
            println!(
                "{n_items:>3} items {layout:?}: {per:?} per notice, {n_mails} mail(s), {bytes} bytes"
            );
        }
    }
    Ok(())
}
