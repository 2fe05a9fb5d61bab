//! Actors in the UI's timelines over HTTP: a case whose events were made by a user of the
//! viewer's tenant, a user of another tenant, a worker and the system. The tenant's user is
//! named ("carla (test) (analist)"), the raw `user:<id>` survives only as the cell's `title`;
//! the other tenant's user is never named, only shown as `user:<id>`.
//!
//! Cases are seeded straight into the server's SQLite database, with the report worker and the
//! takedown jobs off so nothing races the seeding.

mod common;

use chrono::Utc;
use common::TestServer;
use common::browser::seed_user;
use common::ui_client::UiClient;
use reqwest::StatusCode;
use schoon_core::report::{Classification, SourceKind};
use store::accounts::Role;
use store::reports::{AutoOutcome, Fetched, NewReport};
use store::takedown::NewCase;
use store::{Actor, CaseworkStore, ReportStore, SqliteStore, TakedownStore};

fn actor(s: &str) -> Actor {
    Actor(s.into())
}

/// A finished report of `site` with one item a list classified illegal; its case to open.
async fn illegal_item(s: &SqliteStore, tenant: i64, site: &str) -> NewCase {
    let page = format!("https://{site}/page");
    let r = s
        .submit_reports(
            &actor("test"),
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
            Utc::now(),
        )
        .await
        .unwrap();
    let report = r[0].report_id;
    let media = vec![(format!("https://{site}/img/0.jpg"), "img".to_string())];
    s.record_page(&actor("test"), report, None, None, media)
        .await
        .unwrap();
    let item = s.report_items(report).await.unwrap().remove(0);
    assert!(
        s.complete_item(
            &actor("test"),
            item.id,
            Fetched {
                sha256: Some(format!("{:064x}", item.id)),
                content_type: Some("image/jpeg".into()),
                size: Some(100),
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
    s.finish_report(&actor("test"), report).await.unwrap();
    NewCase {
        tenant_id: tenant,
        report_id: report,
        item_id: item.id,
        url: item.url.clone(),
        page_url: page,
        police_first: false,
    }
}

/// Where `needle` occurs in `html` (byte offsets), as a whole token: not followed by a digit,
/// so `user:1` does not match inside `user:12`.
fn occurrences(html: &str, needle: &str) -> Vec<usize> {
    html.match_indices(needle)
        .map(|(at, _)| at)
        .filter(|at| {
            !html[at + needle.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timelines_name_the_tenants_users_only() {
    let s = TestServer::start_with(|c| {
        c.reports.worker = false;
        c.takedown.enabled = false;
        c.ui.plain_http = true;
    })
    .await;
    let other = s.tenant("be").await;
    let store = SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    seed_user(&store, s.tenant, "anna", Role::Analyst).await;
    let carla = seed_user(&store, s.tenant, "carla", Role::Analyst).await;
    let bert = seed_user(&store, other, "bert", Role::Analyst).await;
    let carla_actor = format!("user:{carla}");
    let bert_actor = format!("user:{bert}");

    let new_case = illegal_item(&store, s.tenant, "shop.example").await;
    let report = new_case.report_id;
    let now = Utc::now();
    // Carla opens it, a user of another tenant holds it (no UI allows that; the point is that
    // the page must not name them), a worker releases it.
    let case = store
        .open_case(&actor(&carla_actor), new_case, now)
        .await
        .unwrap();
    store
        .set_police_first(&actor(&bert_actor), case.id, now)
        .await
        .unwrap();
    store
        .release_police_hold(&actor("worker:outbox-7"), case.id, now)
        .await
        .unwrap();
    store
        .add_report_note(&actor(&carla_actor), report, "seen", now)
        .await
        .unwrap();

    let anna = UiClient::login(&s.base, "anna").await;
    let (st, html) = anna.get(&format!("/ui/cases/{}", case.id)).await;
    assert_eq!(st, StatusCode::OK, "{html}");
    // Seeded users are Dutch-speaking: the role reads in Dutch.
    assert!(
        html.contains(&format!(
            r#"<td title="{carla_actor}">carla (test) (analist)</td>"#
        )),
        "{html}"
    );
    let carla_at = occurrences(&html, &carla_actor);
    assert!(!carla_at.is_empty());
    for at in carla_at {
        assert!(
            html[..at].ends_with("title=\"") && html[at + carla_actor.len()..].starts_with('"'),
            "raw {carla_actor} outside a title attribute at {at}: {html}"
        );
    }
    // The other tenant's user: raw id, never the name.
    assert!(!html.contains("bert (test)"), "{html}");
    assert!(
        html.contains(&format!(r#"<td title="{bert_actor}">{bert_actor}</td>"#)),
        "{html}"
    );
    assert!(
        html.contains(r#"<td title="worker:outbox-7">schoon (automatisch)</td>"#),
        "{html}"
    );
    assert!(!html.contains(">worker:outbox-7<"), "{html}");

    // The report's audit timeline and its notes name Carla too.
    let (st, html) = anna.get(&format!("/ui/reports/{report}")).await;
    assert_eq!(st, StatusCode::OK, "{html}");
    assert!(
        html.contains(&format!(
            r#"<td title="{carla_actor}">carla (test) (analist)</td>"#
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            r#"<span title="{carla_actor}">carla (test) (analist)</span>"#
        )),
        "{html}"
    );
    assert!(!html.contains("bert (test)"), "{html}");

    // Bert, in the other tenant, sees neither this case nor its names.
    let bert_c = UiClient::login(&s.base, "bert").await;
    let (st, html) = bert_c.get(&format!("/ui/cases/{}", case.id)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(!html.contains("carla (test)"));
}
