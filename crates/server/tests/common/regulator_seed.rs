//! An escalated takedown case for the regulator's tests: a report of one item with a SHA-256,
//! classified by a list, its case attributed to "Slow Hosting" and escalated to the regulator.

use chrono::Utc;
use schoon_core::report::{Classification, SourceKind};
use schoon_core::takedown::CaseEscalationKind;
use serde_json::json;
use store::orders::EscalationSource;
use store::reports::{AutoOutcome, Fetched, NewReport};
use store::takedown::{CaseContacts, NewAttribution, NewCase};
use store::{Actor, OrderStore, ReportStore, SqliteStore, TakedownStore};

fn a(name: &str) -> Actor {
    Actor(name.into())
}

/// A monitored takedown case of `site` (one item with a SHA-256, hoster "Slow Hosting"),
/// escalated to the regulator; returns `(case id, url, sha256, escalation id)`.
pub async fn escalated_case(s: &SqliteStore, t: i64, site: &str) -> (i64, String, String, i64) {
    let page = format!("https://{site}/page");
    let r = s
        .submit_reports(
            &a("test"),
            t,
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
            Utc::now(),
        )
        .await
        .unwrap();
    let report = r[0].report_id;
    let media = vec![(format!("https://{site}/img/0.jpg"), "img".to_string())];
    s.record_page(&a("test"), report, None, None, media)
        .await
        .unwrap();
    let item = s.report_items(report).await.unwrap().remove(0);
    let sha = format!("{:064x}", item.id + 1000);
    assert!(
        s.complete_item(
            &a("test"),
            item.id,
            Fetched {
                sha256: Some(sha.clone()),
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
    s.finish_report(&a("test"), report).await.unwrap();
    let sys = a("system:takedown");
    let case = s
        .open_case(
            &sys,
            NewCase {
                tenant_id: t,
                report_id: report,
                item_id: item.id,
                url: item.url.clone(),
                page_url: page,
                police_first: false,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    s.record_attribution(
        &sys,
        case.id,
        NewAttribution {
            contacts: CaseContacts {
                hoster_org: Some("Slow Hosting".into()),
                hoster_email: Some("abuse@slow.example".into()),
                hoster_country: Some("NL".into()),
                ..CaseContacts::default()
            },
            host: site.into(),
            registrable_domain: Some(site.into()),
            needs_contact: vec![],
            raw: json!({"source": "test"}),
            made_at: Utc::now(),
            tenant_country: Some("NL".into()),
        },
    )
    .await
    .unwrap();
    assert!(
        s.escalate_case(
            &a("ladder"),
            case.id,
            CaseEscalationKind::Regulator,
            "no removal after the last rung",
            Utc::now(),
        )
        .await
        .unwrap()
    );
    let esc = s
        .regulator_escalations(t, EscalationSource::Case, None, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.case_id == Some(case.id))
        .unwrap();
    (case.id, item.url, sha, esc.id)
}
