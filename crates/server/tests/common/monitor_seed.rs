//! Seeding for the monitor tests (`monitor.rs`, `browser_public.rs`): a monitored case with a
//! sent notice and check-online observations, through the store as the workers would write it.

use chrono::{DateTime, Duration, Utc};
use schoon_core::report::{Classification, SourceKind};
use schoon_core::takedown::{LadderRung, ObservationOutcome, TakedownPolicy};
use serde_json::json;
use store::reports::{AutoOutcome, Fetched, NewReport};
use store::takedown::{CaseContacts, Delivery, NewAttribution, NewCase, NewNotice, NewObservation};
use store::{Actor, ReportStore, SqliteStore, TakedownStore};

/// One report with one known item at `site`, its case hosted by `org`, first notice sent at
/// `notice_at`, removed (first miss) at `gone_at` if given and verified after three misses 15
/// minutes apart. Returns what must never appear on public pages: media URL, page URL, digest.
#[allow(clippy::too_many_arguments)]
pub async fn monitored_case(
    s: &SqliteStore,
    tenant: i64,
    n: u64,
    org: &str,
    site: &str,
    notice_at: DateTime<Utc>,
    gone_at: Option<DateTime<Utc>>,
    reported_before: Duration,
    digest_base: u64,
) -> Vec<String> {
    let a = Actor("test".into());
    let page = format!("https://{site}/page/{n}");
    let media = format!("https://{site}/img/{n}.jpg");
    let digest = format!("{:064x}", digest_base + n);
    let r = s
        .submit_reports(
            &a,
            tenant,
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
            notice_at - reported_before,
        )
        .await
        .unwrap();
    let report = r[0].report_id;
    s.record_page(&a, report, None, None, vec![(media.clone(), "img".into())])
        .await
        .unwrap();
    let item = s.report_items(report).await.unwrap().remove(0);
    assert!(
        s.complete_item(
            &a,
            item.id,
            Fetched {
                sha256: Some(digest.clone()),
                ..Fetched::default()
            },
            AutoOutcome::Known {
                list_id: 1,
                entry_id: 1,
                classification: Classification::Baseline,
            },
        )
        .await
        .unwrap()
    );
    s.finish_report(&a, report).await.unwrap();
    let opened = notice_at - Duration::hours(1);
    let c = s
        .open_case(
            &a,
            NewCase {
                tenant_id: tenant,
                report_id: report,
                item_id: item.id,
                url: media.clone(),
                page_url: page.clone(),
                police_first: false,
            },
            opened,
        )
        .await
        .unwrap();
    s.record_attribution(
        &a,
        c.id,
        NewAttribution {
            contacts: CaseContacts {
                hoster_org: Some(org.into()),
                hoster_email: Some("abuse@host.test".into()),
                hoster_country: Some("NL".into()),
                asn: Some(64500),
                ip: Some("192.0.2.10".into()),
                ..CaseContacts::default()
            },
            host: site.into(),
            registrable_domain: Some(site.into()),
            needs_contact: vec![],
            raw: json!({}),
            made_at: opened,
            tenant_country: Some("NL".into()),
        },
    )
    .await
    .unwrap();
    let notice = s
        .enqueue_notice(
            &a,
            NewNotice {
                tenant_id: tenant,
                rung: LadderRung::Hoster,
                recipient_email: "abuse@host.test".into(),
                recipient_org: Some(org.into()),
                language: Some("en".into()),
                due_at: notice_at,
                held: false,
                items: vec![(c.id, 0)],
            },
            notice_at,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.claim_notices("w", notice_at, Duration::minutes(5), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    s.record_delivery(
        notice.id,
        "w",
        Delivery {
            accepted: true,
            smtp_code: Some(250),
            smtp_message: "ok".into(),
            message_id: format!("<{}@test>", notice.id),
            at: notice_at,
        },
    )
    .await
    .unwrap();
    let p = TakedownPolicy::default();
    let obs = |at, outcome| NewObservation {
        at,
        http_status: Some(200),
        outcome,
        detail: None,
        content_type: None,
        served_sha256: None,
        served_pdq: None,
        distance: None,
        final_url: None,
        error: None,
    };
    s.record_observation(
        c.id,
        obs(notice_at + Duration::minutes(1), ObservationOutcome::Online),
        &p,
    )
    .await
    .unwrap();
    if let Some(gone) = gone_at {
        for k in 0..3 {
            s.record_observation(
                c.id,
                obs(gone + Duration::minutes(15 * k), ObservationOutcome::Gone),
                &p,
            )
            .await
            .unwrap();
        }
    }
    vec![media, page, digest]
}
